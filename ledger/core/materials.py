"""Material files of a case: one salted Merkle leaf per file, the root goes into the MATERIALS record.

A leaf commits to the file's digest (the suite's hash ``H``: SHA-256 or SM3), size, material kind
and file name under a fresh salt::

    leaf_data = JCS({"digest": hex H(file), "kind": kind, "name": name, "salt": salt, "size": n})
    leaf      = H(0x00 ‖ leaf_data)

Leaves are kept in the order the files were listed. One file can be proven to belong to the case
with its inclusion proof, without showing anything about the other files::

    >>> m = MaterialSet.new([MaterialFile.of("id_card", "身份证.pdf", b"%PDF...")])
    >>> proof = m.proof(0)
    >>> verify_material(b"%PDF...", proof, m.root, INTL)   # raises VerificationError on mismatch
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from ledger.core.merkle import inclusion_proof, leaf_hash, merkle_root, verify_inclusion
from ledger.core.records import canonical_bytes, new_salt
from ledger.core.suites import INTL, Suite, SuiteName, suite_named
from ledger.core.types import HEX32, MAX_SAFE_INT, UINT32
from ledger.errors import VerificationError

__all__ = ["MaterialFile", "MaterialProof", "MaterialSet", "verify_material"]


_STRICT = ConfigDict(frozen=True, strict=True, extra="forbid")


class MaterialFile(BaseModel):
    """What is committed about one file (the bytes live in the content-addressed store)."""

    model_config = _STRICT

    digest: HEX32
    kind: Annotated[StrictStr, Field(max_length=64)]
    name: Annotated[StrictStr, Field(max_length=255)]
    salt: HEX32
    size: Annotated[StrictInt, Field(ge=0, le=MAX_SAFE_INT)]

    @classmethod
    def of(cls, kind: str, name: str, data: bytes, salt: str | None = None, suite: Suite = INTL) -> MaterialFile:
        return cls(digest=suite.hexdigest(data), kind=kind, name=name, salt=salt or new_salt(), size=len(data))

    def leaf(self, suite: Suite = INTL) -> bytes:
        return leaf_hash(canonical_bytes(self.model_dump()), suite)


class MaterialProof(BaseModel):
    """Everything needed to prove one file is in a case's material tree."""

    model_config = _STRICT

    file: MaterialFile
    index: UINT32
    tree_size: Annotated[StrictInt, Field(ge=1, le=2**32 - 1)]
    path: Annotated[list[HEX32], Field(max_length=32)]


class MaterialSet(BaseModel):
    model_config = ConfigDict(frozen=True)

    files: list[MaterialFile]
    suite: SuiteName = "intl"

    @classmethod
    def new(cls, files: Sequence[MaterialFile], suite: Suite = INTL) -> MaterialSet:
        return cls(files=list(files), suite=suite.name)

    @property
    def hash_suite(self) -> Suite:
        return suite_named(self.suite)

    def leaves(self) -> list[bytes]:
        return [f.leaf(self.hash_suite) for f in self.files]

    @property
    def root(self) -> bytes:
        return merkle_root(self.leaves(), self.hash_suite)

    def proof(self, index: int) -> MaterialProof:
        leaves = self.leaves()
        return MaterialProof(
            file=self.files[index],
            index=index,
            tree_size=len(leaves),
            path=[p.hex() for p in inclusion_proof(leaves, index, self.hash_suite)],
        )


def verify_material(data: bytes | None, proof: MaterialProof, root: bytes, suite: Suite = INTL) -> None:
    """Raise :class:`VerificationError` unless ``proof`` puts this file under ``root``.

    ``data`` (the file's bytes) is checked against the committed digest and size when given. The
    proof's ``tree_size`` is checked against the committed count by the caller (it is in the record).
    """
    f = proof.file
    if data is not None:
        digest = suite.hexdigest(data)
        if digest != f.digest or len(data) != f.size:
            raise VerificationError(
                f"file {f.name!r} is not the one committed ({suite.hash_name} digest or size differs)",
                expected=f.digest,
                found=digest,
                where=f.name,
            )
    try:
        path = [bytes.fromhex(p) for p in proof.path]
    except ValueError as exc:
        raise VerificationError("material proof path is not hex", where=f.name) from exc
    verify_inclusion(f.leaf(suite), proof.index, proof.tree_size, path, root, suite)
