"""The transfer package a hall hands another hall: its shape, checked once where it comes in.

A package is what :meth:`ledger.hall.cases.CaseBook.package` (and, for a Merkle-mode case,
:func:`ledger.hall.merkle_evidence.merkle_package`) sends as JSON::

    {"serial", "item_code", "home_district", "accepting_hall", ["anchor_mode": "merkle"],
     "records": [{"index", "stage" (a Stage name), "fields", "salts", "withheld", "files": [
                  {"digest", "kind", "name", "salt", "size", "data" (base64)}, …],
                  ["anchor": {"mode": "merkle", "block", "tx", "time", "batch": {"hall", "seq", "leaf", "size"},
                              "leaf", "path"}]}, …]}

:func:`parse_package` turns the JSON value into a :class:`TransferPackage` or raises
:class:`~ledger.errors.VerificationError` naming the first malformed part (``records[1].files[0].data``),
so a package from a peer is refused with a sentence, never with a ``KeyError`` or ``TypeError``.
Whether the package is *true* (its records match the chain) is :func:`ledger.hall.transfer.verify_package`'s
business; this module only says it has the right shape. Unknown properties are ignored (a newer peer may
send more), the wire format is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, StrictStr, ValidationError

from ledger.core.materials import MaterialFile
from ledger.core.stages import Stage
from ledger.core.types import Scalar
from ledger.errors import VerificationError

__all__ = ["BatchRef", "MerkleAnchor", "PackageFile", "PackageRecord", "TransferPackage", "parse_package"]


def _stage_name(v: object) -> object:
    if isinstance(v, Stage):
        return v
    if not isinstance(v, str) or v not in Stage.__members__:
        raise ValueError(f"not a stage name: {v!r}")
    return Stage[v]


def _none_is_empty(v: object) -> object:
    return {} if v is None else v


def _none_is_no_files(v: object) -> object:
    return [] if v is None else v


StageName = Annotated[Stage, BeforeValidator(_stage_name), PlainSerializer(lambda s: s.name, return_type=str)]
"""A stage as the package spells it: its name (``"INTAKE"``), never its number."""

_SHAPE = ConfigDict(frozen=True, extra="ignore")


class PackageFile(MaterialFile):
    """One file of a record: what is committed about it (strict, as :class:`MaterialFile`) and its bytes."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")

    data: StrictStr
    """the file's bytes, base64 (decoded and checked against ``digest`` by the verifier)"""

    def material(self) -> MaterialFile:
        return MaterialFile(**self.model_dump(exclude={"data"}))


class BatchRef(BaseModel):
    """Where a Merkle-mode record's leaf is: the batch (hall, seq), the leaf's position and the tree's size."""

    model_config = _SHAPE

    hall: int
    seq: int
    leaf: int
    size: int


class MerkleAnchor(BaseModel):
    """A Merkle-mode record's anchor as it travels: the batch, the leaf's bytes and its inclusion path (hex)."""

    model_config = _SHAPE

    mode: Literal["merkle"]
    block: int
    tx: str | None = None
    time: int | float | None = None
    batch: BatchRef
    leaf: StrictStr
    path: list[StrictStr]


class PackageRecord(BaseModel):
    """One anchored record: its event index, stage, disclosed fields with salts, withheld leaves, files."""

    model_config = _SHAPE

    index: Annotated[int, Field(ge=0)]
    stage: StageName
    fields: dict[StrictStr, Scalar]
    salts: dict[StrictStr, StrictStr]
    withheld: Annotated[dict[StrictStr, StrictStr], BeforeValidator(_none_is_empty)] = Field(default_factory=dict)
    files: Annotated[list[PackageFile], BeforeValidator(_none_is_no_files)] = Field(default_factory=list)
    anchor: MerkleAnchor | None = None


class TransferPackage(BaseModel):
    """A case's package from another hall (see the module docstring for the JSON)."""

    model_config = _SHAPE

    serial: StrictStr
    item_code: str | None = None
    home_district: int | None = None
    accepting_hall: int | None = None
    anchor_mode: str | None = None
    records: list[PackageRecord] = Field(default_factory=list)


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "package"


def parse_package(raw: TransferPackage | Mapping[str, Any] | object, *, source: str = "the package") -> TransferPackage:
    """``raw`` (a JSON value) as a :class:`TransferPackage`; :class:`VerificationError` naming what is malformed.

    ``parse_package({"serial": "TB-1", "records": 5})`` raises "the package is malformed at records: Input
    should be a valid list". Only the place and the kind of fault are named, never the value (it may be
    personal data).
    """
    if isinstance(raw, TransferPackage):
        return raw
    if not isinstance(raw, Mapping):
        raise VerificationError(f"{source} is not a JSON object", where="package")
    try:
        return TransferPackage.model_validate(dict(raw))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = _where(tuple(first["loc"]))
        more = f" (and {exc.error_count() - 1} more fault(s))" if exc.error_count() > 1 else ""
        raise VerificationError(f"{source} is malformed at {where}: {first['msg']}{more}", where=where) from exc
