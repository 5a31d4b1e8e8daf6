"""A hall's health report: the numbers the node reads from its workers, and the problems said in words.

:class:`HealthNumbers` is what ``HallNode.health_numbers`` gathers (store, chain, outbox, Merkle batches,
indexer, transfers, clock, encryption at rest, access trail); :class:`HealthReport` adds ``status``
(``ok`` | ``degraded``) and the :class:`Problem` list that ``node_api.core.ops.problems`` derives from the
numbers with the node's thresholds. ``GET /health`` answers the report as JSON (its schema is
``node_api.api.routes.health.HealthPublic``), the metrics and the health page read the same model::

    report = node.health()
    if report.status == "degraded":
        print([p.code for p in report.problems])
    print(report.chain.connected, report.outbox.pending, report.indexer.lag)

Counts, ages, block numbers and error sentences only: no serials, names or personal data (``/health`` is
open, like ``/metrics``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ledger.chain.endpoints import EndpointsStatus

__all__ = [
    "AccessTrailHealth",
    "AtRestHealth",
    "ChainHealth",
    "ClockReport",
    "DataKeyCounts",
    "ForkSeen",
    "HealthNumbers",
    "HealthReport",
    "IndexerHealth",
    "LossSeen",
    "ManifestUnavailable",
    "MerkleHealth",
    "OutboxHealth",
    "Problem",
    "SerialCheckHealth",
    "StoreHealth",
    "TransfersHealth",
]

_PART = ConfigDict(frozen=True, extra="forbid")


class StoreHealth(BaseModel):
    model_config = _PART

    full: bool
    full_since: float | None
    free_bytes: int
    min_free_bytes: int
    damage: str | None
    generation: int


class SerialCheckHealth(BaseModel):
    """The check of this hall's case serials against the chain after a restore (intake waits for it)."""

    model_config = _PART

    done: bool
    last_error: str | None
    own_batches_on_chain: int | None = None
    """this hall's Merkle batch count on chain when the check read it (None: not read, or no restore)"""
    own_batches_recovered: int = 0
    """of them, batches anchored after the backup that the check read back (chain + the other halls)"""
    waiting_for_batch: int | None = None
    """the own batch whose manifest no hall has produced yet"""
    anchoring_held: bool = False
    """the Merkle sender waits until the indexer has read the recovered batches (next indices follow them)"""
    unindexed_batches: int = 0


class ClockReport(BaseModel):
    """This hall's clock against the chain's block times and the peer halls' clocks (seconds, 0.1 s)."""

    model_config = _PART

    skew_seconds: float | None
    chain_skew_seconds: float | None
    peer_skew_seconds: dict[str, float]
    max_skew_seconds: float
    held: bool
    last_error: str | None


class ChainHealth(BaseModel):
    model_config = _PART

    connected: bool
    block: int | None
    rpc_url: str
    endpoints: EndpointsStatus
    deployment_lost: str | None


class LossSeen(BaseModel):
    """The last time anchored events left the chain (a reorganisation or a rollback) and were queued again."""

    model_config = _PART

    at: float
    events: int
    kind: str
    fork_block: int
    seen_head: int
    head: int


class OutboxHealth(BaseModel):
    model_config = _PART

    pending: int
    oldest_pending_age: float | None
    refused: int
    last_error: str | None
    requeued_pending: int
    lost_total: int
    last_loss: LossSeen | None


class ManifestUnavailable(BaseModel):
    model_config = _PART

    hall: int
    seq: int
    block: int


class MerkleHealth(BaseModel):
    model_config = _PART

    anchor_mode: str
    pending: int
    batches_unanchored: int
    next_seq: int | None
    refused: int
    last_error: str | None
    lost_total: int
    manifests_wanted: int
    manifests_unavailable: list[ManifestUnavailable]
    findings: int


class ForkSeen(BaseModel):
    """The last reorganisation or rollback the indexer rewound for, and when (unix time)."""

    model_config = _PART

    kind: str
    fork_block: int
    seen_head: int
    head: int
    at: float | None


class IndexerHealth(BaseModel):
    model_config = _PART

    cursor: int
    head: int | None
    lag: int | None
    confirmations: int
    last_error: str | None
    forks: int
    last_fork: ForkSeen | None


class TransfersHealth(BaseModel):
    model_config = _PART

    open: int
    retrying: int
    failing: int
    refused: int


class DataKeyCounts(BaseModel):
    model_config = _PART

    live: int
    spare: int
    destroyed: int
    rewrap_pending: int


class AtRestHealth(BaseModel):
    model_config = _PART

    cipher: str
    kek_id: str
    kek_keys: int
    data_keys: DataKeyCounts
    rewrap_error: str | None


class AccessTrailHealth(BaseModel):
    model_config = _PART

    size: int
    anchored: int
    last_error: str | None


class HealthNumbers(BaseModel):
    """What the node's workers say about themselves, read at one moment."""

    model_config = _PART

    store: StoreHealth
    serial_check: SerialCheckHealth
    held_cases: int
    clock: ClockReport
    hall_id: int
    name: str
    district: int
    account: str
    chain: ChainHealth
    outbox: OutboxHealth
    merkle: MerkleHealth
    indexer: IndexerHealth
    transfers: TransfersHealth
    suite: str
    at_rest: AtRestHealth
    access_trail: AccessTrailHealth


class Problem(BaseModel):
    """One thing wrong with the node: a stable code, and the sentence for staff in zh-CN and English."""

    model_config = _PART

    code: str
    zh: str
    en: str


class HealthReport(HealthNumbers):
    """The numbers, the problems found in them, and ``degraded`` when there is any."""

    status: Literal["ok", "degraded"]
    problems: list[Problem]

    @classmethod
    def of(cls, numbers: HealthNumbers, problems: list[Problem]) -> HealthReport:
        return cls(**dict(numbers), status="degraded" if problems else "ok", problems=problems)
