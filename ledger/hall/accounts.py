"""Staff accounts of one hall: Argon2 passwords, TOTP second factor, expiring sessions, login limits.

No web framework here; the node API turns a bearer token or a session cookie into a staff member::

    accounts = AccountBook(store, hall_id=1)
    secret = accounts.create("li.officer", "a long passphrase", roles={"officer"}).totp_secret
    s = accounts.login("li.officer", "a long passphrase", pyotp.TOTP(secret).now(), client="10.0.0.7")
    staff = accounts.authenticate(s.token)        # AuthError once expired or logged out

Store keys (all under this hall's LevelDB)::

    acct/<username>                 the account: roles, Argon2 hash, TOTP secret, disabled flag
    sess/<sha256(token) hex>        a session: username, expiry, CSRF token (the token itself is never stored)
    authfail/<sha256(user|client)>  recent failed logins of one username from one client (rate limit)

Roles: ``clerk`` 受理 · ``officer`` 承办 · ``dispute_officer`` 核验/争议 · ``regulator`` 监管 ·
``hall_admin`` 大厅管理员. Officers, dispute officers and hall admins must pass a TOTP code
(RFC 6238, 30 s steps); a code is accepted once (replays of the same step are refused).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ledger.errors import AuthError, ForbiddenError, InputError, NotFoundError, RateLimitedError
from ledger.hall.keys import ACCOUNT_PREFIX, SESSION_PREFIX, account_key, authfail_key, session_key
from ledger.hall.store import Store

__all__ = [
    "ROLES",
    "TOTP_ROLES",
    "AccountBook",
    "Created",
    "Session",
    "StaffAccount",
    "ensure_demo_accounts",
]

ROLES = frozenset({"clerk", "officer", "dispute_officer", "regulator", "hall_admin"})
TOTP_ROLES = frozenset({"officer", "dispute_officer", "hall_admin"})
USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 12

# one hash to compare against when the username does not exist, so timing does not reveal accounts
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a real password, never matches")


@dataclass(frozen=True)
class StaffAccount:
    username: str
    roles: frozenset[str]
    display_name: str
    disabled: bool
    totp_required: bool
    created_at: float

    def public(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "roles": sorted(self.roles),
            "display_name": self.display_name,
            "disabled": self.disabled,
            "totp_required": self.totp_required,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Created:
    account: StaffAccount
    totp_secret: str | None
    """base32 secret (show once as an ``otpauth://`` URI), or None for roles without a second factor."""

    def provisioning_uri(self, issuer: str = "CaseLedger") -> str | None:
        if self.totp_secret is None:
            return None
        return pyotp.TOTP(self.totp_secret).provisioning_uri(name=self.account.username, issuer_name=issuer)


@dataclass(frozen=True)
class Session:
    token: str
    csrf_token: str
    expires_at: float
    account: StaffAccount


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountBook:
    """The staff accounts and sessions of one hall. ``clock`` is injectable for tests."""

    def __init__(
        self,
        store: Store,
        *,
        hall_id: int,
        session_ttl: float = 8 * 3600,
        max_failures: int = 5,
        failure_window: float = 15 * 60,
        lockout: float = 15 * 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.hall_id = hall_id
        self.session_ttl = session_ttl
        self.max_failures = max_failures
        self.failure_window = failure_window
        self.lockout = lockout
        self.clock = clock

    # ------------------------------------------------------------------ accounts
    @staticmethod
    def _key(username: str) -> bytes:
        return account_key(username)

    def _raw(self, username: str) -> dict[str, Any] | None:
        if not USERNAME.fullmatch(username or ""):
            return None
        raw: dict[str, Any] | None = self.store.get_json(self._key(username))
        return raw

    @staticmethod
    def _account(raw: dict[str, Any]) -> StaffAccount:
        roles = frozenset(raw["roles"])
        return StaffAccount(
            username=raw["username"],
            roles=roles,
            display_name=raw.get("display_name", ""),
            disabled=bool(raw.get("disabled")),
            totp_required=bool(roles & TOTP_ROLES),
            created_at=float(raw.get("created_at", 0)),
        )

    def get(self, username: str) -> StaffAccount:
        raw = self._raw(username)
        if raw is None:
            raise NotFoundError(f"no staff account {username!r} at this hall")
        return self._account(raw)

    def all(self) -> list[StaffAccount]:
        return [self._account(v) for _, v in self.store.iter_json(ACCOUNT_PREFIX)]

    def is_empty(self) -> bool:
        return self.store.count_prefix(ACCOUNT_PREFIX) == 0

    def create(self, username: str, password: str, *, roles: Iterable[str], display_name: str = "") -> Created:
        """A new account; returns its TOTP secret when one of its roles needs a second factor."""
        if not USERNAME.fullmatch(username or ""):
            raise InputError(
                "username", "2-32 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter"
            )
        role_set = frozenset(roles)
        if not role_set:
            raise InputError("roles", "give at least one role")
        unknown = role_set - ROLES
        if unknown:
            raise InputError("roles", f"unknown roles {sorted(unknown)}; roles are {sorted(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise InputError("password", f"at least {MIN_PASSWORD} characters")
        if len(display_name) > 64:
            raise InputError("display_name", "at most 64 characters")
        if self.store.get(self._key(username)) is not None:
            raise InputError("username", f"an account {username!r} already exists")
        secret = pyotp.random_base32() if role_set & TOTP_ROLES else None
        raw = {
            "username": username,
            "roles": sorted(role_set),
            "display_name": display_name,
            "password_hash": _hasher.hash(password),
            "totp_secret": secret,
            "totp_last_step": -1,
            "disabled": False,
            "created_at": self.clock(),
        }
        self.store.put_json(self._key(username), raw)
        return Created(self._account(raw), secret)

    def _update(self, username: str, **changes: Any) -> dict[str, Any]:
        raw = self._raw(username)
        if raw is None:
            raise NotFoundError(f"no staff account {username!r} at this hall")
        raw.update(changes)
        self.store.put_json(self._key(username), raw)
        return raw

    def set_disabled(self, username: str, disabled: bool = True) -> StaffAccount:
        """Disable (or re-enable) an account; disabling also ends its sessions."""
        raw = self._update(username, disabled=disabled)
        if disabled:
            self.end_sessions(username)
        return self._account(raw)

    def reset_totp(self, username: str) -> Created:
        """A fresh TOTP secret (the old authenticator stops working); ends the account's sessions."""
        acct = self.get(username)
        if not acct.totp_required:
            raise InputError("username", f"{username} has no role that uses a second factor")
        secret = pyotp.random_base32()
        raw = self._update(username, totp_secret=secret, totp_last_step=-1)
        self.end_sessions(username)
        return Created(self._account(raw), secret)

    # ------------------------------------------------------------------ login
    def _fail_key(self, username: str, client: str) -> bytes:
        return authfail_key(hashlib.sha256(f"{username}|{client}".encode()).hexdigest())

    def _check_lock(self, key: bytes) -> None:
        rec = self.store.get_json(key) or {}
        until = float(rec.get("locked_until", 0))
        if until > self.clock():
            wait = int(until - self.clock()) + 1
            raise RateLimitedError(
                f"too many failed sign-ins for this account from this client; try again in {wait}s", retry_after=wait
            )

    def _fail(self, key: bytes, why: str) -> AuthError:
        now = self.clock()
        rec = self.store.get_json(key) or {}
        recent = [t for t in rec.get("failures", []) if now - float(t) < self.failure_window] + [now]
        out: dict[str, Any] = {"failures": recent}
        if len(recent) >= self.max_failures:
            out = {"failures": [], "locked_until": now + self.lockout}
        self.store.put_json(key, out)
        return AuthError(why)

    def login(self, username: str, password: str, totp_code: str | None = None, *, client: str = "") -> Session:
        """A new session, or :class:`AuthError` (wrong credentials) / :class:`RateLimitedError` (locked out)."""
        key = self._fail_key(username, client)
        self._check_lock(key)
        raw = self._raw(username)
        try:
            _hasher.verify(raw["password_hash"] if raw else _DUMMY_HASH, password)
            ok = raw is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or raw is None:
            raise self._fail(key, "wrong username or password")
        acct = self._account(raw)
        if acct.disabled:
            raise self._fail(key, f"the account {username} is disabled")
        if acct.totp_required:
            step = self._totp_step(raw, totp_code)
            if step is None:
                raise self._fail(key, "a valid one-time code (TOTP) from the account's authenticator is required")
            raw["totp_last_step"] = step
            self.store.put_json(self._key(username), raw)
        if _hasher.check_needs_rehash(raw["password_hash"]):
            self._update(username, password_hash=_hasher.hash(password))
        self.store.delete(key)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires = self.clock() + self.session_ttl
        self.store.put_json(
            session_key(_hash_token(token)),
            {"username": username, "expires_at": expires, "csrf": csrf, "created_at": self.clock(), "client": client},
        )
        return Session(token=token, csrf_token=csrf, expires_at=expires, account=acct)

    def _totp_step(self, raw: dict[str, Any], code: str | None) -> int | None:
        """The 30 s step the code belongs to (now ±1 step), if valid and newer than the last used one."""
        secret = raw.get("totp_secret")
        if not secret or not code or not re.fullmatch(r"\d{6}", code.strip()):
            return None
        totp = pyotp.TOTP(secret)
        now = self.clock()
        for drift in (0, -1, 1):
            t = now + drift * totp.interval
            if secrets.compare_digest(totp.at(t), code.strip()):
                step = int(t // totp.interval)
                return step if step > int(raw.get("totp_last_step", -1)) else None
        return None

    # ------------------------------------------------------------------ sessions
    def authenticate(self, token: str) -> Session:
        """The live session of ``token`` (the account re-read, so a disabled account stops at once)."""
        key = session_key(_hash_token(token or ""))
        s = self.store.get_json(key)
        if s is None:
            raise AuthError("not signed in (unknown or ended session)")
        if float(s["expires_at"]) <= self.clock():
            self.store.delete(key)
            raise AuthError("the session has expired; sign in again")
        raw = self._raw(s["username"])
        if raw is None or raw.get("disabled"):
            self.store.delete(key)
            raise AuthError("the account of this session is disabled")
        return Session(token=token, csrf_token=s["csrf"], expires_at=float(s["expires_at"]), account=self._account(raw))

    def logout(self, token: str) -> None:
        self.store.delete(session_key(_hash_token(token)))

    def end_sessions(self, username: str) -> int:
        gone = [k for k, v in self.store.iter_json(SESSION_PREFIX) if v.get("username") == username]
        for k in gone:
            self.store.delete(k)
        return len(gone)

    def prune(self) -> int:
        """Delete expired sessions; returns how many."""
        now = self.clock()
        gone = [k for k, v in self.store.iter_json(SESSION_PREFIX) if float(v["expires_at"]) <= now]
        for k in gone:
            self.store.delete(k)
        return len(gone)

    def require(self, session: Session, *roles: str) -> None:
        if not session.account.roles & set(roles):
            raise ForbiddenError(f"this needs the role {' or '.join(roles)}")


DEMO_ACCOUNTS: dict[str, tuple[str, ...]] = {
    "clerk": ("clerk",),
    "officer": ("officer",),
    "dispute": ("dispute_officer",),
    "regulator": ("regulator",),
    "admin": ("hall_admin",),
    "demo": ("clerk", "officer", "dispute_officer", "regulator"),
}


def ensure_demo_accounts(accounts: AccountBook, path: Path) -> dict[str, dict[str, Any]]:
    """Development only: on a hall with no accounts, create one per role (plus ``demo`` with every
    role but hall_admin) and write their passwords and TOTP secrets to ``path`` (mode 0600)."""
    if not accounts.is_empty():
        if path.exists():
            data: dict[str, dict[str, Any]] = json.loads(path.read_text())
            return data
        return {}
    out: dict[str, dict[str, Any]] = {}
    for username, roles in DEMO_ACCOUNTS.items():
        password = secrets.token_urlsafe(12)
        created = accounts.create(username, password, roles=roles, display_name=f"demo {username}")
        out[username] = {"password": password, "totp_secret": created.totp_secret, "roles": list(roles)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(out, fh, indent=1)
    tmp.replace(path)
    return out
