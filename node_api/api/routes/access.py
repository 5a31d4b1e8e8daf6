"""Access trail (访问留痕) and retention (个人信息保护) endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ledger.hall.access import TrailAnchor
from ledger.hall.retention import cases_due, erase_personal_data
from node_api.api.deps import NodeDep, SysAdmin, TrailReader, needs
from node_api.api.schemas import public

router = APIRouter(tags=["access trail"])

# the auditor (安全审计员) reviews the administrators' acts; the regulator oversees the halls


class TrailEntryPublic(BaseModel):
    """One entry of the access trail (:meth:`ledger.hall.access.AccessTrail.record`); ``serial`` is empty for an
    act of administration."""

    seq: int
    at: str
    hall_id: int
    actor: str
    action: str
    serial: str
    what: str


class TrailAnchorPublic(TrailAnchor):
    """The API's schema of :class:`ledger.hall.access.TrailAnchor`; it adds nothing."""


class TrailPublic(BaseModel):
    data: list[TrailEntryPublic]
    count: int
    size: int
    anchors: list[TrailAnchorPublic]


class TrailVerified(BaseModel):
    ok: bool
    size: int
    anchored_size: int
    anchors: int

    @classmethod
    def of(cls, size: int, anchors: list[TrailAnchor]) -> TrailVerified:
        """The trail of ``size`` entries whose ``anchors`` (oldest first) hold."""
        return cls(ok=True, size=size, anchored_size=anchors[-1].size if anchors else 0, anchors=len(anchors))


class ErasureOut(BaseModel):
    serial: str
    erased_fields: list[str]
    erased_at: str
    data_keys_destroyed: int = 0


class DueOut(BaseModel):
    data: list[str]
    count: int


@router.get("/access-trail", operation_id="access_trail", response_model=TrailPublic, dependencies=[needs(TrailReader)])
def trail(
    node: NodeDep,
    serial: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> TrailPublic:
    """Who viewed or exported which case's personal data, and when; with the anchors of the trail."""
    data = [TrailEntryPublic.model_validate(e) for e in node.trail.entries(serial=serial, start=start, limit=limit)]
    return TrailPublic(
        data=data,
        count=len(data),
        size=node.trail.size(),
        anchors=[public(TrailAnchorPublic, a) for a in node.trail.anchors()],
    )


@router.get(
    "/access-trail/verify",
    operation_id="verify_access_trail",
    response_model=TrailVerified,
    dependencies=[needs(TrailReader)],
)
def verify_trail(node: NodeDep) -> TrailVerified:
    """Recompute every anchored root from the entries and check each anchor transaction on chain (409 if not)."""
    return TrailVerified.of(node.trail.size(), node.trail.verify(node.reader))


@router.post(
    "/access-trail/anchor",
    operation_id="anchor_access_trail",
    response_model=TrailVerified,
    dependencies=[needs(SysAdmin)],
)
def anchor_trail(node: NodeDep) -> TrailVerified:
    """Anchor the trail's current root now (it is also anchored periodically)."""
    node.anchor_trail()
    return TrailVerified.of(node.trail.size(), node.trail.anchors())


@router.get("/retention/due", operation_id="retention_due", response_model=DueOut, dependencies=[needs(SysAdmin)])
def due(node: NodeDep) -> DueOut:
    """Cases whose retention period is over and whose personal fields this hall still holds."""
    data = cases_due(node.book, now=datetime.fromtimestamp(node.clock(), UTC))
    return DueOut(data=data, count=len(data))


@router.post("/cases/{serial}/erase-personal-data", operation_id="erase_personal_data", response_model=ErasureOut)
def erase(serial: str, node: NodeDep, staff: SysAdmin) -> ErasureOut:
    """Erase the applicant's personal fields (after the retention period); the case still verifies."""
    out = erase_personal_data(
        node.book, node.trail, serial, actor=staff.actor, now=datetime.fromtimestamp(node.clock(), UTC)
    )
    node.anchor_trail(background=True)
    return public(ErasureOut, out)
