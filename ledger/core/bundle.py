"""Evidence bundles: one JSON file that lets anyone verify a case against the chain.

Format ``caseledger-evidence/1`` (documented with a JSON Schema in docs/verification.md)::

    {"format": "caseledger-evidence/1", "serial": ..., "chain_id": ..., "ledger": "0x..",
     "registry": "0x..", "exported_at": ..., "exported_by": {...},
     "events":    [{"index", "stage", "writer", "hall_id", "tx", "block", "time",
                   "commitment", "head", "record": {"fields", "salts", "withheld"}}],
     "materials": [{"event_index", "proof": {"file", "index", "tree_size", "path"}, "content_b64"?}]}

Building a bundle is pure: give it the records the hall holds and the chain coordinates of their events.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledger.core.facts import ChainEvent
from ledger.core.jsonsafe import load_json_file
from ledger.core.materials import MaterialProof, MaterialSet
from ledger.core.records import DisclosedRecord, SaltedRecord
from ledger.errors import InputError

__all__ = [
    "BUNDLE_FORMAT",
    "BundleEvent",
    "BundleMaterial",
    "EvidenceBundle",
    "HeldEvent",
    "build_bundle",
    "bundle_schema",
    "load_bundle",
]

BUNDLE_FORMAT = "caseledger-evidence/1"


class BundleEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=0)
    stage: str
    writer: str
    hall_id: int
    tx: str
    block: int
    time: int
    commitment: str
    head: str
    record: DisclosedRecord | None = None


class BundleMaterial(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_index: int = Field(ge=0)
    proof: MaterialProof
    content_b64: str | None = None

    def content(self) -> bytes | None:
        return None if self.content_b64 is None else base64.b64decode(self.content_b64, validate=True)


class EvidenceBundle(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: Literal["caseledger-evidence/1"] = "caseledger-evidence/1"
    serial: str
    chain_id: int
    ledger: str
    registry: str
    exported_at: str
    exported_by: dict[str, Any] = Field(default_factory=dict)
    events: list[BundleEvent]
    materials: list[BundleMaterial] = Field(default_factory=list)

    def withheld_fields(self) -> dict[int, list[str]]:
        return {e.index: sorted(e.record.withheld) for e in self.events if e.record and e.record.withheld}

    def dump(self) -> str:
        return self.model_dump_json(indent=1, exclude_none=True)


@dataclass(frozen=True)
class HeldEvent:
    """A record a hall holds, with the on-chain event that anchors it and the block's time."""

    record: SaltedRecord
    event: ChainEvent
    time: int
    materials: MaterialSet | None = None
    contents: Sequence[bytes | None] | None = None
    """file contents to embed (None for a file left out, e.g. an identity document not asked for)"""
    withheld: Mapping[str, str] | None = None
    """leaf hashes of fields this hall no longer holds (erased after their retention period)"""


def _disclose(h: HeldEvent, hidden: set[str]) -> DisclosedRecord:
    d = h.record.disclose(withhold=hidden)
    if not h.withheld:
        return d
    return DisclosedRecord(fields=d.fields, salts=d.salts, withheld={**d.withheld, **h.withheld})


def build_bundle(
    *,
    serial: str,
    chain_id: int,
    ledger: str,
    registry: str,
    exported_at: str,
    exported_by: dict[str, Any],
    held: Iterable[HeldEvent],
    withhold: Iterable[str] = (),
    include_files: bool = False,
) -> EvidenceBundle:
    """Assemble a bundle; fields named in ``withhold`` are replaced by their salted leaf hashes."""
    hidden = set(withhold)
    events: list[BundleEvent] = []
    materials: list[BundleMaterial] = []
    for h in sorted(held, key=lambda h: h.event.index):
        e = h.event
        events.append(
            BundleEvent(
                index=e.index,
                stage=e.stage.name,
                writer=e.writer,
                hall_id=e.hall_id,
                tx=e.tx_hash,
                block=e.block_number,
                time=h.time,
                commitment="0x" + e.commitment.hex(),
                head="0x" + e.head.hex(),
                record=_disclose(h, hidden),
            )
        )
        if h.materials is not None:
            for i in range(len(h.materials.files)):
                content = None
                data = h.contents[i] if include_files and h.contents is not None else None
                if data is not None:
                    content = base64.b64encode(data).decode()
                materials.append(BundleMaterial(event_index=e.index, proof=h.materials.proof(i), content_b64=content))
    return EvidenceBundle(
        serial=serial,
        chain_id=chain_id,
        ledger=ledger,
        registry=registry,
        exported_at=exported_at,
        exported_by=exported_by,
        events=events,
        materials=materials,
    )


MAX_BUNDLE_BYTES = 512 * 1024 * 1024
"""Largest bundle file read (a bundle with its files' contents embedded can be large, but not unbounded)."""


def load_bundle(path: Path) -> EvidenceBundle:
    """Read and validate a bundle file; :class:`InputError` names what is wrong."""
    return parse_bundle(load_json_file(path, what="bundle", max_bytes=MAX_BUNDLE_BYTES))


def parse_bundle(data: Any) -> EvidenceBundle:
    if isinstance(data, dict) and data.get("format") != BUNDLE_FORMAT:
        raise InputError("format", f"expected {BUNDLE_FORMAT!r}, found {data.get('format')!r}")
    try:
        return EvidenceBundle.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "bundle"
        raise InputError(where, first["msg"]) from exc


def bundle_schema() -> dict[str, Any]:
    """JSON Schema of the bundle format: the one source of docs/schema/evidence-bundle.schema.json.

    The published file is ``json.dumps(bundle_schema(), indent=1)`` plus a newline; a unit test
    (tests/unit/test_bundle_schema.py) fails when the two differ.
    """
    return {
        **EvidenceBundle.model_json_schema(),
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": BUNDLE_FORMAT,
    }
