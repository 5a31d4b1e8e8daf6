"""Staff accounts of one hall: roles with separated duties, Argon2 passwords, sealed TOTP secrets,
expiring sessions, sign-in limits.

No web framework here; the node API turns a bearer token or a session cookie into a staff member::

    accounts = AccountBook(store, hall_id=1, kek=KeyEncryptionKey.load_or_create(kek_file))
    secret = accounts.create("li.officer", "a long passphrase", roles={"officer"}).totp_secret
    s = accounts.login("li.officer", "a long passphrase", pyotp.TOTP(secret).now(), client="10.0.0.7")
    staff = accounts.authenticate(s.token)        # AuthError once expired or logged out

**Roles.** Case work: ``clerk`` 受理 · ``officer`` 承办 · ``dispute_officer`` 核验/争议 · ``regulator`` 监管.
Administration, separated as GB/T 22239 (等保) level 3 asks (三员分立): ``sys_admin`` 系统管理员 (node
health, backups, retention erasure, trail anchoring), ``security_admin`` 安全管理员 (accounts, roles,
second factors, sign-in locks), ``auditor`` 安全审计员 (reads the access trail, which records every act
of the other two). An account holds at most one administrator role, and never an administrator role
together with a case role (:func:`check_duties`); no administrator role reads case data.

Officers, dispute officers and the three administrators must pass a TOTP code (RFC 6238, 30 s steps,
±1 step); a code is accepted once. TOTP secrets are kept **sealed** with the hall's key-encryption key
(:mod:`ledger.hall.kek`, a file outside the store and never in a backup); a store written before that
is sealed in place at start (:meth:`AccountBook.seal_plain_secrets`).

Store keys (all under this hall's LevelDB)::

    acct/<username>                 the account: roles, Argon2 hash, sealed TOTP secret, disabled flag,
                                    hashed client addresses it signed in from (see ledger.hall.loginlimits)
    sess/<sha256(token) hex>        a session: username, expiry, CSRF token (the token itself is never stored)
    authfail/<sha256 hex>           failed sign-ins per account and per client address (ledger.hall.loginlimits)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ledger.core.text import clean_name
from ledger.errors import AuthError, ConfigError, ForbiddenError, InputError, NotFoundError
from ledger.hall.kek import KekProvider, KeyEncryptionKey, SecretError
from ledger.hall.keys import ACCOUNT_PREFIX, SESSION_PREFIX, account_key, session_key
from ledger.hall.loginlimits import KNOWN_CLIENTS, LockInfo, LoginLimiter, client_hash
from ledger.hall.passwords import MIN_PASSWORD, check_password
from ledger.hall.store import Store
from ledger.messages import role_names_zh

__all__ = [
    "ADMIN_ROLES",
    "CASE_ROLES",
    "MIN_PASSWORD",
    "ROLES",
    "TOTP_ROLES",
    "AccountBook",
    "Created",
    "Session",
    "StaffAccount",
    "check_duties",
    "ensure_demo_accounts",
    "open_kek",
    "sealed_kids",
]

CASE_ROLES = frozenset({"clerk", "officer", "dispute_officer", "regulator"})
ADMIN_ROLES = frozenset({"sys_admin", "security_admin", "auditor"})
ROLES = CASE_ROLES | ADMIN_ROLES
TOTP_ROLES = frozenset({"officer", "dispute_officer"}) | ADMIN_ROLES
USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")

# one hash to compare against when the username does not exist, so timing does not reveal accounts
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a real password, never matches")


def sealed_kids(store: Store) -> set[str]:
    """The key ids the store's sealed TOTP secrets need (a node refuses to start without them)."""
    out: set[str] = set()
    for _, raw in store.iter_json(ACCOUNT_PREFIX):
        kid = KeyEncryptionKey.kid_of(str(raw.get("totp_sealed") or ""))
        if kid:
            out.add(kid)
    return out


def open_kek(
    path: Path, store: Store, *, cipher: str = "aes-256-gcm", also_needed: set[str] | None = None
) -> KeyEncryptionKey:
    """The hall's key-encryption key: loaded, or created (with ``cipher``) when nothing is sealed under one yet.

    Refuses (:class:`ConfigError`) to start with a missing or different KEK file when the store holds
    secrets sealed under another key, or the data-key store holds keys wrapped under one (``also_needed``):
    creating a new one would lock every second factor and every case's personal data out for good."""
    need = sealed_kids(store) | set(also_needed or ())
    if not path.exists():
        if need:
            raise ConfigError(
                f"the store holds secrets sealed with key-encryption key {', '.join(sorted(need))}, but "
                f"{path} does not exist: put back the KEK file kept apart from the backups (see "
                "docs/operations.md, backup and restore)"
            )
        return KeyEncryptionKey.create(path, cipher=cipher)
    kek = KeyEncryptionKey.load(path)
    missing = need - set(kek.kids)
    if missing:
        raise ConfigError(
            f"{path} does not hold key-encryption key {', '.join(sorted(missing))}, which the store's secrets "
            "are sealed with: this is another hall's or an older KEK file"
        )
    return kek


def check_duties(roles: Iterable[str]) -> frozenset[str]:
    """The role set, or an :class:`InputError` on ``roles`` when it breaks the separation of duties."""
    role_set = frozenset(roles)
    if not role_set:
        raise InputError("roles", "roles_required")
    unknown = role_set - ROLES
    if unknown:
        raise InputError("roles", "roles_unknown", roles=", ".join(sorted(unknown)), known=", ".join(sorted(ROLES)))
    admin = role_set & ADMIN_ROLES
    if len(admin) > 1:
        raise InputError("roles", "roles_one_admin")
    if admin and role_set & CASE_ROLES:
        raise InputError("roles", "roles_admin_no_cases")
    return role_set


@dataclass(frozen=True)
class StaffAccount:
    username: str
    roles: frozenset[str]
    display_name: str
    disabled: bool
    totp_required: bool
    created_at: float


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


def _totp_purpose(username: str) -> str:
    return f"totp:{username}"


class AccountBook:
    """The staff accounts and sessions of one hall. ``clock`` is injectable for tests.

    ``on_event(action, what)`` is called for every sign-in lock (``login_locked``); the node records it
    in the access trail. The routes record the administrators' own acts.
    """

    def __init__(
        self,
        store: Store,
        *,
        hall_id: int,
        kek: KekProvider,
        session_ttl: float = 8 * 3600,
        max_failures: int = 5,
        max_failures_address: int = 20,
        lockout_base: float = 30.0,
        lockout: float = 15 * 60,
        clock: Callable[[], float] = time.time,
        on_event: Callable[[str, str], None] | None = None,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.store = store
        self._hasher = hasher or _hasher
        self._dummy_hash = _DUMMY_HASH if hasher is None else hasher.hash("not a real password, never matches")
        self.hall_id = hall_id
        self.kek = kek
        self.session_ttl = session_ttl
        self.clock = clock
        self._lock = threading.RLock()
        self.limits = LoginLimiter(
            store,
            account_threshold=max_failures,
            address_threshold=max_failures_address,
            base=lockout_base,
            cap=lockout,
            clock=clock,
            on_event=on_event,
        )

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
            raise NotFoundError("account_not_found", username=username)
        return self._account(raw)

    def all(self) -> list[StaffAccount]:
        return [self._account(v) for _, v in self.store.iter_json(ACCOUNT_PREFIX)]

    def is_empty(self) -> bool:
        return self.store.count_prefix(ACCOUNT_PREFIX) == 0

    def _seal(self, username: str, secret: str | None) -> str | None:
        return None if secret is None else self.kek.wrap(secret.encode(), context=_totp_purpose(username))

    def create(self, username: str, password: str, *, roles: Iterable[str], display_name: str = "") -> Created:
        """A new account; returns its TOTP secret when one of its roles needs a second factor."""
        username = unicodedata.normalize("NFKC", username or "").strip()
        if not USERNAME.fullmatch(username):
            raise InputError("username", "username_invalid")
        role_set = check_duties(roles)
        display_name = clean_name("display_name", display_name or "")
        check_password(password, username=username, display_name=display_name)
        with self._lock:
            if self.store.get(self._key(username)) is not None:
                raise InputError("username", "account_exists", username=username)
            secret = pyotp.random_base32() if role_set & TOTP_ROLES else None
            raw: dict[str, Any] = {
                "username": username,
                "roles": sorted(role_set),
                "display_name": display_name,
                "password_hash": self._hasher.hash(password),
                "totp_sealed": self._seal(username, secret),
                "totp_last_step": -1,
                "disabled": False,
                "created_at": self.clock(),
                "known_clients": {},
            }
            self.store.put_json(self._key(username), raw)
        return Created(self._account(raw), secret)

    def _update(self, username: str, **changes: Any) -> dict[str, Any]:
        with self._lock:
            raw = self._raw(username)
            if raw is None:
                raise NotFoundError("account_not_found", username=username)
            raw.update(changes)
            self.store.put_json(self._key(username), raw)
            return raw

    def set_disabled(self, username: str, disabled: bool = True) -> StaffAccount:
        """Disable (or re-enable) an account; disabling also ends its sessions."""
        raw = self._update(username, disabled=disabled)
        if disabled:
            self.end_sessions(username)
        return self._account(raw)

    def set_roles(self, username: str, roles: Iterable[str], *, by: str) -> Created:
        """Change an account's roles (duties checked; never one's own); ends its sessions. A new TOTP
        secret is returned when the new roles need a second factor and the account had none."""
        if username == by:
            raise ForbiddenError("roles_not_own")
        role_set = check_duties(roles)
        raw = self._raw(username)
        if raw is None:
            raise NotFoundError("account_not_found", username=username)
        secret = None
        changes: dict[str, Any] = {"roles": sorted(role_set)}
        if role_set & TOTP_ROLES and not raw.get("totp_sealed"):
            secret = pyotp.random_base32()
            changes.update(totp_sealed=self._seal(username, secret), totp_last_step=-1)
        raw = self._update(username, **changes)
        self.end_sessions(username)
        return Created(self._account(raw), secret)

    def change_password(self, username: str, current: str, new: str, *, keep_token: str | None = None) -> None:
        """The staff member's own password change: the current one must be right (a wrong one counts as a failed
        sign-in), the new one passes the policy; every other session of the account ends."""
        raw = self._raw(username)
        if raw is None:
            raise NotFoundError("account_not_found", username=username)
        try:
            self._hasher.verify(raw["password_hash"], current)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            raise InputError("current_password", "password_current_wrong") from None
        if new == current:
            raise InputError("new_password", "password_unchanged")
        check_password(new, username=username, display_name=str(raw.get("display_name") or ""), field="new_password")
        self._update(username, password_hash=self._hasher.hash(new))
        keep = session_key(_hash_token(keep_token)) if keep_token else None
        for k, v in self.store.iter_json(SESSION_PREFIX):
            if v.get("username") == username and k != keep:
                self.store.delete(k)

    def reset_totp(self, username: str) -> Created:
        """A fresh TOTP secret (the old authenticator stops working); ends the account's sessions."""
        acct = self.get(username)
        if not acct.totp_required:
            raise InputError("username", "no_second_factor", username=username)
        secret = pyotp.random_base32()
        raw = self._update(username, totp_sealed=self._seal(username, secret), totp_last_step=-1)
        self.end_sessions(username)
        return Created(self._account(raw), secret)

    def seal_plain_secrets(self) -> int:
        """Seal TOTP secrets a store written before sealing still holds in plain text, and re-seal those
        sealed under an older key of the KEK file; returns how many accounts changed."""
        n = 0
        with self._lock:
            for _, raw in list(self.store.iter_json(ACCOUNT_PREFIX)):
                name = str(raw["username"])
                if "totp_secret" in raw:  # written before secrets were sealed
                    plain = raw.pop("totp_secret")
                elif raw.get("totp_sealed") and self.kek.needs_rewrap(str(raw["totp_sealed"])):
                    plain = self.kek.unwrap(str(raw["totp_sealed"]), context=_totp_purpose(name)).decode()
                else:
                    continue
                raw["totp_sealed"] = self._seal(name, plain) if plain else None
                self.store.put_json(self._key(name), raw)
                n += 1
        return n

    # ------------------------------------------------------------------ login
    def login(self, username: str, password: str, totp_code: str | None = None, *, client: str = "") -> Session:
        """A new session, or :class:`AuthError` (wrong credentials) / :class:`RateLimitedError` (locked out)."""
        with self._lock:
            raw = self._raw(username)
            known = raw is not None and client_hash(client) in (raw.get("known_clients") or {})
            self.limits.check(username, client, known_client=known)
        try:
            self._hasher.verify(raw["password_hash"] if raw else self._dummy_hash, password)
            ok = raw is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        with self._lock:
            if not ok or raw is None:
                raise self._fail(username, client, raw is not None, AuthError("login_failed"))
            raw = self._raw(username) or raw  # re-read under the lock (a concurrent sign-in may have used a code)
            acct = self._account(raw)
            if acct.disabled:
                raise self._fail(username, client, True, AuthError("account_disabled"))
            if acct.totp_required:
                step = self._totp_step(raw, totp_code)
                if step is None:
                    why = AuthError("totp_wrong" if (totp_code or "").strip() else "totp_required")
                    raise self._fail(username, client, True, why)
                raw["totp_last_step"] = step
            if self._hasher.check_needs_rehash(raw["password_hash"]):
                raw["password_hash"] = self._hasher.hash(password)
            seen = dict(raw.get("known_clients") or {})
            seen[client_hash(client)] = self.clock()
            raw["known_clients"] = dict(sorted(seen.items(), key=lambda kv: kv[1])[-KNOWN_CLIENTS:])
            self.store.put_json(self._key(username), raw)
            self.limits.succeeded(username)
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
            expires = self.clock() + self.session_ttl
            self.store.put_json(
                session_key(_hash_token(token)),
                {
                    "username": username,
                    "expires_at": expires,
                    "csrf": csrf,
                    "created_at": self.clock(),
                    "client": client,
                },
            )
        return Session(token=token, csrf_token=csrf, expires_at=expires, account=acct)

    def _fail(self, username: str, client: str, exists: bool, err: AuthError) -> AuthError:
        """Count the failure; ``err`` is what the person is told."""
        self.limits.failed(username, client, account_exists=exists)
        return err

    def _totp_step(self, raw: dict[str, Any], code: str | None) -> int | None:
        """The 30 s step the code belongs to (now ±1 step), if valid and newer than the last used one.

        The code is NFKC-normalised first (full-width digits from a Chinese input method are digits)."""
        sealed = raw.get("totp_sealed")
        if not sealed or not code:
            return None
        code = unicodedata.normalize("NFKC", code).strip()
        if not re.fullmatch(r"[0-9]{6}", code):
            return None
        try:
            secret = self.kek.unwrap(str(sealed), context=_totp_purpose(str(raw["username"]))).decode()
        except SecretError as exc:
            raise AuthError("totp_unreadable") from exc
        totp = pyotp.TOTP(secret)
        now = self.clock()
        for drift in (0, -1, 1):
            t = now + drift * totp.interval
            if secrets.compare_digest(totp.at(t).encode(), code.encode()):
                step = int(t // totp.interval)
                return step if step > int(raw.get("totp_last_step", -1)) else None
        return None

    # ------------------------------------------------------------------ sign-in locks (security administrator)
    def lockouts(self) -> list[LockInfo]:
        return self.limits.locks()

    def clear_lockouts(self, *, username: str | None = None, address: str | None = None) -> int:
        if not username and not address:
            raise InputError("username", "lock_target_required")
        with self._lock:
            return self.limits.clear(username=username, address=address)

    # ------------------------------------------------------------------ sessions
    def authenticate(self, token: str) -> Session:
        """The live session of ``token`` (the account re-read, so a disabled account stops at once)."""
        key = session_key(_hash_token(token or ""))
        s = self.store.get_json(key)
        if s is None:
            raise AuthError("session_unknown")
        if float(s["expires_at"]) <= self.clock():
            self.store.delete(key)
            raise AuthError("session_expired")
        raw = self._raw(s["username"])
        if raw is None or raw.get("disabled"):
            self.store.delete(key)
            raise AuthError("account_disabled")
        return Session(token=token, csrf_token=s["csrf"], expires_at=float(s["expires_at"]), account=self._account(raw))

    def logout(self, token: str) -> None:
        self.store.delete(session_key(_hash_token(token)))

    def end_sessions(self, username: str) -> int:
        gone = [k for k, v in self.store.iter_json(SESSION_PREFIX) if v.get("username") == username]
        for k in gone:
            self.store.delete(k)
        return len(gone)

    def prune(self) -> int:
        """Delete expired sessions and stale sign-in failure counters; returns how many."""
        now = self.clock()
        gone = [k for k, v in self.store.iter_json(SESSION_PREFIX) if float(v["expires_at"]) <= now]
        for k in gone:
            self.store.delete(k)
        with self._lock:
            return len(gone) + self.limits.prune()

    def require(self, session: Session, *roles: str) -> None:
        if not session.account.roles & set(roles):
            raise ForbiddenError("role_required", roles=" or ".join(roles), roles_zh=role_names_zh(roles))


DEMO_ACCOUNTS: dict[str, tuple[str, ...]] = {
    "clerk": ("clerk",),
    "officer": ("officer",),
    "dispute": ("dispute_officer",),
    "regulator": ("regulator",),
    "admin": ("sys_admin",),
    "secadmin": ("security_admin",),
    "auditor": ("auditor",),
    "demo": ("clerk", "officer", "dispute_officer", "regulator"),
}


def ensure_demo_accounts(accounts: AccountBook, path: Path) -> dict[str, dict[str, Any]]:
    """Development only: on a hall with no accounts, create one per role (plus ``demo`` with every
    case role; administrators are separate accounts) and write their passwords and TOTP secrets to
    ``path`` (mode 0600)."""
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
