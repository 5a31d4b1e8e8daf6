"""Endpoints other halls call (signed with their hall key)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ledger.hall.handover import PeerStatus, peer_status
from ledger.hall.merkle_evidence import merkle_package
from ledger.hall.package import TransferPackage
from ledger.hall.transfer import authorize_case
from node_api.api.deps import NodeDep
from node_api.api.schemas import public

router = APIRouter(prefix="/peer", tags=["peer"])


class PackagePublic(TransferPackage):
    """``GET /peer/cases/{serial}/package``: the case's transfer package as JSON, without nulls (the route sets
    ``response_model_exclude_none``: an event-mode package has no ``anchor_mode`` and its records no
    ``anchor``; record fields that hold null keep it, they are committed).

    The API's schema of :class:`ledger.hall.package.TransferPackage`, the model the receiving hall parses the
    answer into (:func:`ledger.hall.package.parse_package`); it adds nothing."""


class PeerStatusPublic(PeerStatus):
    """``GET /peer/cases/{serial}/status``: the API's schema of :class:`ledger.hall.handover.PeerStatus`, the
    model the asking hall parses the answer into; it adds nothing."""


@router.get(
    "/cases/{serial}/package",
    operation_id="peer_case_package",
    response_model=PackagePublic,
    response_model_exclude_none=True,
)
def package(serial: str, request: Request, node: NodeDep) -> PackagePublic:
    """Every anchored record of the case with salts and files, for a hall with a right to the case."""
    info = node.guard.authenticate("GET", request.url.path, dict(request.headers), b"")
    header = node.book.header(serial)
    authorize_case(info, header)
    if header.get("anchor_mode") == "merkle":
        package = merkle_package(node.book, node.merkle_index.manifests, serial)
    else:
        package = node.book.package(serial)
    node.record_access(f"peer:hall-{info.hall_id}", "peer_package", serial)
    return public(PackagePublic, package)


@router.get("/cases/{serial}/status", operation_id="peer_case_status", response_model=PeerStatusPublic)
def status(serial: str, request: Request, node: NodeDep) -> PeerStatusPublic:
    """Has this hall received and verified the case's package, and does it ask for a supplement before
    acceptance? For the case's accepting hall (see ledger.hall.handover)."""
    info = node.guard.authenticate("GET", request.url.path, dict(request.headers), b"")
    header = node.book.header(serial)
    authorize_case(info, header)
    return public(PeerStatusPublic, peer_status(node.book, serial))
