"""The dispute officer's workflow (核验/争议处理) on a case this hall holds.

1. **Open** — a DISPUTE_OPENED record (reason, officer, time), anchored through the outbox with the
   hall's own key (which holds the registry's dispute-officer role).
2. **Check** — verify the case *by serial*: this hall's own records of it against the chain
   (:func:`check_case`, no download-and-upload round trip), an uploaded evidence bundle against the chain
   (:func:`check_bundle`), or one uploaded document against this hall's own proof of it (:func:`check_document`).
   Each check is stored under the SHA-256 of its report's RFC 8785 canonical JSON
   (:func:`ledger.verify.checks.report_sha256`).
3. **Resolve** — a DISPUTE_RESOLVED record whose fields include ``report_sha256`` and ``verdict``, so
   the on-chain commitment covers the exact report the decision rests on. It names the dispute it
   closes by the on-chain index of its DISPUTE_OPENED event (``resolves``, the log's ``ref``): only
   this hall (the opener, whichever of its keys is current) or an arbiter can close it on chain.

Who raised a dispute (``raised_by``: the applicant, a hall, a department) is committed in its record. Every
hall that holds the case receives the dispute records the other halls wrote (pulled and verified against
the chain like any other event, :mod:`ledger.hall.transfer`); only the hall that opened a dispute closes it
(the contract lets its opener, or an arbiter, resolve it), the others see it and its resolution.

Limits (so that nobody can exhaust a case's disputes): one open dispute per dispute officer per case,
and :data:`MAX_OPEN_PER_HALL` per hall per case (the contract's per-opener limit); more is a
:class:`ConflictError` (HTTP 409).

::

    d = open_dispute(book, serial, reason="申请人称提交的身份证复印件被替换", raised_by="applicant", staff="officer-1")
    check = check_case(book, client, serial, staff="officer-1")   # or check_bundle / check_document
    resolve_dispute(book, serial, d.index, report_sha256=check.sha256, conclusion="材料未被篡改", staff="officer-1")

Store keys: ``dcheck/<serial>/<sha256>`` the stored checks (the report itself and who ran it).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ledger.chain.client import ChainClient
from ledger.chain.facts_reader import fetch_chain_facts, fetch_merkle_facts
from ledger.core.bundle import EvidenceBundle
from ledger.core.facts import ChainFacts
from ledger.core.records import canonical_bytes
from ledger.core.stages import Stage
from ledger.core.suites import suite_named
from ledger.core.timefmt import now_iso
from ledger.errors import ConfigError, ConflictError, InputError, NotFoundError, VerificationError
from ledger.hall.cases import CaseBook
from ledger.hall.evidence import export_bundle, find_document_proof
from ledger.hall.keys import check_key, check_prefix
from ledger.hall.merkle_index import ManifestStore
from ledger.verify.checks import check_chain, report_sha256, verify_bundle, verify_document
from ledger.verify.merkle import proven_chain_facts, verify_merkle_bundle
from ledger.verify.report import Reason, VerificationReport

__all__ = [
    "DocumentReport",
    "Dispute",
    "StoredCheck",
    "RAISED_BY",
    "check_bundle",
    "check_case",
    "check_document",
    "document_report",
    "get_check",
    "list_checks",
    "list_disputes",
    "open_dispute",
    "resolve_dispute",
]

MAX_TEXT = 2000
RAISED_BY = ("applicant", "hall", "department")
"""who raised a dispute: the applicant (申请人), a hall (大厅), a department (部门)"""
MAX_OPEN_PER_OFFICER = 1
MAX_OPEN_PER_HALL = 3
"""as the contract's ``MAX_OPEN_DISPUTES_PER_OPENER``: this hall is one opener on chain"""


class DocumentReport(BaseModel):
    """The outcome of checking one document of a case against the chain (pure data, hashed like a report)."""

    model_config = ConfigDict(frozen=True)

    serial: str
    chain_id: int
    ledger: str
    file_name: str
    digest: str
    suite: str = "intl"
    size: int
    status: Literal["match", "mismatch"]
    reasons: list[Reason] = []
    stage: str | None = None
    event_index: int | None = None
    kind: str | None = None
    committed_name: str | None = None
    writer: str | None = None
    hall_id: int | None = None
    block: int | None = None
    time: int | None = None
    tx: str | None = None
    superseded_by: int | None = None
    """the on-chain index of a later supplement (补正) that replaced this kind of material, if any"""
    superseded_time: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "match"

    @property
    def verdict(self) -> str:
        return self.status


class StoredCheck(BaseModel):
    """One verification run by a dispute officer, as stored and served."""

    kind: Literal["bundle", "document"]
    source: Literal["upload", "hall"] = "upload"
    """``hall``: this hall's own records of the case, checked against the chain by serial"""
    serial: str
    sha256: str
    verdict: Literal["match", "mismatch", "incomplete"]
    checked_at: str
    staff: str
    hall_id: int
    report: dict[str, Any]

    def bundle_report(self) -> VerificationReport:
        return VerificationReport.model_validate(self.report)

    def document_report(self) -> DocumentReport:
        return DocumentReport.model_validate(self.report)


class Dispute(BaseModel):
    seq: int
    index: int | None
    """the on-chain index of its DISPUTE_OPENED event (``None`` until anchored): what a resolution names"""
    serial: str
    commitment: str
    reason: str
    opened_by: str
    opened_at: str
    raised_by: str = ""
    """applicant | hall | department ("" for a dispute opened before it was asked)"""
    hall_id: int = 0
    """the hall that opened it (and alone may close it)"""
    origin: Literal["local", "received"] = "local"
    anchor: dict[str, Any]
    status: Literal["open", "resolved"]
    resolution: dict[str, Any] | None = None


def _text(value: str, field: str, *, required: bool) -> str:
    v = value.strip()
    if required and not v:
        raise InputError(field, "text_required")
    if len(v) > MAX_TEXT:
        raise InputError(field, "text_too_long", max=MAX_TEXT)
    return v


# ------------------------------------------------------------------------------------------ disputes
def list_disputes(book: CaseBook, serial: str) -> list[Dispute]:
    """Every dispute opened on the case at this hall, with its resolution when there is one."""
    book.header(serial)
    recs = book.records(serial)
    resolved = {
        r["fields"].get("resolves"): r
        for r in recs
        if r["stage"] == Stage.DISPUTE_RESOLVED.name and (r.get("anchor") or {}).get("state") != "refused"
    }
    out: list[Dispute] = []
    for r in recs:
        if r["stage"] != Stage.DISPUTE_OPENED.name:
            continue
        f = r["fields"]
        index = (r.get("anchor") or {}).get("index")
        res = resolved.get(index) if index is not None else None
        resolution = None
        if res is not None:
            rf = res["fields"]
            resolution = {
                "seq": res["seq"],
                "commitment": res["commitment"],
                "report_sha256": rf.get("report_sha256"),
                "verdict": rf.get("verdict"),
                "conclusion": rf.get("conclusion"),
                "resolved_by": rf.get("staff"),
                "resolved_at": rf.get("at"),
                "report_kind": rf.get("report_kind"),
                "hall_id": int(res.get("writer_hall") or book.hall.hall_id),
                "anchor": res.get("anchor") or {"state": "pending"},
            }
        out.append(
            Dispute(
                seq=r["seq"],
                index=None if index is None else int(index),
                serial=serial,
                commitment=r["commitment"],
                reason=str(f.get("reason", "")),
                opened_by=str(f.get("staff", "")),
                opened_at=str(f.get("at", "")),
                raised_by=str(f.get("raised_by", "")),
                hall_id=int(r.get("writer_hall") or book.hall.hall_id),
                origin="received" if r.get("origin") == "received" else "local",
                anchor=r.get("anchor") or {"state": "pending"},
                status="resolved" if resolution else "open",
                resolution=resolution,
            )
        )
    return out


def _dispute_by_seq(book: CaseBook, serial: str, seq: int) -> Dispute:
    for d in list_disputes(book, serial):
        if d.seq == seq:
            return d
    raise NotFoundError("dispute_not_found", serial=serial, seq=seq)


def _dispute(book: CaseBook, serial: str, index: int) -> Dispute:
    for d in list_disputes(book, serial):
        if d.index == index:
            return d
    raise NotFoundError("dispute_not_found", serial=serial, seq=index)


def open_dispute(book: CaseBook, serial: str, *, reason: str, staff: str, raised_by: str = "applicant") -> Dispute:
    """争议提起: a DISPUTE_OPENED record, queued for anchoring with this hall's key.

    :class:`ConflictError` when this officer already has an open dispute on the case, or the hall
    has :data:`MAX_OPEN_PER_HALL` (another party can still open theirs at their own hall).
    """
    book.header(serial)
    why = _text(reason, "reason", required=True)
    if raised_by not in RAISED_BY:
        raise InputError("raised_by", "dispute_raised_by")
    with book.lock:
        own = book.hall.hall_id
        live = [
            d
            for d in list_disputes(book, serial)
            if d.status == "open" and d.anchor.get("state") != "refused" and d.hall_id == own
        ]
        if sum(1 for d in live if d.opened_by == staff) >= MAX_OPEN_PER_OFFICER:
            raise ConflictError("dispute_open_by_you", serial=serial)
        if len(live) >= MAX_OPEN_PER_HALL:
            raise ConflictError("dispute_open_limit", serial=serial, max=MAX_OPEN_PER_HALL)
        before = {r["seq"] for r in book.records(serial)}
        book.append_dispute(serial, Stage.DISPUTE_OPENED, {"reason": why, "raised_by": raised_by, "staff": staff})
        new = [r["seq"] for r in book.records(serial) if r["seq"] not in before]
    return _dispute_by_seq(book, serial, new[0])


def resolve_dispute(
    book: CaseBook, serial: str, index: int, *, report_sha256: str | None, conclusion: str, staff: str
) -> Dispute:
    """争议处理: a DISPUTE_RESOLVED record naming dispute ``index`` and committing to a stored check's report.

    ``report_sha256`` picks one of the case's stored checks; ``None`` takes the latest one.
    """
    text = _text(conclusion, "conclusion", required=True)
    with book.lock:
        d = _dispute(book, serial, index)
        if d.status == "resolved":
            raise ConflictError("dispute_already_resolved", serial=serial, seq=index)
        if d.hall_id != book.hall.hall_id:
            raise ConflictError("dispute_other_hall", serial=serial, hall=d.hall_id)
        if report_sha256 is None:
            checks = list_checks(book, serial)
            if not checks:
                raise ConflictError("no_report_yet", serial=serial)
            check = checks[-1]
        else:
            check = get_check(book, serial, report_sha256)
        fields = {
            "dispute_commitment": d.commitment,
            "report_sha256": check.sha256,
            "report_kind": check.kind,
            "verdict": check.verdict,
            "conclusion": text,
            "staff": staff,
        }
        book.append_dispute(serial, Stage.DISPUTE_RESOLVED, fields, resolves=index)
    return _dispute(book, serial, index)


# ------------------------------------------------------------------------------------------ checks
def _store_check(
    book: CaseBook,
    serial: str,
    kind: Literal["bundle", "document"],
    report: BaseModel,
    verdict: Literal["match", "mismatch", "incomplete"],
    staff: str,
    source: Literal["upload", "hall"] = "upload",
) -> StoredCheck:
    payload: dict[str, Any] = json.loads(report.model_dump_json())
    if isinstance(report, VerificationReport):  # one digest rule (an event-mode report without Merkle fields)
        digest = report_sha256(report)
    else:
        digest = hashlib.sha256(canonical_bytes(payload)).hexdigest()
    check = StoredCheck(
        kind=kind,
        source=source,
        serial=serial,
        sha256=digest,
        verdict=verdict,
        checked_at=now_iso(),
        staff=staff,
        hall_id=book.hall.hall_id,
        report=payload,
    )
    book.store.put_json(check_key(serial, digest), {**check.model_dump(), "stored": time.time()})
    return check


def get_check(book: CaseBook, serial: str, sha256: str) -> StoredCheck:
    digest = sha256.strip().lower()
    raw = book.store.get_json(check_key(serial, digest))
    if raw is None:
        raise InputError("report_sha256", "report_not_found", digest=digest, serial=serial)
    raw.pop("stored", None)
    return StoredCheck.model_validate(raw)


def list_checks(book: CaseBook, serial: str) -> list[StoredCheck]:
    out = []
    for _, raw in book.store.iter_json(check_prefix(serial)):
        raw.pop("stored", None)
        out.append(StoredCheck.model_validate(raw))
    out.sort(key=lambda c: c.checked_at)
    return out


def check_bundle(
    book: CaseBook, client: ChainClient, serial: str, bundle: EvidenceBundle, *, staff: str
) -> StoredCheck:
    """Verify an uploaded evidence bundle of ``serial`` against the chain and store the report."""
    header = book.header(serial)
    if bundle.serial != serial:
        raise InputError("bundle.serial", "bundle_other_case", found=bundle.serial, serial=serial)
    if bundle.accepting_hall != int(header["accepting_hall"]):
        raise InputError(
            "bundle.accepting_hall",
            "bundle_other_hall",
            found=bundle.accepting_hall,
            hall=int(header["accepting_hall"]),
        )
    report = _verify_either_mode(book, client, bundle)
    return _store_check(book, serial, "bundle", report, report.verdict, staff)


def _verify_either_mode(book: CaseBook, client: ChainClient, bundle: EvidenceBundle) -> VerificationReport:
    """A bundle of either anchoring mode against the chain at this hall's (trusted) deployment."""
    if bundle.mode == "merkle":  # checked against batch roots; completeness from the manifests this hall holds
        mstore = ManifestStore(book.store, hall_id=book.hall.hall_id)
        return verify_merkle_bundle(bundle, fetch_merkle_facts(client, bundle, manifests=mstore.get))
    return verify_bundle(bundle, fetch_chain_facts(client, bundle.accepting_hall, bundle.serial))


def check_case(book: CaseBook, client: ChainClient, serial: str, *, staff: str) -> StoredCheck:
    """核验 by serial: every record this hall holds of ``serial`` (its own and those received from the other
    halls), with its salts and file proofs, recomputed against the chain and stored as a report — the same
    check as an uploaded bundle, without the download-and-upload round trip."""
    book.header(serial)  # NotFoundError for a case this hall does not hold
    bundle = export_bundle(book, client, serial, include_files=True)  # the hall holds the files: check them too
    report = _verify_either_mode(book, client, bundle)  # regression: a Merkle-mode case was a 422 bundle_merkle_mode
    return _store_check(book, serial, "bundle", report, report.verdict, staff, source="hall")


def document_report(
    serial: str,
    data: bytes,
    file_name: str,
    facts: ChainFacts,
    proof: Any | None,
    *,
    superseded_by: int | None = None,
) -> DocumentReport:
    """Pure: the outcome of checking ``data`` with ``proof`` (a :class:`ledger.hall.evidence.DocumentProof`
    or ``None`` when the hall holds no file with that digest) against ``facts``. ``superseded_by``: the event
    index of a later supplement that replaced this kind of material (the report says so beside its verdict)."""
    suite = suite_named(facts.suite)
    base: dict[str, Any] = {
        "serial": serial,
        "chain_id": facts.chain_id,
        "ledger": facts.ledger,
        "file_name": file_name,
        "digest": suite.hexdigest(data),
        "suite": suite.name,
        "size": len(data),
    }
    if proof is None:
        why = Reason(code="material_mismatch", detail="not a file committed in this case")
        return DocumentReport(**base, status="mismatch", reasons=[why])
    event = next((e for e in facts.events if e.index == proof.event_index), None)
    if event is None:
        return DocumentReport(**base, status="mismatch", reasons=[Reason(code="missing_on_chain")])
    reasons = list(check_chain(facts).get(event.index, []))
    coords: dict[str, Any] = {
        "stage": event.stage.name,
        "event_index": event.index,
        "kind": proof.proof.file.kind,
        "committed_name": proof.proof.file.name,
        "writer": event.writer,
        "hall_id": event.hall_id,
        "block": event.block,
        "time": event.time,
        "tx": event.tx,
    }
    later = next((e for e in facts.events if superseded_by is not None and e.index == superseded_by), None)
    if later is not None:
        coords |= {"superseded_by": later.index, "superseded_time": later.time}
    try:
        verify_document(data, proof.proof, proof.record, event, suite)
    except VerificationError as exc:
        code = "material_content_mismatch" if exc.where == proof.proof.file.name else "material_mismatch"
        reasons.append(Reason(code=code, detail=str(exc)))
    return DocumentReport(**base, **coords, status="mismatch" if reasons else "match", reasons=reasons)


def _superseded(book: CaseBook, serial: str, proof: Any | None) -> int | None:
    """The event index of the first anchored supplement (补正) after ``proof``'s record carrying the same kind
    of material, or ``None``."""
    if proof is None:
        return None
    kind = proof.proof.file.kind
    for r in book.records(serial):
        index = (r.get("anchor") or {}).get("index")
        if r["stage"] != Stage.MATERIALS.name or index is None or int(index) <= proof.event_index:
            continue
        if r["fields"].get("supplement") and any(f.get("kind") == kind for f in r.get("files", [])):
            return int(index)
    return None


def check_document(
    book: CaseBook, client: ChainClient, serial: str, data: bytes, file_name: str, *, staff: str
) -> StoredCheck:
    """Was this exact file submitted (or issued) in ``serial``? Proof from this hall's own records."""
    if not data:
        raise InputError("document", "document_empty")
    header = book.header(serial)
    dep = client.deployment
    if dep is None:
        raise ConfigError("no_deployment")
    try:
        proof = find_document_proof(book, dep, serial, book.hall.suite.hexdigest(data))
    except NotFoundError:
        proof = None
    if header.get("anchor_mode") == "merkle":
        bundle = export_bundle(book, client, serial)
        mfacts = fetch_merkle_facts(client, bundle)
        facts = proven_chain_facts(bundle, mfacts, verify_merkle_bundle(bundle, mfacts))
    else:
        facts = fetch_chain_facts(client, int(header["accepting_hall"]), serial)
    report = document_report(serial, data, file_name, facts, proof, superseded_by=_superseded(book, serial, proof))
    return _store_check(book, serial, "document", report, report.status, staff)
