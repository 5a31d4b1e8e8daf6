"""The page guard: a FastAPI dependency that admits the staff a page is for, or refuses with a page.

A page names who may open it by the type of its ``staff`` parameter (one alias per group, defined here once)::

    @router.get("/ui/health", operation_id="page_health", response_class=HTMLResponse)
    def health(request: Request, staff: SysAdminPage) -> HTMLResponse: ...

Without a session the guard raises :class:`PageRefused` (401) and the handler that
``node_api.pages.routes.install_page_handlers`` installs answers with the sign-in form (which brings the staff
member back to the same page); for another role it answers 403 with a plain sentence. A
:class:`~ledger.errors.LedgerError` raised once the guard has let the staff member in becomes an error page
(what went wrong and what to do), not the API's JSON error.

The guard is a plain ``def``: it reads (and may delete) sessions in the store, so FastAPI runs it in its thread
pool, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from ledger.errors import AuthError
from ledger.hall.accounts import ROLES
from node_api.api.deps import SESSION_COOKIE, Staff
from node_api.core.node import HallNode

__all__ = [
    "ANY_STAFF",
    "READERS",
    "AnyStaffPage",
    "ClerkPage",
    "DisputeOfficerPage",
    "DisputePage",
    "PageRefused",
    "ReaderPage",
    "RegulatorPage",
    "SecurityAdminPage",
    "SysAdminPage",
    "page_guard",
    "page_staff_of",
    "signed_in_staff",
]

READERS = ("clerk", "officer", "dispute_officer", "regulator")
"""whoever works with cases: the counter, the home-district office, dispute officers, regulators"""
ANY_STAFF = ("clerk", "officer", "dispute_officer", "regulator", "sys_admin", "security_admin", "auditor")

_PAGE_STAFF = "page_staff"  # request.state attribute: set once the guard has let a staff member in


class PageRefused(Exception):
    """The page is not for this request: 401 (nobody signed in) or 403 (``staff`` holds none of its roles)."""

    def __init__(self, status_code: int, staff: Staff | None = None) -> None:
        super().__init__(f"page refused ({status_code})")
        self.status_code = status_code
        self.staff = staff


def _node(request: Request) -> HallNode:
    node: HallNode = request.app.state.node
    return node


def signed_in_staff(request: Request, node: HallNode) -> Staff | None:
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


def page_guard(*roles: str) -> Callable[[Request], Staff]:
    """Dependency factory: the signed-in staff member holding one of ``roles``, else :class:`PageRefused`."""
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    wanted = frozenset(roles)

    def guard(request: Request) -> Staff:
        staff = signed_in_staff(request, _node(request))
        if staff is None:
            raise PageRefused(401)
        if not staff.roles & wanted:
            raise PageRefused(403, staff)
        setattr(request.state, _PAGE_STAFF, staff)
        return staff

    return guard


def page_staff_of(request: Request) -> Staff | None:
    """The staff member the guard let into this request's page, or None (not a guarded page)."""
    staff = getattr(request.state, _PAGE_STAFF, None)
    return staff if isinstance(staff, Staff) else None


# The page aliases, defined once: every guarded page names the staff it admits by one of these.
AnyStaffPage = Annotated[Staff, Depends(page_guard(*ANY_STAFF))]
ClerkPage = Annotated[Staff, Depends(page_guard("clerk"))]
ReaderPage = Annotated[Staff, Depends(page_guard(*READERS))]
DisputeOfficerPage = Annotated[Staff, Depends(page_guard("dispute_officer"))]
DisputePage = Annotated[Staff, Depends(page_guard("dispute_officer", "regulator"))]
"""the dispute workspace: a dispute officer acts, a regulator reads"""
RegulatorPage = Annotated[Staff, Depends(page_guard("regulator"))]
SysAdminPage = Annotated[Staff, Depends(page_guard("sys_admin"))]
SecurityAdminPage = Annotated[Staff, Depends(page_guard("security_admin"))]
