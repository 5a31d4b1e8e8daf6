"""Chain data types of the evidence format: what a log of the contracts says, and what the verifier
is given about a case. Dependency-free (dataclasses and pydantic): the chain client produces them
(:mod:`ledger.chain.client`, :mod:`ledger.chain.facts_reader`), the bundle format and the verifier
consume them (:mod:`ledger.core.bundle`, :mod:`ledger.verify.checks`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from ledger.core.stages import Stage

__all__ = ["CaseOpenedEvent", "ChainEvent", "ChainEventFact", "ChainFacts", "RegistryFact"]


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


class ChainEventFact(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int
    stage: Stage
    writer: str
    hall_id: int
    commitment: str
    head: str
    block: int
    log_index: int
    tx: str
    time: int


class RegistryFact(BaseModel):
    """One registry event: ``kind`` is registered | suspended | reactivated | rotated | role_granted | role_revoked."""

    model_config = ConfigDict(frozen=True)

    kind: str
    block: int
    log_index: int
    hall_id: int = 0
    account: str = ""
    new_account: str = ""
    district: int = 0
    role: str = ""


class ChainFacts(BaseModel):
    """Everything the verifier needs from the chain for one case (explicit input of the pure check)."""

    model_config = ConfigDict(frozen=True)

    serial: str
    chain_id: int
    ledger: str
    registry: str
    opened: bool
    accepting_hall: int
    home_district: int
    item_code: str
    head: str
    event_count: int
    events: list[ChainEventFact]
    registry_log: list[RegistryFact]
    dispute_role: str
