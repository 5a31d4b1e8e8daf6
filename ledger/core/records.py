"""Stage records and their salted commitments (format 2).

A record is a flat mapping of named fields whose values are JSON scalars only: a string, an integer
in [-(2^53-1), 2^53-1], ``true``/``false`` or ``null`` (a list is committed as one string). Each field
becomes one Merkle leaf, hashed with the deployment's suite ``H`` (SHA-256 or SM3)::

    leaf_data = JCS({"name": name, "salt": hex(salt), "value": value})     # RFC 8785
    leaf      = H(0x00 ‖ leaf_data)

with its own fresh 32-byte salt, and the record's *commitment* is the RFC 6962 Merkle root of the
leaves ordered by field name. Because every field is salted separately, a record can be shown with
some fields withheld (only their leaf hashes) and still be checked against the commitment, and a
low-entropy value such as an ID number cannot be brute-forced from what is published.

Every record also carries ``case_serial``, ``stage`` and ``at`` (when the act happened, RFC 3339 with
offset, whole seconds); every record but INTAKE carries ``intake_commitment`` (event 0's commitment,
``0x`` + 64 hex), and a DISPUTE_RESOLVED record ``resolves`` (the index of the DISPUTE_OPENED it
closes). None of these can be withheld.

    >>> rec = SaltedRecord.new("TB-1", Stage.INTAKE, {"item_code": "FW-001"}, at="2026-12-01T10:11:32+08:00")
    >>> shown = rec.disclose(withhold={"applicant_id_number"})
    >>> verify_disclosure(shown, rec.commitment)      # raises VerificationError on mismatch
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

import rfc8785
from pydantic import BaseModel, ConfigDict, Field

from ledger.core.merkle import leaf_hash, merkle_root
from ledger.core.stages import Stage
from ledger.core.suites import INTL, Suite, SuiteName, suite_named
from ledger.core.types import FIELD_NAME, HEX32, MAX_SAFE_INT, Scalar
from ledger.errors import InputError, VerificationError

__all__ = [
    "AT_PATTERN",
    "PROTECTED_FIELDS",
    "DisclosedRecord",
    "SaltedRecord",
    "canonical_bytes",
    "field_leaf",
    "new_salt",
    "record_root",
    "verify_disclosure",
]

FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SALT_BYTES = 32
AT_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})$")
"""``at``: RFC 3339 date-time with an offset, whole seconds (``2026-12-01T10:11:32+08:00``)"""
INTAKE_COMMITMENT = re.compile(r"^0x[0-9a-f]{64}$")
PROTECTED_FIELDS = frozenset({"case_serial", "stage", "at", "intake_commitment", "resolves"})
"""fields a disclosure never withholds: the verifier needs them to place the record"""


def new_salt() -> str:
    """A fresh 32-byte salt as 64 lowercase hex digits."""
    return secrets.token_hex(SALT_BYTES)


_SAFE_INT = MAX_SAFE_INT


def _simple(v: Any) -> bool:
    if v is None or isinstance(v, bool):
        return True
    if isinstance(v, int):
        return -_SAFE_INT <= v <= _SAFE_INT
    if isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: leave them to the reference implementation
            return False
        return True
    return False


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON bytes.

    Flat objects of strings, safe integers, booleans and nulls (every leaf of a record or material)
    take a fast path: for those, JCS and Python's sorted, compact, non-ASCII-preserving JSON are the
    same bytes (same escapes, same integer form, keys here are ASCII so UTF-16 and code-point order
    agree); property tests check the two against each other. Everything else goes through ``rfc8785``.
    """
    if (
        isinstance(value, dict)
        and all(isinstance(k, str) and k.isascii() for k in value)
        and all(_simple(v) for v in value.values())
    ):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InputError("value", "record_value_not_json", reason=str(exc)) from exc


def field_leaf(name: str, value: Any, salt: str, suite: Suite = INTL) -> bytes:
    """The Merkle leaf hash of one salted field."""
    return leaf_hash(canonical_bytes({"name": name, "salt": salt, "value": value}), suite)


def record_root(leaves_by_name: Mapping[str, bytes], suite: Suite = INTL) -> bytes:
    """Commitment from the leaf hash of every field (ordered by name)."""
    return merkle_root([leaves_by_name[n] for n in sorted(leaves_by_name)], suite)


def _check_fields(fields: Mapping[str, Any]) -> None:
    for name, value in fields.items():
        if not FIELD_NAME_RE.fullmatch(name):
            raise InputError(name, "record_field_name")
        if isinstance(value, float | list | tuple | dict | set) or not _simple(value):
            raise InputError(name, "record_value_scalar")


def _check_frame(stage: Stage, at: str, intake_commitment: str | None, resolves: int | None) -> None:
    if not AT_PATTERN.fullmatch(at):
        raise InputError("at", "record_at_format", at=at)
    if stage == Stage.INTAKE:
        if intake_commitment is not None:
            raise InputError("intake_commitment", "record_intake_no_commitment")
    elif intake_commitment is None or not INTAKE_COMMITMENT.fullmatch(intake_commitment):
        raise InputError("intake_commitment", "record_needs_intake_commitment")
    if (stage == Stage.DISPUTE_RESOLVED) != (resolves is not None):
        raise InputError("resolves", "record_resolves_only_resolution")
    if resolves is not None and not 1 <= resolves <= 2**32 - 1:
        raise InputError("resolves", "record_resolves_index")


class SaltedRecord(BaseModel):
    """A full stage record with every salt: what a hall keeps off chain."""

    model_config = ConfigDict(frozen=True)

    serial: str
    stage: Stage
    fields: dict[str, Any]
    salts: dict[str, str]
    suite: SuiteName = "intl"

    @classmethod
    def new(
        cls,
        serial: str,
        stage: Stage,
        fields: Mapping[str, Any],
        *,
        at: str,
        intake_commitment: str | None = None,
        resolves: int | None = None,
        suite: Suite = INTL,
        salts: Mapping[str, str] | None = None,
    ) -> SaltedRecord:
        """Salt ``fields`` freshly (or with ``salts``, for test vectors) and add the frame fields.

        ``case_serial``, ``stage`` and ``at`` are always committed, ``intake_commitment`` after INTAKE,
        ``resolves`` for DISPUTE_RESOLVED. :class:`InputError` names a field that breaks a rule.
        """
        clash = PROTECTED_FIELDS & set(fields)
        if clash:
            raise InputError(sorted(clash)[0], "record_frame_field")
        _check_fields(fields)
        _check_frame(stage, at, intake_commitment, resolves)
        full: dict[str, Any] = {**fields, "case_serial": serial, "stage": stage.name, "at": at}
        if intake_commitment is not None:
            full["intake_commitment"] = intake_commitment
        if resolves is not None:
            full["resolves"] = resolves
        if salts is None:
            raw = secrets.token_bytes(SALT_BYTES * len(full))  # one system call for every salt of the record
            salt_map = {n: raw[i * SALT_BYTES : (i + 1) * SALT_BYTES].hex() for i, n in enumerate(full)}
        else:
            salt_map = {n: salts[n] for n in full}
        return cls(serial=serial, stage=stage, fields=full, salts=salt_map, suite=suite.name)

    @property
    def hash_suite(self) -> Suite:
        return suite_named(self.suite)

    def leaves(self) -> dict[str, bytes]:
        s = self.hash_suite
        return {n: field_leaf(n, v, self.salts[n], s) for n, v in self.fields.items()}

    @cached_property
    def commitment(self) -> bytes:
        return record_root(self.leaves(), self.hash_suite)

    def disclose(self, withhold: Iterable[str] = ()) -> DisclosedRecord:
        """This record with the fields in ``withhold`` replaced by their leaf hashes."""
        hidden = set(withhold) & set(self.fields) - PROTECTED_FIELDS
        leaves = self.leaves() if hidden else {}
        return DisclosedRecord(
            fields={n: v for n, v in self.fields.items() if n not in hidden},
            salts={n: s for n, s in self.salts.items() if n not in hidden},
            withheld={n: leaves[n].hex() for n in sorted(hidden)},
        )


class DisclosedRecord(BaseModel):
    """A record as shown to someone else: disclosed fields with salts, withheld fields as leaf hashes.

    Strict: field names match ``^[a-z][a-z0-9_]{0,63}$``, values are scalars, salts and leaf hashes
    64 lowercase hex digits; unknown properties are refused.
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    # additionalProperties false: the schema refuses a field name outside the pattern, as the model does
    fields: dict[FIELD_NAME, Scalar] = Field(json_schema_extra={"additionalProperties": False})
    salts: dict[FIELD_NAME, HEX32] = Field(json_schema_extra={"additionalProperties": False})
    withheld: dict[FIELD_NAME, HEX32] = Field(default_factory=dict, json_schema_extra={"additionalProperties": False})

    def root(self, suite: Suite = INTL) -> bytes:
        """Recompute the commitment (pure; raises :class:`VerificationError` on malformed input)."""
        if set(self.fields) != set(self.salts):
            missing = sorted(set(self.fields) ^ set(self.salts))
            raise VerificationError(f"fields and salts do not pair up: {', '.join(missing)}", where="salts")
        overlap = set(self.fields) & set(self.withheld)
        if overlap:
            raise VerificationError(f"field both disclosed and withheld: {', '.join(sorted(overlap))}", where="fields")
        leaves: dict[str, bytes] = {}
        for n, v in self.fields.items():
            leaves[n] = field_leaf(n, v, self.salts[n], suite)
        for n, h in self.withheld.items():
            try:
                raw = bytes.fromhex(h)
            except ValueError as exc:
                raise VerificationError(f"withheld leaf of {n} is not hex", where=n) from exc
            if len(raw) != 32:
                raise VerificationError(f"withheld leaf of {n} is not 32 bytes", where=n)
            leaves[n] = raw
        return record_root(leaves, suite)


def verify_disclosure(record: DisclosedRecord, commitment: bytes, suite: Suite = INTL) -> None:
    """Raise :class:`VerificationError` unless ``record`` recomputes to ``commitment``."""
    got = record.root(suite)
    if got != commitment:
        raise VerificationError(
            "record does not match its on-chain commitment",
            expected=commitment.hex(),
            found=got.hex(),
            where="record",
        )
