"""Hall keys in encrypted Ethereum keystores (scrypt + AES-128-CTR, eth-account's format).

The private key is never written in plain text. The password comes from a file (mode 0600) or an
environment variable named in the node's settings::

    path = create_keystore(dir / "keystore.json", password)
    account = load_keystore(path, password)
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.errors import ConfigError

__all__ = ["create_keystore", "load_keystore", "read_password", "write_password_file"]

# scrypt n=2**14: still memory-hard, quick enough that a dev consortium of many halls starts in seconds.
_KDF_N = 2**14


def create_keystore(path: Path, password: str, *, key: bytes | None = None) -> LocalAccount:
    """Create (or refuse to overwrite) an encrypted keystore; returns the account."""
    if path.exists():
        raise ConfigError(f"a keystore already exists at {path}; refusing to overwrite a hall key")
    acct: LocalAccount = Account.from_key(key) if key else Account.create()
    data = Account.encrypt(acct.key, password, kdf="scrypt", iterations=_KDF_N)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    tmp.replace(path)
    return acct


def load_keystore(path: Path, password: str) -> LocalAccount:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"no hall keystore at {path}") from exc
    except ValueError as exc:
        raise ConfigError(f"hall keystore {path} is not valid JSON") from exc
    try:
        key = Account.decrypt(data, password)
    except ValueError as exc:
        raise ConfigError(f"cannot unlock the hall keystore {path}: wrong password") from exc
    acct: LocalAccount = Account.from_key(key)
    return acct


def write_password_file(path: Path) -> str:
    """Create a random password in a 0600 file (dev consortiums); returns it."""
    password = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password)
    return password


def read_password(*, file: Path | None = None, env: str | None = None) -> str:
    if env:
        value = os.environ.get(env)
        if value:
            return value
        if file is None:
            raise ConfigError(f"the keystore password variable {env} is not set")
    if file is None:
        raise ConfigError("no keystore password source configured (file or environment variable)")
    try:
        return file.read_text().strip()
    except FileNotFoundError as exc:
        raise ConfigError(f"keystore password file {file} does not exist") from exc
