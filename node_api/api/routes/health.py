from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from node_api.api.deps import NodeDep

router = APIRouter(tags=["health"])


@router.get("/health", operation_id="health", response_model=dict[str, Any])
def health(node: NodeDep) -> dict[str, Any]:
    """This hall, its chain connection, outbox depth and age, indexer lag, open transfers."""
    return node.health()
