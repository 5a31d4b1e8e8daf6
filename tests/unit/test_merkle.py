"""RFC 6962 Merkle trees: published reference vectors, corruptions, and properties."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import hashes
from hypothesis import given
from hypothesis import strategies as st

from ledger.core.merkle import EMPTY_ROOT, empty_root, inclusion_proof, leaf_hash, merkle_root, verify_inclusion
from ledger.core.suites import GM, SUITES
from ledger.errors import VerificationError
from tests.conftest import VECTORS

MERKLE_VECTORS = sorted((VECTORS / "merkle").glob("*.json"))

# Roots published with RFC 6962's reference tests (Certificate Transparency), independent of our code.
RFC6962_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def _sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def _naive_sm3_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 written out directly over SM3 (an independent check of the gm suite's trees)."""
    if len(leaves) == 1:
        return _sm3(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return _sm3(b"\x01" + _naive_sm3_root(leaves[:k]) + _naive_sm3_root(leaves[k:]))


def test_vector_files_exist() -> None:
    assert len(MERKLE_VECTORS) == 16
    assert {json.loads(p.read_text())["suite"] for p in MERKLE_VECTORS} == {"intl", "gm"}


@pytest.mark.parametrize("path", MERKLE_VECTORS, ids=lambda p: p.stem)
def test_vector(path) -> None:  # type: ignore[no-untyped-def]
    v = json.loads(path.read_text())
    suite = SUITES[v["suite"]]
    leaves = [leaf_hash(bytes.fromhex(x), suite) for x in v["leaves"]]
    root = merkle_root(leaves, suite)
    raw = [bytes.fromhex(x) for x in v["leaves"]]
    published = RFC6962_ROOTS[len(leaves)] if suite.name == "intl" else _naive_sm3_root(raw).hex()
    assert root.hex() == v["root"] == published
    for i, proof in enumerate(v["proofs"]):
        verify_inclusion(leaves[i], i, len(leaves), [bytes.fromhex(p) for p in proof], root, suite)


def test_a_gm_proof_does_not_verify_under_intl() -> None:
    items = [b"a", b"b", b"c"]
    gm_leaves = [leaf_hash(x, GM) for x in items]
    root = merkle_root(gm_leaves, GM)
    verify_inclusion(gm_leaves[1], 1, 3, inclusion_proof(gm_leaves, 1, GM), root, GM)
    with pytest.raises(VerificationError):
        verify_inclusion(gm_leaves[1], 1, 3, inclusion_proof(gm_leaves, 1, GM), root)
    assert empty_root(GM) == _sm3(b"") != EMPTY_ROOT


def _tree(n: int) -> tuple[list[bytes], bytes]:
    leaves = [leaf_hash(bytes([i])) for i in range(n)]
    return leaves, merkle_root(leaves)


def test_empty_tree_root() -> None:
    assert merkle_root([]) == EMPTY_ROOT


@pytest.mark.parametrize(
    ("desc", "mutate"),
    [
        ("wrong leaf", lambda leaf, i, n, p: (leaf_hash(b"other"), i, n, p)),
        ("flipped bit in proof", lambda leaf, i, n, p: (leaf, i, n, [bytes([p[0][0] ^ 1]) + p[0][1:], *p[1:]])),
        ("truncated proof", lambda leaf, i, n, p: (leaf, i, n, p[:-1])),
        ("trailing garbage", lambda leaf, i, n, p: (leaf, i, n, [*p, b"\x00" * 32])),
        ("wrong index", lambda leaf, i, n, p: (leaf, i + 1, n, p)),
        ("size with another proof shape", lambda leaf, i, n, p: (leaf, i, 4, p)),
        ("index outside tree", lambda leaf, i, n, p: (leaf, n, n, p)),
    ],
)
def test_corruption_is_refused(desc: str, mutate) -> None:  # type: ignore[no-untyped-def]
    leaves, root = _tree(7)
    i = 2
    args = mutate(leaves[i], i, 7, inclusion_proof(leaves, i))
    with pytest.raises(VerificationError):
        verify_inclusion(*args, root)


def test_leaf_and_node_domains_differ() -> None:
    # A two-leaf tree's root must not verify as a single leaf of anything built from it.
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    root = merkle_root([a, b])
    assert leaf_hash(a + b) != root


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=40), st.data())
def test_every_leaf_proves(items: list[bytes], data: st.DataObject) -> None:
    leaves = [leaf_hash(x) for x in items]
    root = merkle_root(leaves)
    i = data.draw(st.integers(0, len(leaves) - 1))
    verify_inclusion(leaves[i], i, len(leaves), inclusion_proof(leaves, i), root)


@given(st.lists(st.binary(max_size=20), min_size=2, max_size=30, unique=True), st.data())
def test_other_leaf_never_proves(items: list[bytes], data: st.DataObject) -> None:
    leaves = [leaf_hash(x) for x in items]
    root = merkle_root(leaves)
    i = data.draw(st.integers(0, len(leaves) - 1))
    j = data.draw(st.integers(0, len(leaves) - 1).filter(lambda j: j != i))
    with pytest.raises(VerificationError):
        verify_inclusion(leaves[j], i, len(leaves), inclusion_proof(leaves, i), root)
