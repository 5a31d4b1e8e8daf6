"""Server-rendered staff pages (Jinja2) over the node's own JSON API.

Pages read through the ``ledger`` library directly and act through the JSON API with small scripts
(``static/js/*.js``: cookie session + ``X-CSRF-Token``). A page asked for without a session answers
401 with the sign-in form (the form brings the staff member back to the same page); a page for
another role answers 403 with a plain sentence. No page ever shows a stack trace: a ``LedgerError``
becomes an error page saying what went wrong and what to do.

Language: zh-CN first; ``?lang=en`` (or ``?lang=zh``) switches and is remembered in a cookie.
"""

from __future__ import annotations

import inspect
import json
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from pydantic import ValidationError

from ledger.core.stages import Stage
from ledger.core.timefmt import CST, iso_to_cst, unix_to_cst
from ledger.errors import ChainError, LedgerError
from ledger.hall.accounts import TOTP_ROLES
from ledger.hall.audit import case_row, case_rows, summarize
from ledger.hall.cases import split_list
from ledger.hall.disputes import list_disputes
from ledger.hall.exports import stage_word
from ledger.hall.identity import ID_TYPES, mask_id
from ledger.hall.inbox import InboxQuery, mask_name, mask_phone
from ledger.hall.privacy import sees_personal_data, withhold_personal
from ledger.hall.uploads import ALLOWED_TYPES
from ledger.verify.report import MESSAGES
from node_api.api.deps import Staff
from node_api.api.errors import status_of
from node_api.core.node import HallNode
from node_api.pages.documents import docs_available as _docs_available
from node_api.pages.guard import (
    ANY_STAFF,
    READERS,
    AnyStaffPage,
    ClerkPage,
    DisputeOfficerPage,
    PageRefused,
    ReaderPage,
    RegulatorPage,
    SysAdminPage,
    page_staff_of,
    signed_in_staff,
)
from node_api.pages.guard import _node as _node
from node_api.pages.i18n import LANGS, TEXT, Lang, t

__all__ = ["ANY_STAFF", "LANG_COOKIE", "NAV", "READERS", "install_page_handlers", "router", "templates"]

LANG_COOKIE = "caseledger_lang"
HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=HERE / "templates")


def _jsonblock(text: str) -> Markup:
    """JSON text for a ``<script type="application/json">`` block: ``<`` escaped so it cannot end the element."""
    return Markup(str(text).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


templates.env.filters["jsonblock"] = _jsonblock

WHEN_FIELDS = ("at", "created_at")  # format 2: every record says when its act happened in ``at``

# (key, path, roles): the navigation, in the order staff see it
NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("nav_intake", "/ui/intake", ("clerk",)),
    ("nav_cases", "/ui/cases", READERS),
    ("nav_verify", "/ui/verify", ("dispute_officer",)),
    ("nav_audit", "/ui/audit", ("regulator",)),
    ("nav_city", "/ui/audit/city", ("regulator",)),
    ("nav_health", "/ui/health", ("sys_admin",)),
    ("nav_accounts", "/ui/admin/accounts", ("security_admin",)),
    ("nav_account", "/ui/account", ANY_STAFF),
]

router = APIRouter(tags=["pages"])


# ------------------------------------------------------------------------------------------ helpers
def safe_next(value: str | None) -> str:
    """Where to go after sign-in: ``value`` only if it is a path on this node, else ``/``.

    Browsers read ``/\\host``, ``/\thost`` (tabs and line breaks are dropped) and ``//host`` as another
    site, so anything with a backslash, a control character or white space is refused, and what remains
    must parse as a path with no scheme and no host that starts with exactly one ``/``.
    """
    v = value or "/"
    if len(v) > 2000 or any(c == "\\" or c.isspace() or unicodedata.category(c)[0] == "C" for c in v):
        return "/"
    parts = urlsplit(v)
    if parts.scheme or parts.netloc or not v.startswith("/") or v.startswith("//"):
        return "/"
    return v


def _lang(request: Request) -> Lang:
    for v in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if v in LANGS:
            return "en" if v == "en" else "zh"
    return "zh"


def _cst(ts: float | int | None) -> str:
    if ts is None:
        return ""
    return unix_to_cst(float(ts))


def _iso_cst(s: str | None) -> str:
    if not s:
        return ""
    try:
        return iso_to_cst(s)
    except ValueError:
        return s


def render(
    request: Request, name: str, ctx: dict[str, Any], *, staff: Staff | None, status_code: int = 200
) -> HTMLResponse:
    lang = _lang(request)
    node = _node(request)

    def tr(key: str, **kw: Any) -> str:
        s = t(key, lang)
        return s.format(**kw) if kw else s

    cat = node.book.catalogue
    districts = {d.code: (d.name_zh if lang == "zh" else d.name_en) for d in cat.districts}
    nav = [(tr(k), p) for k, p, roles in NAV if staff is not None and staff.roles & set(roles)]
    other = "en" if lang == "zh" else "zh"
    q = dict(request.query_params)
    q["lang"] = other
    switch_url = str(request.url.path) + "?" + "&".join(f"{k}={v}" for k, v in q.items())
    base = {
        "request": request,
        "lang": lang,
        "html_lang": "zh-CN" if lang == "zh" else "en",
        "t": tr,
        "staff": staff,
        "nav": nav,
        "path": request.url.path,
        "switch_url": switch_url,
        "hall": node.hall,
        "districts": districts,
        "district_name": lambda code: districts.get(int(code), str(code)) if code is not None else "",
        "cst": _cst,
        "iso_cst": _iso_cst,
        "i18n_json": json.dumps({k: (v[0] if lang == "zh" else v[1]) for k, v in TEXT.items()}, ensure_ascii=False),
        "role_names": [tr(f"role_{r}") for r in sorted(staff.roles)] if staff else [],
        "needs_totp": bool(staff and staff.roles & TOTP_ROLES),
    }
    resp = templates.TemplateResponse(request, name, {**base, **ctx}, status_code=status_code)
    if request.query_params.get("lang") in LANGS:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict")
    return resp


def _refused(request: Request, exc: PageRefused) -> HTMLResponse:
    """The sign-in page (401: the form brings the staff member back here) or a refusal page (403)."""
    if exc.status_code == 401:
        return render(request, "login.html", {"next": safe_next(request.url.path)}, staff=None, status_code=401)
    return render(
        request,
        "error.html",
        {"title_key": "e_forbidden", "message_key": "forbidden_page", "todo_key": "forbidden_todo"},
        staff=exc.staff,
        status_code=403,
    )


def _error_page(request: Request, staff: Staff, exc: LedgerError) -> HTMLResponse:
    """A ``LedgerError`` on a page the guard let ``staff`` into: what went wrong and what to do."""
    code = exc.code if f"e_{exc.code}" in TEXT else "other"
    return render(
        request,
        "error.html",
        {"title_key": f"e_{code}", "message": exc.message(_lang(request)), "todo_key": f"do_{code}"},
        staff=staff,
        status_code=status_of(exc),
    )


def install_page_handlers(app: FastAPI) -> None:
    """The page guard's refusals as pages, and a ``LedgerError`` on a guarded page as an error page.

    Call after :func:`node_api.api.errors.install_error_handlers`: a ``LedgerError`` outside a guarded page
    still gets the API's JSON answer from the handler installed there. Plain ``def`` handlers: Starlette runs
    them in its thread pool (rendering reads the node), never on the event loop."""
    api_handler = app.exception_handlers[LedgerError]

    def page_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        return _refused(request, exc)

    async def ledger_error(request: Request, exc: Exception) -> Response:
        staff = page_staff_of(request)
        if staff is None or not isinstance(exc, LedgerError):
            answer = api_handler(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        return await run_in_threadpool(_error_page, request, staff, exc)

    app.add_exception_handler(PageRefused, page_refused)
    app.add_exception_handler(LedgerError, ledger_error)


# ------------------------------------------------------------------------------------------ pages
@router.get("/", operation_id="page_home", response_class=HTMLResponse)
def home(request: Request, staff: AnyStaffPage) -> HTMLResponse:
    """工作台: the pages this staff member may use."""
    cards = [(k, p, "home_" + p.rsplit("/", 1)[1]) for k, p, roles in NAV if staff.roles & set(roles)]
    return render(request, "home.html", {"cards": cards}, staff=staff)


@router.get("/ui/login", operation_id="page_login", response_class=HTMLResponse)
def login(request: Request) -> HTMLResponse:
    """Sign-in form (password, plus the one-time code for roles that need it)."""
    nxt = safe_next(request.query_params.get("next", "/"))
    return render(request, "login.html", {"next": nxt}, staff=signed_in_staff(request, _node(request)))


@router.get("/ui/intake", operation_id="page_intake", response_class=HTMLResponse)
def intake(request: Request, staff: ClerkPage) -> HTMLResponse:
    """受理: item picker, home district, applicant, materials with upload progress, receipt."""
    node = _node(request)
    cat = node.book.catalogue
    lang = _lang(request)
    agent = cat.agent_letter
    items = [
        {
            "code": i.code,
            "name_zh": i.name_zh,
            "name_en": i.name_en,
            "days": i.time_limit_working_days,
            "home_rule": i.home_rule.model_dump(),
            "materials": [{"code": m.code, "name_zh": m.name_zh, "name_en": m.name_en} for m in i.materials],
            "agent_letter": {"code": agent.code, "name_zh": agent.name_zh, "name_en": agent.name_en},
        }
        for i in cat.items
    ]
    receiving = node.receiving_districts()
    rows = [
        {
            "code": d.code,
            "name": d.name_zh if lang == "zh" else d.name_en,
            "receiving": receiving is None or d.code in receiving,
        }
        for d in cat.districts
    ]
    limits = {"max_file_bytes": node.book.max_file_bytes, "types": sorted(ALLOWED_TYPES)}
    ctx = {
        "items_json": json.dumps(items, ensure_ascii=False),
        "limits_json": json.dumps(limits),
        "district_rows": rows,
        "id_types": ID_TYPES,
    }
    return render(request, "intake.html", ctx, staff=staff)


@router.get("/ui/cases", operation_id="page_cases", response_class=HTMLResponse)
def cases(request: Request, staff: ReaderPage) -> HTMLResponse:
    """待办: this district's cases (officers) and cases taken in here (clerks), due dates in working days."""
    node = _node(request)
    qp = request.query_params
    scopes = []
    if staff.roles & {"officer", "regulator", "dispute_officer"}:
        scopes.append("inbox")
    if staff.roles & {"clerk", "regulator", "dispute_officer"}:
        scopes.append("mine")
    if staff.roles & {"regulator", "dispute_officer"}:
        scopes.append("all")
    scope = qp.get("scope") if qp.get("scope") in scopes else scopes[0]
    my_action = "officer" if "officer" in staff.roles else "clerk" if "clerk" in staff.roles else ""
    try:
        q = InboxQuery(
            q=qp.get("q", "")[:64],
            status=qp.get("status", ""),
            item=qp.get("item", ""),
            due_within=int(qp["due_within"]) if qp.get("due_within", "").isdigit() else None,
            action=my_action if qp.get("mine") == "1" else "",
            scope=scope,  # type: ignore[arg-type]
            sort=qp.get("sort") if qp.get("sort") in ("due", "age", "serial") else "due",  # type: ignore[arg-type]
            page=max(1, int(qp["page"])) if qp.get("page", "").isdigit() else 1,
            per_page=50,
        )
    except ValidationError:
        q = InboxQuery(scope=scope)  # type: ignore[arg-type]
    page = node.inbox.query(q)
    names = {i.code: (i.name_zh, i.name_en) for i in node.book.catalogue.items}
    params = {k: v for k, v in qp.items() if k not in ("page", "lang")}

    def page_url(n: int) -> str:
        return "/ui/cases?" + urlencode({**params, "page": n})

    ctx = {
        "page": page,
        "q": q,
        "scopes": scopes,
        "item_names": names,
        "hall_names": node.hall_names(),
        "page_url": page_url,
        "statuses": ["submitted", "supplement_requested", "accepted", "rejected", "decided", "delivered"],
        "my_action": my_action,
    }
    return render(request, "cases.html", ctx, staff=staff)


def _actions(node: HallNode, staff: Staff, view: dict[str, Any]) -> list[str]:
    status = view["status"]
    stages = {e["stage"] for e in view["timeline"] if e["anchor"].get("state") != "refused"}
    out: list[str] = []
    if "officer" in staff.roles and view["home_district"] == node.hall.district:
        if "MATERIALS" in stages and "ACCEPTANCE" not in stages:
            out.append("acceptance")
            if status != "supplement_requested":
                out.append("request_supplement")
        if status == "accepted" and "RESULT" not in stages:
            out += ["request_supplement", "decide"]
    if "clerk" in staff.roles and view["accepting_hall"] == node.hall.hall_id:
        if status == "supplement_requested" and "RESULT" not in stages:
            out.append("submit_supplement")
        if "RESULT" in stages and "DELIVERY" not in stages:
            out.append("deliver")
        if status in ("accepted", "submitted") and "RESULT" not in stages and not out:
            out.append("waiting_result")
    return out


def _masked_applicant(fields: dict[str, Any]) -> dict[str, str]:
    name = str(fields.get("applicant_name") or "")
    idn = str(fields.get("applicant_id_number") or fields.get("applicant_credit_code") or "")
    phone = str(fields.get("applicant_phone") or "")
    out = {
        "type": str(fields.get("applicant_type") or "person"),
        "name": name if fields.get("applicant_type") == "organisation" else mask_name(name),
        "id_type": str(fields.get("applicant_id_type") or ""),
        "id": idn if fields.get("applicant_type") == "organisation" else mask_id(idn) if idn else "",
        "phone": mask_phone(phone),
    }
    if fields.get("legal_rep_name"):
        out["legal_rep"] = mask_name(str(fields["legal_rep_name"]))
    if fields.get("agent_name"):
        out["agent"] = mask_name(str(fields["agent_name"]))
        out["agent_id"] = mask_id(str(fields.get("agent_id_number") or ""))
    return out


def _case_context(node: HallNode, staff: Staff, serial: str) -> dict[str, Any]:
    """What the case page and the printed documents show (no unmasked personal data; none at all for a role
    that does not see it, e.g. a regulator: ledger/hall/privacy.py)."""
    view = node.book.view(serial)
    if not sees_personal_data(staff.roles):
        view = withhold_personal(view)
    item = node.book.catalogue.item(view["item_code"])
    halls = node.hall_names()
    accounts = {a.username: a.display_name for a in node.accounts.all()}
    material_names = {m.code: m for m in (*item.materials, node.book.catalogue.agent_letter)}
    requested: list[str] = []
    events = []
    intake_fields: dict[str, Any] = {}
    result: dict[str, Any] | None = None
    delivery: dict[str, Any] | None = None
    acceptance: dict[str, Any] | None = None
    materials: list[dict[str, Any]] = []
    for e in view["timeline"]:
        f = e["fields"]
        if e["stage"] == "INTAKE":
            intake_fields = f
        if e["stage"] == "PROCESS" and f.get("step") == "supplement_requested":
            requested = split_list(str(f.get("requested_materials") or ""))
        if e["stage"] == "ACCEPTANCE":
            acceptance = f
        if e["stage"] == "RESULT":
            result = f
        if e["stage"] == "DELIVERY":
            delivery = f
        when = next((f[k] for k in WHEN_FIELDS if f.get(k)), None)
        username = f.get("staff") or f.get("intake_staff") or ""
        if e["stage"] == "MATERIALS" and not username:
            username = intake_fields.get("intake_staff", "")
        display = (
            f.get("staff_name")
            or f.get("intake_staff_name")
            or (intake_fields.get("intake_staff_name") if e["stage"] == "MATERIALS" and not f.get("staff") else "")
            or (accounts.get(username) if e["writer_hall"] == node.hall.hall_id else "")
            or username
        )
        for fl in e["files"]:
            m = material_names.get(fl["kind"])
            ext = str(fl["name"]).rsplit(".", 1)[-1].lower()
            materials.append(
                {
                    **fl,
                    "label_zh": m.name_zh if m else ("结果文书" if fl["kind"] == "result_document" else fl["kind"]),
                    "label_en": m.name_en
                    if m
                    else ("result document" if fl["kind"] == "result_document" else fl["kind"]),
                    "preview": "pdf" if ext == "pdf" else "img" if ext in ("jpg", "jpeg", "png") else "",
                    "stage": e["stage"],
                    "supplement": bool(f.get("supplement")),
                }
            )
        events.append(
            {
                **e,
                "who": display,
                "when": _iso_cst(when) if isinstance(when, str) else "",
                "hall_name": halls.get(e["writer_hall"], str(e["writer_hall"])),
            }
        )
    notice = view.get("supplement_notice")
    if notice:
        requested = list(notice.get("materials") or [])
    row = case_row(view, node.book.records(serial), node.book.catalogue, today=datetime.now(CST).date())
    open_case = view["status"] not in ("decided", "rejected", "delivered")
    groups: dict[str, list[dict[str, Any]]] = {}
    for mf in materials:
        groups.setdefault(mf["kind"], []).append(mf)
    return {
        "case": view,
        "item": item,
        "events": events,
        "requested": requested,
        "material_groups": groups,
        "applicant": _masked_applicant(intake_fields),
        "intake": intake_fields,
        "acceptance": acceptance,
        "result": result,
        "delivery": delivery,
        "row": row,
        "open_case": open_case,
        "hall_names": halls,
        "accepting_hall_name": halls.get(view["accepting_hall"], str(view["accepting_hall"])),
        "notice": notice,
        "notice_names": "、".join(
            (material_names[c].name_zh if c in material_names else c) for c in (notice or {}).get("materials", [])
        ),
        "id_types": ID_TYPES,
        "material_names": material_names,
    }


@router.get("/ui/cases/{serial}", operation_id="page_case", response_class=HTMLResponse)
def case(request: Request, serial: str, staff: ReaderPage) -> HTMLResponse:
    """办件详情: result at the top, applicant (masked, reveal logged), materials with preview, every stage
    with who, when and anchor state; the actions this staff member may take, each confirmed."""
    node = _node(request)
    ctx = _case_context(node, staff, serial)
    if sees_personal_data(staff.roles):
        node.record_access(staff.actor, "view_case", serial)
    else:  # a regulator: the personal fields are withheld, as in the API (ledger/hall/privacy.py)
        node.record_access(staff.actor, "view_case", serial, "personal fields withheld")
    ctx.update(
        {
            "actions": _actions(node, staff, ctx["case"]),
            "can_export": bool(staff.roles & {"officer", "dispute_officer", "regulator"}),
            "is_dispute": "dispute_officer" in staff.roles,
            "can_dispute_page": bool(staff.roles & {"dispute_officer", "regulator"}),
            "disputes": list_disputes(node.book, serial),
            "docs": _docs_available(ctx),
        }
    )
    return render(request, "case.html", ctx, staff=staff)


@router.get("/ui/verify", operation_id="page_verify", response_class=HTMLResponse)
def verify(request: Request, staff: DisputeOfficerPage) -> HTMLResponse:
    """核验: upload an evidence bundle or one document → per-event verdict with reasons, printable report."""
    node = _node(request)
    serials = sorted((r.serial for r in case_rows(node.book)), reverse=True)
    serial = request.query_params.get("serial", "")
    reasons = {k: (v[0] if _lang(request) == "zh" else v[1]) for k, v in MESSAGES.items()}
    stages = {st.name: (st.label_zh if _lang(request) == "zh" else st.name.replace("_", " ").title()) for st in Stage}
    ctx = {
        "serials": serials,
        "serial": serial,
        "reasons_json": json.dumps(reasons, ensure_ascii=False),
        "stages_json": json.dumps(stages, ensure_ascii=False),
    }
    return render(request, "verify.html", ctx, staff=staff)


@router.get("/ui/audit", operation_id="page_audit", response_class=HTMLResponse)
def audit(request: Request, staff: RegulatorPage) -> HTMLResponse:
    """监管: charts by district, item and status, time-limit compliance, anomalies, exports."""
    node = _node(request)
    lang = _lang(request)
    rows = case_rows(node.book)
    districts = {d.code: (d.name_zh if lang == "zh" else d.name_en) for d in node.book.catalogue.districts}
    items = {i.code: (i.name_zh if lang == "zh" else i.name_en) for i in node.book.catalogue.items}
    by_district = [{"name": districts.get(int(s.key), s.key), "value": s.cases} for s in summarize(rows, "district")]
    by_item = [{"name": items.get(s.key, s.key), "value": s.cases} for s in summarize(rows, "item")]
    status: dict[str, int] = {}
    comp: dict[str, int] = {}
    for r in rows:
        status[r.status] = status.get(r.status, 0) + 1
        comp[r.compliance] = comp.get(r.compliance, 0) + 1
    charts = {
        "district": by_district,
        "item": by_item,
        "status": [{"name": t(f"st_{k}", lang), "value": v} for k, v in sorted(status.items())],
        "compliance": [{"name": t(f"cp_{k}", lang), "value": v, "key": k} for k, v in sorted(comp.items())],
    }
    late = [r for r in rows if r.compliance in ("overdue", "near_due", "completed_late")]
    scanner = getattr(request.app.state, "audit", None)
    last = scanner.last() if scanner is not None else None
    ctx = {
        "charts_json": json.dumps(charts, ensure_ascii=False),
        "late": late,
        "scan": last,
        "total": len(rows),
        "item_names": items,
        "stage_word": stage_word,
    }
    return render(request, "audit.html", ctx, staff=staff)


@router.get("/ui/health", operation_id="page_health", response_class=HTMLResponse)
def health(request: Request, staff: SysAdminPage) -> HTMLResponse:
    """节点状态 (system administrator): chain, block height, outbox, indexer lag, peer halls reachable."""
    node = _node(request)
    h = node.health()
    peers: list[dict[str, Any]] = []
    try:
        halls = node.reader.halls()
    except ChainError:  # the chain is down: the page says so in the chain row
        halls = []
    for hall in halls:
        if hall.hall_id == node.hall.hall_id:
            continue
        ok = False
        if hall.endpoint.startswith(("http://", "https://")):
            try:
                ok = httpx.get(hall.endpoint.rstrip("/") + "/health", timeout=1.5).status_code < 500
            except httpx.HTTPError:
                ok = False
        peers.append(
            {
                "id": hall.hall_id,
                "name": hall.name,
                "district": hall.district,
                "status": hall.status,
                "endpoint": hall.endpoint,
                "reachable": ok,
            }
        )
    return render(request, "health.html", {"h": h, "peers": peers}, staff=staff)
