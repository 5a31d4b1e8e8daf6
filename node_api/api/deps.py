"""Dependencies of the routes: the running node, its case book, the current staff member.

Staff sign in at ``POST /auth/login`` (password, plus a TOTP code for officers, dispute officers and
administrators) and get an opaque session token that expires. API clients send it as
``Authorization: Bearer <token>``; pages use the ``caseledger_session`` cookie (HttpOnly,
SameSite=Strict), and every unsafe cookie-authenticated request must echo the session's CSRF token
in ``X-CSRF-Token`` (bearer requests are exempt: a browser never attaches them by itself).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, get_args

from fastapi import Depends, Request, params
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from ledger.errors import AuthError, CsrfError, ForbiddenError
from ledger.hall.accounts import ROLES, Session
from ledger.hall.cases import CaseBook
from ledger.messages import role_names_zh
from node_api.core.node import HallNode

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "ROLES",
    "SESSION_COOKIE",
    "AcceptingCase",
    "BookDep",
    "CsrfError",
    "CurrentSession",
    "CurrentStaff",
    "HomeCase",
    "NodeDep",
    "Staff",
    "StaffAuthError",
    "StaffForbiddenError",
    "needs",
    "require_roles",
]

SESSION_COOKIE = "caseledger_session"
CSRF_COOKIE = "caseledger_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Staff:
    """Who is making the request. ``username`` is what records name as the acting staff member."""

    username: str
    hall_id: int
    roles: frozenset[str]
    display_name: str = ""

    @property
    def actor(self) -> str:
        """How the access trail names this person."""
        return f"staff:{self.username}"


# the tree lives in ledger.errors; these names stay for the routes that import them from here
StaffForbiddenError = ForbiddenError
StaffAuthError = AuthError


async def get_node(request: Request) -> HallNode:
    node: HallNode = request.app.state.node
    return node


NodeDep = Annotated[HallNode, Depends(get_node)]


async def get_book(node: NodeDep) -> CaseBook:
    return node.book


BookDep = Annotated[CaseBook, Depends(get_book)]

_bearer = HTTPBearer(auto_error=False, description="session token from POST /auth/login")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="session cookie set by POST /auth/login")


def get_session(
    request: Request,
    node: NodeDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Session:
    """The signed-in session (bearer token first, else the cookie with its CSRF check).

    A plain ``def``: it reads (and may delete) sessions in the store, so FastAPI runs it in its thread pool,
    never on the event loop (an ``async`` dependency here would wait on the store's write lock)."""
    if bearer is not None and bearer.credentials:
        return node.accounts.authenticate(bearer.credentials)
    if cookie:
        session = node.accounts.authenticate(cookie)
        if request.method.upper() not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not hmac.compare_digest(sent, session.csrf_token):
                raise CsrfError("csrf_failed")
        return session
    raise AuthError("session_required")


CurrentSession = Annotated[Session, Depends(get_session)]


def get_staff(node: NodeDep, session: CurrentSession) -> Staff:
    """The staff member making the request."""
    a = session.account
    return Staff(username=a.username, hall_id=node.hall.hall_id, roles=a.roles, display_name=a.display_name)


CurrentStaff = Annotated[Staff, Depends(get_staff)]


def require_roles(*roles: str) -> Callable[[Staff], Awaitable[Staff]]:
    """Dependency factory: the current staff member, refused (403) unless they hold one of ``roles``.

    Use as ``staff: Annotated[Staff, Depends(require_roles("officer"))]``.
    """
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def check(staff: CurrentStaff) -> Staff:
        if not staff.roles & set(roles):
            raise ForbiddenError("role_required", roles=" or ".join(roles), roles_zh=role_names_zh(roles))
        return staff

    return check


# The role aliases, defined once: every route names the staff it admits by one of these.
Clerk = Annotated[Staff, Depends(require_roles("clerk"))]
Officer = Annotated[Staff, Depends(require_roles("officer"))]
DisputeOfficer = Annotated[Staff, Depends(require_roles("dispute_officer"))]
Regulator = Annotated[Staff, Depends(require_roles("regulator"))]
SysAdmin = Annotated[Staff, Depends(require_roles("sys_admin"))]
SecurityAdmin = Annotated[Staff, Depends(require_roles("security_admin"))]
CaseReader = Annotated[Staff, Depends(require_roles("clerk", "officer", "dispute_officer", "regulator"))]
"""whoever works with cases: the counter, the home-district office, dispute officers, regulators"""
Exporter = Annotated[Staff, Depends(require_roles("officer", "dispute_officer", "regulator"))]
"""who may export a case's evidence bundle"""
DisputeReader = Annotated[Staff, Depends(require_roles("dispute_officer", "regulator"))]
TrailReader = Annotated[Staff, Depends(require_roles("regulator", "auditor"))]
"""who may read the access trail (the security auditor and regulators)"""


def home_case(serial: str, node: NodeDep, staff: Officer) -> dict[str, Any]:
    """承办 actions: the case header, refused (403) unless the case belongs to this hall's district."""
    h = node.book.header(serial)
    if h["home_district"] != node.hall.district:
        raise ForbiddenError("case_other_district", serial=serial, district=h["home_district"], own=node.hall.district)
    return h


def accepting_case(serial: str, node: NodeDep, staff: Clerk) -> dict[str, Any]:
    """受理窗口 actions (supplement, delivery): refused (403) unless the case was accepted at this hall."""
    h = node.book.header(serial)
    if h["accepting_hall"] != node.hall.hall_id:
        raise ForbiddenError("case_other_hall", serial=serial, hall=h["accepting_hall"])
    return h


HomeCase = Annotated[dict[str, Any], Depends(home_case)]
AcceptingCase = Annotated[dict[str, Any], Depends(accepting_case)]


def needs(alias: object) -> params.Depends:
    """The dependency of an ``Annotated`` alias, for a route that needs the check but not the value::

        @router.get("/audit/cases", dependencies=[needs(Regulator)])

    It is the alias's own ``Depends`` (the same callable), so the rule stays defined once, here, and
    FastAPI's per-request cache still runs it once when a route also takes the value."""
    for meta in get_args(alias)[1:]:
        if isinstance(meta, params.Depends):
            return meta
    raise TypeError(f"{alias!r} is not an Annotated[..., Depends(...)] alias")
