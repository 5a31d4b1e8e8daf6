"""The per-case hash chain, computed exactly as ``CaseLedger.computeHead`` does on chain.

``head_0 = keccak256(case_id ‖ uint8(INTAKE) ‖ commitment_0 ‖ writer_0)`` and
``head_n = keccak256(head_{n-1} ‖ uint8(stage_n) ‖ commitment_n ‖ writer_n)`` with
``case_id = keccak256(utf8(serial))`` — 85 packed bytes per step::

    >>> h = next_head(case_id("TB-1"), Stage.INTAKE, b"\\x11" * 32, "0x" + "22" * 20)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from Crypto.Hash import keccak as _keccak

from ledger.core.stages import Stage

__all__ = ["address_bytes", "case_id", "chain_heads", "keccak256", "next_head"]

_HEX_ADDRESS = re.compile(r"(?:0[xX])?([0-9a-fA-F]{40})")


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as the EVM computes it (not NIST SHA3-256)."""
    return _keccak.new(digest_bits=256, data=data).digest()


def address_bytes(address: str) -> bytes:
    """The 20 bytes of a hex address (``0x`` optional, any letter case; the checksum is not required).

    Raises :class:`ValueError` for anything that is not 40 hex digits.
    """
    m = _HEX_ADDRESS.fullmatch(address)
    if m is None:
        raise ValueError(f"{address!r} is not a 20-byte hex address")
    return bytes.fromhex(m.group(1))


def case_id(serial: str) -> bytes:
    """The on-chain key of a case: ``keccak256(utf8(serial))``."""
    return keccak256(serial.encode("utf-8"))


def next_head(prev: bytes, stage: Stage | int, commitment: bytes, writer: str | bytes) -> bytes:
    """One step of the chain. ``writer`` is a 20-byte address (hex string or bytes)."""
    if len(prev) != 32 or len(commitment) != 32:
        raise ValueError("prev and commitment must be 32 bytes")
    addr = writer if isinstance(writer, bytes) else address_bytes(writer)
    return keccak256(prev + bytes([int(stage)]) + commitment + addr)


def chain_heads(serial: str, events: Iterable[tuple[Stage | int, bytes, str | bytes]]) -> list[bytes]:
    """Heads after each ``(stage, commitment, writer)`` event of the case ``serial``."""
    heads: list[bytes] = []
    prev = case_id(serial)
    for stage, commitment, writer in events:
        prev = next_head(prev, stage, commitment, writer)
        heads.append(prev)
    return heads
