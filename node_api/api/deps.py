"""Dependencies of the routes: the running node, its case book, the current staff member."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from ledger.cases import CaseBook
from ledger.errors import LedgerError
from node_api.core.node import HallNode

__all__ = [
    "ROLES",
    "BookDep",
    "CurrentStaff",
    "NodeDep",
    "Staff",
    "StaffAuthError",
    "StaffForbiddenError",
    "require_roles",
]

ROLES = frozenset({"clerk", "officer", "dispute_officer", "regulator", "hall_admin"})
"""clerk 受理 · officer 承办 · dispute_officer 核验/争议 · regulator 监管 · hall_admin 大厅管理员."""


@dataclass(frozen=True)
class Staff:
    """Who is making the request. ``username`` is what records name as the acting staff member."""

    username: str
    hall_id: int
    roles: frozenset[str]
    display_name: str = ""


class StaffForbiddenError(LedgerError):
    """Signed in, but the role does not allow this (HTTP 403)."""

    code = "forbidden"


class StaffAuthError(LedgerError):
    """Missing or wrong staff token (HTTP 401). Issue 6 replaces this with accounts and roles."""

    code = "unauthenticated"


def get_node(request: Request) -> HallNode:
    node: HallNode = request.app.state.node
    return node


NodeDep = Annotated[HallNode, Depends(get_node)]


def get_book(node: NodeDep) -> CaseBook:
    return node.book


BookDep = Annotated[CaseBook, Depends(get_book)]


def get_staff(
    node: NodeDep,
    x_staff_token: Annotated[str | None, Header()] = None,
    x_staff_name: Annotated[str | None, Header()] = None,
) -> Staff:
    """The staff member making the request (demo: one token per hall with every role, name from a header)."""
    if not x_staff_token or not hmac.compare_digest(x_staff_token, node.staff_token):
        raise StaffAuthError("staff sign-in required: send the hall's staff token in X-Staff-Token")
    name = (x_staff_name or "staff").strip()[:64] or "staff"
    return Staff(username=name, hall_id=node.hall.hall_id, roles=ROLES)


CurrentStaff = Annotated[Staff, Depends(get_staff)]


def require_roles(*roles: str) -> Callable[[Staff], Staff]:
    """Dependency factory: the current staff member, refused (403) unless they hold one of ``roles``.

    Use as ``staff: Annotated[Staff, Depends(require_roles("officer"))]``.
    """
    unknown = set(roles) - ROLES
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def check(staff: CurrentStaff) -> Staff:
        if not staff.roles & set(roles):
            raise StaffForbiddenError(f"this needs the role {' or '.join(roles)}; {staff.username} does not have it")
        return staff

    return check
