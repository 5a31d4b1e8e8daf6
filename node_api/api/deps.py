"""Dependencies of the routes: the running node, its case book, the current staff member."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from ledger.cases import CaseBook
from ledger.errors import LedgerError
from node_api.core.node import HallNode

__all__ = ["BookDep", "CurrentStaff", "NodeDep", "StaffAuthError"]


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
) -> str:
    """The staff member making the request (demo: one token per hall, name from a header)."""
    if not x_staff_token or not hmac.compare_digest(x_staff_token, node.staff_token):
        raise StaffAuthError("staff sign-in required: send the hall's staff token in X-Staff-Token")
    return (x_staff_name or "staff").strip()[:64] or "staff"


CurrentStaff = Annotated[str, Depends(get_staff)]
