"""``caseledger verify BUNDLE --rpc URL`` and ``caseledger verify-document``: no hall node needed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.chain.facts_reader import fetch_chain_facts
from ledger.cli import app
from ledger.core.bundle import load_bundle
from ledger.core.jsonsafe import loads_bounded
from ledger.core.stages import Stage
from ledger.core.timefmt import unix_to_cst
from ledger.errors import ChainUnavailableError, InputError, VerificationError
from ledger.hall.evidence import DocumentProof
from ledger.verify.checks import verify_bundle, verify_document
from ledger.verify.report import VerificationReport

Rpc = Annotated[
    str, typer.Option("--rpc", envvar="CASELEDGER_RPC_URL", help="JSON-RPC URL of any consortium chain node.")
]
Lang = Annotated[str, typer.Option("--lang", help="zh (default) or en.")]


STATUS_TEXT = {
    "match": ("一致", "match"),
    "mismatch": ("不一致", "MISMATCH"),
    "missing_on_chain": ("链上缺失", "missing on chain"),
    "missing_from_bundle": ("证据包缺失", "missing from bundle"),
}


def _client_for(bundle_chain_id: int, ledger: str, registry: str, rpc: str) -> ChainClient:
    try:
        dep = Deployment(chain_id=bundle_chain_id, registry=registry, ledger=ledger, deployed_block=0, admin="")
        client = ChainClient.connect(rpc, deployment=dep, timeout=10)
        if not client.deployment_alive():
            raise InputError("ledger", f"no CaseLedger contract at {ledger} on the chain at {rpc}")
    except ChainUnavailableError as exc:
        raise InputError("rpc", f"the chain endpoint {rpc} does not answer") from exc
    return client


def render(report: VerificationReport, lang: str) -> str:
    zh = lang == "zh"
    console = Console(record=True, width=140)
    title = f"{'办件' if zh else 'Case'} {report.serial} — {'链' if zh else 'chain'} {report.chain_id} {report.ledger}"
    table = Table(title=title)
    for col in (
        ("序号", "#"),
        ("环节", "stage"),
        ("结论", "verdict"),
        ("写入方", "writer"),
        ("大厅", "hall"),
        ("区块", "block"),
        ("时间(北京)", "time (UTC+8)"),
        ("原因", "reasons"),
    ):
        table.add_column(col[0] if zh else col[1])
    for e in report.events:
        when = unix_to_cst(e.time) if e.time else "-"
        table.add_row(
            str(e.index),
            e.stage,
            STATUS_TEXT[e.status][0 if zh else 1],
            e.writer or "-",
            str(e.hall_id or "-"),
            str(e.block or "-"),
            when,
            "; ".join(r.text(lang) for r in e.reasons) or "-",
        )
    console.print(table)
    for m in report.materials:
        state = STATUS_TEXT[m.status][0 if zh else 1]
        why = "; ".join(r.text(lang) for r in m.reasons)
        console.print(f"{'材料' if zh else 'material'} {m.kind} {m.name}: {state} {why}")
    for idx, fields in report.withheld_fields.items():
        console.print(
            f"{'事件' if zh else 'event'} {idx} {'未披露字段' if zh else 'withheld fields'}: {', '.join(fields)}"
        )
    verdict = (
        ("全部一致" if report.ok else "存在不一致") if zh else ("all events match" if report.ok else "MISMATCH found")
    )
    console.print(f"{'结论' if zh else 'Verdict'}: {verdict}")
    return console.export_text()


@app.command("verify")
def verify(
    bundle_path: Annotated[Path, typer.Argument(metavar="BUNDLE", help="Evidence bundle (JSON).")],
    rpc: Rpc,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    lang: Lang = "zh",
) -> None:
    """Verify an evidence bundle against the chain. Exit 0 all match, 1 any mismatch, 2 unusable input."""
    bundle = load_bundle(bundle_path)
    client = _client_for(bundle.chain_id, bundle.ledger, bundle.registry, rpc)
    report = verify_bundle(bundle, fetch_chain_facts(client, bundle.serial))
    if as_json:
        typer.echo(json.dumps({"verdict": report.verdict, **report.model_dump()}, ensure_ascii=False, indent=1))
    else:
        typer.echo(render(report, lang), nl=False)
    raise typer.Exit(0 if report.ok else 1)


@app.command("verify-document")
def verify_document_cmd(
    file: Annotated[Path, typer.Argument(help="The document to check.")],
    rpc: Rpc,
    bundle_path: Annotated[
        Path | None, typer.Option("--bundle", help="Evidence bundle holding the file's proof.")
    ] = None,
    serial: Annotated[str | None, typer.Option("--serial", help="Case serial (with --hall).")] = None,
    hall: Annotated[
        str | None, typer.Option("--hall", help="URL of a hall node holding the case: fetch the file's proof there.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    lang: Lang = "zh",
) -> None:
    """Say whether this exact file was submitted (or issued as the result) in a case: stage, time, hall.

    The proof comes from an evidence bundle (--bundle) or from a hall node (--serial S --hall URL);
    either way only the chain is trusted.
    """
    try:
        data = file.read_bytes()
    except FileNotFoundError as exc:
        raise InputError("file", f"no file at {file}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if hall is not None:
        if not serial:
            raise InputError("serial", "--hall needs the case serial (--serial)")
        proof = _fetch_proof(hall, serial, digest)
        if proof is None:
            _document_verdict(
                None, "the hall holds no file with this SHA-256 in the case", digest, serial, as_json, lang
            )
        assert proof is not None
        client = _client_for(proof.chain_id, proof.ledger, proof.registry, rpc)
        events = {e.index: e for e in fetch_chain_facts(client, serial).events}
        ev = events.get(proof.event_index)
        if ev is None:
            _document_verdict(None, f"event {proof.event_index} is not on chain", digest, serial, as_json, lang)
        assert ev is not None
        try:
            found = verify_document(data, proof.proof, proof.record, ev)
        except VerificationError as exc:
            _document_verdict(None, str(exc), digest, serial, as_json, lang)
        _document_verdict(found, "", digest, serial, as_json, lang)
    if bundle_path is None:
        raise InputError("bundle", "give --bundle FILE, or --serial S --hall URL")
    bundle = load_bundle(bundle_path)
    client = _client_for(bundle.chain_id, bundle.ledger, bundle.registry, rpc)
    facts = fetch_chain_facts(client, bundle.serial)
    events = {e.index: e for e in facts.events}
    records = {e.index: e.record for e in bundle.events}
    candidates = [m for m in bundle.materials if m.proof.file.sha256 == digest] or list(bundle.materials)
    last_error: VerificationError | None = None
    for m in candidates:
        rec, ev = records.get(m.event_index), events.get(m.event_index)
        if rec is None or ev is None:
            continue
        try:
            found = verify_document(data, m.proof, rec, ev)
        except VerificationError as exc:
            last_error = exc
            continue
        _document_verdict(found, "", digest, bundle.serial, as_json, lang)
    why = str(last_error) if last_error else "no material proof in the bundle"
    _document_verdict(None, why, digest, bundle.serial, as_json, lang)


def _fetch_proof(hall: str, serial: str, digest: str) -> DocumentProof | None:
    url = hall.rstrip("/") + f"/cases/{serial}/proof"
    try:
        r = httpx.get(url, params={"sha256": digest}, timeout=15)
    except httpx.HTTPError as exc:
        raise InputError("hall", f"the hall node at {hall} does not answer ({exc})") from exc
    if r.status_code == 404:
        return None
    if r.status_code != 200:
        raise InputError("hall", f"the hall node answered {r.status_code}: {r.text[:200]}")
    try:
        return DocumentProof.model_validate(loads_bounded(r.content, what="hall", max_bytes=4 * 1024 * 1024))
    except (ValueError, ValidationError) as exc:
        raise InputError("hall", f"the hall node sent no usable proof ({exc})") from exc


def _document_verdict(
    found: dict[str, Any] | None, why: str, digest: str, serial: str, as_json: bool, lang: str
) -> NoReturn:
    if found is None:
        if as_json:
            typer.echo(json.dumps({"verdict": "mismatch", "reason": why, "sha256": digest}, ensure_ascii=False))
        elif lang == "zh":
            typer.echo(f"不一致：该文件不是办件 {serial} 登记的文件（{why}）")
        else:
            typer.echo(f"MISMATCH: this file was not committed in case {serial} ({why})")
        raise typer.Exit(1)
    found["serial"] = serial
    if as_json:
        typer.echo(json.dumps({"verdict": "match", **found}, ensure_ascii=False))
        raise typer.Exit(0)
    when = dt.datetime.fromtimestamp(found["time"], dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    stage = Stage[found["stage"]]
    if lang == "zh":
        typer.echo(
            f"一致：该文件即办件 {serial} 于 {when} 由大厅 {found['hall_id']} 在“{stage.label_zh}”环节登记"
            f"（区块 {found['block']}）。"
        )
    else:
        typer.echo(
            f"match: this file was committed in case {serial} at the {stage.name} stage by hall "
            f"{found['hall_id']} at {when} (block {found['block']})."
        )
    raise typer.Exit(0)
