"""Key-encryption key (KEK): small secrets sealed with AES-256-GCM under a key kept apart from the store.

A hall's store is copied into every backup. Secrets that must not travel with it (today: the staff's
TOTP seeds; later: the data keys of issue 16's at-rest encryption) are *sealed* with this key, and the
key lives in its own file: **not** in the store directory and **never** in a backup (``ledger.hall.backup``
refuses an archive that holds one). Whoever holds a backup alone holds only ciphertext::

    kek = KeyEncryptionKey.load_or_create(Path("/etc/caseledger/hall-1.kek"))
    token = kek.seal(b"JBSWY3DPEHPK3PXP", purpose="totp:li.officer")   # str, safe to store anywhere
    kek.open(token, purpose="totp:li.officer")                          # b"JBSWY3DPEHPK3PXP"
    kek.open(token, purpose="totp:zhang.clerk")                         # SecretError: bound to its purpose

**Interface** (what later at-rest work may rely on):

* :meth:`KeyEncryptionKey.seal` / :meth:`KeyEncryptionKey.open` — authenticated encryption of up to
  64 KiB. ``purpose`` is bound as associated data: a sealed value moved to another record, account or
  use does not open. Sealed values are text ``kek1.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>``
  (12-byte random nonce, 16-byte tag); ``kid`` names the key (first 8 bytes of SHA-256 of it, hex).
* :meth:`KeyEncryptionKey.rotate` adds a new current key; older keys stay in the file so values
  sealed under them still open; :meth:`KeyEncryptionKey.needs_reseal` tells a caller to re-seal.
* :attr:`KeyEncryptionKey.kids` — the key ids the file holds (a store can say which it needs).

**The file** (JSON, mode 0600, refused when group or others may read it)::

    {"format": "caseledger-kek/1", "keys": [{"kid": "…", "key": "<base64, 32 bytes>", "created_at": …}]}

The last key is the current one. Keep a copy with the keystore password (password manager or HSM
export), not with the backups: without it the sealed secrets are lost (for TOTP seeds: the security
administrator issues new ones).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.errors import ConfigError, SecretError

__all__ = ["KEK_FORMAT", "KeyEncryptionKey", "SecretError"]

KEK_FORMAT = "caseledger-kek/1"
_PREFIX = "kek1"
_AAD = b"caseledger-kek/1\n"
_MAX_PLAINTEXT = 64 * 1024


@dataclass(frozen=True)
class _Key:
    kid: str
    key: bytes
    created_at: float


def _kid(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


class KeyEncryptionKey:
    """One KEK file: its keys (the last is current). Thread-safe for seal/open (AESGCM objects are)."""

    def __init__(self, path: Path, keys: list[_Key]) -> None:
        if not keys:
            raise ConfigError(f"{path} holds no key")
        self.path = path
        self._keys = {k.kid: k for k in keys}
        self._current = keys[-1]
        self._aead = {k.kid: AESGCM(k.key) for k in keys}

    # ------------------------------------------------------------------ file
    @classmethod
    def create(cls, path: Path) -> KeyEncryptionKey:
        """A new KEK file with one fresh 256-bit key; refuses to replace an existing file."""
        key = secrets.token_bytes(32)
        kek = cls(path, [_Key(_kid(key), key, time.time())])
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
                _Key(str(k["kid"]), base64.b64decode(k["key"], validate=True), float(k["created_at"]))
                for k in raw["keys"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path} is not a CaseLedger key-encryption key file ({exc})") from None
        for k in keys:
            if len(k.key) != 32 or _kid(k.key) != k.kid:
                raise ConfigError(f"{path}: key {k.kid} is damaged (length or id does not match)")
        return cls(path, keys)

    @classmethod
    def load_or_create(cls, path: Path) -> KeyEncryptionKey:
        return cls.load(path) if path.exists() else cls.create(path)

    def _write(self, *, exclusive: bool = False) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"cannot create {self.path.parent} for the key-encryption key: {exc.strerror}") from exc
        body = {
            "format": KEK_FORMAT,
            "keys": [
                {"kid": k.kid, "key": base64.b64encode(k.key).decode(), "created_at": k.created_at}
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
        except OSError as exc:
            raise ConfigError(f"cannot write the key-encryption key file {self.path}: {exc.strerror}") from exc

    # ------------------------------------------------------------------ keys
    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    @property
    def current_kid(self) -> str:
        return self._current.kid

    def rotate(self) -> str:
        """Add a new current key (older ones stay, to open what they sealed); returns its id."""
        key = secrets.token_bytes(32)
        k = _Key(_kid(key), key, time.time())
        self._keys[k.kid] = k
        self._aead[k.kid] = AESGCM(key)
        self._current = k
        self._write()
        return k.kid

    # ------------------------------------------------------------------ seal / open
    def seal(self, plaintext: bytes, *, purpose: str) -> str:
        if len(plaintext) > _MAX_PLAINTEXT:
            raise ValueError(f"seal() takes at most {_MAX_PLAINTEXT} bytes")
        nonce = secrets.token_bytes(12)
        ct = self._aead[self._current.kid].encrypt(nonce, plaintext, _AAD + purpose.encode())
        return f"{_PREFIX}.{self._current.kid}.{base64.urlsafe_b64encode(nonce + ct).decode().rstrip('=')}"

    @staticmethod
    def kid_of(sealed: str) -> str | None:
        """The key id a sealed value names, or None when ``sealed`` is not a sealed value."""
        parts = sealed.split(".") if isinstance(sealed, str) else []
        return parts[1] if len(parts) == 3 and parts[0] == _PREFIX else None

    def needs_reseal(self, sealed: str) -> bool:
        return self.kid_of(sealed) != self._current.kid

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
            blob = base64.urlsafe_b64decode(sealed.split(".")[2] + "=" * (-len(sealed.split(".")[2]) % 4))
            return aead.decrypt(blob[:12], blob[12:], _AAD + purpose.encode())
        except (InvalidTag, ValueError) as exc:
            raise SecretError(
                f"a value sealed with key {kid} does not open for {purpose!r} (altered, or moved from another record)"
            ) from exc
