"""The ABI and bytecode shipped in the Python package must match contracts/."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.chain.artifacts import artifact, stale_sources

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_artifacts_match_the_solidity_sources() -> None:
    stale = stale_sources(ROOT / "contracts")
    assert not stale, f"ledger/chain/contracts/*.json are stale for {stale}: run `make build` and commit"


def test_shipped_bytecode_matches_a_fresh_hardhat_build() -> None:
    # `make test` runs the Hardhat suite first, which compiles contracts/ into build/artifacts.
    for name in ("HallRegistry", "CaseLedger"):
        fresh = json.loads((ROOT / "build" / "artifacts" / "contracts" / f"{name}.sol" / f"{name}.json").read_text())
        shipped = artifact(name)
        assert shipped["abi"] == fresh["abi"], name
        assert shipped["bytecode"] == fresh["bytecode"], name
