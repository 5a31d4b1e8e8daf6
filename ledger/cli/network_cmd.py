"""``caseledger network init``: generate a Hyperledger Besu QBFT network for the districts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.cli import app, fail
from ledger.errors import ConfigError, InputError
from ledger.network.besu import plan_network, required_quorum

network_app = typer.Typer(help="The production chain: a Hyperledger Besu QBFT network.", no_args_is_help=True)
app.add_typer(network_app, name="network")


@network_app.command("init")
def network_init(
    districts: Annotated[
        str, typer.Option("--districts", help="Comma-separated district codes, one validator node each.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory to create (must be missing or empty).")],
    block_period: Annotated[int, typer.Option("--block-period", help="QBFT blockperiodseconds.")] = 2,
    chain_id: Annotated[int, typer.Option("--chain-id", help="EIP-155 chain id.")] = 1337,
    host_template: Annotated[
        str,
        typer.Option(
            "--host-template",
            help="Each node's P2P IP address; may use {district} and {index} (1-based), e.g. 10.35.0.{index}.",
        ),
    ] = "127.0.0.1",
    request_timeout: Annotated[
        int | None,
        typer.Option("--request-timeout", help="QBFT requesttimeoutseconds (default: twice the block period)."),
    ] = None,
    fund: Annotated[
        list[str] | None,
        typer.Option("--fund", help="Account to pre-fund in the genesis alloc (admin, halls); repeatable."),
    ] = None,
) -> None:
    """Write genesis.json, node keys, Besu config.toml, node allowlists and hall settings under OUT."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        fail(
            f"{out} already exists and is not empty: refusing to overwrite an existing network (choose a new --out)",
            2,
        )
    try:
        net = plan_network(
            districts,
            chain_id=chain_id,
            block_period=block_period,
            request_timeout=request_timeout,
            host_template=host_template,
            fund=fund or (),
        )
        net.write(out)
    except (InputError, ConfigError) as exc:
        fail(str(exc), 2)
        return
    n = len(net.nodes)
    quorum = required_quorum(n)
    typer.echo(f"QBFT network for {n} district(s), chain id {net.chain_id}, written to {out}")
    for node in net.nodes:
        typer.echo(f"  {node.district} {node.name}  validator {node.address}  p2p {node.host}:{node.p2p_port}")
    typer.echo(f"Blocks need {quorum} of {n} validators; the chain halts while fewer are up.")
    if n < 4:
        typer.echo("Note: QBFT needs at least 4 validators to tolerate a faulty one; add districts before production.")
    typer.echo("Each nodes/<district>/ directory goes to that district's machine; its `key` file is secret.")
