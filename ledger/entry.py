"""Entry point of ``caseledger`` (the full CLI): says what to install when the hall extra is missing.

``pip install caseledger`` installs the format and the stand-alone verifier (``caseledger-verify``)
only; the hall node, the chain client and this CLI need ``pip install 'caseledger[hall]'``.
"""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["main"]

_HALL_MODULES = ("typer", "web3", "fastapi", "plyvel")


def main() -> None:
    missing = [m for m in _HALL_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        print(
            "caseledger: the hall tools are not installed (missing "
            + ", ".join(missing)
            + "): install them with pip install 'caseledger[hall]'; to verify a bundle, caseledger-verify is enough",
            file=sys.stderr,
        )
        sys.exit(2)
    from ledger.cli import main as cli_main

    cli_main()
