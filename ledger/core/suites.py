"""Hash suites: which hash function a deployment uses for record leaves, material leaves and Merkle nodes.

A suite is a property of the deployment, recorded on chain (``CaseLedger.hashSuite()``, ``bytes8``
ASCII right-padded with zero bytes) and in every evidence bundle (``"suite"``)::

    >>> INTL.hash(b"abc").hex()[:8]        # SHA-256 (FIPS 180-4)
    'ba7816bf'
    >>> GM.hash(b"abc").hex()[:8]          # SM3 (GB/T 32905-2016)
    '66c7f0f4'

The on-chain hash chain and case ids stay keccak256 in both suites: the EVM computes them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives import hashes

from ledger.errors import InputError

__all__ = ["GM", "INTL", "Hasher", "SUITES", "Suite", "SuiteName", "suite_from_bytes8", "suite_named"]

SuiteName = Literal["intl", "gm"]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


@dataclass(frozen=True)
class Suite:
    """A named hash function (32-byte digests) used by :mod:`ledger.core.merkle`, records and materials."""

    name: SuiteName
    hash_name: str

    def hash(self, data: bytes) -> bytes:
        """The suite's 32-byte digest of ``data``."""
        return _sha256(data) if self.name == "intl" else _sm3(data)

    def hexdigest(self, data: bytes) -> str:
        """64 lowercase hex digits of :meth:`hash` (a material file's ``digest``)."""
        return self.hash(data).hex()

    def hasher(self) -> Hasher:
        """An incremental :meth:`hash` (``update`` piece by piece, then ``hexdigest``): a file hashed while it
        streams gives the same digest as the whole file hashed at once."""
        return Hasher(self.name)

    @property
    def bytes8(self) -> bytes:
        """The on-chain spelling: ASCII, right-padded with zero bytes to 8 bytes."""
        return self.name.encode("ascii").ljust(8, b"\x00")


class Hasher:
    """The suite's hash fed in pieces (SHA-256 from ``hashlib``, SM3 from ``cryptography``)."""

    def __init__(self, suite_name: str) -> None:
        self._sha = hashlib.sha256() if suite_name == "intl" else None
        self._sm3 = None if suite_name == "intl" else hashes.Hash(hashes.SM3())

    def update(self, data: bytes) -> None:
        if self._sha is not None:
            self._sha.update(data)
        else:
            assert self._sm3 is not None
            self._sm3.update(data)

    def hexdigest(self) -> str:
        """The digest so far (once: the SM3 context is finalised)."""
        if self._sha is not None:
            return self._sha.hexdigest()
        assert self._sm3 is not None
        return self._sm3.finalize().hex()


INTL = Suite(name="intl", hash_name="SHA-256")
GM = Suite(name="gm", hash_name="SM3")
SUITES: dict[str, Suite] = {"intl": INTL, "gm": GM}


def suite_named(name: str) -> Suite:
    """The suite called ``name``; :class:`InputError` for anything else."""
    try:
        return SUITES[name]
    except KeyError:
        raise InputError("suite", "suite_unknown", suite=name) from None


def suite_from_bytes8(raw: bytes) -> Suite:
    """The suite of a ``hashSuite()`` answer; :class:`InputError` for an unknown one."""
    name = raw.rstrip(b"\x00").decode("ascii", "replace")
    if raw != name.encode("ascii", "replace").ljust(8, b"\x00"):
        raise InputError("suite", "suite_unknown", suite="0x" + raw.hex())
    return suite_named(name)
