"""Staff endpoints for cases: intake, acceptance, process, supplements, result, delivery, timeline.

Uploads are multipart: each file in a part named ``materials.<material code>`` (for example
``materials.id_card``); the result document in a part named ``document``.

A file is never read whole into memory: Starlette's parser spools each file part above 1 MiB to a temporary
file as it arrives; :func:`_form` reads only its first bytes (the type check) and hands the open file to the
case book, which reads it in chunks in a worker thread while hashing and sealing it into the store
(:meth:`ledger.hall.store.Store.stage_blob`). A download streams the stored chunks back
(:meth:`~ledger.hall.store.Store.open_blob_stream`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import MISSING, BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from ledger.core.bundle import EvidenceBundle
from ledger.core.text import LIMITS, check_length, clean_text
from ledger.core.types import Scalar
from ledger.errors import ConflictError, DataErasedError, ForbiddenError, InputError, NotFoundError
from ledger.hall.cases import PERSONAL_FIELDS, SupplementNotice, Upload, applicant_fields, suggest_home_district
from ledger.hall.evidence import export_bundle
from ledger.hall.privacy import bundle_plan, sees_personal_data, withhold_personal
from ledger.hall.uploads import check_upload, check_upload_counts, check_upload_meta
from node_api.api.deps import AcceptingCase, BookDep, CaseReader, Clerk, Exporter, HomeCase, NodeDep, Officer, needs
from node_api.api.schemas import public

# who may do what (docs/security.md; tests/integration/test_role_matrix.py walks every cell)

router = APIRouter(prefix="/cases", tags=["cases"])


class FilePublic(BaseModel):
    """What a case view says about one file (the bytes: ``GET /cases/{serial}/files/{digest}``)."""

    kind: str
    name: str
    digest: str
    size: int


# A key the hall's store leaves out of a record is left out of the answer too (``MISSING``), never shown as
# null: the JSON of a case view is what the store says, typed.


class BatchPublic(BaseModel):
    """Where a Merkle-mode event's leaf is: the batch (hall, seq), the leaf's position, the tree's size."""

    hall: int
    seq: int
    leaf: int
    size: int
    log_index: int | MISSING = MISSING


class RebasedPublic(BaseModel):
    """A Merkle-mode event whose index another hall's batch took first: queued again (``lost_index``)."""

    lost_index: int


class AnchorPublic(BaseModel):
    """An event's anchor state as the hall keeps it.

    ``pending`` (``lost``: the anchor a reorganisation or rollback took off the chain, with its ``kind``;
    ``rebased``: a Merkle-mode index lost to another hall); ``anchored`` with tx, block, time, index (Merkle
    mode: ``mode``, head, writer, ``batch``, and for a received record its leaf and inclusion path);
    ``refused`` (and ``held``, the later events of a refused INTAKE) with the contract's rule and message."""

    state: str
    mode: str | MISSING = MISSING
    tx: str | MISSING = MISSING
    block: int | MISSING = MISSING
    time: int | None | MISSING = MISSING
    index: int | MISSING = MISSING
    head: str | MISSING = MISSING
    writer: str | MISSING = MISSING
    batch: BatchPublic | MISSING = MISSING
    leaf: str | MISSING = MISSING
    path: list[str] | MISSING = MISSING
    rule: str | MISSING = MISSING
    message: str | MISSING = MISSING
    kind: str | MISSING = MISSING
    """in ``lost``: how the anchor left the chain (a reorganisation, a rollback)"""
    lost: AnchorPublic | MISSING = MISSING
    rebased: RebasedPublic | MISSING = MISSING


class TimelineEventPublic(BaseModel):
    """One event of a case view (:meth:`ledger.hall.cases.CaseBook.view`), in chain order."""

    seq: int
    stage: str
    stage_zh: str
    writer_hall: int
    origin: str
    commitment: str
    fields: dict[str, Scalar]
    withheld: list[str]
    """fields this view leaves out (erased after retention, or personal fields withheld from a regulator)"""
    files: list[FilePublic]
    anchor: AnchorPublic


class TransferPublic(BaseModel):
    """This hall's pull of the case's package (:class:`ledger.hall.transfer.TransferWorker`): ``complete``
    (``at``), or ``retrying`` with the attempts so far, the last error and whether the package was refused."""

    state: str
    at: float | MISSING = MISSING
    attempts: int | MISSING = MISSING
    last_error: str | MISSING = MISSING
    refused: bool | MISSING = MISSING


class HeldPublic(BaseModel):
    """The chain refused the case's INTAKE: why, and how many later events are held (docs/operations.md);
    after a reissue, the new serial and who reissued it when."""

    serial: str
    rule: str
    message: str
    at: float
    held_events: int
    superseded_by: str | MISSING = MISSING
    reissued_at: float | MISSING = MISSING
    reissued_by: str | MISSING = MISSING


class HandoverPublic(BaseModel):
    """对方已接收: the home hall confirmed it received and verified the package (the accepting hall's view)."""

    state: str
    hall_id: int | None
    hall_name: str | None
    at: float | None


class SupplementNoticePublic(SupplementNotice):
    """The open pre-acceptance supplement request of the case (the home hall's own, or as the accepting hall
    read it from the home hall), with every request of the case so far in ``history``: the API's schema of
    :class:`ledger.hall.cases.SupplementNotice`; it adds nothing."""


class CasePublic(BaseModel):
    serial: str
    item_code: str
    item_name_zh: str | None = None
    item_name_en: str | None = None
    home_district: int
    accepting_hall: int
    accepting_district: int | None = None
    created_at: str | None = None
    status: str
    transfer: TransferPublic | None = None
    held: HeldPublic | None = None
    handover: HandoverPublic | None = None
    supplement_notice: SupplementNoticePublic | None = None
    lookup_code: str | None = None
    timeline: list[TimelineEventPublic] = Field(default_factory=list)

    @classmethod
    def of(cls, view: Mapping[str, object]) -> CasePublic:
        """The API's view of a case book view (extra header keys, such as ``next_seq``, are not shown)."""
        return cls.model_validate(view)


class BundlePublic(EvidenceBundle):
    """``GET /cases/{serial}/bundle``: the evidence bundle (``caseledger-evidence/2``) as JSON, without nulls,
    as :meth:`ledger.core.bundle.EvidenceBundle.dump` writes it to a file (the route sets
    ``response_model_exclude_none``).

    The API's schema of the bundle format's model; it adds nothing, the format is the answer."""


class CaseSummary(BaseModel):
    serial: str
    item_code: str
    home_district: int
    accepting_hall: int
    created_at: str | None = None
    status: str
    events: int
    pending_anchors: int


class CasesPublic(BaseModel):
    data: list[CaseSummary]
    count: int


# Every text field has a limit (ledger.core.text.LIMITS, listed in docs/security.md): over it is a 422
# naming the field, before anything is stored. Free text is also refused with control or bidi characters.
Note = Annotated[str, Field(max_length=LIMITS["note"])]


class AcceptanceIn(BaseModel):
    accepted: bool
    reason: str = Field(default="", max_length=LIMITS["reason"])


class ProcessIn(BaseModel):
    step: str = Field(max_length=LIMITS["step"])
    note: Note = ""


class SupplementRequestIn(BaseModel):
    materials: list[Annotated[str, Field(max_length=64)]] = Field(max_length=30)
    note: Note = ""


class RecipientIn(BaseModel):
    type: str = Field(default="applicant", max_length=16)
    name: str = Field(default="", max_length=64)
    id_type: str = Field(default="resident_id", max_length=32)
    id_number: str = Field(default="", max_length=32)


class DeliveryIn(BaseModel):
    method: str = Field(default="counter", max_length=LIMITS["method"])
    note: Note = ""
    tracking_number: str = Field(default="", max_length=40)
    recipient: RecipientIn | None = None


class RevealIn(BaseModel):
    reason: str = Field(max_length=200)


class FileCheck(BaseModel):
    kind: str = Field(max_length=64)
    name: str = Field(max_length=300)
    size: int = Field(ge=0)
    type: str = Field(default="", max_length=100)


class IntakeCheckIn(BaseModel):
    """What the intake page knows before uploading: the form's fields and each chosen file's name, size, type."""

    fields: dict[str, str] = Field(default_factory=dict, max_length=40)
    files: list[FileCheck] = Field(default_factory=list, max_length=200)


class CheckOut(BaseModel):
    ok: bool
    suggested_home_district: int | None = None


def _text(field: str, value: str) -> str:
    return clean_text(field, value, limit=LIMITS.get(field))


_MULTIPART_INTAKE: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [
                        "item_code",
                        "home_district",
                        "applicant_name",
                        "applicant_id_number",
                        "applicant_phone",
                    ],
                    "properties": {
                        "item_code": {"type": "string"},
                        "home_district": {"type": "integer"},
                        "applicant_name": {"type": "string"},
                        "applicant_id_number": {"type": "string"},
                        "applicant_phone": {"type": "string"},
                        "applicant_address": {"type": "string"},
                    },
                    "additionalProperties": {
                        "type": "string",
                        "format": "binary",
                        "description": "materials.<material code>: one file",
                    },
                }
            }
        },
    }
}


APPLICANT_FORM = {  # form field → CaseBook.intake applicant key
    "applicant_type": "type",
    "applicant_name": "name",
    "applicant_id_type": "id_type",
    "applicant_id_number": "id_number",
    "applicant_credit_code": "credit_code",
    "legal_rep_name": "legal_rep_name",
    "applicant_phone": "phone",
    "applicant_address": "address",
    "agent_name": "agent_name",
    "agent_id_type": "agent_id_type",
    "agent_id_number": "agent_id_number",
    "agent_phone": "agent_phone",
    "property_district": "property_district",
}


def applicant_of(fields: dict[str, str]) -> dict[str, str]:
    return {key: fields.get(f, "") for f, key in APPLICANT_FORM.items()}


def _spooled_size(value: UploadFile) -> int:
    f = value.file
    at = f.tell()
    end = f.seek(0, 2)
    f.seek(at)
    return end - at


async def _form(request: Request) -> tuple[dict[str, str], list[Upload]]:
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise InputError("body", "not_multipart")
    settings = request.app.state.node.settings
    try:
        form = await request.form(max_files=settings.max_files, max_fields=50, max_part_size=64 * 1024)
    except (MultiPartException, HTTPException, ValueError) as exc:  # malformed or oversized forms
        raise InputError("body", "form_unreadable", reason=str(getattr(exc, "detail", None) or exc)) from exc
    fields: dict[str, str] = {}
    uploads: list[Upload] = []
    names: list[str] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            kind = key.split(".", 1)[1] if key.startswith("materials.") else key
            head = await value.read(16)  # the type check needs the leading bytes only; the rest stays spooled
            await value.seek(0)
            check_upload(key, value.filename or "", value.content_type, head)
            names.append(key)
            size = value.size if value.size is not None else await run_in_threadpool(_spooled_size, value)
            uploads.append(Upload(kind, value.filename or kind, source=value.file, size=size))
        else:
            check_length(key, value, LIMITS.get(key, 200))
            fields[key] = value
    check_upload_counts(names, max_files=settings.max_files)
    return fields, uploads


@router.post(
    "", operation_id="intake_case", response_model=CasePublic, status_code=201, openapi_extra=_MULTIPART_INTAKE
)
async def intake(request: Request, book: BookDep, staff: Clerk) -> CasePublic:
    """受理窗口: a new case for any district of the city that has a connected hall. Stored before the answer;
    anchored asynchronously. Every fault of the form is answered at once (``error.problems``)."""
    fields, uploads = await _form(request)
    problems = [InputError(f, "required") for f in ("item_code", "home_district") if not fields.get(f)]
    if problems:
        raise InputError.several(problems)
    view = await run_in_threadpool(
        book.intake,
        item_code=fields["item_code"],
        home_district=fields["home_district"],
        applicant=applicant_of(fields),
        materials=uploads,
        staff=staff.username,
        staff_name=staff.display_name,
    )
    return CasePublic.of(view)


@router.post("/check", operation_id="check_intake", response_model=CheckOut, dependencies=[needs(Clerk)])
def check_intake(body: IntakeCheckIn, node: NodeDep) -> CheckOut:
    """Everything the server would refuse, before any file is uploaded: the fields, the district (does it have a
    connected hall?), every missing material, and each file's type and size (by name and declared type)."""
    book = node.book
    f = body.fields
    problems: list[InputError] = []
    for key in ("item_code", "home_district"):
        if not f.get(key):
            problems.append(InputError(key, "required"))
    item = None
    if f.get("item_code"):
        try:
            item = book.catalogue.item(f["item_code"])
        except InputError as exc:
            problems.append(exc)
    if f.get("home_district"):
        try:
            d = book.catalogue.district(f["home_district"])
            receiving = book.receiving_districts() if book.receiving_districts else None
            if receiving is not None and d.code not in receiving:
                problems.append(
                    InputError("home_district", "district_has_no_hall", district_zh=d.name_zh, district_en=d.name_en)
                )
        except InputError as exc:
            problems.append(exc)
    applicant = applicant_of(f)
    try:
        fields = applicant_fields(applicant, book.catalogue)
    except InputError as exc:
        fields = {}
        problems += exc.problems or [exc]
    if len(f.get("applicant_address", "")) > 200:
        problems.append(InputError("applicant_address", "address_too_long"))
    if item is not None:
        given = {x.kind for x in body.files}
        required = list(item.materials) + ([book.catalogue.agent_letter] if fields.get("agent_name") else [])
        for m in required:
            if m.code not in given:
                problems.append(
                    InputError(f"materials.{m.code}", "material_missing", material_zh=m.name_zh, material_en=m.name_en)
                )
    for x in body.files:
        field = f"materials.{x.kind}"
        try:
            check_upload_meta(field, x.name, x.type)
        except InputError as exc:
            problems.append(exc)
            continue
        if x.size == 0:
            problems.append(InputError(field, "material_file_empty", name=x.name))
        elif x.size > book.max_file_bytes:
            problems.append(
                InputError(
                    field,
                    "material_file_too_large",
                    name=x.name,
                    size_mb=round(x.size / 1048576, 1),
                    max_mb=round(book.max_file_bytes / 1048576, 1),
                )
            )
    try:
        check_upload_counts([f"materials.{x.kind}" for x in body.files], max_files=node.settings.max_files)
    except InputError as exc:
        problems.append(exc)
    if problems:
        raise InputError.several(problems)
    suggested = suggest_home_district(book.catalogue, f["item_code"], applicant) if item else None
    return CheckOut(ok=True, suggested_home_district=suggested)


@router.get("", operation_id="list_cases", response_model=CasesPublic, dependencies=[needs(CaseReader)])
def list_cases(book: BookDep) -> CasesPublic:
    """Every case this hall holds (accepted here or belonging to its district)."""
    data = [CaseSummary.model_validate(c) for c in book.list_cases()]
    return CasesPublic(data=data, count=len(data))


@router.get("/{serial}", operation_id="get_case", response_model=CasePublic)
def get_case(serial: str, node: NodeDep, staff: CaseReader) -> CasePublic:
    """The case and its timeline, each event with its anchor state (logged in the access trail).

    A regulator reads it with the applicant's personal fields withheld (named in ``withheld``)."""
    view = node.book.view(serial)
    if not sees_personal_data(staff.roles):
        node.record_access(staff.actor, "view_case", serial, "personal fields withheld")
        return CasePublic.of(withhold_personal(view))
    node.record_access(staff.actor, "view_case", serial)
    return CasePublic.of(view)


@router.post("/{serial}/reveal", operation_id="reveal_applicant", response_model=dict[str, Scalar])
def reveal(serial: str, body: RevealIn, node: NodeDep, staff: CaseReader) -> dict[str, Scalar]:
    """The applicant's full details (the pages show them masked); every reveal is logged in the access trail
    with its reason."""
    if not sees_personal_data(staff.roles):
        raise ForbiddenError("personal_data_withheld")
    reason = clean_text("reason", body.reason).strip()
    if not reason:
        raise InputError("reason", "reveal_reason_required")
    intake = next((r for r in node.book.records(serial) if r["stage"] == "INTAKE"), None)
    if intake is None:
        raise ConflictError("package_not_received", serial=serial)
    node.record_access(staff.actor, "reveal_personal", serial, reason)
    return {k: v for k, v in intake["fields"].items() if k in PERSONAL_FIELDS or k.endswith("_id_type")}


@router.post(
    "/{serial}/acceptance", operation_id="decide_acceptance", response_model=CasePublic, dependencies=[needs(HomeCase)]
)
def acceptance(serial: str, body: AcceptanceIn, book: BookDep, staff: Officer) -> CasePublic:
    reason = _text("reason", body.reason)
    return CasePublic.of(
        book.decide_acceptance(
            serial, accepted=body.accepted, reason=reason, staff=staff.username, staff_name=staff.display_name
        )
    )


@router.post(
    "/{serial}/process", operation_id="process_step", response_model=CasePublic, dependencies=[needs(HomeCase)]
)
def process(serial: str, body: ProcessIn, book: BookDep, staff: Officer) -> CasePublic:
    return CasePublic.of(
        book.process_step(
            serial, step=body.step, note=_text("note", body.note), staff=staff.username, staff_name=staff.display_name
        )
    )


@router.post(
    "/{serial}/supplement-request",
    operation_id="request_supplement",
    response_model=CasePublic,
    dependencies=[needs(HomeCase)],
)
def supplement_request(serial: str, body: SupplementRequestIn, book: BookDep, staff: Officer) -> CasePublic:
    """补正: before acceptance (受理前一次性告知, a notice the accepting hall reads) or after it (anchored)."""
    note = _text("note", body.note)
    return CasePublic.of(
        book.request_supplement(
            serial, materials=body.materials, note=note, staff=staff.username, staff_name=staff.display_name
        )
    )


@router.post(
    "/{serial}/supplement",
    operation_id="submit_supplement",
    response_model=CasePublic,
    dependencies=[needs(AcceptingCase)],
)
async def supplement(serial: str, request: Request, book: BookDep, staff: Clerk) -> CasePublic:
    fields, uploads = await _form(request)
    note = _text("note", fields.get("note", ""))
    view = await run_in_threadpool(
        book.supplement, serial, materials=uploads, note=note, staff=staff.username, staff_name=staff.display_name
    )
    return CasePublic.of(view)


@router.post(
    "/{serial}/result", operation_id="decide_result", response_model=CasePublic, dependencies=[needs(HomeCase)]
)
async def result(serial: str, request: Request, book: BookDep, staff: Officer) -> CasePublic:
    """办结: fields ``approved`` (true/false) and ``note``, file part ``document`` (required for a denial)."""
    fields, uploads = await _form(request)
    approved = fields.get("approved", "").lower()
    if approved not in ("true", "false", "1", "0"):
        raise InputError("approved", "not_true_or_false")
    docs = [u for u in uploads if u.kind == "document"]
    if len(docs) > 1:
        raise InputError("document", "one_document_at_most")
    doc = Upload("result_document", docs[0].filename, source=docs[0].source, size=docs[0].size) if docs else None
    note = _text("note", fields.get("note", ""))
    view = await run_in_threadpool(
        book.decide,
        serial,
        approved=approved in ("true", "1"),
        note=note,
        document=doc,
        staff=staff.username,
        staff_name=staff.display_name,
    )
    return CasePublic.of(view)


@router.post(
    "/{serial}/delivery", operation_id="deliver_result", response_model=CasePublic, dependencies=[needs(AcceptingCase)]
)
def delivery(serial: str, body: DeliveryIn, book: BookDep, staff: Clerk) -> CasePublic:
    view = book.deliver(
        serial,
        method=body.method,
        note=_text("note", body.note),
        staff=staff.username,
        staff_name=staff.display_name,
        recipient=body.recipient.model_dump() if body.recipient else None,
        tracking_number=body.tracking_number,
    )
    return CasePublic.of(view)


@router.get(
    "/{serial}/bundle", operation_id="export_bundle", response_model=BundlePublic, response_model_exclude_none=True
)
def bundle(
    serial: str,
    node: NodeDep,
    staff: Exporter,
    withhold: Annotated[list[Annotated[str, Field(max_length=64)]] | None, Query(max_length=20)] = None,
    disclose: Annotated[list[Annotated[str, Field(max_length=64)]] | None, Query(max_length=10)] = None,
    reason: Annotated[str, Query(max_length=LIMITS["reason"])] = "",
    include_files: bool = False,
    identity_files: Annotated[list[Annotated[str, Field(max_length=64)]] | None, Query(max_length=20)] = None,
) -> BundlePublic:
    """Evidence bundle (``caseledger-evidence/2``) of the case for ``caseledger-verify``.

    Private by default (ledger/hall/privacy.py): the applicant's personal fields are withheld (salted
    leaf hashes: the bundle still verifies) unless named in ``disclose`` with a ``reason``; ``withhold``
    may hide more (an unknown or protected name is a 422); ``include_files`` embeds the files except
    identity documents, which come only when named in ``identity_files`` (with a ``reason``).
    What was disclosed, and why, is in the access trail."""
    node.book.header(serial)
    plan = bundle_plan(
        node.book.records(serial),
        withhold=withhold or (),
        disclose=disclose or (),
        identity_files=identity_files or (),
        reason=reason,
    )
    b = export_bundle(
        node.book,
        node.reader,
        serial,
        withhold=plan.withhold,
        include_files=include_files,
        leave_out_kinds=plan.leave_out_kinds,
    )
    node.record_access(staff.actor, "export_bundle", serial, plan.trail_note(include_files))
    return public(BundlePublic, b)


_PREVIEW_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}
# a file shown inside the case page: nothing in it runs, and only this node's own pages may frame it
_PREVIEW_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; object-src 'self'; frame-ancestors 'self'"
)


@router.get("/{serial}/files/{digest}", operation_id="get_case_file", response_class=Response)
def file(serial: str, digest: str, node: NodeDep, staff: CaseReader, inline: bool = False) -> Response:
    """A material or result file by its digest (the deployment's suite: SHA-256 or SM3): a download, or
    (``inline=true``, PDF/JPG/PNG only) for the case page's preview. Both are logged in the access trail."""
    records = node.book.records(serial)
    for r in records:
        for f in r.get("files", []):
            if f["digest"] == digest:
                ext = str(f["name"]).rsplit(".", 1)[-1].lower()
                show = inline and ext in _PREVIEW_TYPES
                node.record_access(
                    staff.actor, "download_file", serial, f"{f['kind']} {digest}" + (" (preview)" if show else "")
                )
                chunks = node.store.open_blob_stream(digest, case=serial)  # not found / erased: answered now
                length = {"Content-Length": str(f["size"])}
                if show:
                    return StreamingResponse(
                        chunks,
                        media_type=_PREVIEW_TYPES[ext],
                        headers={
                            "Content-Disposition": "inline",
                            "Content-Security-Policy": _PREVIEW_CSP,
                            "X-Frame-Options": "SAMEORIGIN",
                            "X-Content-Type-Options": "nosniff",
                            "Cache-Control": "private, no-store",
                            **length,
                        },
                    )
                return StreamingResponse(
                    chunks,
                    media_type="application/octet-stream",
                    headers={"Content-Disposition": "attachment", **length},
                )
    if any(r.get("personal_data_erased") for r in records):
        raise DataErasedError("personal_data_erased", serial=serial)
    raise NotFoundError("file_not_in_case", serial=serial)
