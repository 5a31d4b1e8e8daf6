"""``caseledger hall rotate-key N``: rotate hall N's key in the local consortium, node reload included."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.cli import DEFAULT_DATA_DIR, DataDir, app, fail
from ledger.dev.devchain import dev_admin
from ledger.dev.localnet import LocalNet, hall_pid, node_running, start_hall, stop_hall, wait_healthy
from ledger.hall.integrity import mark_for_recovery
from ledger.hall.keyrotation import rotate_hall_key
from ledger.hall.store import Store

hall_app = typer.Typer(help="Hall administration: init, recover, rotate-key.", no_args_is_help=True)
app.add_typer(hall_app, name="hall")


@hall_app.command("rotate-key")
def rotate_key(
    n: Annotated[int, typer.Argument(help="Hall number in the local consortium (1, 2, ...).")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """New encrypted keystore, registry rotation by the dev admin, node restarted with the new key.

    The old key is refused on chain from the rotation on; the hall's store and outbox are kept.
    """
    net = LocalNet.load(data_dir)
    if net is None:
        fail(f"no consortium is running at {data_dir} (start one with `caseledger up`)")
        return
    if not 1 <= n <= len(net.halls):
        fail(f"there is no hall {n} (the consortium has {len(net.halls)})", 2)
    hall = net.halls[n - 1]
    d = Path(hall["dir"])
    dep = Deployment.load(data_dir / "deployment.json")
    admin = ChainClient.connect(net.chain.rpc_url, deployment=dep, account=dev_admin())
    was_running = hall_pid(d) is not None
    if was_running:
        typer.echo(f"stopping hall {n} ...")
        stop_hall(d)
    old, new = rotate_hall_key(d, admin)
    typer.echo(f"hall {hall['hall_id']}: key {old.address} retired, {new.address} registered")
    hall["account"] = new.address
    net._save()
    if was_running:
        proc = start_hall(d, port=int(hall["port"]), rpc_url=net.chain.rpc_url, env=net.node_env)
        health = wait_healthy(hall["url"], timeout=60, proc=proc)
        typer.echo(f"hall {n} running again at {hall['url']} as {health['account']}")


HallDirOpt = Annotated[Path, typer.Option("--hall-dir", help="The hall's directory (keystore.json, store/).")]
StoreDirOpt = Annotated[
    Path | None, typer.Option("--store-dir", help="The node's CASELEDGER_DATA_DIR if not the hall dir.")
]


@hall_app.command("init")
def init(hall_dir: HallDirOpt, store_dir: StoreDirOpt = None) -> None:
    """Create a new hall's empty store, once (a missing store later is damage, never re-created)."""
    path = (store_dir or hall_dir) / "store"
    Store.init(path).close()
    typer.echo(f"initialised an empty store at {path}; start the node now")


@hall_app.command("recover")
def recover(hall_dir: HallDirOpt, store_dir: StoreDirOpt = None) -> None:
    """After the node refused a store that lost writes: re-fetch what it lost from the peer halls.

    Marks the store like a restored one: at the next start the node raises its serial counters past every
    serial it opened on chain, re-scans the chain from the store's last known block and pulls this hall's
    own records back from the other halls of each case, verifying each against the chain."""
    data = store_dir or hall_dir
    if node_running(hall_dir, data / "store"):
        fail(f"the hall node of {hall_dir} is running; stop it first", 2)
    with Store(data / "store") as store:
        mark = mark_for_recovery(store, data, reason="caseledger hall recover")
    typer.echo(
        f"the store of {hall_dir} will re-fetch from the peer halls everything after block {mark['cursor']}; "
        "start the node and watch /health until transfers are done"
    )
