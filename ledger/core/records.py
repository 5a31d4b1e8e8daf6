"""Stage records and their salted commitments.

A record is a flat mapping of named fields (JSON values). Each field becomes one Merkle leaf::

    leaf_data = JCS({"name": name, "salt": hex(salt), "value": value})     # RFC 8785
    leaf      = SHA-256(0x00 ‖ leaf_data)

with its own fresh 32-byte salt, and the record's *commitment* is the RFC 6962 Merkle root of the
leaves ordered by field name. Because every field is salted separately, a record can be shown with
some fields withheld (only their leaf hashes) and still be checked against the commitment, and a
low-entropy value such as an ID number cannot be brute-forced from what is published.

    >>> rec = SaltedRecord.new("TB-1", Stage.INTAKE, {"item_code": "FW-001"})
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
from ledger.errors import InputError, VerificationError

__all__ = [
    "DisclosedRecord",
    "SaltedRecord",
    "canonical_bytes",
    "field_leaf",
    "new_salt",
    "record_root",
    "verify_disclosure",
]

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
SALT_BYTES = 32


def new_salt() -> str:
    """A fresh 32-byte salt as 64 lowercase hex digits."""
    return secrets.token_hex(SALT_BYTES)


_SAFE_INT = 2**53 - 1


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
        raise InputError("value", f"cannot be canonicalised as JSON: {exc}") from exc


def field_leaf(name: str, value: Any, salt: str) -> bytes:
    """The Merkle leaf hash of one salted field."""
    return leaf_hash(canonical_bytes({"name": name, "salt": salt, "value": value}))


def record_root(leaves_by_name: Mapping[str, bytes]) -> bytes:
    """Commitment from the leaf hash of every field (ordered by name)."""
    return merkle_root([leaves_by_name[n] for n in sorted(leaves_by_name)])


def _check_fields(fields: Mapping[str, Any]) -> None:
    for name in fields:
        if not FIELD_NAME.fullmatch(name):
            raise InputError(name, "field names are lowercase letters, digits and '_' (at most 64)")


class SaltedRecord(BaseModel):
    """A full stage record with every salt: what a hall keeps off chain."""

    model_config = ConfigDict(frozen=True)

    serial: str
    stage: Stage
    fields: dict[str, Any]
    salts: dict[str, str]

    @classmethod
    def new(cls, serial: str, stage: Stage, fields: Mapping[str, Any]) -> SaltedRecord:
        """Salt ``fields`` freshly. ``case_serial`` and ``stage`` are always committed too."""
        _check_fields(fields)
        full = {**fields, "case_serial": serial, "stage": stage.name}
        for v in full.values():
            canonical_bytes(v)
        raw = secrets.token_bytes(SALT_BYTES * len(full))  # one system call for every salt of the record
        salts = {n: raw[i * SALT_BYTES : (i + 1) * SALT_BYTES].hex() for i, n in enumerate(full)}
        return cls(serial=serial, stage=stage, fields=full, salts=salts)

    def leaves(self) -> dict[str, bytes]:
        return {n: field_leaf(n, v, self.salts[n]) for n, v in self.fields.items()}

    @cached_property
    def commitment(self) -> bytes:
        return record_root(self.leaves())

    def disclose(self, withhold: Iterable[str] = ()) -> DisclosedRecord:
        """This record with the fields in ``withhold`` replaced by their leaf hashes."""
        hidden = set(withhold) & set(self.fields) - {"case_serial", "stage"}
        leaves = self.leaves() if hidden else {}
        return DisclosedRecord(
            fields={n: v for n, v in self.fields.items() if n not in hidden},
            salts={n: s for n, s in self.salts.items() if n not in hidden},
            withheld={n: leaves[n].hex() for n in sorted(hidden)},
        )


class DisclosedRecord(BaseModel):
    """A record as shown to someone else: disclosed fields with salts, withheld fields as leaf hashes."""

    model_config = ConfigDict(frozen=True)

    fields: dict[str, Any]
    salts: dict[str, str]
    withheld: dict[str, str] = Field(default_factory=dict)

    def root(self) -> bytes:
        """Recompute the commitment (pure; raises :class:`VerificationError` on malformed input)."""
        if set(self.fields) != set(self.salts):
            missing = sorted(set(self.fields) ^ set(self.salts))
            raise VerificationError(f"fields and salts do not pair up: {', '.join(missing)}", where="salts")
        overlap = set(self.fields) & set(self.withheld)
        if overlap:
            raise VerificationError(f"field both disclosed and withheld: {', '.join(sorted(overlap))}", where="fields")
        leaves: dict[str, bytes] = {}
        for n, v in self.fields.items():
            leaves[n] = field_leaf(n, v, self.salts[n])
        for n, h in self.withheld.items():
            try:
                raw = bytes.fromhex(h)
            except ValueError as exc:
                raise VerificationError(f"withheld leaf of {n} is not hex", where=n) from exc
            if len(raw) != 32:
                raise VerificationError(f"withheld leaf of {n} is not 32 bytes", where=n)
            leaves[n] = raw
        return record_root(leaves)


def verify_disclosure(record: DisclosedRecord, commitment: bytes) -> None:
    """Raise :class:`VerificationError` unless ``record`` recomputes to ``commitment``."""
    got = record.root()
    if got != commitment:
        raise VerificationError(
            "record does not match its on-chain commitment",
            expected=commitment.hex(),
            found=got.hex(),
            where="record",
        )
