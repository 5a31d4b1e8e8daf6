"""``caseledger verify BUNDLE --rpc URL`` and ``caseledger verify-document``: no hall node needed.

Both run the stand-alone verifier (:mod:`ledger.verify.cli`, the ``caseledger-verify`` command),
so the full CLI and the auditor's install give the same answers; ``verify-document --hall`` also
asks a hall node for a file's proof, then trusts only the chain.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import httpx
import typer
from pydantic import ValidationError

from ledger.cli import app
from ledger.core.chainlog import read_case_facts, read_merkle_facts
from ledger.core.jsonsafe import loads_bounded
from ledger.core.stages import Stage
from ledger.core.suites import suite_named
from ledger.core.timefmt import unix_to_cst
from ledger.errors import InputError, VerificationError
from ledger.hall.evidence import DocumentProof
from ledger.verify import cli as verifier
from ledger.verify.checks import DEFAULT_MAX_ANCHOR_LAG_S, verify_document
from ledger.verify.merkle import verify_merkle_document
from ledger.verify.rpc import JsonRpc

Rpc = Annotated[
    str, typer.Option("--rpc", envvar="CASELEDGER_RPC_URL", help="JSON-RPC URL of any consortium chain node.")
]
Lang = Annotated[str, typer.Option("--lang", help="zh (default) or en.")]


DeploymentOpt = Annotated[
    Path | None,
    typer.Option(
        "--deployment",
        envvar="CASELEDGER_DEPLOYMENT_FILE",
        help="The consortium's deployment.json: read the contracts at its (trusted) addresses.",
    ),
]
LedgerOpt = Annotated[str | None, typer.Option("--ledger", help="Trusted CaseLedger address.")]
RegistryOpt = Annotated[str | None, typer.Option("--registry", help="Trusted HallRegistry address.")]


def _trust_args(deployment: Path | None, ledger: str | None, registry: str | None) -> list[str]:
    argv: list[str] = []
    for flag, value in (("--deployment", deployment), ("--ledger", ledger), ("--registry", registry)):
        if value is not None:
            argv += [flag, str(value)]
    return argv


@app.command("verify")
def verify(
    bundle_path: Annotated[Path, typer.Argument(metavar="BUNDLE", help="Evidence bundle (JSON).")],
    rpc: Rpc,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    lang: Lang = "zh",
    max_anchor_lag: Annotated[
        float,
        typer.Option("--max-anchor-lag", metavar="HOURS", help="Report events anchored this long after their time."),
    ] = DEFAULT_MAX_ANCHOR_LAG_S / 3600,
    deployment: DeploymentOpt = None,
    ledger: LedgerOpt = None,
    registry: RegistryOpt = None,
    manifests: Annotated[
        list[str] | None,
        typer.Option(
            "--manifests",
            metavar="SRC",
            help="Merkle mode: where batch manifests are (a hall's URL or a directory; repeatable).",
        ),
    ] = None,
) -> None:
    """Verify an evidence bundle against the chain. Exit 0 match, 1 mismatch or incomplete, 2 unusable input.

    Without trusted addresses (``--deployment``, ``--ledger``) the bundle's own are read, and the verdict is at
    best "incomplete": a bundle's addresses prove nothing about the consortium."""
    argv = [str(bundle_path), "--rpc", rpc, "--lang", lang, "--max-anchor-lag", str(max_anchor_lag)]
    argv += _trust_args(deployment, ledger, registry)
    for src in manifests or []:
        argv += ["--manifests", src]
    raise typer.Exit(verifier.main([*argv, "--json"] if as_json else argv))


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
    deployment: DeploymentOpt = None,
    ledger: LedgerOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """Say whether this exact file was submitted (or issued as the result) in a case: stage, time, hall.

    The proof comes from an evidence bundle (--bundle) or from a hall node (--serial S --hall URL);
    either way only the chain is trusted, at the consortium's addresses (--deployment or --ledger): without
    them the answer is at best "cannot be established" (exit 1), as the bundle's or hall's addresses prove nothing.
    """
    if hall is None:
        if bundle_path is None:
            raise InputError("bundle", "give --bundle FILE, or --serial S --hall URL")
        argv = ["--document", str(file), "--bundle", str(bundle_path), "--rpc", rpc, "--lang", lang]
        argv += _trust_args(deployment, ledger, registry)
        raise typer.Exit(verifier.main([*argv, "--json"] if as_json else argv))
    if not serial:
        raise InputError("serial", "--hall needs the case serial (--serial)")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError("file", f"{file} cannot be read ({exc.strerror})") from exc
    proof = _fetch_proof(hall, serial, data)
    if proof is None:
        _document_verdict(None, "the hall holds no such file in the case", serial, as_json, lang)
    assert proof is not None
    trusted = verifier.Trusted.of(ledger, registry, None if deployment is None else str(deployment))
    if trusted is not None and trusted.ledger.lower() != proof.ledger.lower():
        raise InputError("ledger", "trusted_ledger_mismatch", given=trusted.ledger, found=proof.ledger)
    if proof.batch is not None:  # a Merkle-mode case: the record's leaf against its batch's on-chain root
        found = _merkle_document(rpc, proof, data, serial, trusted, as_json, lang)
    else:
        facts = read_case_facts(JsonRpc(rpc), ledger=proof.ledger, accepting_hall=proof.accepting_hall, serial=serial)
        _same_chain(trusted, proof, facts.chain_id)
        ev = next((e for e in facts.events if e.index == proof.event_index), None)
        if ev is None:
            _document_verdict(None, f"event {proof.event_index} is not on chain", serial, as_json, lang)
        assert ev is not None
        try:
            found = verify_document(data, proof.proof, proof.record, ev, suite_named(facts.suite))
        except VerificationError as exc:
            _document_verdict(None, str(exc), serial, as_json, lang)
    if trusted is None:
        found["serial"] = serial
        raise typer.Exit(verifier.document_untrusted(found, as_json, lang))
    _document_verdict(found, "", serial, as_json, lang)


def _same_chain(trusted: verifier.Trusted | None, proof: DocumentProof, chain_id: int) -> None:
    if trusted is not None and trusted.chain_id is not None and trusted.chain_id != chain_id:
        raise InputError("chain_id", "trusted_chain_mismatch", given=trusted.chain_id, served=chain_id)
    if chain_id != proof.chain_id:
        raise InputError("chain_id", f"the hall says chain {proof.chain_id}, the endpoint serves {chain_id}")


def _merkle_document(
    rpc: str, proof: DocumentProof, data: bytes, serial: str, trusted: verifier.Trusted | None, as_json: bool, lang: str
) -> dict[str, object]:
    """A Merkle-mode proof from a hall: the batch it names read from the chain (as the bundle's verification
    reads it), then :func:`verify_merkle_document`; a verdict of mismatch naming the answer that did not hold."""
    assert proof.batch is not None
    if proof.leaf is None or proof.block is None:
        _document_verdict(None, "the hall's Merkle-mode proof names no leaf or block", serial, as_json, lang)
    assert proof.leaf is not None and proof.block is not None
    b = proof.batch
    facts = read_merkle_facts(
        JsonRpc(rpc),
        ledger=proof.ledger,
        accepting_hall=proof.accepting_hall,
        serial=serial,
        batches=[(b.hall_id, b.seq, proof.block)],
    )
    _same_chain(trusted, proof, facts.chain_id)
    try:
        leaf = bytes.fromhex(proof.leaf)
        return verify_merkle_document(
            data,
            proof.proof,
            proof.record,
            leaf,
            b,
            proof.block,
            next((f for f in facts.batches if f.key == (b.hall_id, b.seq)), None),
            event_index=proof.event_index,
            accepting_hall=proof.accepting_hall,
            serial=serial,
            suite=suite_named(facts.suite),
        )
    except ValueError:
        _document_verdict(None, "the hall's leaf is not hex", serial, as_json, lang)
    except VerificationError as exc:
        _document_verdict(None, exc.message(lang), serial, as_json, lang)


def _fetch_proof(hall: str, serial: str, data: bytes) -> DocumentProof | None:
    url = hall.rstrip("/") + f"/cases/{serial}/proof"
    # the hall's suite decides the digest: ask with both spellings' digest until one is known
    for suite in ("intl", "gm"):
        try:
            r = httpx.get(url, params={"digest": suite_named(suite).hexdigest(data)}, timeout=15)
        except httpx.HTTPError as exc:
            raise InputError("hall", f"the hall node at {hall} does not answer ({exc})") from exc
        if r.status_code == 404:
            continue
        if r.status_code != 200:
            raise InputError("hall", f"the hall node answered {r.status_code}: {r.text[:200]}")
        try:
            return DocumentProof.model_validate(loads_bounded(r.content, what="hall", max_bytes=4 * 1024 * 1024))
        except (ValueError, ValidationError) as exc:
            raise InputError("hall", f"the hall node sent no usable proof ({exc})") from exc
    return None


def _document_verdict(found: dict[str, object] | None, why: str, serial: str, as_json: bool, lang: str) -> NoReturn:
    if found is None:
        if as_json:
            typer.echo(json.dumps({"verdict": "mismatch", "reason": why}, ensure_ascii=False))
        elif lang == "zh":
            typer.echo(f"不一致：该文件不是办件 {serial} 登记的文件（{why}）")
        else:
            typer.echo(f"MISMATCH: this file was not committed in case {serial} ({why})")
        raise typer.Exit(1)
    found["serial"] = serial
    if as_json:
        typer.echo(json.dumps({"verdict": "match", **found}, ensure_ascii=False))
        raise typer.Exit(0)
    when = unix_to_cst(int(str(found["time"])))
    stage = Stage[str(found["stage"])]
    if lang == "zh":
        typer.echo(
            f"一致：该文件即办件 {serial} 于 {when}（北京时间）由大厅 {found['hall_id']} 在“{stage.label_zh}”环节登记"
            f"（区块 {found['block']}）。"
        )
    else:
        typer.echo(
            f"match: this file was committed in case {serial} at the {stage.name} stage by hall "
            f"{found['hall_id']} at {when} UTC+8 (block {found['block']})."
        )
    raise typer.Exit(0)
