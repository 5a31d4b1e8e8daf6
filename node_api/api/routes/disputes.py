"""Dispute officer endpoints (核验/争议处理): open, verify a bundle or a document, resolve, print.

A case is verified *by serial* (``POST …/verifications/by-serial``: this hall's own records of it against
the chain, nothing to upload), or from an upload, either as JSON (the evidence bundle itself as the request body) or as
multipart: a part ``bundle`` (the bundle file) or a part ``document`` (one file to check against this
hall's own proof of it). The answer names the stored report by its SHA-256, which the resolution
then commits to on chain. A resolution names the dispute it closes by the on-chain index of its
DISPUTE_OPENED event (``/disputes/{index}/resolution``) and picks its report among the stored ones
(the latest when none is named). Open disputes are limited per officer and per hall (409).
``GET /cases/{serial}/proof?digest=`` serves one file's proof to anyone holding the file (no personal
data: the record's other fields are withheld).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ledger.core.bundle import parse_bundle
from ledger.core.jsonsafe import loads_bounded
from ledger.core.text import LIMITS, clean_text
from ledger.errors import ConfigError, InputError, NotFoundError
from ledger.hall.disputes import (
    Dispute,
    StoredCheck,
    check_bundle,
    check_case,
    check_document,
    get_check,
    list_checks,
    list_disputes,
    open_dispute,
    resolve_dispute,
)
from ledger.hall.evidence import DocumentProof, find_document_proof
from ledger.hall.report_html import render_check_html
from node_api.api.deps import DisputeOfficer, DisputeReader, NodeDep, Staff, needs
from node_api.core.node import HallNode

router = APIRouter(prefix="/cases", tags=["disputes"])

MAX_UPLOAD = 64 * 1024 * 1024


class DisputeIn(BaseModel):
    reason: str = Field(max_length=LIMITS["reason"])
    raised_by: Literal["applicant", "hall", "department"] = "applicant"
    """who raised it: the applicant (申请人), a hall (大厅) or a department (部门); committed in the record"""


class ResolutionIn(BaseModel):
    report_sha256: str | None = Field(default=None, max_length=64)
    """one of the case's stored verification reports (``GET …/verifications``); the latest when omitted"""
    conclusion: str = Field(max_length=LIMITS["conclusion"])


class DisputesPublic(BaseModel):
    data: list[Dispute]
    count: int


class ChecksPublic(BaseModel):
    data: list[StoredCheck]
    count: int


@router.post("/{serial}/disputes", operation_id="open_dispute", response_model=Dispute, status_code=201)
def open_(serial: str, body: DisputeIn, node: NodeDep, staff: DisputeOfficer) -> Dispute:
    """争议提起: DISPUTE_OPENED, anchored asynchronously with this hall's key."""
    return open_dispute(
        node.book, serial, reason=clean_text("reason", body.reason), raised_by=body.raised_by, staff=staff.username
    )


@router.get(
    "/{serial}/disputes",
    operation_id="list_disputes",
    response_model=DisputesPublic,
    dependencies=[needs(DisputeReader)],
)
def disputes(serial: str, node: NodeDep) -> dict[str, Any]:
    data = list_disputes(node.book, serial)
    return {"data": data, "count": len(data)}


@router.post(
    "/{serial}/disputes/{index}/resolution", operation_id="resolve_dispute", response_model=Dispute, status_code=201
)
def resolve(serial: str, index: int, body: ResolutionIn, node: NodeDep, staff: DisputeOfficer) -> Dispute:
    """争议处理: DISPUTE_RESOLVED closing dispute ``index`` (the on-chain index of its DISPUTE_OPENED),
    committing to a stored verification report (its SHA-256 and verdict)."""
    return resolve_dispute(
        node.book,
        serial,
        index,
        report_sha256=body.report_sha256,
        conclusion=clean_text("conclusion", body.conclusion),
        staff=staff.username,
    )


@router.post(
    "/{serial}/verifications/by-serial",
    operation_id="verify_case_by_serial",
    response_model=StoredCheck,
    status_code=201,
)
def verify_by_serial(serial: str, node: NodeDep, staff: DisputeOfficer) -> StoredCheck:
    """核验 by serial: every record this hall holds of the case (its own and those received and verified from
    the other halls) recomputed against the chain; the report is stored under its SHA-256 (no upload)."""
    return check_case(node.book, node.reader, serial, staff=staff.username)


@router.post("/{serial}/verifications", operation_id="run_verification", response_model=StoredCheck, status_code=201)
async def verify(serial: str, request: Request, node: NodeDep, staff: DisputeOfficer) -> StoredCheck:
    """Verify an uploaded evidence bundle (JSON body, or multipart part ``bundle``) or one document
    (multipart part ``document``) against the chain; the report is stored under its SHA-256."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        raw = await request.body()
        return await _check_bundle(node, serial, raw, "body", staff)
    if not ctype.startswith("multipart/form-data"):
        raise InputError("body", "bundle_or_document_required")
    form = await request.form(max_part_size=MAX_UPLOAD)
    bundle, document = form.get("bundle"), form.get("document")
    if isinstance(bundle, UploadFile):
        raw = await bundle.read()
        return await _check_bundle(node, serial, raw, "bundle", staff)
    if isinstance(document, UploadFile):
        data = await document.read()
        name = document.filename or "document"
        # chain reads and store writes: in a thread, never on the event loop
        return await run_in_threadpool(check_document, node.book, node.reader, serial, data, name, staff=staff.username)
    raise InputError("bundle", "bundle_or_document_required")


async def _check_bundle(node: HallNode, serial: str, raw: bytes, field: str, staff: Staff) -> StoredCheck:
    """Parse and check a bundle in a thread (JSON parsing, chain reads and store writes never run on the loop)."""

    def work() -> StoredCheck:
        return check_bundle(node.book, node.reader, serial, parse_bundle(_json(raw, field)), staff=staff.username)

    return await run_in_threadpool(work)


def _json(raw: bytes, field: str) -> Any:
    return loads_bounded(raw, what=field, max_bytes=MAX_UPLOAD)


@router.get(
    "/{serial}/verifications",
    operation_id="list_verifications",
    response_model=ChecksPublic,
    dependencies=[needs(DisputeReader)],
)
def checks(serial: str, node: NodeDep) -> dict[str, Any]:
    node.book.header(serial)
    data = list_checks(node.book, serial)
    return {"data": data, "count": len(data)}


@router.get(
    "/{serial}/verifications/{sha256}",
    operation_id="get_verification",
    response_model=StoredCheck,
    dependencies=[needs(DisputeReader)],
)
def check(serial: str, sha256: str, node: NodeDep) -> StoredCheck:
    """The JSON report (its SHA-256 over RFC 8785 canonical JSON is ``sha256``)."""
    return get_check(node.book, serial, sha256)


@router.get(
    "/{serial}/verifications/{sha256}/report.html",
    operation_id="print_verification",
    response_class=HTMLResponse,
    dependencies=[needs(DisputeReader)],
)
def printable(
    serial: str, sha256: str, request: Request, node: NodeDep, lang: Annotated[str, Query()] = "zh"
) -> HTMLResponse:
    """Print-ready verification report, zh-CN by default (``?lang=en`` for English)."""
    if lang not in ("zh", "en"):
        raise InputError("lang", "unknown_lang")
    c = get_check(node.book, serial, sha256)
    again = str(request.base_url).rstrip("/") + f"/ui/cases/{serial}/disputes#verify-case"
    cat = node.book.catalogue
    kinds = {m.code: (m.name_zh if lang == "zh" else m.name_en) for i in cat.items for m in i.materials}
    kinds[cat.agent_letter.code] = cat.agent_letter.name_zh if lang == "zh" else cat.agent_letter.name_en
    kinds["result_document"] = "结果文书" if lang == "zh" else "result document"
    html = render_check_html(
        c,
        lang=lang,
        hall_name=node.hall.name,
        self_url=request.url.path,
        verify_url=again,
        hall_names=node.hall_names(),
        kind_names=kinds,
    )
    return HTMLResponse(html)


@router.get("/{serial}/proof", operation_id="get_document_proof", response_model=DocumentProof)
def proof(serial: str, node: NodeDep, digest: Annotated[str, Query()]) -> DocumentProof:
    """One file's inclusion proof and the record committing to it, for ``caseledger verify-document --hall``.

    Open to anyone who holds the file (they must know its digest in the deployment's suite); the
    record's other fields are withheld.
    """
    dep = node.reader.deployment
    if dep is None:
        raise ConfigError("no_deployment")
    try:
        return find_document_proof(node.book, dep, serial, digest)
    except NotFoundError:
        # the same answer whether the case or only the file is unknown: serials are sequential, and an
        # anonymous caller must not count a hall's cases by probing them
        raise NotFoundError("file_not_in_case", serial=serial) from None
