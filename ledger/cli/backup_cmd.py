"""``caseledger backup`` / ``caseledger restore``: one hall's store, encrypted keystore and hall.json.

The backup goes through the running node (``POST /admin/backup``), because the node holds the
LevelDB lock and only it can read one consistent snapshot; the CLI authenticates with the node's
local admin token (``<hall dir>/admin.token``), so file access to the hall directory is what
authorises a backup. The restore runs while the node is stopped.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import httpx
import typer

from ledger.cli import DEFAULT_DATA_DIR, DataDir, app, fail
from ledger.dev.consortium import hall_dir as consortium_hall_dir
from ledger.dev.localnet import hall_pid, node_running
from ledger.hall.backup import ADMIN_TOKEN_FILE, ADMIN_TOKEN_HEADER, DATA_KEYS_DIR, read_manifest, restore_backup

HallN = Annotated[int | None, typer.Option("--hall", help="Hall number in the local consortium (1, 2, ...).")]
HallDir = Annotated[
    Path | None, typer.Option("--hall-dir", help="The hall's directory (keystore.json, hall.json, store/).")
]


def _resolve(n: int | None, d: Path | None, data_dir: Path) -> Path:
    if (n is None) == (d is None):
        fail("name the hall with --hall N (local consortium) or --hall-dir PATH", 2)
    path = d if d is not None else consortium_hall_dir(data_dir, int(n or 0))
    return path


def _hall_url(d: Path) -> str:
    try:
        desc = json.loads((d / "hall.json").read_text())
    except (OSError, ValueError):
        fail(f"{d / 'hall.json'} is missing or unreadable; give the node's address with --url", 2)
        raise  # unreachable
    port = desc.get("port")
    return f"http://127.0.0.1:{port}" if port else str(desc["endpoint"])


@app.command("backup")
def backup(
    out: Annotated[Path, typer.Option("--out", help="Where to write the backup (.tar.gz).")],
    hall: HallN = None,
    hall_dir: HallDir = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    url: Annotated[
        str | None, typer.Option("--url", help="The running node's address (default from hall.json).")
    ] = None,
    store_dir: Annotated[
        Path | None, typer.Option("--store-dir", help="The node's CASELEDGER_DATA_DIR if not the hall dir.")
    ] = None,
) -> None:
    """Back up a running hall: consistent store snapshot + encrypted keystore(s) + hall.json (no password)."""
    d = _resolve(hall, hall_dir, data_dir)
    token_file = (store_dir or d) / ADMIN_TOKEN_FILE
    try:
        token = token_file.read_text().strip()
    except OSError:
        fail(f"no {token_file}: is the hall node running? (the node writes it at start; backups go through it)")
        return
    base = (url or _hall_url(d)).rstrip("/")
    tmp = out.with_name(out.name + ".part")
    try:
        with httpx.stream("POST", base + "/admin/backup", headers={ADMIN_TOKEN_HEADER: token}, timeout=600) as r:
            if r.status_code != 200:
                r.read()
                fail(f"the node at {base} refused the backup ({r.status_code}): {r.text[:300]}")
            with tmp.open("wb") as f:
                for chunk in r.iter_bytes():
                    f.write(chunk)
    except httpx.HTTPError as exc:
        tmp.unlink(missing_ok=True)
        fail(f"the hall node at {base} is not reachable ({exc.__class__.__name__}); is it running?")
    tmp.replace(out)
    out.chmod(0o600)
    m = read_manifest(out)
    typer.echo(
        f"backup of hall {m.hall_id} {m.name}: {m.keys} keys, indexer at block {m.indexer_cursor}, "
        f"chain at block {m.chain_block} -> {out}"
    )
    typer.echo("the keystore password is not in the backup: keep it separately")


@app.command("restore")
def restore(
    source: Annotated[Path, typer.Option("--from", help="A backup written by `caseledger backup`.")],
    hall: HallN = None,
    hall_dir: HallDir = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    store_dir: Annotated[
        Path | None, typer.Option("--store-dir", help="The node's CASELEDGER_DATA_DIR if not the hall dir.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing store (moved aside, not deleted).")
    ] = False,
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="Install this keystore password file with the restore.")
    ] = None,
    kek_file: Annotated[
        Path | None,
        typer.Option("--kek-file", help="Install this key-encryption key (kept apart from backups) with the restore."),
    ] = None,
    data_keys: Annotated[
        Path | None,
        typer.Option(
            "--data-keys",
            help="Install this data-key store (kept apart from backups, beside the KEK) with the restore.",
        ),
    ] = None,
) -> None:
    """Restore a hall from a backup while its node is stopped; at its next start the node re-scans the
    chain from the backup's block and pulls every newer record from the peer halls, verified."""
    d = _resolve(hall, hall_dir, data_dir)
    if node_running(d, (store_dir or d) / "store"):
        fail(f"the hall node of {d} is running (pid {hall_pid(d)}); stop it before restoring")
    m = restore_backup(
        source,
        d,
        data_dir=store_dir,
        force=force,
        password_file=password_file,
        kek_file=kek_file,
        data_keys_dir=data_keys,
        restored_by=f"operator:{getpass.getuser()}",
    )
    typer.echo(
        f"restored hall {m.hall_id} {m.name} into {d}: {m.keys} keys from a backup taken at chain block {m.chain_block}"
    )
    if not (d / "kek.json").exists() and kek_file is None:
        typer.echo(
            "no kek.json in the hall dir: install the key-encryption key kept apart from the backups "
            "(--kek-file), or the node refuses to start (the staff's TOTP secrets are sealed with it)"
        )
    if not (d / DATA_KEYS_DIR).exists() and data_keys is None:
        typer.echo(
            f"no {DATA_KEYS_DIR}/ in the hall dir: install the data-key store kept beside the KEK (--data-keys), or "
            "point CASELEDGER_DATA_KEYS_DIR at it; without it the node refuses to start (every case's personal "
            "data and files are sealed under keys kept there)"
        )
    if not (d / "keystore.password").exists():
        typer.echo("no keystore.password in the hall dir: install it (or set CASELEDGER_PASSWORD_ENV) before starting")
    typer.echo(
        f"start the node; it re-scans the chain after block {m.indexer_cursor} and pulls newer records "
        "from the peer halls, verifying each against the chain"
    )
