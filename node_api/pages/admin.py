"""The administrators' and every staff member's own pages.

    /ui/admin/accounts   安全管理员: staff accounts — create (roles within the separation of duties: at most one
                         administrator role, never with a case role), disable / enable, change roles, TOTP
                         enrolment with a QR code (shown once) and its reset, sign-in locks
    /ui/account          every staff member: change one's own password

The pages act through the JSON API (``/admin/…``, ``/auth/password``; ``static/js/admin.js``), each fault at
its field in the staff's words. Node health is ``/ui/health`` (系统管理员).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ledger.hall.accounts import ADMIN_ROLES, CASE_ROLES
from node_api.pages.guard import AnyStaffPage, SecurityAdminPage

__all__ = ["router"]

router = APIRouter(tags=["pages"])


@router.get("/ui/admin/accounts", operation_id="page_admin_accounts", response_class=HTMLResponse)
def accounts(request: Request, staff: SecurityAdminPage) -> HTMLResponse:
    """账号管理 (security administrator)."""
    from node_api.pages.routes import _node, render

    node = _node(request)
    ctx = {
        "accounts": sorted(node.accounts.all(), key=lambda a: a.username),
        "case_roles": sorted(CASE_ROLES),
        "admin_roles": sorted(ADMIN_ROLES),
        "locks": node.accounts.lockouts(),
    }
    return render(request, "admin_accounts.html", ctx, staff=staff)


@router.get("/ui/account", operation_id="page_own_account", response_class=HTMLResponse)
def own(request: Request, staff: AnyStaffPage) -> HTMLResponse:
    """修改密码: any signed-in staff member."""
    from node_api.pages.routes import render

    return render(request, "account.html", {}, staff=staff)
