"""Material Merkle trees: one file proven alone, others not revealed."""

from __future__ import annotations

import pytest

from ledger.core.materials import MaterialFile, MaterialSet, verify_material
from ledger.errors import VerificationError

FILES = [(f"m{i}", f"材料{i}.pdf", f"%PDF-1.7 file {i}".encode()) for i in range(5)]


def _set() -> MaterialSet:
    return MaterialSet.new([MaterialFile.of(k, n, d) for k, n, d in FILES])


def test_each_file_proves_alone() -> None:
    ms = _set()
    for i, (_, _, data) in enumerate(FILES):
        proof = ms.proof(i)
        verify_material(data, proof, ms.root)
        dumped = proof.model_dump_json()
        for j, (_, name, _) in enumerate(FILES):
            if j != i:
                assert name not in dumped


def test_one_changed_byte_is_named() -> None:
    ms = _set()
    data = bytearray(FILES[2][2])
    data[0] ^= 1
    with pytest.raises(VerificationError) as err:
        verify_material(bytes(data), ms.proof(2), ms.root)
    assert err.value.where == "材料2.pdf"


def test_proof_for_another_root_fails() -> None:
    a, b = _set(), _set()  # same files, fresh salts
    assert a.root != b.root
    with pytest.raises(VerificationError):
        verify_material(FILES[0][2], a.proof(0), b.root)


def test_swapped_metadata_fails() -> None:
    ms = _set()
    proof = ms.proof(1)
    forged = proof.model_copy(update={"file": proof.file.model_copy(update={"kind": "other"})})
    with pytest.raises(VerificationError):
        verify_material(FILES[1][2], forged, ms.root)
