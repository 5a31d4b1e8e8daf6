"""Sign-in failure limits: per account and per client address, with capped exponential back-off.

Two counters are kept for every failed sign-in: one for the **account** tried (so guesses spread over
many addresses still stop) and one for the **client address** (so one address cannot try many
accounts). A counter that reaches its threshold locks for ``base × 2^(failures − threshold)``
seconds, at most ``cap`` (15 minutes by default). While locked, attempts are refused *before* the
password is checked and are not counted, so a lock cannot be stretched by hammering it.

An attacker must not be able to keep a real user locked out for good: an account lock does not apply
to a client address from which that account signed in successfully before (its *known clients*, the
last :data:`KNOWN_CLIENTS` of them, kept hashed in the account). So a clerk at the usual counter PC
signs in while someone elsewhere is failing on the same username; the attacker's own address is
locked by its counter either way. A security administrator can clear any lock
(:meth:`LoginLimiter.clear`), and every lock and clear goes to the access trail (``on_event``).

The client address is the TCP peer, or the ``X-Forwarded-For`` hop named by a *configured* trusted
proxy (``CASELEDGER_TRUSTED_PROXIES``; none by default, see node_api). IPv6 clients are counted by
their /64 network, the unit a single host can rotate addresses within.

Records are pruned once stale (:meth:`LoginLimiter.prune`, run by the node's housekeeping and, at most
once a minute, by the failure path itself), so memory does not grow with every bad sign-in.

Store keys: ``authfail/<sha256 hex of "acct|<username>" or "addr|<client>">`` →
``{"kind", "label", "failures", "locked_until", "last"}``; ``label`` is the username only when the
account exists (a mistyped password in the username box is never stored), the address for addresses.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledger.errors import RateLimitedError
from ledger.hall.keys import AUTHFAIL_PREFIX, authfail_key
from ledger.hall.store import Store

__all__ = ["KNOWN_CLIENTS", "LockInfo", "LoginLimiter", "client_key"]

KNOWN_CLIENTS = 20
PRUNE_EVERY = 60.0


def client_key(client: str) -> str:
    """How a client address is counted: the address itself, or its /64 network for IPv6."""
    try:
        ip = ipaddress.ip_address(client)
    except ValueError:
        return client or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def client_hash(client: str) -> str:
    return hashlib.sha256(f"client|{client_key(client)}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class LockInfo:
    kind: str  # "account" | "address"
    label: str
    failures: int
    locked_until: float


class LoginLimiter:
    """Counters of failed sign-ins in the hall's store. Call under the accounts' lock."""

    def __init__(
        self,
        store: Store,
        *,
        account_threshold: int = 5,
        address_threshold: int = 20,
        base: float = 30.0,
        cap: float = 15 * 60,
        forget_after: float = 3600.0,
        clock: Callable[[], float] = time.time,
        on_event: Callable[[str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.account_threshold = account_threshold
        self.address_threshold = address_threshold
        self.base = base
        self.cap = cap
        self.forget_after = max(forget_after, cap)
        self.clock = clock
        self.on_event = on_event
        self._last_prune = 0.0

    @staticmethod
    def _acct_key(username: str) -> bytes:
        return authfail_key(hashlib.sha256(f"acct|{username}".encode()).hexdigest())

    @staticmethod
    def _addr_key(client: str) -> bytes:
        return authfail_key(hashlib.sha256(f"addr|{client_key(client)}".encode()).hexdigest())

    def _get(self, key: bytes, now: float) -> dict[str, Any]:
        rec: dict[str, Any] = self.store.get_json(key) or {}
        if rec and now - float(rec.get("last", 0)) > self.forget_after and float(rec.get("locked_until", 0)) <= now:
            return {}
        return rec

    # ------------------------------------------------------------------ checks
    def check(self, username: str, client: str, *, known_client: bool) -> None:
        """Raise :class:`RateLimitedError` when the address, or the account (for an unknown client), is locked."""
        now = self.clock()
        addr = self._get(self._addr_key(client), now)
        until = float(addr.get("locked_until", 0))
        if until > now:
            wait = int(until - now) + 1
            raise RateLimitedError("too_many_sign_ins_address", retry_after=wait)
        acct = self._get(self._acct_key(username), now)
        until = float(acct.get("locked_until", 0))
        if until > now and not known_client:
            wait = int(until - now) + 1
            raise RateLimitedError("too_many_sign_ins", retry_after=wait)

    def _bump(self, key: bytes, kind: str, label: str, threshold: int, now: float) -> None:
        rec = self._get(key, now)
        failures = int(rec.get("failures", 0)) + 1
        out: dict[str, Any] = {
            "kind": kind,
            "label": label,
            "failures": failures,
            "last": now,
            "locked_until": float(rec.get("locked_until", 0)),
        }
        if failures >= threshold:
            lock = min(self.cap, self.base * 2 ** (failures - threshold))
            out["locked_until"] = now + lock
            if self.on_event is not None:
                self.on_event("login_locked", f"{kind} {label}: {failures} failed sign-ins, locked for {lock:.0f}s")
        self.store.put_json(key, out)

    def failed(self, username: str, client: str, *, account_exists: bool) -> None:
        """Count one failed sign-in against the account and the address (may start a lock)."""
        now = self.clock()
        label = username if account_exists else "(no such account)"
        self._bump(self._acct_key(username), "account", label, self.account_threshold, now)
        self._bump(self._addr_key(client), "address", client_key(client), self.address_threshold, now)
        if now - self._last_prune >= PRUNE_EVERY:
            self.prune()

    def succeeded(self, username: str) -> None:
        """The account's owner proved themselves: its counter starts afresh (the address's decays by time)."""
        self.store.delete(self._acct_key(username))

    # ------------------------------------------------------------------ admin
    def locks(self) -> list[LockInfo]:
        now = self.clock()
        out = []
        for _, rec in self.store.iter_json(AUTHFAIL_PREFIX):
            if float(rec.get("locked_until", 0)) > now:
                out.append(
                    LockInfo(
                        str(rec.get("kind")),
                        str(rec.get("label")),
                        int(rec.get("failures", 0)),
                        float(rec["locked_until"]),
                    )
                )
        return out

    def clear(self, *, username: str | None = None, address: str | None = None) -> int:
        """Remove the counters of ``username`` and/or ``address``; returns how many were removed."""
        keys = ([self._acct_key(username)] if username else []) + ([self._addr_key(address)] if address else [])
        n = 0
        for k in keys:
            if self.store.get(k) is not None:
                self.store.delete(k)
                n += 1
        return n

    def prune(self) -> int:
        """Delete counters that are neither locked nor recent; returns how many."""
        now = self.clock()
        self._last_prune = now
        stale = [
            k
            for k, rec in self.store.iter_json(AUTHFAIL_PREFIX)
            if float(rec.get("locked_until", 0)) <= now and now - float(rec.get("last", 0)) > self.forget_after
        ]
        for k in stale:
            self.store.delete(k)
        return len(stale)

    def count(self) -> int:
        return self.store.count_prefix(AUTHFAIL_PREFIX)
