"""Security administrator (安全管理员): staff accounts, their roles and second factors, sign-in locks.

Duties are separated (三员分立, docs/security.md): only a ``security_admin`` manages accounts; the
system administrator runs the node (backups, retention, trail anchoring: ``ops`` and ``access``
routes, and the holiday calendar here); the auditor reads the access trail, where every act below is
recorded with who did it. Reissuing a held case is a counter clerk's act (it is an intake).
"""

from __future__ import annotations

from typing import Any

import segno
from fastapi import APIRouter
from pydantic import BaseModel, Field

from ledger.core.text import LIMITS
from ledger.hall.accounts import Created, StaffAccount
from ledger.hall.holidays import LoadedArrangement, add_arrangement, arrangements
from ledger.hall.loginlimits import LockInfo
from node_api.api.deps import Clerk, NodeDep, SecurityAdmin, SysAdmin, needs
from node_api.api.routes.cases import CasePublic
from node_api.api.schemas import public

router = APIRouter(prefix="/admin", tags=["admin"])


class AccountPublic(BaseModel):
    username: str
    roles: list[str]
    display_name: str
    disabled: bool
    totp_required: bool
    created_at: float

    @classmethod
    def of(cls, account: StaffAccount) -> AccountPublic:
        return cls(
            username=account.username,
            roles=sorted(account.roles),
            display_name=account.display_name,
            disabled=account.disabled,
            totp_required=account.totp_required,
            created_at=account.created_at,
        )


class AccountsPublic(BaseModel):
    data: list[AccountPublic]
    count: int


class AccountCreate(BaseModel):
    username: str = Field(max_length=LIMITS["username"])
    password: str = Field(max_length=LIMITS["password"])
    roles: list[str] = Field(max_length=7)
    display_name: str = Field(default="", max_length=LIMITS["display_name"])


class RolesIn(BaseModel):
    roles: list[str] = Field(max_length=7)


class AccountSecret(BaseModel):
    account: AccountPublic
    totp_secret: str | None = None
    totp_uri: str | None = Field(default=None, description="otpauth:// URI for the authenticator app; shown once")
    totp_qr_svg: str | None = Field(default=None, description="the same URI as an SVG QR code to scan; shown once")

    @classmethod
    def of(cls, c: Created) -> AccountSecret:
        uri = c.provisioning_uri()
        svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#000") if uri else None
        return cls(account=AccountPublic.of(c.account), totp_secret=c.totp_secret, totp_uri=uri, totp_qr_svg=svg)


class LockPublic(BaseModel):
    kind: str = Field(description="account or address")
    label: str
    failures: int
    locked_until: float

    @classmethod
    def of(cls, lock: LockInfo) -> LockPublic:
        return cls(kind=lock.kind, label=lock.label, failures=lock.failures, locked_until=lock.locked_until)


class LocksPublic(BaseModel):
    data: list[LockPublic]
    count: int


class ClearLockIn(BaseModel):
    username: str | None = Field(default=None, max_length=LIMITS["username"])
    address: str | None = Field(default=None, max_length=64, description="client address (IPv6: any in its /64)")


class ClearedOut(BaseModel):
    cleared: int


class ArrangementPublic(LoadedArrangement):
    """The API's schema of one loaded version of a year's holiday arrangement
    (:class:`ledger.hall.holidays.LoadedArrangement`); it adds nothing."""


@router.get(
    "/accounts", operation_id="list_accounts", response_model=AccountsPublic, dependencies=[needs(SecurityAdmin)]
)
def list_accounts(node: NodeDep) -> AccountsPublic:
    data = [AccountPublic.of(a) for a in node.accounts.all()]
    return AccountsPublic(data=data, count=len(data))


@router.post("/accounts", operation_id="create_account", response_model=AccountSecret, status_code=201)
def create_account(body: AccountCreate, node: NodeDep, staff: SecurityAdmin) -> AccountSecret:
    """A new account. Roles follow the separation of duties: at most one administrator role, never
    together with a case role (422 otherwise). The password must pass the policy (docs/security.md)."""
    c = node.accounts.create(body.username, body.password, roles=body.roles, display_name=body.display_name)
    node.record_access(
        staff.actor, "create_account", "", f"{c.account.username} roles {','.join(sorted(c.account.roles))}"
    )
    return AccountSecret.of(c)


@router.post("/accounts/{username}/roles", operation_id="set_roles", response_model=AccountSecret)
def set_roles(username: str, body: RolesIn, node: NodeDep, staff: SecurityAdmin) -> AccountSecret:
    """Replace the account's roles (never one's own; duties checked); its sessions end."""
    before = sorted(node.accounts.get(username).roles)
    c = node.accounts.set_roles(username, body.roles, by=staff.username)
    node.record_access(
        staff.actor, "set_roles", "", f"{username} roles {','.join(before)} -> {','.join(sorted(c.account.roles))}"
    )
    return AccountSecret.of(c)


@router.post("/accounts/{username}/disable", operation_id="disable_account", response_model=AccountPublic)
def disable_account(username: str, node: NodeDep, staff: SecurityAdmin) -> AccountPublic:
    """Disable the account and end its sessions at once."""
    out = AccountPublic.of(node.accounts.set_disabled(username, True))
    node.record_access(staff.actor, "disable_account", "", username)
    return out


@router.post("/accounts/{username}/enable", operation_id="enable_account", response_model=AccountPublic)
def enable_account(username: str, node: NodeDep, staff: SecurityAdmin) -> AccountPublic:
    out = AccountPublic.of(node.accounts.set_disabled(username, False))
    node.record_access(staff.actor, "enable_account", "", username)
    return out


@router.post("/accounts/{username}/reset-totp", operation_id="reset_totp", response_model=AccountSecret)
def reset_totp(username: str, node: NodeDep, staff: SecurityAdmin) -> AccountSecret:
    """A new TOTP secret for the account (the old authenticator stops working; sessions end)."""
    c = node.accounts.reset_totp(username)
    node.record_access(staff.actor, "reset_totp", "", username)
    return AccountSecret.of(c)


@router.get("/lockouts", operation_id="list_lockouts", response_model=LocksPublic, dependencies=[needs(SecurityAdmin)])
def lockouts(node: NodeDep) -> LocksPublic:
    """Accounts and client addresses locked now after failed sign-ins (each lock is also in the access trail)."""
    data = [LockPublic.of(lock) for lock in node.accounts.lockouts()]
    return LocksPublic(data=data, count=len(data))


@router.post("/lockouts/clear", operation_id="clear_lockout", response_model=ClearedOut)
def clear_lockout(body: ClearLockIn, node: NodeDep, staff: SecurityAdmin) -> ClearedOut:
    """Forget the failed sign-ins of an account and/or a client address (the lock ends now)."""
    n = node.accounts.clear_lockouts(username=body.username, address=body.address)
    node.record_access(
        staff.actor, "clear_lockout", "", f"account {body.username or '-'} address {body.address or '-'}: {n}"
    )
    return ClearedOut(cleared=n)


@router.post("/cases/{serial}/reissue", operation_id="reissue_held_case", response_model=CasePublic, status_code=201)
def reissue_case(serial: str, node: NodeDep, staff: Clerk) -> CasePublic:
    """A held case (the chain refused its INTAKE: its serial belongs to another case on chain) taken in again
    under a new serial with the same applicant data and files; give the applicant a new receipt.

    A counter clerk's act (it is an intake with the applicant's data), not an administrator's: the
    administrators never handle case data (separation of duties, docs/security.md)."""
    return CasePublic.of(node.book.reissue(serial, staff=staff.username))


@router.post("/calendar", operation_id="load_holiday_arrangement", response_model=ArrangementPublic, status_code=201)
def load_calendar(body: dict[str, Any], node: NodeDep, staff: SysAdmin) -> ArrangementPublic:
    """Load one year's official holiday arrangement (schema ``caseledger-holidays/1``, docs/operations.md):
    validated, versioned, kept in the store and used for due dates and compliance from now on."""
    return public(ArrangementPublic, add_arrangement(node.store, body, staff=staff.username))


@router.get(
    "/calendar",
    operation_id="list_holiday_arrangements",
    response_model=list[ArrangementPublic],
    dependencies=[needs(SysAdmin)],
)
def list_calendar(node: NodeDep) -> list[ArrangementPublic]:
    return [public(ArrangementPublic, a) for a in arrangements(node.store)]
