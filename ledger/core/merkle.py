"""RFC 6962 / RFC 9162 Merkle trees over the deployment's hash suite, with inclusion proofs.

``H`` is SHA-256 for the ``intl`` suite and SM3 for ``gm`` (:mod:`ledger.core.suites`); every function
takes the suite (default ``INTL``). Leaves and interior nodes are domain-separated (``0x00`` / ``0x01``
prefixes), so a node can never be passed off as a leaf. Computing and verifying are separate pure
functions::

    >>> leaves = [b"a", b"b", b"c"]
    >>> root = merkle_root([leaf_hash(x, GM) for x in leaves], GM)
    >>> proof = inclusion_proof([leaf_hash(x, GM) for x in leaves], 1, GM)
    >>> verify_inclusion(leaf_hash(b"b", GM), 1, 3, proof, root, GM)  # raises on mismatch
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.core.suites import INTL, Suite
from ledger.errors import InputError, VerificationError

__all__ = [
    "EMPTY_ROOT",
    "empty_root",
    "inclusion_proof",
    "leaf_hash",
    "merkle_root",
    "node_hash",
    "root_from_inclusion",
    "verify_inclusion",
]

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def empty_root(suite: Suite = INTL) -> bytes:
    """``H("")``: the root of the empty tree."""
    return suite.hash(b"")


EMPTY_ROOT = empty_root(INTL)


def leaf_hash(data: bytes, suite: Suite = INTL) -> bytes:
    """``H(0x00 || data)``."""
    return suite.hash(LEAF_PREFIX + data)


def node_hash(left: bytes, right: bytes, suite: Suite = INTL) -> bytes:
    """``H(0x01 || left || right)``."""
    return suite.hash(NODE_PREFIX + left + right)


def _split(n: int) -> int:
    """Largest power of two strictly less than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaf_hashes: Sequence[bytes], suite: Suite = INTL) -> bytes:
    """Root of the tree whose leaves hash to ``leaf_hashes`` (RFC 9162 §2.1.1)."""
    n = len(leaf_hashes)
    if n == 0:
        return empty_root(suite)
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(merkle_root(leaf_hashes[:k], suite), merkle_root(leaf_hashes[k:], suite), suite)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, suite: Suite = INTL) -> list[bytes]:
    """Audit path for leaf ``index`` (RFC 9162 §2.1.3), bottom-up."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise InputError("index", "proof_index_outside", index=index, size=n)
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_proof(leaf_hashes[:k], index, suite), merkle_root(leaf_hashes[k:], suite)]
    return [*inclusion_proof(leaf_hashes[k:], index - k, suite), merkle_root(leaf_hashes[:k], suite)]


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], suite: Suite = INTL) -> bytes:
    """Recompute the root from a leaf hash and its audit path (RFC 9162 §2.1.3.2).

    Raises :class:`VerificationError` when the proof has the wrong length for ``(index, size)``.
    """
    if not 0 <= index < size:
        raise VerificationError("proof_index_outside", where="proof", index=index, size=size)
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise VerificationError("proof_long", where="proof")
        if fn & 1 or fn == sn:
            r = node_hash(p, r, suite)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p, suite)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("proof_short", where="proof")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes, suite: Suite = INTL
) -> None:
    """Raise :class:`VerificationError` unless ``leaf`` is leaf ``index`` of the tree with ``root``."""
    got = root_from_inclusion(leaf, index, size, proof, suite)
    if got != root:
        raise VerificationError("proof_root", expected=root.hex(), found=got.hex(), where="proof")
