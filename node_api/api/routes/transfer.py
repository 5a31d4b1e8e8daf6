"""Endpoints other halls call (signed with their hall key)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ledger.hall.handover import peer_status
from ledger.hall.merkle_evidence import merkle_package
from ledger.hall.transfer import authorize_case
from node_api.api.deps import NodeDep

router = APIRouter(prefix="/peer", tags=["peer"])


@router.get("/cases/{serial}/package", operation_id="peer_case_package", response_model=dict[str, Any])
def package(serial: str, request: Request, node: NodeDep) -> dict[str, Any]:
    """Every anchored record of the case with salts and files, for a hall with a right to the case."""
    info = node.guard.authenticate("GET", request.url.path, dict(request.headers), b"")
    header = node.book.header(serial)
    authorize_case(info, header)
    if header.get("anchor_mode") == "merkle":
        package = merkle_package(node.book, node.merkle_index.manifests, serial)
    else:
        package = node.book.package(serial)
    node.record_access(f"peer:hall-{info.hall_id}", "peer_package", serial)
    return package


@router.get("/cases/{serial}/status", operation_id="peer_case_status", response_model=dict[str, Any])
def status(serial: str, request: Request, node: NodeDep) -> dict[str, Any]:
    """Has this hall received and verified the case's package, and does it ask for a supplement before
    acceptance? For the case's accepting hall (see ledger.hall.handover)."""
    info = node.guard.authenticate("GET", request.url.path, dict(request.headers), b"")
    header = node.book.header(serial)
    authorize_case(info, header)
    return peer_status(node.book, serial)
