"""Chain data types of the evidence format: what a log of the contracts says, and what the verifier
is given about a case. Dependency-free (dataclasses and pydantic): the chain client and the verifier's
stdlib reader produce them (:mod:`ledger.chain.client`, :mod:`ledger.verify.rpc`, both decoding with
:mod:`ledger.core.chainlog`), the bundle format and the verifier consume them
(:mod:`ledger.core.bundle`, :mod:`ledger.verify.checks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ledger.core.stages import Phase, Stage

__all__ = [
    "AddressesFrom",
    "BatchAnchoredEvent",
    "BatchFact",
    "BatchScan",
    "CaseFacts",
    "CaseHeader",
    "CaseOpenedEvent",
    "ChainEvent",
    "ChainEventFact",
    "ChainFacts",
    "DeploymentFacts",
    "MerkleFacts",
    "RegistryFact",
]


@dataclass(frozen=True)
class ChainEvent:
    """One ``EventAppended`` log, decoded."""

    case_id: str
    hall_id: int
    stage: Stage
    writer: str
    index: int
    commitment: bytes
    head: bytes
    ref: int
    prev_block: int
    block_number: int
    tx_hash: str
    log_index: int


@dataclass(frozen=True)
class BatchAnchoredEvent:
    """One ``BatchAnchored`` log, decoded (Merkle mode: hall ``hall_id``'s batch ``seq``)."""

    hall_id: int
    seq: int
    writer: str
    root: bytes
    count: int
    head: bytes
    prev_block: int
    block_number: int
    tx_hash: str
    log_index: int


@dataclass(frozen=True)
class CaseOpenedEvent:
    case_id: str
    serial: str
    accepting_hall: int
    home_district: int
    item_code: str
    block_number: int
    tx_hash: str


class CaseHeader(BaseModel):
    """``caseHeader(caseId)``: all zero (phase ``NONE``) for a case the chain does not know."""

    model_config = ConfigDict(frozen=True)

    head: str
    event_count: int
    phase: Phase
    home_district: int
    accepting_hall: int
    item_code: str
    last_block: int

    @property
    def opened(self) -> bool:
        return self.phase != Phase.NONE


class _LogFact(BaseModel):
    """A fact read from one log of the contracts: who wrote it, the hash-chain head, where it is, its block's time.

    Each fact declares its own fields, in the order its dumps have always had; what they take from the
    decoded log is converted here once.
    """

    model_config = ConfigDict(frozen=True)

    @staticmethod
    def _from_log(e: ChainEvent | BatchAnchoredEvent, time: int) -> dict[str, Any]:
        return {
            "writer": e.writer,
            "hall_id": e.hall_id,
            "head": "0x" + e.head.hex(),
            "prev_block": e.prev_block,
            "block": e.block_number,
            "log_index": e.log_index,
            "tx": e.tx_hash,
            "time": time,
        }


class ChainEventFact(_LogFact):
    """An ``EventAppended`` log as the verifier is given it, with its block's time."""

    index: int
    stage: Stage
    writer: str
    hall_id: int
    commitment: str
    head: str
    ref: int
    prev_block: int
    block: int
    log_index: int
    tx: str
    time: int

    @classmethod
    def of(cls, e: ChainEvent, time: int) -> ChainEventFact:
        return cls(
            index=e.index, stage=e.stage, commitment="0x" + e.commitment.hex(), ref=e.ref, **cls._from_log(e, time)
        )


class BatchFact(_LogFact):
    """A ``BatchAnchored`` log as the verifier is given it, with its block's time."""

    hall_id: int
    seq: int
    writer: str
    root: str
    count: int
    head: str
    prev_block: int
    block: int
    log_index: int
    tx: str
    time: int

    @classmethod
    def of(cls, b: BatchAnchoredEvent, time: int) -> BatchFact:
        return cls(seq=b.seq, root="0x" + b.root.hex(), count=b.count, **cls._from_log(b, time))

    @property
    def key(self) -> tuple[int, int]:
        return (self.hall_id, self.seq)


class RegistryFact(BaseModel):
    """One registry event.

    ``kind``: registered | suspended | reactivated | rotated | endpoint | role_granted | role_revoked
    (the last two from ``HallRegistryRoleChanged``).
    """

    model_config = ConfigDict(frozen=True)

    kind: str
    block: int
    log_index: int
    prev_change_block: int = 0
    hall_id: int = 0
    account: str = ""
    new_account: str = ""
    district: int = 0
    role: str = ""


AddressesFrom = Literal["deployment", "bundle"]
"""where the contract addresses that were read came from: a trusted deployment (the consortium's published
descriptor, or addresses the verifier was given) or the bundle itself (then nothing ties the answer to the
consortium: the report says so, and the bundle cannot be a match)"""


class DeploymentFacts(BaseModel):
    """What the endpoint serves at a ledger address."""

    model_config = ConfigDict(frozen=True)

    chain_id: int
    ledger: str
    registry: str
    format_version: int
    suite: str
    addresses_from: AddressesFrom = "bundle"


class CaseFacts(BaseModel):
    """What the facts of either mode say of the case, its deployment and the registry's history."""

    model_config = ConfigDict(frozen=True)

    serial: str
    accepting_hall: int
    """the hall id the case id was derived with (the bundle's claim; the header says whether it exists)"""
    case_id: str
    chain_id: int
    ledger: str
    registry: str
    format_version: int
    suite: str
    registry_log: list[RegistryFact]
    dispute_role: str
    arbiter_role: str
    addresses_from: AddressesFrom = "bundle"
    """where the contract addresses read came from (see :data:`AddressesFrom`)"""


class ChainFacts(CaseFacts):
    """Everything the verifier needs from the chain for one case (explicit input of the pure check)."""

    header: CaseHeader
    events: list[ChainEventFact]


class BatchScan(BaseModel):
    """Every batch of every hall anchored in ``[from_block, to_block]``, with each batch's manifest as the
    verifier obtained it (hex of its bytes, ``None`` when no source had it): the input of the completeness
    check of a Merkle-mode case (docs/verification.md)."""

    model_config = ConfigDict(frozen=True)

    from_block: int
    to_block: int
    batches: list[BatchFact]
    manifests: dict[str, str | None]
    """``"<hall>/<seq>"`` → manifest bytes in hex, or ``None``"""


class MerkleFacts(CaseFacts):
    """Everything the verifier needs from the chain for one Merkle-mode case."""

    mode: str = "merkle"
    event_header: CaseHeader
    """``caseHeader(caseId)``: a Merkle-mode case has none (the same case id in event mode is a finding)"""
    batches: list[BatchFact]
    """the ``BatchAnchored`` logs found where the bundle's events say their batches are"""
    scan: BatchScan | None = None
    """all halls' batches from the case's INTAKE to ``to_block`` with their manifests (None: not read)"""
