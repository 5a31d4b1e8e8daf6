"""Merkle-mode batch manifests, public: any hall serves every manifest it holds (its own batches once on
chain, and every other hall's it fetched and checked). A manifest holds no personal data (case ids,
commitments, stages, halls; an INTAKE leaf's serial, home district and item code) and means nothing
until checked against its batch's on-chain root, which every reader does: no authentication, like the
chain itself."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from ledger.errors import NotFoundError
from node_api.api.deps import NodeDep

router = APIRouter(prefix="/public/batches", tags=["public"])


@router.get(
    "/{hall_id}/{seq}/manifest",
    operation_id="public_batch_manifest",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "the manifest's bytes"}},
)
async def manifest(hall_id: int, seq: int, node: NodeDep) -> Response:
    """The manifest of hall ``hall_id``'s batch ``seq`` (docs/verification.md, Merkle mode), or 404."""
    raw = await run_in_threadpool(node.merkle_index.manifests.get, hall_id, seq)
    if raw is None:
        raise NotFoundError("manifest_not_found", hall=hall_id, seq=seq)
    return Response(
        raw,
        media_type="application/octet-stream",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
