from __future__ import annotations

from fastapi import APIRouter

from ledger.hall.health import HealthReport
from node_api.api.deps import NodeDep
from node_api.api.schemas import public

router = APIRouter(tags=["health"])


class HealthPublic(HealthReport):
    """``GET /health``: the hall's health report as JSON, open like ``/metrics`` (counts, ages, blocks only).

    The API's schema of :class:`ledger.hall.health.HealthReport` (the domain model the node, the metrics
    and the health page read); it adds nothing today, it is where the answer may part from the model."""


@router.get("/health", operation_id="health", response_model=HealthPublic)
def health(node: NodeDep) -> HealthPublic:
    """This hall, its chain connection, outbox depth and age, indexer lag, open transfers."""
    return public(HealthPublic, node.health())
