"""``caseledger-verify``: check an evidence bundle against the chain, with nothing but this package.

    caseledger-verify BUNDLE --rpc URL [--deployment FILE | --ledger ADDR [--registry ADDR]]
                      [--json] [--lang zh|en] [--max-anchor-lag HOURS] [--manifests SRC ...]
    caseledger-verify --document FILE --bundle BUNDLE --rpc URL [--deployment FILE | --ledger ADDR]

The contract addresses to trust come from the consortium's published deployment (``--deployment``,
its ``deployment.json``) or are given (``--ledger``, ``--registry``); without them the chain is read at
the bundle's own addresses, which prove nothing about the consortium: the report says so
(``deployment_untrusted``) and the verdict is at best ``incomplete``.

A Merkle-mode bundle (``"mode": "merkle"``) is checked against batch roots; it is proven complete only
with ``--manifests`` (a hall's URL, or a directory of ``<hall>-<seq>.manifest`` files), else the verdict
is ``incomplete``. ``--document`` works in both modes: in Merkle mode the file's proof is checked against its
record, the record against its event leaf, and the leaf's inclusion proof against the batch root read from
the chain (:func:`ledger.verify.merkle.verify_merkle_document`); no manifest is needed.

Exit codes: 0 every event matches; 1 a mismatch, or the bundle is incomplete; 2 unusable input
(not a bundle, another chain or contract, endpoint unreachable). Every problem is one sentence on
stderr; no traceback is ever shown. Standard library only (argparse, urllib), so a court's IT staff
can install it with ``pip install caseledger`` and read all of it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ledger.core.bundle import BundleEvent, BundleMaterial, EvidenceBundle, load_bundle
from ledger.core.chainlog import read_deployment
from ledger.core.facts import ChainFacts, DeploymentFacts, MerkleFacts
from ledger.core.jsonsafe import load_json_file
from ledger.core.materials import MaterialProof
from ledger.core.records import DisclosedRecord
from ledger.core.stages import Stage
from ledger.core.suites import suite_named
from ledger.errors import ChainUnavailableError, InputError, LedgerError, VerificationError
from ledger.verify.checks import DEFAULT_MAX_ANCHOR_LAG_S, check_coordinates, verify_bundle, verify_document
from ledger.verify.manifests import manifest_source
from ledger.verify.merkle import bundle_leaf, verify_merkle_bundle, verify_merkle_document
from ledger.verify.report import VerificationReport
from ledger.verify.rpc import JsonRpc, read_case_facts, read_merkle_facts

__all__ = ["Trusted", "document_untrusted", "main", "render_text", "verify_file"]

CST = timezone(timedelta(hours=8))
STATUS_TEXT = {
    "match": ("一致", "match"),
    "mismatch": ("不一致", "MISMATCH"),
    "missing_on_chain": ("链上缺失", "missing on chain"),
    "missing_from_bundle": ("证据包缺失", "missing from bundle"),
}
VERDICT_TEXT = {
    "match": ("全部一致", "all events match"),
    "mismatch": ("存在不一致", "MISMATCH found"),
    "incomplete": ("证据不完整，不能认定一致", "INCOMPLETE: cannot be taken as a match"),
}
LATE_NOTE = (
    "办理时间仅能证明不晚于上链时间",
    "the time of the act is only proven to be no later than its anchoring block",
)


def _width(text: str) -> int:
    """Display width in a terminal: CJK characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _cst(unix: int | None) -> str:
    return "-" if unix is None else datetime.fromtimestamp(unix, CST).strftime("%Y-%m-%d %H:%M:%S")


def _lag(s: int | None) -> str:
    if s is None:
        return "-"
    sign = "-" if s < 0 else ""
    s = abs(s)
    return f"{sign}{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{sign}{s}s"


def render_text(report: VerificationReport, lang: str = "zh") -> str:
    """The report as plain text (one line per event, then materials, findings and the verdict)."""
    zh = lang == "zh"
    i = 0 if zh else 1
    out: list[str] = []
    out.append(
        f"{'办件' if zh else 'Case'} {report.serial} ({'受理大厅' if zh else 'accepting hall'} {report.accepting_hall})"
        f" — {'链' if zh else 'chain'} {report.chain_id} {report.ledger} ({'算法' if zh else 'suite'} {report.suite})"
    )
    cols = (
        ("序号", "环节", "结论", "写入方", "大厅", "区块", "上链时间(北京)", "所称办理时间", "间隔", "原因")
        if zh
        else (
            "#",
            "stage",
            "verdict",
            "writer",
            "hall",
            "block",
            "block time (UTC+8)",
            "claimed time",
            "lag",
            "reasons",
        )
    )
    rows = [list(cols)]
    for e in report.events:
        rows.append(
            [
                str(e.index),
                e.stage,
                STATUS_TEXT[e.status][i],
                e.writer or "-",
                str(e.hall_id if e.hall_id is not None else "-"),
                str(e.block or "-"),
                _cst(e.time),
                e.claimed_at or "-",
                _lag(e.lag_s),
                "; ".join(r.text(lang) for r in [*e.reasons, *e.findings]) or "-",
            ]
        )
    widths = [max(_width(r[c]) for r in rows) for c in range(len(cols) - 1)]
    for r in rows:
        out.append("  ".join(v + " " * (widths[c] - _width(v)) for c, v in enumerate(r[:-1])) + "  " + r[-1])
    for m in report.materials:
        # what the verdict rests on: a match whose file was not in the bundle says its content was not checked
        out.append(f"{'材料' if zh else 'material'} {m.kind} {m.name}: {STATUS_TEXT[m.status][i]} ({m.text(lang)})")
    for idx, fields in report.withheld_fields.items():
        out.append(
            f"{'事件' if zh else 'event'} {idx} {'未披露字段' if zh else 'withheld fields'}: {', '.join(fields)}"
        )
    late = [(idx, f) for idx, f in report.findings if f.code == "anchored_late"]
    if late:
        hours = report.max_anchor_lag_s / 3600
        which = ", ".join(str(idx) for idx, _ in late)
        if zh:
            out.append(f"注意：事件 {which} 的上链时间比所称办理时间晚 {hours:g} 小时以上。{LATE_NOTE[0]}。")
        else:
            out.append(
                f"Note: events {which} were anchored more than {hours:g} h after their claimed time; {LATE_NOTE[1]}."
            )
    for reason in report.reasons:
        out.append(f"{'证据包' if zh else 'bundle'}: {reason.text(lang)}")
    if report.mode == "merkle" and report.complete_as_of is not None:
        out.append(
            f"{'完整性：截至区块' if zh else 'complete as of block'} {report.complete_as_of}"
            f"{'，各大厅批次中没有本案的其他事件' if zh else ': no other event of the case in any hall batch'}"
        )
    out.append(f"{'结论' if zh else 'Verdict'}: {VERDICT_TEXT[report.verdict][i]}")
    return "\n".join(out) + "\n"


_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass(frozen=True)
class Trusted:
    """Contract addresses the verifier trusts (the consortium's published deployment), not the bundle's."""

    ledger: str
    registry: str | None = None
    chain_id: int | None = None

    @classmethod
    def of(cls, ledger: str | None, registry: str | None, deployment: str | None) -> Trusted | None:
        """From ``--deployment FILE`` (its ``ledger``, ``registry``, ``chain_id``) or ``--ledger``/``--registry``."""
        chain_id: int | None = None
        if deployment is not None:
            doc = load_json_file(Path(deployment), what="deployment", max_bytes=1024 * 1024)
            if not isinstance(doc, dict) or not isinstance(doc.get("ledger"), str):
                raise InputError("deployment", "deployment_file_invalid", path=deployment)
            ledger = ledger or doc["ledger"]
            reg, cid = doc.get("registry"), doc.get("chain_id")
            registry = registry or (reg if isinstance(reg, str) else None)
            chain_id = cid if isinstance(cid, int) and not isinstance(cid, bool) else None
        if ledger is None:
            if registry is not None:
                raise InputError("registry", "trusted_registry_without_ledger")
            return None
        for name, value in (("ledger", ledger), ("registry", registry)):
            if value is not None and not _ADDRESS.match(value):
                raise InputError(name, "trusted_address_invalid", address=value)
        return cls(ledger=ledger, registry=registry, chain_id=chain_id)


def _trusted_deployment(rpc: JsonRpc, bundle: EvidenceBundle, trusted: Trusted | None) -> DeploymentFacts | None:
    """The trusted deployment as served (None: the bundle's own addresses, which prove nothing)."""
    if trusted is None:
        return None
    dep = read_deployment(rpc, trusted.ledger).model_copy(update={"addresses_from": "deployment"})
    if trusted.registry is not None and trusted.registry.lower() != dep.registry.lower():
        raise InputError("registry", "trusted_registry_mismatch", given=trusted.registry, served=dep.registry)
    if trusted.chain_id is not None and trusted.chain_id != dep.chain_id:
        raise InputError("chain_id", "trusted_chain_mismatch", given=trusted.chain_id, served=dep.chain_id)
    check_coordinates(bundle, dep)  # before reading the case: a bundle of another deployment is unusable
    return dep


def _facts(rpc: JsonRpc, bundle: EvidenceBundle, trusted: Trusted | None = None) -> ChainFacts:
    dep = _trusted_deployment(rpc, bundle, trusted)
    if dep is None:  # the bundle's own addresses: the report says they prove nothing (deployment_untrusted)
        return read_case_facts(rpc, ledger=bundle.ledger, accepting_hall=bundle.accepting_hall, serial=bundle.serial)
    return read_case_facts(
        rpc, ledger=dep.ledger, accepting_hall=bundle.accepting_hall, serial=bundle.serial, deployment=dep
    )


def _merkle_facts(
    rpc: JsonRpc,
    bundle: EvidenceBundle,
    trusted: Trusted | None,
    events: Sequence[BundleEvent],
    manifests: Sequence[str] = (),
) -> MerkleFacts:
    """The chain facts of a Merkle-mode bundle: the batches ``events`` name, and with ``manifests`` the scan of
    every hall's batches that proves the case complete (at the trusted deployment's addresses if given)."""
    dep = _trusted_deployment(rpc, bundle, trusted)
    return read_merkle_facts(
        rpc,
        ledger=bundle.ledger if dep is None else dep.ledger,
        deployment=dep,
        accepting_hall=bundle.accepting_hall,
        serial=bundle.serial,
        batches=[(e.batch.hall_id, e.batch.seq, e.block) for e in events if e.batch is not None],
        manifests=manifest_source(manifests) if manifests else None,
    )


def verify_loaded(
    bundle: EvidenceBundle,
    rpc: JsonRpc,
    *,
    max_anchor_lag_s: int = DEFAULT_MAX_ANCHOR_LAG_S,
    manifests: Sequence[str] = (),
    trusted: Trusted | None = None,
) -> VerificationReport:
    """Read the chain (and, in Merkle mode, the manifests) for ``bundle`` and check it (``trusted``: the
    deployment's addresses; without them the bundle's own, and the verdict is at best ``incomplete``)."""
    if bundle.mode == "merkle":
        facts = _merkle_facts(rpc, bundle, trusted, bundle.events, manifests)
        return verify_merkle_bundle(bundle, facts, max_anchor_lag_s=max_anchor_lag_s)
    return verify_bundle(bundle, _facts(rpc, bundle, trusted), max_anchor_lag_s=max_anchor_lag_s)


def verify_file(
    path: Path,
    rpc_url: str,
    *,
    max_anchor_lag_s: int = DEFAULT_MAX_ANCHOR_LAG_S,
    manifests: Sequence[str] = (),
    trusted: Trusted | None = None,
) -> tuple[VerificationReport, JsonRpc]:
    """Load, read the chain, check: the library use of the command."""
    bundle = load_bundle(path)
    rpc = JsonRpc(rpc_url)
    report = verify_loaded(bundle, rpc, max_anchor_lag_s=max_anchor_lag_s, manifests=manifests, trusted=trusted)
    return report, rpc


def _document(args: argparse.Namespace) -> int:
    try:
        data = Path(args.document).read_bytes()
    except OSError as exc:
        raise InputError("document", "file_unreadable", path=str(args.document), reason=str(exc.strerror)) from exc
    bundle = load_bundle(Path(args.bundle))
    suite = suite_named(bundle.suite)
    digest = suite.hexdigest(data)
    rpc = JsonRpc(args.rpc)
    candidates = [m for m in bundle.materials if m.proof.file.digest == digest] or list(bundle.materials)
    checks = _merkle_checks(rpc, bundle, candidates, args.trusted) if bundle.mode == "merkle" else None
    if checks is None:
        facts = _facts(rpc, bundle, args.trusted)
        check_coordinates(bundle, facts)
        events = {e.index: e for e in facts.events}
        addresses_from: str = facts.addresses_from
    else:
        events, addresses_from = {}, checks[0]
    records = {e.index: e.record for e in bundle.events}
    why = "no material proof in the bundle"
    for m in candidates:
        rec, ev = records.get(m.event_index), events.get(m.event_index)
        if rec is None or (ev is None and checks is None):
            continue
        try:
            if checks is None:
                assert ev is not None
                found = verify_document(data, m.proof, rec, ev, suite)
            else:
                found = checks[1](data, m.proof, rec, m.event_index)
        except VerificationError as exc:
            why = exc.message(args.lang) if not exc.free_sentence else str(exc)
            continue
        found["serial"] = bundle.serial
        if addresses_from != "deployment":
            return document_untrusted(found, args.json, args.lang)
        if args.json:
            print(json.dumps({"verdict": "match", **found}, ensure_ascii=False))
        elif args.lang == "zh":
            print(
                f"一致：该文件即办件 {bundle.serial} 于 {_cst(found['time'])}（北京时间）由大厅 {found['hall_id']}"
                f" 在“{Stage[found['stage']].label_zh}”环节登记（区块 {found['block']}）"
            )
        else:
            print(
                f"MATCH: this file was committed in case {bundle.serial} at stage {found['stage']} by hall "
                f"{found['hall_id']} in block {found['block']} ({_cst(found['time'])} UTC+8)"
            )
        return 0
    if args.json:
        print(json.dumps({"verdict": "mismatch", "reason": why, "digest": digest}, ensure_ascii=False))
    elif args.lang == "zh":
        print(f"不一致：该文件不是办件 {bundle.serial} 登记的文件（{why}）")
    else:
        print(f"MISMATCH: this file was not committed in case {bundle.serial} ({why})")
    return 1


DocumentCheck = Callable[[bytes, MaterialProof, DisclosedRecord, int], dict[str, Any]]


def _merkle_checks(
    rpc: JsonRpc, bundle: EvidenceBundle, candidates: Sequence[BundleMaterial], trusted: Trusted | None
) -> tuple[str, DocumentCheck]:
    """A Merkle-mode bundle: read the batches of the events whose proofs may hold the document (the chain facts
    the bundle's verification reads, :func:`read_merkle_facts`), and the check of one proof against them."""
    by_index = {e.index: e for e in bundle.events}
    named = [by_index[i] for i in sorted({m.event_index for m in candidates} & set(by_index))]
    facts = _merkle_facts(rpc, bundle, trusted, named)
    check_coordinates(bundle, facts)
    batches = {b.key: b for b in facts.batches}
    suite = suite_named(bundle.suite)

    def check(data: bytes, proof: MaterialProof, record: DisclosedRecord, index: int) -> dict[str, Any]:
        be = by_index[index]
        if be.batch is None:
            raise InputError("events", "bundle_merkle_batch_missing")
        return verify_merkle_document(
            data,
            proof,
            record,
            bundle_leaf(bundle, be).encode(),
            be.batch,
            be.block,
            batches.get((be.batch.hall_id, be.batch.seq)),
            event_index=index,
            accepting_hall=bundle.accepting_hall,
            serial=bundle.serial,
            suite=suite,
        )

    return facts.addresses_from, check


def document_untrusted(found: dict[str, Any], as_json: bool, lang: str) -> int:
    """The file is in the case's commitments, but read at addresses nobody vouched for: not a match (exit 1)."""
    if as_json:
        print(json.dumps({"verdict": "incomplete", "reason": "deployment_untrusted", **found}, ensure_ascii=False))
    elif lang == "zh":
        print(
            f"不能认定：该文件与办件 {found['serial']} 的登记相符，但合约地址取自证据包本身，未对照联盟公布的部署信息"
            "（请用 --deployment 文件或 --ledger 地址指定），不能据此认定该文件已在联盟链上登记"
        )
    else:
        print(
            f"INCOMPLETE: the file is among case {found['serial']}'s commitments, but at contract addresses taken "
            "from the bundle itself, which prove nothing about the consortium (give --deployment FILE or --ledger ADDR)"
        )
    return 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="caseledger-verify",
        description="核验证据包 / verify a CaseLedger evidence bundle against the chain (exit 0 match, 1 mismatch or "
        "incomplete, 2 unusable input).",
    )
    p.add_argument("bundle", nargs="?", help="evidence bundle (caseledger-evidence/2 JSON)")
    p.add_argument("--rpc", required=True, help="JSON-RPC URL of any node of the consortium chain")
    p.add_argument(
        "--deployment",
        metavar="FILE",
        help="the consortium's published deployment.json: read the contracts at its addresses (trusted)",
    )
    p.add_argument("--ledger", metavar="ADDR", help="trusted CaseLedger contract address (instead of the bundle's)")
    p.add_argument("--registry", metavar="ADDR", help="trusted HallRegistry address (checked against the ledger's)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--lang", choices=("zh", "en"), default="zh")
    p.add_argument(
        "--max-anchor-lag",
        type=float,
        default=DEFAULT_MAX_ANCHOR_LAG_S / 3600,
        metavar="HOURS",
        help="report events anchored more than this long after their claimed time (default 6)",
    )
    p.add_argument(
        "--manifests",
        action="append",
        default=[],
        metavar="SRC",
        help="Merkle mode: where batch manifests are (a hall's URL or a directory; repeatable, tried in order)",
    )
    p.add_argument("--document", metavar="FILE", help="check one document against the bundle's material proofs")
    p.add_argument("--bundle", dest="bundle_opt", metavar="BUNDLE", help="(with --document) the bundle")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed its one-line usage error
        return 2 if exc.code else 0
    try:
        args.trusted = Trusted.of(args.ledger, args.registry, args.deployment)
        if args.document is not None:
            args.bundle = args.bundle_opt or args.bundle
            if args.bundle is None:
                raise InputError("bundle", "verify_document_needs_bundle")
            return _document(args)
        if args.bundle is None:
            raise InputError("bundle", "verify_bundle_required")
        if not args.max_anchor_lag > 0:
            raise InputError("max-anchor-lag", "positive_hours")
        report, _ = verify_file(
            Path(args.bundle),
            args.rpc,
            max_anchor_lag_s=int(args.max_anchor_lag * 3600),
            manifests=args.manifests,
            trusted=args.trusted,
        )
        if args.json:
            body = {"verdict": report.verdict, **report.model_dump()}
            print(json.dumps(body, ensure_ascii=False, indent=1))
        else:
            sys.stdout.write(render_text(report, args.lang))
        return report.exit_code
    except ChainUnavailableError as exc:
        print(f"caseledger-verify: {exc}", file=sys.stderr)
        return 2
    except InputError as exc:
        print(f"caseledger-verify: {exc}", file=sys.stderr)
        return 2
    except LedgerError as exc:
        print(f"caseledger-verify: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 — the promise: one sentence, never a traceback
        print(
            f"caseledger-verify: internal error ({exc.__class__.__name__}); please report it with the bundle",
            file=sys.stderr,
        )
        return 2
