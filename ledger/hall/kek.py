"""Key-encryption key (KEK): small secrets and data keys sealed under a key kept apart from the store.

A hall's store is copied into every backup. Secrets that must not travel with it — the staff's TOTP seeds,
session material, and the per-case data keys of :mod:`ledger.hall.atrest` (through
:mod:`ledger.hall.datakeys`) — are *sealed* with this key, and the key lives in its own file: **not** in the
store directory and **never** in a backup (``ledger.hall.backup`` refuses an archive that holds one). Whoever
holds a backup alone holds only ciphertext::

    kek = KeyEncryptionKey.load_or_create(Path("/etc/caseledger/hall-1.kek"))
    token = kek.seal(b"JBSWY3DPEHPK3PXP", purpose="totp:li.officer")   # str, safe to store anywhere
    kek.open(token, purpose="totp:li.officer")                          # b"JBSWY3DPEHPK3PXP"
    kek.open(token, purpose="totp:zhang.clerk")                         # SecretError: bound to its purpose

**Interface** (:class:`KekProvider`; what the at-rest encryption relies on, and what a cipher card
implements):

* ``wrap(key, context=…)`` / ``unwrap(wrapped, context=…)`` — authenticated encryption of a data key (or
  any secret up to 64 KiB) under the current KEK, ``context`` bound as associated data, so a wrapped key
  moved to another case, purpose or hall does not open. :meth:`KeyEncryptionKey.seal` /
  :meth:`KeyEncryptionKey.open` are the same operation with ``purpose`` as the context. Wrapped values
  are text ``kek1.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>`` (12-byte random nonce, 16-byte tag);
  ``kid`` names the key (first 8 bytes of SHA-256 of it, hex).
* ``current_kid`` / ``kids`` / ``kid_of(wrapped)`` / ``needs_rewrap(wrapped)`` — which key wrapped what,
  so a store can say which keys it needs and a background job can re-wrap after a rotation.
* ``rotate()`` — a new current key; older keys stay (they still open what they wrapped) until
  everything is re-wrapped (``caseledger hall rotate-kek``, docs/operations.md).

A **PKCS#11 token or GM/T 0018 cipher card** implements the same five calls with the KEK inside the device
and never exported: ``wrap`` is ``C_Encrypt`` with ``CKM_AES_GCM`` (PKCS#11 v3) or, on a GM/T 0018 card,
``SDF_Encrypt`` under the internal SM4 key at the KEK's index (GCM where the card offers it, otherwise
SM4-CBC with ``SDF_CalculateMAC`` over nonce, context and ciphertext: encrypt-then-MAC), ``unwrap`` the
inverse, ``rotate`` generates a key in the next index/label and ``kid`` is that label. Nothing else of
CaseLedger touches the KEK.

**Ciphers.** Each key of the file names its cipher: ``aes-256-gcm`` (32-byte key, the ``intl`` suite) or
``sm4-gcm`` (16-byte key, GB/T 32907 SM4 in GCM as RFC 8998 specifies, the ``gm`` suite); a ``gm``
deployment creates and rotates SM4 keys (:mod:`ledger.core.aead`).

**The file** (JSON, mode 0600, refused when group or others may read it)::

    {"format": "caseledger-kek/1",
     "keys": [{"kid": "…", "key": "<base64>", "created_at": …, "cipher": "sm4-gcm"}]}

The last key is the current one; ``cipher`` defaults to ``aes-256-gcm`` (files written before ciphers were
named). Keep a copy with the keystore password (password manager or HSM export), not with the backups:
without it the sealed secrets and every data key are lost.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ledger.core.aead import CIPHERS, Aead, AeadError, CipherName
from ledger.errors import ConfigError, SecretError

__all__ = ["KEK_FORMAT", "KekProvider", "KeyEncryptionKey", "SecretError"]

KEK_FORMAT = "caseledger-kek/1"
_PREFIX = "kek1"
_AAD = b"caseledger-kek/1\n"
_MAX_PLAINTEXT = 64 * 1024


@runtime_checkable
class KekProvider(Protocol):
    """What the hall needs of a key-encryption key: the file below, or a PKCS#11 / GM/T 0018 device."""

    @property
    def current_kid(self) -> str: ...

    @property
    def kids(self) -> tuple[str, ...]: ...

    @property
    def cipher(self) -> str: ...

    def wrap(self, key: bytes, *, context: str) -> str: ...

    def unwrap(self, wrapped: str, *, context: str) -> bytes: ...

    def needs_rewrap(self, wrapped: str) -> bool: ...

    def rotate(self, *, cipher: str | None = None) -> str: ...


@dataclass(frozen=True)
class _Key:
    kid: str
    key: bytes
    created_at: float
    cipher: CipherName = "aes-256-gcm"


def _kid(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


class KeyEncryptionKey:
    """One KEK file: its keys (the last is current). Thread-safe for seal/open and rotate."""

    def __init__(self, path: Path, keys: list[_Key]) -> None:
        if not keys:
            raise ConfigError(f"{path} holds no key")
        self.path = path
        self._lock = threading.Lock()
        self._keys = {k.kid: k for k in keys}
        self._current = keys[-1]
        self._aead = {k.kid: Aead.for_cipher(k.cipher, k.key) for k in keys}

    # ------------------------------------------------------------------ file
    @classmethod
    def create(cls, path: Path, *, cipher: str = "aes-256-gcm") -> KeyEncryptionKey:
        """A new KEK file with one fresh key of ``cipher``; refuses to replace an existing file."""
        if cipher not in CIPHERS:
            raise ConfigError(f"unknown key-encryption cipher {cipher!r} (expected one of {sorted(CIPHERS)})")
        key = secrets.token_bytes(CIPHERS[cipher])
        kek = cls(path, [_Key(_kid(key), key, time.time(), cipher)])  # type: ignore[arg-type]
        kek._write(exclusive=True)
        return kek

    @classmethod
    def load(cls, path: Path) -> KeyEncryptionKey:
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ConfigError(f"the key-encryption key file {path} does not exist") from None
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"{path} may be read by other users (mode {stat.S_IMODE(st.st_mode):04o}); "
                f"make it private: chmod 600 {path}"
            )
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("format") != KEK_FORMAT:
                raise ValueError(f"format {raw.get('format')!r}")
            keys = [
                _Key(
                    str(k["kid"]),
                    base64.b64decode(k["key"], validate=True),
                    float(k["created_at"]),
                    str(k.get("cipher", "aes-256-gcm")),  # type: ignore[arg-type]
                )
                for k in raw["keys"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path} is not a CaseLedger key-encryption key file ({exc})") from None
        for k in keys:
            if k.cipher not in CIPHERS or len(k.key) != CIPHERS[k.cipher] or _kid(k.key) != k.kid:
                raise ConfigError(f"{path}: key {k.kid} is damaged (cipher, length or id does not match)")
        return cls(path, keys)

    @classmethod
    def load_or_create(cls, path: Path, *, cipher: str = "aes-256-gcm") -> KeyEncryptionKey:
        return cls.load(path) if path.exists() else cls.create(path, cipher=cipher)

    def _write(self, *, exclusive: bool = False) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"cannot create {self.path.parent} for the key-encryption key: {exc.strerror}") from exc
        body = {
            "format": KEK_FORMAT,
            "keys": [
                {"kid": k.kid, "key": base64.b64encode(k.key).decode(), "created_at": k.created_at, "cipher": k.cipher}
                for k in self._keys.values()
            ],
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        if exclusive and self.path.exists():
            raise ConfigError(f"{self.path} already exists; refusing to replace a key-encryption key")
        try:
            fd = os.open(tmp, flags, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(body, fh, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(self.path)
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)  # the rename itself is durable before anything is wrapped under the new key
            finally:
                os.close(dfd)
        except OSError as exc:
            raise ConfigError(f"cannot write the key-encryption key file {self.path}: {exc.strerror}") from exc

    # ------------------------------------------------------------------ keys
    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    @property
    def current_kid(self) -> str:
        return self._current.kid

    @property
    def cipher(self) -> str:
        """The current key's cipher (``aes-256-gcm`` or ``sm4-gcm``)."""
        return self._current.cipher

    def rotate(self, *, cipher: str | None = None) -> str:
        """Add a new current key (older ones stay, to open what they sealed); returns its id.

        ``cipher`` defaults to the current key's (a ``gm`` node passes ``sm4-gcm`` to move an AES file over)."""
        cipher = cipher or self._current.cipher
        if cipher not in CIPHERS:
            raise ConfigError(f"unknown key-encryption cipher {cipher!r} (expected one of {sorted(CIPHERS)})")
        key = secrets.token_bytes(CIPHERS[cipher])
        k = _Key(_kid(key), key, time.time(), cipher)  # type: ignore[arg-type]
        with self._lock:
            self._keys[k.kid] = k
            self._aead[k.kid] = Aead.for_cipher(k.cipher, k.key)
            try:
                self._write()
            except ConfigError:
                del self._keys[k.kid]
                del self._aead[k.kid]
                raise
            self._current = k
        return k.kid

    # ------------------------------------------------------------------ seal / open (wrap / unwrap)
    def seal(self, plaintext: bytes, *, purpose: str) -> str:
        if len(plaintext) > _MAX_PLAINTEXT:
            raise ValueError(f"seal() takes at most {_MAX_PLAINTEXT} bytes")
        current = self._current
        nonce = secrets.token_bytes(12)
        ct = self._aead[current.kid].encrypt(nonce, plaintext, _AAD + purpose.encode())
        return f"{_PREFIX}.{current.kid}.{base64.urlsafe_b64encode(nonce + ct).decode().rstrip('=')}"

    def wrap(self, key: bytes, *, context: str) -> str:
        """A data key wrapped under the current KEK, bound to ``context`` (:class:`KekProvider`)."""
        return self.seal(key, purpose=context)

    def unwrap(self, wrapped: str, *, context: str) -> bytes:
        return self.open(wrapped, purpose=context)

    @staticmethod
    def kid_of(sealed: str) -> str | None:
        """The key id a sealed value names, or None when ``sealed`` is not a sealed value."""
        parts = sealed.split(".") if isinstance(sealed, str) else []
        return parts[1] if len(parts) == 3 and parts[0] == _PREFIX else None

    def needs_reseal(self, sealed: str) -> bool:
        return self.kid_of(sealed) != self._current.kid

    def needs_rewrap(self, wrapped: str) -> bool:
        return self.needs_reseal(wrapped)

    def open(self, sealed: str, *, purpose: str) -> bytes:
        kid = self.kid_of(sealed)
        if kid is None:
            raise SecretError("not a sealed value")
        aead = self._aead.get(kid)
        if aead is None:
            raise SecretError(
                f"sealed with key {kid}, which {self.path} does not hold (another hall's key, or "
                "the node runs with a new key-encryption key file)"
            )
        try:
            body = sealed.split(".")[2]
            blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return aead.decrypt(blob[:12], blob[12:], _AAD + purpose.encode())
        except (AeadError, ValueError) as exc:
            raise SecretError(
                f"a value sealed with key {kid} does not open for {purpose!r} (altered, or moved from another record)"
            ) from exc
