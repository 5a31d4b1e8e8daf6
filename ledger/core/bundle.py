"""Evidence bundles: one JSON file that lets anyone verify a case against the chain.

Format ``caseledger-evidence/2`` (specified in docs/verification.md; JSON Schema generated from
:class:`EvidenceBundle` into docs/schema/evidence-bundle.schema.json)::

    {"format": "caseledger-evidence/2", "mode": "event", "suite": "intl" | "gm",
     "serial": ..., "accepting_hall": 1, "chain_id": ..., "ledger": "0x..", "registry": "0x..",
     "exported_at": ..., "exported_by": {"hall_id", "name"}, "pending_records": 0,
     "events":    [{"index", "stage", "writer", "hall_id", "tx", "block", "time", "ref",
                   "commitment", "head", "record": {"fields", "salts", "withheld"}}],
     "materials": [{"event_index", "proof": {"file", "index", "tree_size", "path"}, "content_b64"?}]}

In Merkle mode (``"mode": "merkle"``) every event also carries ``batch``: the batch that anchors it and
the event's inclusion proof in it (:class:`BatchProof`, :mod:`ledger.core.batches`); ``block``, ``tx``
and ``time`` are then the batch's ``BatchAnchored`` log's.

Types are strict: integers are JSON numbers (never strings), hex has one spelling per kind of value,
and unknown properties are refused. Reading a file (:func:`load_bundle`) bounds its nesting depth
before parsing, validates it against the JSON Schema, then builds the model; every failure is one
:class:`InputError` naming what is wrong.

Building a bundle is pure: give it the records the hall holds and the chain coordinates of their events.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from ledger.core.batches import MAX_LEAVES
from ledger.core.facts import ChainEvent
from ledger.core.jsonsafe import json_path, load_json_file, loads_bounded, strict_check
from ledger.core.materials import MaterialProof, MaterialSet
from ledger.core.records import DisclosedRecord, SaltedRecord
from ledger.core.types import ADDRESS, BASE64, FIELD_NAME_PATTERN, HEX32, HEX32_0X, UINT32, UINT64
from ledger.errors import InputError

__all__ = [
    "BUNDLE_FORMAT",
    "BatchProof",
    "MAX_BUNDLE_BYTES",
    "MAX_NESTING",
    "BundleEvent",
    "BundleMaterial",
    "EvidenceBundle",
    "ExportedBy",
    "HeldEvent",
    "build_bundle",
    "bundle_schema",
    "load_bundle",
    "parse_bundle",
    "parse_bundle_bytes",
]

BUNDLE_FORMAT = "caseledger-evidence/2"
MAX_NESTING = 32
"""deepest nesting of arrays/objects a bundle file may have (a real bundle has 6)"""
MAX_BUNDLE_BYTES = 512 * 1024 * 1024

StageName = Literal[
    "INTAKE", "MATERIALS", "ACCEPTANCE", "PROCESS", "RESULT", "DELIVERY", "DISPUTE_OPENED", "DISPUTE_RESOLVED"
]
_STRICT = ConfigDict(frozen=True, strict=True, extra="forbid")


class BatchProof(BaseModel):
    """Where a Merkle-mode event is anchored, and the proof: with the event's own fields this rebuilds its
    leaf (docs/verification.md, Merkle mode), which must lead to batch ``(hall_id, seq)``'s on-chain root."""

    model_config = _STRICT

    hall_id: UINT32
    """the hall whose batch holds the event (its writer hall)"""
    seq: UINT64
    leaf_index: UINT32
    tree_size: Annotated[int, Field(strict=True, ge=1, le=MAX_LEAVES)]
    path: Annotated[list[HEX32], Field(max_length=17)]
    prev_hall: UINT32 = 0
    """the leaf's back-link: the hall and seq of the batch holding the case's previous event (0/0 for INTAKE)"""
    prev_seq: UINT64 = 0
    home_district: UINT32 = 0
    """INTAKE only: the case's home district, as in its leaf"""
    item_code: Annotated[str, StringConstraints(strict=True, pattern=r"^[\x20-\x7e]{0,16}$")] = ""
    """INTAKE only: the service item's code, as in its leaf"""


class BundleEvent(BaseModel):
    model_config = _STRICT

    index: UINT32
    stage: StageName
    writer: ADDRESS
    hall_id: UINT32
    tx: HEX32_0X
    block: UINT64
    time: UINT64
    ref: UINT32 = 0
    commitment: HEX32_0X
    head: HEX32_0X
    record: DisclosedRecord | None = None
    batch: BatchProof | None = None
    """Merkle mode only"""


class BundleMaterial(BaseModel):
    model_config = _STRICT

    event_index: UINT32
    proof: MaterialProof
    content_b64: BASE64 | None = None

    def content(self) -> bytes | None:
        if self.content_b64 is None:
            return None
        try:
            return base64.b64decode(self.content_b64, validate=True)
        except binascii.Error as exc:  # the schema's pattern already refuses this
            raise InputError("content_b64", "not_base64") from exc


class ExportedBy(BaseModel):
    model_config = _STRICT

    hall_id: UINT32
    name: Annotated[str, StringConstraints(max_length=200)] = ""


class EvidenceBundle(BaseModel):
    model_config = _STRICT

    format: Literal["caseledger-evidence/2"] = "caseledger-evidence/2"
    mode: Literal["event", "merkle"] = "event"
    suite: Literal["intl", "gm"]
    serial: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    accepting_hall: UINT32
    chain_id: Annotated[int, Field(ge=1, le=2**53 - 1)]
    ledger: ADDRESS
    registry: ADDRESS
    exported_at: Annotated[str, StringConstraints(max_length=64)]
    exported_by: ExportedBy
    pending_records: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    """records the exporting hall holds for this case that are not anchored yet (the bundle is then incomplete)"""
    events: list[BundleEvent]
    materials: list[BundleMaterial] = Field(default_factory=list)

    @model_validator(mode="after")
    def _batches_fit_mode(self) -> EvidenceBundle:
        for i, e in enumerate(self.events):
            if (e.batch is None) == (self.mode == "merkle"):
                need = "needs" if self.mode == "merkle" else "must not carry"
                raise ValueError(f"event {i}: a {self.mode}-mode bundle's event {need} a batch proof")
        return self

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
    batch: BatchProof | None = None
    """Merkle mode: the event's batch and inclusion proof"""


def _disclose(h: HeldEvent, hidden: set[str]) -> DisclosedRecord:
    d = h.record.disclose(withhold=hidden)
    if not h.withheld:
        return d
    return DisclosedRecord(fields=d.fields, salts=d.salts, withheld={**d.withheld, **h.withheld})


def build_bundle(
    *,
    serial: str,
    accepting_hall: int,
    suite: str,
    chain_id: int,
    ledger: str,
    registry: str,
    exported_at: str,
    exported_by: ExportedBy,
    held: Iterable[HeldEvent],
    pending_records: int = 0,
    withhold: Iterable[str] = (),
    include_files: bool = False,
    mode: Literal["event", "merkle"] = "event",
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
                stage=cast(StageName, e.stage.name),
                writer=e.writer,
                hall_id=e.hall_id,
                tx=e.tx_hash.lower(),
                block=e.block_number,
                time=h.time,
                ref=e.ref,
                commitment="0x" + e.commitment.hex(),
                head="0x" + e.head.hex(),
                record=_disclose(h, hidden),
                batch=h.batch,
            )
        )
        if h.materials is not None:
            for i in range(len(h.materials.files)):
                content = None
                data = h.contents[i] if include_files and h.contents is not None else None
                if data is not None:
                    content = base64.b64encode(data).decode()
                materials.append(BundleMaterial(event_index=e.index, proof=h.materials.proof(i), content_b64=content))
    if mode == "merkle" and any(e.batch is None for e in events):
        raise InputError("events", "bundle_merkle_batch_missing")
    return EvidenceBundle(
        mode=mode,
        suite=suite,  # type: ignore[arg-type]
        serial=serial,
        accepting_hall=accepting_hall,
        chain_id=chain_id,
        ledger=ledger,
        registry=registry,
        exported_at=exported_at,
        exported_by=exported_by,
        pending_records=pending_records,
        events=events,
        materials=materials,
    )


def bundle_schema() -> dict[str, Any]:
    """JSON Schema of the bundle format: the one source of docs/schema/evidence-bundle.schema.json.

    The published file is ``json.dumps(bundle_schema(), indent=1)`` plus a newline; a unit test
    (tests/unit/test_bundle_schema.py) fails when the two differ. The verifier validates every file
    against it before building the model.
    """
    return {
        **EvidenceBundle.model_json_schema(),
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": BUNDLE_FORMAT,
    }


_PATTERNS: dict[str, tuple[str, str]] = {
    r"^0x[0-9a-f]{64}$": ("0x followed by 64 lowercase hex digits", "0x 加 64 位小写十六进制数字"),
    r"^[0-9a-f]{64}$": ("64 lowercase hex digits, without 0x", "64 位小写十六进制数字（不带 0x）"),
    r"^0x[0-9a-fA-F]{40}$": ("an address: 0x followed by 40 hex digits", "地址：0x 加 40 位十六进制数字"),
    FIELD_NAME_PATTERN: (
        "a field name: a lowercase letter, then up to 63 lowercase letters, digits or _",
        "字段名：小写字母开头，其后最多 63 个小写字母、数字或下划线",
    ),
}
_BASE64_TEXT = ("base64 (RFC 4648 §4, with = padding, no line breaks)", "base64（RFC 4648 §4，带 = 填充，不换行）")
_TYPES: dict[str, tuple[str, str]] = {
    "integer": ("an integer", "整数"),
    "string": ("a string", "字符串"),
    "boolean": ("true or false", "true 或 false"),
    "null": ("null", "null"),
    "object": ("an object", "对象"),
    "array": ("an array", "数组"),
    "number": ("a number", "数字"),
}


def _kind(v: Any) -> tuple[str, str]:
    if v is None:
        return _TYPES["null"]
    if isinstance(v, bool):
        return ("true/false", "布尔值")
    if isinstance(v, int):
        return ("an integer", "整数")
    if isinstance(v, float):
        return ("a number with a fraction", "带小数的数字")
    if isinstance(v, str):
        return ("a string", "字符串")
    if isinstance(v, list):
        return _TYPES["array"]
    return _TYPES["object"]


def _branch_types(branches: Any) -> list[str]:
    out: list[str] = []
    for b in branches if isinstance(branches, list) else []:
        t = b.get("type", "object" if "$ref" in b else None) if isinstance(b, dict) else None
        for name in t if isinstance(t, list) else [t]:
            if isinstance(name, str) and name not in out:
                out.append(name)
    return out


def _plain(err: Any) -> InputError:
    """One JSON Schema error as a catalogue sentence naming the JSON path: no validator jargon."""
    path: list[str | int] = list(err.absolute_path)
    where = json_path(path, root="bundle")
    v, inst, val = err.validator, err.instance, err.validator_value
    kind_en, kind_zh = _kind(inst)
    if v == "additionalProperties" and isinstance(inst, dict):
        import re

        known = set(err.schema.get("properties", {}))
        patterns = list(err.schema.get("patternProperties", {}))
        extra = sorted(k for k in inst if k not in known and not any(re.search(p, k) for p in patterns))
        name = extra[0] if extra else "?"
        if patterns and not known:
            return InputError(json_path([*path, name], root="bundle"), "bundle_not_field_name", name=name)
        return InputError(json_path([*path, name], root="bundle"), "bundle_unknown_property", name=name)
    if v == "required" and isinstance(inst, dict):
        name = next((r for r in val if r not in inst), "?")
        return InputError(json_path([*path, name], root="bundle"), "bundle_property_missing", name=name)
    if v == "type":
        want = [val] if isinstance(val, str) else list(val)
        en = " or ".join(_TYPES.get(t, (t, t))[0] for t in want)
        zh = "或".join(_TYPES.get(t, (t, t))[1] for t in want)
        return InputError(where, "bundle_value_kind", want_en=en, want_zh=zh, found_en=kind_en, found_zh=kind_zh)
    if v in ("anyOf", "oneOf") and _branch_types(val):
        rng = ("an integer in [-(2^53-1), 2^53-1]", "[-(2^53-1), 2^53-1] 内的整数")
        names = [rng if t == "integer" else _TYPES.get(t, (t, t)) for t in _branch_types(val)]
        en = "one of: " + ", ".join(n[0] for n in names)
        zh = "以下之一：" + "、".join(n[1] for n in names)
        return InputError(where, "bundle_value_kind", want_en=en, want_zh=zh, found_en=kind_en, found_zh=kind_zh)
    if v == "pattern":
        other = _BASE64_TEXT if "A-Za-z0-9+/" in str(val) else (f"text matching {val}", f"符合 {val} 的文本")
        en, zh = _PATTERNS.get(str(val), other)
        return InputError(where, "bundle_value_spelling", want_en=en, want_zh=zh)
    if v in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        small = v.endswith("inimum")
        return InputError(
            where, "bundle_value_too_small" if small else "bundle_value_too_large", bound=val, value=str(inst)
        )
    if v in ("enum", "const"):
        allowed = ", ".join(repr(x) for x in (val if isinstance(val, list) else [val]))
        shown = repr(inst) if isinstance(inst, (str, int, bool)) or inst is None else kind_en
        return InputError(where, "bundle_value_not_allowed", allowed=allowed, value=shown)
    if v in ("minLength", "minItems", "maxLength", "maxItems"):
        unit = ("characters", "个字符") if v.endswith("Length") else ("entries", "项")
        return InputError(
            where,
            "bundle_too_short" if v.startswith("min") else "bundle_too_long",
            bound=val,
            unit_en=unit[0],
            unit_zh=unit[1],
        )
    return InputError(where, "bundle_value_form")


def _schema_error(data: Any) -> InputError | None:
    import jsonschema  # base dependency; imported here so the schema's validator is built once, on first use

    validator = _validator(jsonschema)
    err = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if err is None:
        return None
    return _plain(err)


@cache
def _validator(jsonschema: Any) -> Any:
    cls = jsonschema.validators.validator_for(bundle_schema())
    return cls(bundle_schema(), format_checker=None)


def parse_bundle_bytes(raw: bytes) -> EvidenceBundle:
    """Bounded size and nesting → JSON → format → JSON Schema → model; :class:`InputError` at the first problem."""
    return parse_bundle(
        loads_bounded(raw, what="bundle", max_depth=MAX_NESTING, max_bytes=MAX_BUNDLE_BYTES, integers_only=True)
    )


def parse_bundle(data: Any) -> EvidenceBundle:
    """A parsed document → :class:`EvidenceBundle`, in this order: a JSON object; ``format`` (a format-1
    bundle is named as such before anything else is checked); numbers with a fraction or an exponent and
    lone surrogates anywhere; the JSON Schema; the model. Each failure is one :class:`InputError` whose
    field is the JSON path (array positions and keys joined by dots, ``bundle`` for the whole file)."""
    if not isinstance(data, dict):
        raise InputError("bundle", "bundle_not_object")
    fmt = data.get("format")
    if fmt == "caseledger-evidence/1":
        raise InputError("format", "bundle_format_1")
    if fmt != BUNDLE_FORMAT:
        raise InputError("format", "bundle_format", expected=BUNDLE_FORMAT, found=str(fmt))
    strict_check(data, what="bundle", integers_only=True)
    err = _schema_error(data)
    if err is not None:
        raise err
    _batches_fit_mode(data)
    try:
        return EvidenceBundle.model_validate(data)
    except ValidationError as exc:  # the schema covers the model; this is the second line of defence
        first = exc.errors()[0]
        path: list[str | int] = []
        node: Any = data
        for part in first["loc"]:  # the path as far as it follows the document (not pydantic's branch names)
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                break
            path.append(part)
        where = json_path(path, root="bundle")
        raise InputError(where, "bundle_value_form", detail=str(first["msg"])) from exc


def _batches_fit_mode(data: dict[str, Any]) -> None:
    """Every event of a Merkle-mode bundle has its ``batch``, no event of an event-mode one has (the path named)."""
    merkle = data.get("mode", "event") == "merkle"
    for i, e in enumerate(data.get("events") or []):
        if isinstance(e, dict) and (e.get("batch") is not None) != merkle:
            if merkle:
                raise InputError(f"events.{i}.batch", "bundle_merkle_batch_missing")
            raise InputError(f"events.{i}.batch", "bundle_batch_in_event_mode")


def load_bundle(path: Path) -> EvidenceBundle:
    """Read and validate a bundle file; :class:`InputError` names what is wrong."""
    return parse_bundle(
        load_json_file(path, what="bundle", max_depth=MAX_NESTING, max_bytes=MAX_BUNDLE_BYTES, integers_only=True)
    )
