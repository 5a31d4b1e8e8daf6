"""``caseledger bench [--json]``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ledger.cli import app
from ledger.dev.bench import BenchConfig, run_bench


@app.command("bench")
def bench(
    as_json: Annotated[bool, typer.Option("--json", help="Print all figures as one JSON object.")] = False,
    sustain: Annotated[float, typer.Option("--sustain", help="Seconds of sustained batched anchoring.")] = 30.0,
    backlog: Annotated[int, typer.Option("--backlog", help="Pending events to drain.")] = 100_000,
    only: Annotated[
        str,
        typer.Option(
            "--only",
            help="Comma-separated parts (gas,naive,batched,backlog,verify,intake,large_intake,audit,audit_incremental,"
            "inbox,city,heads,atrest,merkle_backlog,merkle_latency,merkle_verify,mixed_event,mixed_merkle).",
        ),
    ] = "",
    chain: Annotated[
        str, typer.Option("--chain", help="anvil (default) or clique: four geth Clique signer nodes (heads,batched).")
    ] = "anvil",
    heads: Annotated[float, typer.Option("--heads", help="Clique: seconds of idle head watching.")] = 30.0,
    merkle_backlog: Annotated[
        int, typer.Option("--merkle-backlog", help="Pending Merkle-mode events the sender drains alone.")
    ] = 1_000_000,
    atrest_intakes: Annotated[
        int, typer.Option("--atrest-intakes", min=25, help="atrest: intakes (and reads) per store and workload.")
    ] = 400,
    audit_cases: Annotated[
        int, typer.Option("--audit-incremental-cases", help="audit_incremental: anchored cases before the new ones.")
    ] = 100_000,
) -> None:
    """Measure throughput, latency and gas on a temporary local chain (started and removed)."""
    if chain not in ("anvil", "clique"):
        raise typer.BadParameter(f"--chain is anvil or clique, not {chain}")
    cfg = BenchConfig(
        sustain_s=sustain,
        backlog_events=backlog,
        chain=chain,
        heads_s=heads,
        merkle_backlog_events=merkle_backlog,
        atrest_intakes=atrest_intakes,
        audit_incremental_cases=audit_cases,
    )
    parts = {p.strip() for p in only.split(",") if p.strip()} or None
    figures = run_bench(cfg, log=(lambda m: None) if as_json else typer.echo, parts=parts)
    if as_json:
        typer.echo(json.dumps(figures))
    else:
        for k, v in figures.items():
            typer.echo(f"{k:32} {v}")
