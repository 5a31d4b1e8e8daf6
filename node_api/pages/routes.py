"""Server-rendered staff pages (Jinja2) over the node's own JSON API.

Pages read through the ``ledger`` library directly and act through the JSON API with small scripts
(``static/js/*.js``: cookie session + ``X-CSRF-Token``). A page asked for without a session answers
401 with the sign-in form (the form brings the staff member back to the same page); a page for
another role answers 403 with a plain sentence. No page ever shows a stack trace: a ``LedgerError``
becomes an error page saying what went wrong and what to do.

Language: zh-CN first; ``?lang=en`` (or ``?lang=zh``) switches and is remembered in a cookie.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from ledger.core.stages import Stage
from ledger.core.timefmt import iso_to_cst, unix_to_cst
from ledger.errors import AuthError, LedgerError
from ledger.hall.audit import case_rows, summarize
from ledger.hall.cases import split_list
from ledger.hall.privacy import sees_personal_data, withhold_personal
from ledger.verify.report import MESSAGES
from node_api.api.deps import SESSION_COOKIE, Staff
from node_api.api.errors import status_of
from node_api.core.node import HallNode
from node_api.pages.i18n import LANGS, TEXT, Lang, t

__all__ = ["LANG_COOKIE", "NAV", "router", "templates"]

LANG_COOKIE = "caseledger_lang"
HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=HERE / "templates")


def _jsonblock(text: str) -> Markup:
    """JSON text for a ``<script type="application/json">`` block: ``<`` escaped so it cannot end the element."""
    return Markup(str(text).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


templates.env.filters["jsonblock"] = _jsonblock

READERS = ("clerk", "officer", "dispute_officer", "regulator")
WHEN_FIELDS = ("at", "created_at")  # format 2: every record says when its act happened in ``at``
ANY_STAFF = ("clerk", "officer", "dispute_officer", "regulator", "sys_admin", "security_admin", "auditor")

# (key, path, roles): the navigation, in the order staff see it
NAV: list[tuple[str, str, tuple[str, ...]]] = [
    ("nav_intake", "/ui/intake", ("clerk",)),
    ("nav_cases", "/ui/cases", READERS),
    ("nav_verify", "/ui/verify", ("dispute_officer",)),
    ("nav_audit", "/ui/audit", ("regulator",)),
    ("nav_health", "/ui/health", ("sys_admin",)),
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


def _node(request: Request) -> HallNode:
    node: HallNode = request.app.state.node
    return node


def _lang(request: Request) -> Lang:
    for v in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if v in LANGS:
            return "en" if v == "en" else "zh"
    return "zh"


def _staff(request: Request, node: HallNode) -> Staff | None:
    """The signed-in staff member (bearer token or session cookie), or None. Pages are GET only: no CSRF."""
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    try:
        a = node.accounts.authenticate(token).account
    except AuthError:
        return None
    return Staff(username=a.username, hall_id=node.hall.hall_id, roles=a.roles, display_name=a.display_name)


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
    }
    resp = templates.TemplateResponse(request, name, {**base, **ctx}, status_code=status_code)
    if request.query_params.get("lang") in LANGS:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict")
    return resp


def _guard(request: Request, roles: tuple[str, ...]) -> Staff | HTMLResponse:
    """The staff member, or the sign-in page (401) / a refusal page (403)."""
    node = _node(request)
    staff = _staff(request, node)
    if staff is None:
        return render(request, "login.html", {"next": safe_next(request.url.path)}, staff=None, status_code=401)
    if not staff.roles & set(roles):
        return render(
            request,
            "error.html",
            {"title_key": "e_forbidden", "message_key": "forbidden_page", "todo_key": "forbidden_todo"},
            staff=staff,
            status_code=403,
        )
    return staff


def _page(roles: tuple[str, ...]) -> Callable[[Callable[..., HTMLResponse]], Callable[..., Response]]:
    """Decorator body shared by the pages: guard, then turn a ``LedgerError`` into an error page."""

    def wrap(fn: Callable[..., HTMLResponse]) -> Callable[..., Response]:
        def inner(request: Request, *args: Any, **kwargs: Any) -> Response:
            staff = _guard(request, roles)
            if isinstance(staff, HTMLResponse):
                return staff
            try:
                return fn(request, staff, *args, **kwargs)
            except LedgerError as exc:
                code = exc.code if f"e_{exc.code}" in TEXT else "other"
                return render(
                    request,
                    "error.html",
                    {"title_key": f"e_{code}", "message": str(exc), "todo_key": f"do_{code}"},
                    staff=staff,
                    status_code=status_of(exc),
                )

        return inner

    return wrap


# ------------------------------------------------------------------------------------------ pages
@router.get("/", operation_id="page_home", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """工作台: the pages this staff member may use."""

    @_page(ANY_STAFF)
    def body(request: Request, staff: Staff) -> HTMLResponse:
        cards = [(k, p, "home_" + p.rsplit("/", 1)[1]) for k, p, roles in NAV if staff.roles & set(roles)]
        return render(request, "home.html", {"cards": cards}, staff=staff)

    return body(request)


@router.get("/ui/login", operation_id="page_login", response_class=HTMLResponse)
def login(request: Request) -> Response:
    """Sign-in form (password, plus the one-time code for roles that need it)."""
    nxt = safe_next(request.query_params.get("next", "/"))
    return render(request, "login.html", {"next": nxt}, staff=_staff(request, _node(request)))


@router.get("/ui/intake", operation_id="page_intake", response_class=HTMLResponse)
def intake(request: Request) -> Response:
    """受理: item picker, home district, applicant, materials with upload progress, receipt."""

    @_page(("clerk",))
    def body(request: Request, staff: Staff) -> HTMLResponse:
        cat = _node(request).book.catalogue
        items = [
            {
                "code": i.code,
                "name_zh": i.name_zh,
                "name_en": i.name_en,
                "days": i.time_limit_working_days,
                "materials": [{"code": m.code, "name_zh": m.name_zh, "name_en": m.name_en} for m in i.materials],
            }
            for i in cat.items
        ]
        return render(request, "intake.html", {"items_json": json.dumps(items, ensure_ascii=False)}, staff=staff)

    return body(request)


@router.get("/ui/cases", operation_id="page_cases", response_class=HTMLResponse)
def cases(request: Request) -> Response:
    """待办: this district's cases (officers) and cases taken in here (clerks), due dates in working days."""

    @_page(READERS)
    def body(request: Request, staff: Staff) -> HTMLResponse:
        node = _node(request)
        rows = sorted(case_rows(node.book), key=lambda r: r.serial, reverse=True)
        inbox = [r for r in rows if r.home_district == node.hall.district]
        mine = [r for r in rows if r.accepting_hall == node.hall.hall_id]
        tabs = []
        if staff.roles & {"officer", "regulator", "dispute_officer"}:
            tabs.append(("inbox", "tab_inbox", inbox))
        if staff.roles & {"clerk", "regulator", "dispute_officer"}:
            tabs.append(("mine", "tab_mine", mine))
        if staff.roles & {"regulator", "dispute_officer"}:
            tabs.append(("all", "tab_all", rows))
        names = {i.code: (i.name_zh, i.name_en) for i in node.book.catalogue.items}
        return render(request, "cases.html", {"tabs": tabs, "item_names": names}, staff=staff)

    return body(request)


def _actions(node: HallNode, staff: Staff, view: dict[str, Any]) -> list[str]:
    status = view["status"]
    stages = {e["stage"] for e in view["timeline"] if e["anchor"].get("state") != "refused"}
    out: list[str] = []
    if "officer" in staff.roles and view["home_district"] == node.hall.district:
        if status == "submitted" and "ACCEPTANCE" not in stages:
            out += ["accept", "reject"]
        if status == "accepted" and "RESULT" not in stages:
            out += ["request_supplement", "decide"]
    if "clerk" in staff.roles and view["accepting_hall"] == node.hall.hall_id:
        if status == "supplement_requested":
            out.append("submit_supplement")
        if "RESULT" in stages and "DELIVERY" not in stages:
            out.append("deliver")
        if status in ("accepted", "submitted") and "RESULT" not in stages and not out:
            out.append("waiting_result")
    return out


@router.get("/ui/cases/{serial}", operation_id="page_case", response_class=HTMLResponse)
def case(request: Request, serial: str) -> Response:
    """办件详情: every stage with who, when, and anchor state; chain details one click away; actions."""

    @_page(READERS)
    def body(request: Request, staff: Staff) -> HTMLResponse:
        node = _node(request)
        view = node.book.view(serial)
        if sees_personal_data(staff.roles):
            node.record_access(staff.actor, "view_case", serial)
        else:  # a regulator: the personal fields are withheld, as in the API (ledger/hall/privacy.py)
            view = withhold_personal(view)
            node.record_access(staff.actor, "view_case", serial, "personal fields withheld")
        item = node.book.catalogue.item(view["item_code"])
        requested: list[str] = []
        for e in view["timeline"]:
            if e["stage"] == "PROCESS" and e["fields"].get("step") == "supplement_requested":
                requested = split_list(str(e["fields"].get("requested_materials") or ""))
        events = []
        intake_staff = ""
        for e in view["timeline"]:
            f = e["fields"]
            when = next((f[k] for k in WHEN_FIELDS if f.get(k)), None)
            who = f.get("staff") or f.get("intake_staff") or (intake_staff if e["stage"] == "MATERIALS" else "")
            if e["stage"] == "INTAKE":
                intake_staff = who
            events.append({**e, "who": who, "when": _iso_cst(when) if isinstance(when, str) else ""})
        ctx = {
            "case": view,
            "item": item,
            "events": events,
            "actions": _actions(node, staff, view),
            "requested": requested,
            "can_export": bool(staff.roles & {"officer", "dispute_officer", "regulator"}),
            "is_dispute": "dispute_officer" in staff.roles,
        }
        return render(request, "case.html", ctx, staff=staff)

    return body(request)


@router.get("/ui/verify", operation_id="page_verify", response_class=HTMLResponse)
def verify(request: Request) -> Response:
    """核验: upload an evidence bundle or one document → per-event verdict with reasons, printable report."""

    @_page(("dispute_officer",))
    def body(request: Request, staff: Staff) -> HTMLResponse:
        node = _node(request)
        serials = sorted((r.serial for r in case_rows(node.book)), reverse=True)
        serial = request.query_params.get("serial", "")
        reasons = {k: (v[0] if _lang(request) == "zh" else v[1]) for k, v in MESSAGES.items()}
        stages = {
            st.name: (st.label_zh if _lang(request) == "zh" else st.name.replace("_", " ").title()) for st in Stage
        }
        ctx = {
            "serials": serials,
            "serial": serial,
            "reasons_json": json.dumps(reasons, ensure_ascii=False),
            "stages_json": json.dumps(stages, ensure_ascii=False),
        }
        return render(request, "verify.html", ctx, staff=staff)

    return body(request)


@router.get("/ui/audit", operation_id="page_audit", response_class=HTMLResponse)
def audit(request: Request) -> Response:
    """监管: charts by district, item and status, time-limit compliance, anomalies, exports."""

    @_page(("regulator",))
    def body(request: Request, staff: Staff) -> HTMLResponse:
        node = _node(request)
        lang = _lang(request)
        rows = case_rows(node.book)
        districts = {d.code: (d.name_zh if lang == "zh" else d.name_en) for d in node.book.catalogue.districts}
        items = {i.code: (i.name_zh if lang == "zh" else i.name_en) for i in node.book.catalogue.items}
        by_district = [
            {"name": districts.get(int(s.key), s.key), "value": s.cases} for s in summarize(rows, "district")
        ]
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
        }
        return render(request, "audit.html", ctx, staff=staff)

    return body(request)


@router.get("/ui/health", operation_id="page_health", response_class=HTMLResponse)
def health(request: Request) -> Response:
    """节点状态 (system administrator): chain, block height, outbox, indexer lag, peer halls reachable."""

    @_page(("sys_admin",))
    def body(request: Request, staff: Staff) -> HTMLResponse:
        node = _node(request)
        h = node.health()
        peers: list[dict[str, Any]] = []
        try:
            halls = node.reader.halls()
        except Exception:  # the chain is down: the page says so in the chain row
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

    return body(request)
