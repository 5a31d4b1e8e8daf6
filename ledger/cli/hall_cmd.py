"""``caseledger hall rotate-key N``: rotate hall N's key in the local consortium, node reload included."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.cli import DEFAULT_DATA_DIR, DataDir, app, fail
from ledger.dev.devchain import dev_admin
from ledger.dev.localnet import LocalNet, hall_pid, start_hall, stop_hall, wait_healthy
from ledger.hall.keyrotation import rotate_hall_key

hall_app = typer.Typer(help="Hall administration (local consortium).", no_args_is_help=True)
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
