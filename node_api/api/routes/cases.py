"""Staff endpoints for cases: intake, acceptance, process, supplements, result, delivery, timeline.

Uploads are multipart: each file in a part named ``materials.<material code>`` (for example
``materials.id_card``); the result document in a part named ``document``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ledger.core.text import LIMITS, check_length, clean_text
from ledger.errors import InputError
from ledger.hall.cases import Upload
from ledger.hall.evidence import export_bundle
from ledger.hall.privacy import bundle_plan, sees_personal_data, withhold_personal
from ledger.hall.uploads import check_upload, check_upload_counts
from node_api.api.deps import AcceptingCase, BookDep, HomeCase, NodeDep, Staff, require_roles

# who may do what (docs/security.md; tests/integration/test_role_matrix.py walks every cell)
Clerk = Annotated[Staff, Depends(require_roles("clerk"))]
Officer = Annotated[Staff, Depends(require_roles("officer"))]
CaseReader = Annotated[Staff, Depends(require_roles("clerk", "officer", "dispute_officer", "regulator"))]
Exporter = Annotated[Staff, Depends(require_roles("officer", "dispute_officer", "regulator"))]

router = APIRouter(prefix="/cases", tags=["cases"])


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
    transfer: dict[str, Any] | None = None
    held: dict[str, Any] | None = None  # the chain refused the INTAKE: later events held (docs/operations.md)
    timeline: list[dict[str, Any]] = Field(default_factory=list)


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


class DeliveryIn(BaseModel):
    method: str = Field(default="counter", max_length=LIMITS["method"])
    note: Note = ""


_FORM_TEXT = {
    "applicant_name": "applicant.name",
    "applicant_id_number": "applicant.id_number",
    "applicant_phone": "applicant.phone",
    "applicant_address": "applicant.address",
    "note": "note",
}


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


async def _form(request: Request) -> tuple[dict[str, str], list[Upload]]:
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise InputError("body", "send multipart/form-data")
    settings = request.app.state.node.settings
    try:
        form = await request.form(max_files=settings.max_files, max_fields=50, max_part_size=64 * 1024)
    except Exception as exc:  # starlette raises MultiPartException / HTTPException on malformed or oversized forms
        raise InputError("body", f"the form could not be read: {getattr(exc, 'detail', None) or exc}") from exc
    fields: dict[str, str] = {}
    uploads: list[Upload] = []
    names: list[str] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            kind = key.split(".", 1)[1] if key.startswith("materials.") else key
            data = await value.read()
            check_upload(key, value.filename or "", value.content_type, data)
            names.append(key)
            uploads.append(Upload(kind, value.filename or kind, data))
        else:
            limit = LIMITS.get(_FORM_TEXT.get(key, key), 200)
            check_length(_FORM_TEXT.get(key, key), value, limit)
            fields[key] = value
    check_upload_counts(names, max_files=settings.max_files)
    return fields, uploads


@router.post(
    "", operation_id="intake_case", response_model=CasePublic, status_code=201, openapi_extra=_MULTIPART_INTAKE
)
async def intake(request: Request, book: BookDep, staff: Clerk) -> dict[str, Any]:
    """受理窗口: a new case for any district of the city. Stored before the answer; anchored asynchronously."""
    fields, uploads = await _form(request)
    for required in ("item_code", "home_district"):
        if not fields.get(required):
            raise InputError(required, "is required")
    return await run_in_threadpool(
        book.intake,
        item_code=fields["item_code"],
        home_district=fields["home_district"],
        applicant={
            "name": fields.get("applicant_name", ""),
            "id_number": fields.get("applicant_id_number", ""),
            "phone": fields.get("applicant_phone", ""),
            "address": fields.get("applicant_address", ""),
        },
        materials=uploads,
        staff=staff.username,
    )


@router.get("", operation_id="list_cases", response_model=CasesPublic)
def list_cases(book: BookDep, _: CaseReader) -> dict[str, Any]:
    """Every case this hall holds (accepted here or belonging to its district)."""
    data = book.list_cases()
    return {"data": data, "count": len(data)}


@router.get("/{serial}", operation_id="get_case", response_model=CasePublic)
def get_case(serial: str, node: NodeDep, staff: CaseReader) -> dict[str, Any]:
    """The case and its timeline, each event with its anchor state (logged in the access trail).

    A regulator reads it with the applicant's personal fields withheld (named in ``withheld``)."""
    view = node.book.view(serial)
    if not sees_personal_data(staff.roles):
        node.record_access(staff.actor, "view_case", serial, "personal fields withheld")
        return withhold_personal(view)
    node.record_access(staff.actor, "view_case", serial)
    return view


@router.post("/{serial}/acceptance", operation_id="decide_acceptance", response_model=CasePublic)
def acceptance(serial: str, body: AcceptanceIn, book: BookDep, staff: Officer, _: HomeCase) -> dict[str, Any]:
    reason = _text("reason", body.reason)
    return book.decide_acceptance(serial, accepted=body.accepted, reason=reason, staff=staff.username)


@router.post("/{serial}/process", operation_id="process_step", response_model=CasePublic)
def process(serial: str, body: ProcessIn, book: BookDep, staff: Officer, _: HomeCase) -> dict[str, Any]:
    return book.process_step(serial, step=body.step, note=_text("note", body.note), staff=staff.username)


@router.post("/{serial}/supplement-request", operation_id="request_supplement", response_model=CasePublic)
def supplement_request(
    serial: str, body: SupplementRequestIn, book: BookDep, staff: Officer, _: HomeCase
) -> dict[str, Any]:
    note = _text("note", body.note)
    return book.request_supplement(serial, materials=body.materials, note=note, staff=staff.username)


@router.post("/{serial}/supplement", operation_id="submit_supplement", response_model=CasePublic)
async def supplement(serial: str, request: Request, book: BookDep, staff: Clerk, _: AcceptingCase) -> dict[str, Any]:
    fields, uploads = await _form(request)
    note = _text("note", fields.get("note", ""))
    return book.supplement(serial, materials=uploads, note=note, staff=staff.username)


@router.post("/{serial}/result", operation_id="decide_result", response_model=CasePublic)
async def result(serial: str, request: Request, book: BookDep, staff: Officer, _: HomeCase) -> dict[str, Any]:
    """办结: fields ``approved`` (true/false) and ``note``, file part ``document``."""
    fields, uploads = await _form(request)
    approved = fields.get("approved", "").lower()
    if approved not in ("true", "false", "1", "0"):
        raise InputError("approved", "is true or false")
    docs = [u for u in uploads if u.kind == "document"]
    if len(docs) > 1:
        raise InputError("document", "one result document at most")
    doc = Upload("result_document", docs[0].filename, docs[0].data) if docs else None
    note = _text("note", fields.get("note", ""))
    return book.decide(serial, approved=approved in ("true", "1"), note=note, document=doc, staff=staff.username)


@router.post("/{serial}/delivery", operation_id="deliver_result", response_model=CasePublic)
def delivery(serial: str, body: DeliveryIn, book: BookDep, staff: Clerk, _: AcceptingCase) -> dict[str, Any]:
    return book.deliver(serial, method=body.method, note=_text("note", body.note), staff=staff.username)


@router.get("/{serial}/bundle", operation_id="export_bundle", response_model=dict[str, Any])
def bundle(
    serial: str,
    node: NodeDep,
    staff: Exporter,
    withhold: Annotated[list[Annotated[str, Field(max_length=64)]] | None, Query(max_length=20)] = None,
    disclose: Annotated[list[Annotated[str, Field(max_length=64)]] | None, Query(max_length=10)] = None,
    reason: Annotated[str, Query(max_length=LIMITS["reason"])] = "",
    include_files: bool = False,
    identity_files: Annotated[list[Annotated[str, Field(max_length=64)]] | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
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
    out: dict[str, Any] = json.loads(b.dump())
    return out


@router.get("/{serial}/files/{digest}", operation_id="get_case_file", response_class=Response)
def file(serial: str, digest: str, node: NodeDep, staff: CaseReader) -> Response:
    """One material or result file, by its digest (the deployment's suite: SHA-256 or SM3)."""
    for r in node.book.records(serial):
        for f in r.get("files", []):
            if f["digest"] == digest:
                node.record_access(staff.actor, "download_file", serial, f"{f['kind']} {digest}")
                return Response(
                    node.store.get_blob(digest),
                    media_type="application/octet-stream",
                    headers={"Content-Disposition": "attachment"},
                )
    raise InputError("digest", f"case {serial} has no such file")
