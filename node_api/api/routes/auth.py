"""Sign-in: password (+ TOTP for officers, dispute officers and administrators) → an expiring session."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from node_api.api.deps import CSRF_COOKIE, SESSION_COOKIE, CurrentSession, CurrentStaff, NodeDep

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    totp: str | None = Field(default=None, max_length=12, description="6-digit one-time code, when the role needs one")


class SessionOut(BaseModel):
    token: str
    token_type: str = "bearer"
    csrf_token: str
    expires_at: float
    username: str
    roles: list[str]
    hall_id: int


class MeOut(BaseModel):
    username: str
    display_name: str
    roles: list[str]
    hall_id: int


@router.post("/login", operation_id="login", response_model=SessionOut)
def login(body: LoginIn, request: Request, response: Response, node: NodeDep) -> dict[str, Any]:
    """A session token for ``Authorization: Bearer``; also set as an HttpOnly SameSite=Strict cookie for pages.

    Five failed attempts for one username from one client lock that pair out for a while (429).
    """
    client = request.client.host if request.client else ""
    s = node.accounts.login(body.username, body.password, body.totp, client=client)
    secure = node.settings.tls_enabled
    max_age = int(s.expires_at - node.accounts.clock())
    response.set_cookie(SESSION_COOKIE, s.token, max_age=max_age, httponly=True, samesite="strict", secure=secure)
    response.set_cookie(CSRF_COOKIE, s.csrf_token, max_age=max_age, httponly=False, samesite="strict", secure=secure)
    return {
        "token": s.token,
        "csrf_token": s.csrf_token,
        "expires_at": s.expires_at,
        "username": s.account.username,
        "roles": sorted(s.account.roles),
        "hall_id": node.hall.hall_id,
    }


@router.post("/logout", operation_id="logout", status_code=204)
def logout(session: CurrentSession, response: Response, node: NodeDep) -> Response:
    node.accounts.logout(session.token)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    response.status_code = 204
    return response


class PasswordIn(BaseModel):
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


@router.post("/password", operation_id="change_password", status_code=204)
def change_password(body: PasswordIn, session: CurrentSession, node: NodeDep) -> Response:
    """Every staff member's own password change: the current password, then a new one that passes the policy
    (docs/security.md). The account's other sessions end; this one goes on."""
    node.accounts.change_password(
        session.account.username, body.current_password, body.new_password, keep_token=session.token
    )
    node.record_access(f"staff:{session.account.username}", "change_password", "", "")
    return Response(status_code=204)


@router.get("/me", operation_id="whoami", response_model=MeOut)
def me(staff: CurrentStaff) -> dict[str, Any]:
    return {
        "username": staff.username,
        "display_name": staff.display_name,
        "roles": sorted(staff.roles),
        "hall_id": staff.hall_id,
    }
