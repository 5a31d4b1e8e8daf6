"""Endpoints other halls call (signed with their hall key)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ledger.hall.transfer import authorize_case
from node_api.api.deps import NodeDep

router = APIRouter(prefix="/peer", tags=["peer"])


@router.get("/cases/{serial}/package", operation_id="peer_case_package", response_model=dict[str, Any])
def package(serial: str, request: Request, node: NodeDep) -> dict[str, Any]:
    """Every anchored record of the case with salts and files, for a hall with a right to the case."""
    info = node.guard.authenticate("GET", request.url.path, dict(request.headers), b"")
    header = node.book.header(serial)
    authorize_case(info, header)
    package = node.book.package(serial)
    node.record_access(f"peer:hall-{info.hall_id}", "peer_package", serial)
    return package
