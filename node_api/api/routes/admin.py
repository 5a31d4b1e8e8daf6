"""Hall admin: staff accounts (create, disable, enable, reset the second factor)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from ledger.hall.holidays import add_arrangement, arrangements
from node_api.api.deps import NodeDep, Staff, require_roles

router = APIRouter(prefix="/admin", tags=["admin"])

HallAdmin = Annotated[Staff, Depends(require_roles("hall_admin"))]


class AccountPublic(BaseModel):
    username: str
    roles: list[str]
    display_name: str
    disabled: bool
    totp_required: bool
    created_at: float


class AccountsPublic(BaseModel):
    data: list[AccountPublic]
    count: int


class AccountCreate(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    roles: list[str] = Field(max_length=5)
    display_name: str = Field(default="", max_length=64)


class AccountSecret(BaseModel):
    account: AccountPublic
    totp_secret: str | None = None
    totp_uri: str | None = Field(default=None, description="otpauth:// URI for the authenticator app; shown once")


@router.get("/accounts", operation_id="list_accounts", response_model=AccountsPublic)
def list_accounts(node: NodeDep, _: HallAdmin) -> dict[str, Any]:
    data = [a.public() for a in node.accounts.all()]
    return {"data": data, "count": len(data)}


@router.post("/accounts", operation_id="create_account", response_model=AccountSecret, status_code=201)
def create_account(body: AccountCreate, node: NodeDep, _: HallAdmin) -> dict[str, Any]:
    c = node.accounts.create(body.username, body.password, roles=body.roles, display_name=body.display_name)
    return {"account": c.account.public(), "totp_secret": c.totp_secret, "totp_uri": c.provisioning_uri()}


@router.post("/accounts/{username}/disable", operation_id="disable_account", response_model=AccountPublic)
def disable_account(username: str, node: NodeDep, _: HallAdmin) -> dict[str, Any]:
    """Disable the account and end its sessions at once."""
    return node.accounts.set_disabled(username, True).public()


@router.post("/accounts/{username}/enable", operation_id="enable_account", response_model=AccountPublic)
def enable_account(username: str, node: NodeDep, _: HallAdmin) -> dict[str, Any]:
    return node.accounts.set_disabled(username, False).public()


@router.post("/accounts/{username}/reset-totp", operation_id="reset_totp", response_model=AccountSecret)
def reset_totp(username: str, node: NodeDep, _: HallAdmin) -> dict[str, Any]:
    """A new TOTP secret for the account (the old authenticator stops working; sessions end)."""
    c = node.accounts.reset_totp(username)
    return {"account": c.account.public(), "totp_secret": c.totp_secret, "totp_uri": c.provisioning_uri()}


@router.post(
    "/cases/{serial}/reissue", operation_id="reissue_held_case", response_model=dict[str, Any], status_code=201
)
def reissue_case(serial: str, node: NodeDep, staff: HallAdmin) -> dict[str, Any]:
    """A held case (the chain refused its INTAKE: its serial belongs to another case on chain) taken in again
    under a new serial with the same applicant data and files; give the applicant a new receipt."""
    return node.book.reissue(serial, staff=staff.username)


@router.post("/calendar", operation_id="load_holiday_arrangement", response_model=dict[str, Any], status_code=201)
def load_calendar(body: dict[str, Any], node: NodeDep, staff: HallAdmin) -> dict[str, Any]:
    """Load one year's official holiday arrangement (schema ``caseledger-holidays/1``, docs/operations.md):
    validated, versioned, kept in the store and used for due dates and compliance from now on."""
    return add_arrangement(node.store, body, staff=staff.username)


@router.get("/calendar", operation_id="list_holiday_arrangements", response_model=list[dict[str, Any]])
def list_calendar(node: NodeDep, _: HallAdmin) -> list[dict[str, Any]]:
    return arrangements(node.store)
