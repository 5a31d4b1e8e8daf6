"""Printed documents (HTML + print CSS, A4, the hall's name and a seal area) and the applicant's look-up.

    /ui/cases/<serial>/print/receipt      受理回执: server time, clerk, ID masked, QR code + look-up code
    /ui/cases/<serial>/print/rejection    不予受理通知书 (after a refusal to accept)
    /ui/cases/<serial>/print/supplement   补正告知书 (an open request, before or after acceptance)
    /ui/cases/<serial>/print/delivery     送达回证: recipient (or agent), method, tracking number
    /ui/print/incomplete?item_code=…&missing=a,b   一次性告知单: everything missing, in one list
    /lookup  (public)                     the applicant's look-up: serial + look-up code → where the case stands

The QR code is an SVG made by ``segno`` and points at ``/lookup?serial=…`` on this hall; the look-up code is
printed beside it (it is not in the QR code, so a photo of the QR alone reveals nothing). The look-up answers
no personal data: item, status, and the dates of each stage; wrong codes are rate-limited per client.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from datetime import datetime
from typing import Any

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, Field

from ledger.core.stages import Stage
from ledger.core.timefmt import CST
from ledger.errors import NotFoundError, RateLimitedError
from ledger.hall.identity import mask_id
from node_api.api.deps import NodeDep
from node_api.pages.guard import ClerkPage, ReaderPage

__all__ = ["docs_available", "lookup_router", "router"]

router = APIRouter(tags=["pages"])
lookup_router = APIRouter(tags=["lookup"])

DOCS = ("receipt", "rejection", "supplement", "delivery")


def docs_available(ctx: dict[str, Any]) -> list[str]:
    """Which printed documents the case has reached."""
    out = []
    if ctx["intake"]:
        out.append("receipt")
    if ctx["acceptance"] and ctx["acceptance"].get("decision") == "rejected":
        out.append("rejection")
    if ctx["requested"] and (ctx["notice"] or ctx["case"]["status"] == "supplement_requested"):
        out.append("supplement")
    if ctx["delivery"]:
        out.append("delivery")
    return out


def _now() -> str:
    return datetime.now(CST).strftime("%Y-%m-%d %H:%M:%S")


def _qr(url: str) -> Markup:
    return Markup(segno.make(url, error="m").svg_inline(scale=3, dark="#000"))


@router.get("/ui/cases/{serial}/print/{doc}", operation_id="page_case_document", response_class=HTMLResponse)
def case_document(request: Request, serial: str, doc: str, staff: ReaderPage) -> HTMLResponse:
    """One printed document of a case (see the module docstring)."""
    from node_api.pages.routes import _case_context, _node, render

    node = _node(request)
    if doc not in DOCS:
        raise NotFoundError("no_such_page")
    ctx = _case_context(node, staff, serial)
    node.record_access(staff.actor, "view_case", serial, f"print {doc}")
    ok = doc in docs_available(ctx)
    own = node.hall.hall_id
    intake = ctx["intake"]
    lookup_url = str(request.base_url).rstrip("/") + "/lookup?serial=" + serial
    ctx.update(
        {
            "doc": doc,
            "ready": ok,
            "printed_at": _now(),
            "id_masked": mask_id(str(intake.get("applicant_id_number") or intake.get("applicant_credit_code") or "")),
            "qr": _qr(lookup_url) if doc == "receipt" else "",
            "lookup_url": lookup_url,
            "lookup_code": ctx["case"].get("lookup_code") if ctx["case"]["accepting_hall"] == own else None,
        }
    )
    return render(request, "document.html", ctx, staff=staff)


@router.get("/ui/print/incomplete", operation_id="page_incomplete_notice", response_class=HTMLResponse)
def incomplete(request: Request, staff: ClerkPage) -> HTMLResponse:
    """一次性告知单: every missing material of the item, in one list (no personal data in the address)."""
    from node_api.pages.routes import _node, render

    node = _node(request)
    cat = node.book.catalogue
    item = cat.item(request.query_params.get("item_code", ""))
    names = {m.code: m for m in (*item.materials, cat.agent_letter)}
    missing = [names[c] for c in request.query_params.get("missing", "").split(",") if c in names]
    ctx = {"doc": "incomplete", "ready": True, "item": item, "missing": missing, "printed_at": _now()}
    return render(request, "document.html", ctx, staff=staff)


# ------------------------------------------------------------------ the applicant's look-up (public)
class LookupIn(BaseModel):
    serial: str = Field(max_length=40)
    code: str = Field(max_length=16)


class LookupStep(BaseModel):
    stage: str
    stage_zh: str
    on: str


class LookupOut(BaseModel):
    serial: str
    item_name_zh: str
    item_name_en: str
    status: str
    steps: list[LookupStep]


class _Limiter:
    """At most ``limit`` look-ups per client address per ``window`` seconds (wrong codes included)."""

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            q = self._hits.setdefault(client, deque())
            while q and now - q[0] > self.window:
                q.popleft()
            if len(q) >= self.limit:
                raise RateLimitedError("lookup_rate_limited", retry_after=int(self.window - (now - q[0])) + 1)
            q.append(now)
            if len(self._hits) > 10_000:  # bounded memory: forget idle clients
                for k in [k for k, v in self._hits.items() if not v]:
                    del self._hits[k]


LIMITER = _Limiter()


def lookup_case(node: Any, serial: str, code: str) -> LookupOut:
    """The case's progress without personal data, if ``code`` is its look-up code (else NotFoundError)."""
    serial = serial.strip().upper()
    try:
        h = node.book.header(serial)
    except NotFoundError:
        h = None
    expected = str((h or {}).get("lookup_code") or "")
    if h is None or not expected or not hmac.compare_digest(expected, code.strip().upper()):
        raise NotFoundError("lookup_not_found")
    recs = node.book.records(serial)
    steps = []
    for r in sorted(recs, key=lambda r: r["seq"]):
        st = Stage[r["stage"]]
        if st in (Stage.DISPUTE_OPENED, Stage.DISPUTE_RESOLVED):
            continue
        f = r["fields"]
        when = next((f[k] for k in ("at", "intake_at", "submitted_at", "decided_at") if f.get(k)), "")
        steps.append(LookupStep(stage=st.name, stage_zh=st.label_zh, on=str(when)[:10]))
    item = node.book.catalogue.item(h["item_code"])
    return LookupOut(
        serial=serial,
        item_name_zh=item.name_zh,
        item_name_en=item.name_en,
        status=node.book.status(serial, recs),
        steps=steps,
    )


@lookup_router.post("/lookup", operation_id="lookup_case", response_model=LookupOut)
def lookup(body: LookupIn, request: Request, node: NodeDep) -> LookupOut:
    """Public: the applicant's serial and look-up code (from the receipt) → the case's progress, no personal
    data. Rate-limited per client address (429 with Retry-After)."""
    LIMITER.check(request.client.host if request.client else "")
    return lookup_case(node, body.serial, body.code)


@lookup_router.get("/lookup", operation_id="page_lookup", response_class=HTMLResponse)
def lookup_page(request: Request) -> Response:
    """The look-up page the receipt's QR code opens (no sign-in)."""
    from node_api.pages.routes import render

    return render(request, "lookup.html", {"serial": request.query_params.get("serial", "")[:40]}, staff=None)
