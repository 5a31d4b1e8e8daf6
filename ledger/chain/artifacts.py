"""ABI and bytecode of the contracts, shipped inside the package by ``npm run build``."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["Artifact", "artifact", "stale_sources"]

Artifact = dict[str, Any]


@cache
def artifact(name: str) -> Artifact:
    """``{"abi": [...], "bytecode": "0x...", "sources": {file: sha256}}`` of ``HallRegistry`` or ``CaseLedger``."""
    text = resources.files("ledger.chain").joinpath("contracts", f"{name}.json").read_text(encoding="utf-8")
    data: Artifact = json.loads(text)
    return data


def stale_sources(contracts_dir: Path) -> list[str]:
    """Solidity files whose content differs from what the shipped artifacts were built from."""
    built: dict[str, str] = artifact("CaseLedger")["sources"]
    now = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in contracts_dir.glob("*.sol")}
    return sorted(n for n in set(built) | set(now) if built.get(n) != now.get(n))
