"""The ABI and bytecode shipped in the Python package must match contracts/."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ledger.chain.artifacts import artifact, stale_sources

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_artifacts_match_the_solidity_sources() -> None:
    stale = stale_sources(ROOT / "contracts")
    assert not stale, f"ledger/chain/contracts/*.json are stale for {stale}: run `make build` and commit"


@pytest.fixture(scope="module")
def hardhat_build() -> Path:
    """contracts/ compiled by Hardhat into build/artifacts (a no-op when the cache is current)."""
    npx = shutil.which("npx")
    assert npx and (ROOT / "node_modules" / ".bin" / "hardhat").exists(), "run `make setup` first (Node.js and Hardhat)"
    subprocess.run([npx, "hardhat", "compile", "--quiet"], cwd=ROOT, check=True, timeout=300)
    return ROOT / "build" / "artifacts" / "contracts"


def test_shipped_bytecode_matches_a_fresh_hardhat_build(hardhat_build: Path) -> None:
    for name in ("HallRegistry", "CaseLedger"):
        fresh = json.loads((hardhat_build / f"{name}.sol" / f"{name}.json").read_text())
        shipped = artifact(name)
        assert shipped["abi"] == fresh["abi"], name
        assert shipped["bytecode"] == fresh["bytecode"], name
