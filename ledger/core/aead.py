"""The authenticated cipher of each suite, for data at rest: AES-256-GCM (``intl``) or SM4-GCM (``gm``).

A deployment's suite names its hash (:mod:`ledger.core.suites`) and its cipher for data a hall keeps at rest
(:mod:`ledger.hall.atrest`). Both are GCM with a 96-bit nonce and a 128-bit tag; only the block cipher and
its key length differ::

    >>> aead = Aead.for_cipher("sm4-gcm", bytes(16))
    >>> ct = aead.encrypt(bytes(12), b"plain", b"context")
    >>> aead.decrypt(bytes(12), ct, b"context")
    b'plain'

SM4 is GB/T 32907-2016; SM4-GCM is the GCM mode of SP 800-38D over SM4 as RFC 8998 specifies it.
Both come from OpenSSL through ``cryptography``; ``tests/unit/test_aead.py`` checks them against the
standards' published vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["CIPHERS", "NONCE_BYTES", "TAG_BYTES", "Aead", "AeadError", "CipherName", "cipher_of_suite"]

CipherName = Literal["aes-256-gcm", "sm4-gcm"]
CIPHERS: dict[str, int] = {"aes-256-gcm": 32, "sm4-gcm": 16}
"""cipher name → key length in bytes"""
NONCE_BYTES = 12
TAG_BYTES = 16


AeadError = InvalidTag
"""A ciphertext that does not open: another key, other associated data, or altered (``cryptography``'s own
exception; its callers in ``ledger.hall`` translate it into the error tree, :class:`ledger.errors.SecretError`)."""


def cipher_of_suite(suite_name: str) -> CipherName:
    """The at-rest cipher of a suite: ``intl`` → AES-256-GCM, ``gm`` → SM4-GCM."""
    return "sm4-gcm" if suite_name == "gm" else "aes-256-gcm"


@dataclass(frozen=True)
class Aead:
    """One key of one cipher. ``encrypt`` returns ciphertext ‖ tag; thread-safe (no state kept)."""

    cipher: CipherName
    key: bytes

    @classmethod
    def for_cipher(cls, cipher: str, key: bytes) -> Aead:
        if cipher not in CIPHERS:
            raise ValueError(f"unknown cipher {cipher!r} (expected one of {sorted(CIPHERS)})")
        if len(key) != CIPHERS[cipher]:
            raise ValueError(f"{cipher} takes a {CIPHERS[cipher]}-byte key, not {len(key)} bytes")
        return cls(cipher, key)  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        return "AES-256-GCM" if self.cipher == "aes-256-gcm" else "SM4-GCM"

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        if len(nonce) != NONCE_BYTES:
            raise ValueError(f"the nonce is {NONCE_BYTES} bytes")
        if self.cipher == "aes-256-gcm":
            return AESGCM(self.key).encrypt(nonce, plaintext, aad)
        enc = Cipher(algorithms.SM4(self.key), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad)
        return enc.update(plaintext) + enc.finalize() + enc.tag

    def decrypt(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        if len(nonce) != NONCE_BYTES or len(ciphertext) < TAG_BYTES:
            raise AeadError("too short to be a ciphertext")
        if self.cipher == "aes-256-gcm":
            return AESGCM(self.key).decrypt(nonce, ciphertext, aad)
        body, tag = ciphertext[:-TAG_BYTES], ciphertext[-TAG_BYTES:]
        dec = Cipher(algorithms.SM4(self.key), modes.GCM(nonce, tag)).decryptor()
        dec.authenticate_additional_data(aad)
        return dec.update(body) + dec.finalize()
