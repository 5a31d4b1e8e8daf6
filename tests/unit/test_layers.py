"""The import rules of docs/architecture.md hold: `lint-imports` keeps every contract in pyproject.toml.

Layers (top → bottom): ledger.cli > ledger.dev > ledger.network > ledger.hall > ledger.chain | ledger.verify
> ledger.core; ledger.errors under all of them; ledger never imports node_api; ledger.core and ledger.verify
import no chain client, store or web stack (web3, eth_*, requests, plyvel, fastapi, httpx, uvicorn).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    broken = f"import rules broken (see [tool.importlinter] in pyproject.toml):\n{run.stdout}{run.stderr}"
    assert run.returncode == 0, broken
    assert "0 broken" in run.stdout, run.stdout
