"""The ``caseledger`` command line.

Every failure ends with one clear sentence on stderr and a non-zero exit code (2 for unusable
input or configuration, 1 otherwise); no Python traceback reaches the user.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ledger.core.jsonsafe import ensure_safe_recursion_limit
from ledger.errors import ConfigError, InputError, LedgerError, StoreDamagedError

app = typer.Typer(
    name="caseledger",
    help="通办存证链 CaseLedger: cross-district service cases with on-chain verification.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

DataDir = Annotated[
    Path,
    typer.Option("--data-dir", envvar="CASELEDGER_DATA_DIR", help="Where the local consortium keeps its data."),
]
DEFAULT_DATA_DIR = Path(".caseledger")


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"caseledger: {message}", err=True)
    raise typer.Exit(code)


def _register() -> None:
    from ledger.cli import (  # noqa: F401  (commands register themselves on `app`)
        audit_cmd,
        backup_cmd,
        bench_cmd,
        chain_cmd,
        consortium_cmd,
        hall_cmd,
        network_cmd,
        verify_cmd,
    )


def main() -> None:
    os.umask(0o077)  # hall dirs, keys, logs, backups, the local chain's state: private to this user
    _register()
    ensure_safe_recursion_limit()
    try:
        app()
    except (InputError, ConfigError, StoreDamagedError) as exc:
        typer.echo(f"caseledger: {exc}", err=True)
        sys.exit(2)
    except LedgerError as exc:
        typer.echo(f"caseledger: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
