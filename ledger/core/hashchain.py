"""The per-case hash chain, computed exactly as ``CaseLedger.computeHead`` does on chain.

``head_0 = keccak256(case_id ‖ uint8(INTAKE) ‖ commitment_0 ‖ writer_0)`` and
``head_n = keccak256(head_{n-1} ‖ uint8(stage_n) ‖ commitment_n ‖ writer_n)`` with
``case_id = keccak256(uint32 acceptingHall ‖ utf8(serial))`` (the hall id big-endian, 4 bytes: a case's
identity is bound to the hall that opened it) — 85 packed bytes per step::

    >>> h = next_head(case_id(1, "TB-1"), Stage.INTAKE, b"\\x11" * 32, "0x" + "22" * 20)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from Crypto.Hash import keccak as _keccak

from ledger.core.stages import Stage
from ledger.errors import InputError

__all__ = ["address_bytes", "case_id", "chain_heads", "keccak256", "next_head"]

_HEX_ADDRESS = re.compile(r"(?:0[xX])?([0-9a-fA-F]{40})")


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as the EVM computes it (not NIST SHA3-256)."""
    return _keccak.new(digest_bits=256, data=data).digest()


def address_bytes(address: str) -> bytes:
    """The 20 bytes of a hex address (``0x`` optional, any letter case; the checksum is not required).

    Raises :class:`InputError` (field ``address``) for anything that is not 40 hex digits.
    """
    m = _HEX_ADDRESS.fullmatch(address)
    if m is None:
        raise InputError("address", "address_invalid", address=address)
    return bytes.fromhex(m.group(1))


@functools.lru_cache(maxsize=65_536)  # a batch asks for each of its cases' ids several times
def case_id(accepting_hall: int, serial: str) -> bytes:
    """The on-chain key of a case: ``keccak256(uint32 accepting_hall ‖ utf8(serial))``."""
    if not 0 <= accepting_hall <= 2**32 - 1:
        raise ValueError(f"hall id {accepting_hall} is not a uint32")
    return keccak256(accepting_hall.to_bytes(4, "big") + serial.encode("utf-8"))


def next_head(prev: bytes, stage: Stage | int, commitment: bytes, writer: str | bytes) -> bytes:
    """One step of the chain. ``writer`` is a 20-byte address (hex string or bytes)."""
    if len(prev) != 32 or len(commitment) != 32:
        raise InputError("commitment", "hashchain_bytes")
    addr = writer if isinstance(writer, bytes) else address_bytes(writer)
    return keccak256(prev + bytes([int(stage)]) + commitment + addr)


def chain_heads(
    accepting_hall: int, serial: str, events: Iterable[tuple[Stage | int, bytes, str | bytes]]
) -> list[bytes]:
    """Heads after each ``(stage, commitment, writer)`` event of hall ``accepting_hall``'s case ``serial``."""
    heads: list[bytes] = []
    prev = case_id(accepting_hall, serial)
    for stage, commitment, writer in events:
        prev = next_head(prev, stage, commitment, writer)
        heads.append(prev)
    return heads
