"""The key-encryption key (ledger/hall/kek.py): sealing bound to its purpose, key ids, rotation, private file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledger.errors import ConfigError
from ledger.hall.kek import KeyEncryptionKey, SecretError


def test_seal_and_open_bound_to_purpose(tmp_path: Path) -> None:
    kek = KeyEncryptionKey.create(tmp_path / "kek.json")
    token = kek.seal(b"JBSWY3DPEHPK3PXP", purpose="totp:li.officer")
    assert b"JBSWY3DPEHPK3PXP" not in token.encode() and token.startswith(f"kek1.{kek.current_kid}.")
    assert kek.open(token, purpose="totp:li.officer") == b"JBSWY3DPEHPK3PXP"
    with pytest.raises(SecretError, match="does not open"):
        kek.open(token, purpose="totp:zhang.clerk")  # moved to another account
    body = token.split(".")[2]
    flipped = token[: -len(body)] + ("A" if body[0] != "A" else "B") + body[1:]
    with pytest.raises(SecretError):
        kek.open(flipped, purpose="totp:li.officer")
    assert kek.seal(b"x", purpose="p") != kek.seal(b"x", purpose="p")  # fresh nonce each time


def test_file_is_private_and_refused_when_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "kek.json"
    KeyEncryptionKey.create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigError, match="already exists"):
        KeyEncryptionKey.create(path)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        KeyEncryptionKey.load(path)


def test_rotation_keeps_old_values_readable(tmp_path: Path) -> None:
    kek = KeyEncryptionKey.create(tmp_path / "kek.json")
    old = kek.seal(b"secret", purpose="p")
    first = kek.current_kid
    second = kek.rotate()
    assert second != first and kek.needs_reseal(old)
    again = KeyEncryptionKey.load(tmp_path / "kek.json")
    assert again.kids == (first, second) and again.open(old, purpose="p") == b"secret"
    other = KeyEncryptionKey.create(tmp_path / "other.json")
    with pytest.raises(SecretError, match="does not hold"):
        other.open(old, purpose="p")


def test_damaged_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "kek.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b'{"format": "caseledger-kek/1", "keys": [{"kid": "00", "key": "AAAA", "created_at": 0}]}')
    os.close(fd)
    with pytest.raises(ConfigError, match="damaged"):
        KeyEncryptionKey.load(path)
