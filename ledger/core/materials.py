"""Material files of a case: one salted Merkle leaf per file, the root goes into the MATERIALS record.

A leaf commits to the file's SHA-256, size, material kind and file name under a fresh salt::

    leaf_data = JCS({"kind": kind, "name": name, "salt": salt, "sha256": hex, "size": n})
    leaf      = SHA-256(0x00 ‖ leaf_data)

Leaves are kept in the order the files were listed. One file can be proven to belong to the case
with its inclusion proof, without showing anything about the other files::

    >>> m = MaterialSet.new([MaterialFile.of("id_card", "身份证.pdf", b"%PDF...")])
    >>> proof = m.proof(0)
    >>> verify_material(b"%PDF...", proof, m.root)   # raises VerificationError on mismatch
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from ledger.core.merkle import inclusion_proof, leaf_hash, merkle_root, verify_inclusion
from ledger.core.records import canonical_bytes, new_salt
from ledger.errors import VerificationError

__all__ = ["MaterialFile", "MaterialProof", "MaterialSet", "verify_material"]


class MaterialFile(BaseModel):
    """What is committed about one file (the bytes live in the content-addressed store)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    name: str
    sha256: str
    size: int
    salt: str

    @classmethod
    def of(cls, kind: str, name: str, data: bytes, salt: str | None = None) -> MaterialFile:
        return cls(
            kind=kind, name=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data), salt=salt or new_salt()
        )

    def leaf(self) -> bytes:
        return leaf_hash(canonical_bytes(self.model_dump()))


class MaterialProof(BaseModel):
    """Everything needed to prove one file is in a case's material tree."""

    model_config = ConfigDict(frozen=True)

    file: MaterialFile
    index: int
    tree_size: int
    path: list[str]


class MaterialSet(BaseModel):
    model_config = ConfigDict(frozen=True)

    files: list[MaterialFile]

    @classmethod
    def new(cls, files: Sequence[MaterialFile]) -> MaterialSet:
        return cls(files=list(files))

    def leaves(self) -> list[bytes]:
        return [f.leaf() for f in self.files]

    @property
    def root(self) -> bytes:
        return merkle_root(self.leaves())

    def proof(self, index: int) -> MaterialProof:
        leaves = self.leaves()
        return MaterialProof(
            file=self.files[index],
            index=index,
            tree_size=len(leaves),
            path=[p.hex() for p in inclusion_proof(leaves, index)],
        )


def verify_material(data: bytes | None, proof: MaterialProof, root: bytes) -> None:
    """Raise :class:`VerificationError` unless ``proof`` puts this file under ``root``.

    ``data`` (the file's bytes) is checked against the committed SHA-256 and size when given.
    """
    f = proof.file
    if data is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != f.sha256 or len(data) != f.size:
            raise VerificationError(
                f"file {f.name!r} is not the one committed (SHA-256 or size differs)",
                expected=f.sha256,
                found=digest,
                where=f.name,
            )
    try:
        path = [bytes.fromhex(p) for p in proof.path]
    except ValueError as exc:
        raise VerificationError("material proof path is not hex", where=f.name) from exc
    verify_inclusion(f.leaf(), proof.index, proof.tree_size, path, root)
