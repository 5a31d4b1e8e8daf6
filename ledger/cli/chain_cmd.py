"""``caseledger chain up|down|status`` and ``caseledger deploy``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ledger.cli import DEFAULT_DATA_DIR, DataDir, app
from ledger.core.suites import suite_named
from ledger.dev.clique import CliqueNet
from ledger.dev.consortium import LocalChain, ensure_deployment, ensure_halls
from ledger.dev.devchain import DevChain

chain_app = typer.Typer(help="The local development chain (anvil on 127.0.0.1).", no_args_is_help=True)
app.add_typer(chain_app, name="chain")

Port = Annotated[int, typer.Option("--port", envvar="CASELEDGER_CHAIN_PORT", help="JSON-RPC port.")]
BlockTime = Annotated[float, typer.Option("--block-time", help="Seconds between blocks (interval mining).")]


@chain_app.command("up")
def chain_up(data_dir: DataDir = DEFAULT_DATA_DIR, port: Port = 8545, block_time: BlockTime = 1.0) -> None:
    """Start the local chain in the background (state kept in DATA_DIR/chain)."""
    chain = DevChain(data_dir, port=port, block_time=block_time)
    started = chain.up()
    typer.echo(f"{'started' if started else 'already running'}: {chain.rpc_url}")


@chain_app.command("down")
def chain_down(data_dir: DataDir = DEFAULT_DATA_DIR, port: Port = 8545) -> None:
    """Stop the local chain (its state is saved)."""
    stopped = DevChain(data_dir, port=port).down()
    typer.echo("stopped" if stopped else "not running")


@chain_app.command("status")
def chain_status(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    port: Port = 8545,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Say whether the local chain runs, and its height."""
    info = DevChain(data_dir, port=port).status()
    if as_json:
        typer.echo(json.dumps(info))
    elif info["running"]:
        typer.echo(f"running at {info['rpc_url']} (chain id {info['chain_id']}, block {info['block']})")
    else:
        typer.echo("not running")
    if not info["running"]:
        raise typer.Exit(1)


@app.command("deploy")
def deploy(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    port: Port = 8545,
    halls: Annotated[int, typer.Option("--halls", help="Also register this many demo halls (0 for none).")] = 0,
    suite: Annotated[
        str, typer.Option("--suite", help="Hash suite of a new deployment: intl (SHA-256) or gm (SM3).")
    ] = "intl",
) -> None:
    """Deploy the contracts to the local chain (reuses a live deployment) and write DATA_DIR/deployment.json.

    The chain is DATA_DIR's geth Clique network when there is one (deployed through node 1), else anvil.
    """
    chain: LocalChain
    clique = CliqueNet.load(data_dir)
    if clique is not None:
        if not clique.chain_status()["running"]:
            typer.echo(
                f"caseledger: the Clique network in {data_dir} is not running: run `caseledger up --chain clique`",
                err=True,
            )
            raise typer.Exit(1)
        chain = clique
    else:
        anvil = DevChain(data_dir, port=port)
        if anvil.status()["running"] is False:
            typer.echo(
                f"caseledger: the local chain is not running at {anvil.rpc_url}: run `caseledger chain up`", err=True
            )
            raise typer.Exit(1)
        chain = anvil
    dep, created = ensure_deployment(chain, suite=suite_named(suite))
    typer.echo(f"{'deployed' if created else 'reusing deployment'}: chain {dep.chain_id}, format 2, suite {dep.suite}")
    typer.echo(f"  HallRegistry {dep.registry}\n  CaseLedger   {dep.ledger}")
    typer.echo(f"  written to {data_dir / 'deployment.json'}")
    if halls:
        for h in ensure_halls(chain, dep, halls):
            state = "registered" if h["created"] else "already registered"
            typer.echo(f"  hall {h['hall_id']} {h['name']} ({h['district']}) {h['account']} {state}")
