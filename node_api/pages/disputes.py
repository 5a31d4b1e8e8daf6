"""The dispute officer's pages (核验与争议处理) of one case, and the printed dispute record.

    /ui/cases/<serial>/disputes                the workspace: every dispute of the case at this hall (its own and
                                               those other halls of the case opened, received and verified like
                                               any other event), open one (reason, who raised it), verify the case
                                               by serial against the chain or from an uploaded bundle / document,
                                               pick the stored report a resolution rests on, resolve, print
    /ui/cases/<serial>/disputes/<index>/print  争议处理记录: the dispute and its resolution on paper (A4, seal and
                                               signature block, the report's digest and a QR code to re-verify)

The pages read through ``ledger`` and act through the JSON API (``static/js/disputes.js``); a regulator may
read the workspace (no forms), a dispute officer acts. Only the hall that opened a dispute can close it (the
contract lets its opener or an arbiter resolve it): other halls see it and its resolution.
"""

from __future__ import annotations

from typing import Any

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from ledger.core.timefmt import long_cst, now_iso
from ledger.errors import NotFoundError
from ledger.hall.disputes import RAISED_BY, Dispute, StoredCheck, list_checks, list_disputes
from node_api.api.deps import Staff
from node_api.pages.guard import DisputePage

__all__ = ["router"]

router = APIRouter(tags=["pages"])


def _long(value: Any, lang: str) -> str:
    if value in (None, ""):
        return ""
    try:
        return long_cst(float(value) if isinstance(value, int | float) else str(value), lang)
    except ValueError:
        return str(value)


def _qr(url: str) -> Markup:
    return Markup(segno.make(url, error="m").svg_inline(scale=3, dark="#000"))


def _context(request: Request, staff: Staff, serial: str) -> dict[str, Any]:
    from node_api.pages.routes import _case_context, _lang, _node

    node = _node(request)
    lang = _lang(request)
    ctx = _case_context(node, staff, serial)
    disputes = list_disputes(node.book, serial)
    checks = list_checks(node.book, serial)
    halls = node.hall_names()
    accounts = {a.username: a.display_name for a in node.accounts.all()}

    def who(username: str, hall_id: int) -> str:
        name = accounts.get(username, "") if hall_id == node.hall.hall_id else ""
        return name or username or "—"

    rows = []
    for d in disputes:
        res = d.resolution or {}
        rows.append(
            {
                "d": d,
                "hall_name": halls.get(d.hall_id, str(d.hall_id)),
                "own": d.hall_id == node.hall.hall_id,
                "opened_by": who(d.opened_by, d.hall_id),
                "opened_at": _long(d.opened_at, lang),
                "resolved_by": who(str(res.get("resolved_by") or ""), int(res.get("hall_id") or d.hall_id)),
                "resolved_at": _long(res.get("resolved_at"), lang),
                "report_here": any(c.sha256 == res.get("report_sha256") for c in checks),
            }
        )
    ctx.update(
        {
            "disputes": rows,
            "open_own": [r for r, d in zip(rows, disputes, strict=True) if r["own"] and d.status == "open"],
            "checks": [
                {"c": c, "when": _long(c.checked_at, lang), "who": who(c.staff, c.hall_id)} for c in reversed(checks)
            ],
            "raised_by": RAISED_BY,
            "is_dispute": "dispute_officer" in staff.roles,
        }
    )
    return ctx


@router.get("/ui/cases/{serial}/disputes", operation_id="page_case_disputes", response_class=HTMLResponse)
def workspace(request: Request, serial: str, staff: DisputePage) -> HTMLResponse:
    """核验与争议处理 of one case (see the module docstring)."""
    from node_api.pages.routes import _node, render

    ctx = _context(request, staff, serial)
    _node(request).record_access(staff.actor, "view_case", serial, "disputes")
    return render(request, "disputes.html", ctx, staff=staff)


def _find(disputes: list[Dispute], index: int) -> Dispute:
    for d in disputes:
        if d.index == index:
            return d
    raise NotFoundError("no_such_page")


@router.get(
    "/ui/cases/{serial}/disputes/{index}/print", operation_id="page_dispute_record", response_class=HTMLResponse
)
def printed(request: Request, serial: str, index: int, staff: DisputePage) -> HTMLResponse:
    """争议处理记录: one dispute and its resolution, printed (A4, seal and signatures, digest and QR code)."""
    from node_api.pages.routes import _lang, _node, render

    node = _node(request)
    lang = _lang(request)
    ctx = _context(request, staff, serial)
    d = _find([r["d"] for r in ctx["disputes"]], index)
    row = next(r for r in ctx["disputes"] if r["d"].index == index)
    res = d.resolution or {}
    check: StoredCheck | None = None
    for c in list_checks(node.book, serial):
        if c.sha256 == res.get("report_sha256"):
            check = c
    base = str(request.base_url).rstrip("/")
    again = f"{base}/ui/cases/{serial}/disputes#verify-case"  # sign in, 按办件编号核验, compare
    node.record_access(staff.actor, "view_case", serial, f"print dispute {index}")
    ctx.update(
        {
            "doc": "dispute",
            "row": row,
            "dispute": d,
            "res": res,
            "check": check,
            "qr": _qr(again),
            "again_url": again,
            "printed_at": _long(now_iso(), lang),
            "anchor_time": _long((d.anchor or {}).get("time"), lang),
            "res_anchor_time": _long(((res.get("anchor") or {}) if res else {}).get("time"), lang),
        }
    )
    return render(request, "dispute_print.html", ctx, staff=staff)
