"""The data-key store: one data key per case (and expiring day keys), wrapped by the KEK, kept apart from the store.

:mod:`ledger.hall.atrest` encrypts a case's personal fields, salts, file list and files under that case's
data key. The keys live **here**, in a small LevelDB of their own beside the key-encryption key
(``CASELEDGER_DATA_KEYS_DIR``, default ``<dir of the KEK file>/datakeys``) — not in the hall's store, so
**never in a backup** — each wrapped by the KEK (:class:`ledger.hall.kek.KekProvider`). Destroying a case's
key (retention erasure) makes every copy of its ciphertext unreadable for good: the live store, every backup
taken before or after, every restored store (crypto-shredding)::

    keys = DataKeys.open(Path("/srv/caseledger/secrets/datakeys"), kek, hall_id=1, cipher="sm4-gcm")
    kid = keys.take("TB20260101-001-00001")      # a fresh, durable key for a new case
    keys.aead(kid)                               # its cipher object (None once destroyed)
    keys.destroy(kid, serial="TB…", why="erased")

Keys (``dk/…`` entries are the only secrets, and only wrapped)::

    dk/<id>          {"wrapped": "kek1.<kid>.…", "cipher", "created_at", "state": "spare"|"used", "serial"?, "day"?}
    gone/<id>        a destroyed key: {"destroyed_at", "why": "erased"|"expired"|"lost", "serial"?}
    day/<yyyymmdd>   the id of the day key for values that expire that day (sessions, idempotent answers)
    meta/store_init  the marker (this LevelDB is a :class:`ledger.hall.store.Store` of its own)

``id`` is 32 hex digits (16 random bytes, named in every ciphertext's envelope). A key is wrapped bound to
``caseledger-datakey/1 hall=<hall id> id=<id>``, so a wrapped key copied into another hall's key store or
under another id does not open.

**Spare keys.** New keys are made 64 at a time in one synced write, before any case uses them, so an intake
never waits for a key to reach the disk; the case's binding (``ck/<serial>`` in the hall's store) is written
in the intake's own batch. A spare that a store binding names (a crash after the intake's batch but before
``take`` was written here) is treated as used at start (:meth:`DataKeys.reconcile`).

**Rotation of the KEK.** :meth:`DataKeys.rewrap` re-wraps, in small synced batches, every key still wrapped
under an older KEK key; it is resumable (each entry names its KEK key id) and runs in the node's background.

**Destruction.** :meth:`DataKeys.destroy` deletes the entry, leaves a tombstone, syncs and compacts, so the
wrapped key leaves the LevelDB log and tables (the file system's free blocks are the volume's matter: keep
this directory on an encrypted volume, or in the HSM).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ledger.core.aead import CIPHERS, Aead
from ledger.core.suites import INTL, Suite
from ledger.errors import ConfigError, StoreDamagedError
from ledger.hall.kek import KekProvider
from ledger.hall.store import Store

__all__ = ["DataKeys", "KeyState"]

log = logging.getLogger("caseledger.datakeys")

KeyState = Literal["live", "destroyed", "missing"]
_DK = b"dk/"
_GONE = b"gone/"
_DAY = b"day/"
_META = b"meta/datakeys"
_POOL = 64
_CACHE = 4096


def _ctx(hall_id: int, kid: str) -> str:
    return f"caseledger-datakey/1 hall={hall_id} id={kid}"


class DataKeys:
    """The data keys of one hall (thread-safe)."""

    def __init__(self, store: Store, kek: KekProvider, *, hall_id: int, cipher: str, pool: int = _POOL) -> None:
        if cipher not in CIPHERS:
            raise ConfigError(f"unknown at-rest cipher {cipher!r}")
        self.store = store
        self.kek = kek
        self.hall_id = hall_id
        self.cipher = cipher
        self.pool_size = pool
        self._lock = threading.RLock()
        self._spares: list[str] = []
        self._cache: OrderedDict[str, Aead] = OrderedDict()
        self.rewrapped_total = 0
        self._summary: tuple[float, str, dict[str, int]] | None = None
        with self._lock:
            self._spares = [k[len(_DK) :].decode() for k, v in store.iter_json(_DK) if v.get("state") == "spare"]

    @property
    def path(self) -> Path:
        return self.store.path

    # ------------------------------------------------------------------ open
    @classmethod
    def open(
        cls,
        path: Path,
        kek: KekProvider,
        *,
        hall_id: int,
        cipher: str,
        create: bool,
        suite: Suite = INTL,
    ) -> DataKeys:
        """The key store at ``path``; created when ``create`` (a hall whose store holds no sealed data yet)."""
        if not path.exists():
            if not create:
                raise ConfigError(
                    f"the data-key store {path} does not exist, but the hall's store holds data encrypted under "
                    "keys kept there: put back the data-key store kept beside the key-encryption key (see "
                    "docs/operations.md, backup and restore)"
                )
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            s = Store.init(path, hall_id=hall_id, suite=suite)
            s.put_json(_META, {"hall_id": hall_id, "created_at": time.time()})
            s.close()
        store = Store(path, suite=suite)
        meta = store.get_json(_META) or {}
        if int(meta.get("hall_id", -1)) != hall_id:
            store.close()
            raise ConfigError(f"the data-key store {path} belongs to hall {meta.get('hall_id')}, not hall {hall_id}")
        return cls(store, kek, hall_id=hall_id, cipher=cipher)

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ keys
    def _new_entries(self, n: int, *, day: str | None = None) -> list[str]:
        ids = []
        with self.store.write_batch() as wb:  # synced: durable before anything is encrypted under them
            for _ in range(n):
                kid = secrets.token_hex(16)
                key = secrets.token_bytes(CIPHERS[self.cipher])
                wb.put_json(
                    _DK + kid.encode(),
                    {
                        "wrapped": self.kek.wrap(key, context=_ctx(self.hall_id, kid)),
                        "cipher": self.cipher,
                        "created_at": time.time(),
                        "state": "spare" if day is None else "used",
                        **({"day": day} if day else {}),
                    },
                )
                if day is not None:
                    wb.put_json(_DAY + day.encode(), {"id": kid})
                ids.append(kid)
        return ids

    def take(self, serial: str) -> str:
        """A key nobody used before, for the case ``serial`` (its binding is the caller's, in the hall's store)."""
        with self._lock:
            if not self._spares:
                self._spares = self._new_entries(self.pool_size)
            kid = self._spares.pop()
            raw = self.store.get_json(_DK + kid.encode())
            # not synced: a lost mark is repaired at start from the store's bindings (reconcile)
            self.store.put_json(_DK + kid.encode(), {**raw, "state": "used", "serial": serial}, sync=False)
            return kid

    def reconcile(self, bound: dict[str, str]) -> int:
        """Spares that a store binding names (``kid → serial``) are used ones; returns how many were fixed."""
        n = 0
        with self._lock:
            for kid in [k for k in self._spares if k in bound]:
                raw = self.store.get_json(_DK + kid.encode())
                self.store.put_json(_DK + kid.encode(), {**raw, "state": "used", "serial": bound[kid]})
                self._spares.remove(kid)
                n += 1
        return n

    def state(self, kid: str) -> KeyState:
        if self.store.get(_DK + kid.encode()) is not None:
            return "live"
        return "destroyed" if self.store.get(_GONE + kid.encode()) is not None else "missing"

    def aead(self, kid: str) -> Aead | None:
        """The key ``kid`` (cached), None when it was destroyed; :class:`StoreDamagedError` when it is unknown."""
        with self._lock:
            a = self._cache.get(kid)
            if a is not None:
                self._cache.move_to_end(kid)
                return a
            raw = self.store.get_json(_DK + kid.encode())
            if raw is None:
                if self.store.get(_GONE + kid.encode()) is not None:
                    return None
                raise StoreDamagedError(
                    f"data key {kid} is not in the data-key store {self.path}: this store was written with "
                    "another key store; put back the one kept beside the key-encryption key (docs/operations.md)"
                )
            key = self.kek.unwrap(str(raw["wrapped"]), context=_ctx(self.hall_id, kid))
            a = Aead.for_cipher(str(raw.get("cipher", "aes-256-gcm")), key)
            self._cache[kid] = a
            if len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
            return a

    def destroy(self, kid: str, *, serial: str = "", why: str = "erased", compact: bool = True) -> bool:
        """Destroy key ``kid`` for good (synced, compacted); True if it existed."""
        with self._lock:
            self._cache.pop(kid, None)
            if kid in self._spares:
                self._spares.remove(kid)
            existed = self.store.get(_DK + kid.encode()) is not None
            with self.store.write_batch() as wb:
                wb.delete(_DK + kid.encode())
                wb.put_json(_GONE + kid.encode(), {"destroyed_at": time.time(), "why": why, "serial": serial})
        if compact:
            self.store.compact()
        return existed

    def record_lost(self, kids: list[str], *, why: str = "lost") -> None:
        """Tombstone keys the store names but this key store never held (an operator accepted the loss)."""
        with self.store.write_batch() as wb:
            for kid in kids:
                wb.put_json(_GONE + kid.encode(), {"destroyed_at": time.time(), "why": why, "serial": ""})

    # ------------------------------------------------------------------ day keys (values that expire)
    def day_key(self, day: str) -> tuple[str, Aead] | None:
        """The key of values that expire on ``day`` (``yyyymmdd``, UTC): made on first use; None once destroyed."""
        with self._lock:
            idx = self.store.get_json(_DAY + day.encode())
            if idx is None:
                if day < datetime.now(UTC).strftime("%Y%m%d"):
                    return None  # never make a key for a day already over
                idx = {"id": self._new_entries(1, day=day)[0]}
            kid = str(idx["id"])
        a = self.aead(kid)
        return None if a is None else (kid, a)

    def expire_days(self, *, now: float | None = None, keep_days: int = 1) -> int:
        """Destroy the day keys of days that ended more than ``keep_days`` ago; returns how many."""
        cutoff = datetime.fromtimestamp((now or time.time()) - keep_days * 86400, UTC).strftime("%Y%m%d")
        old = [(k, v) for k, v in self.store.iter_json(_DAY) if k[len(_DAY) :].decode() < cutoff]
        for k, v in old:
            self.destroy(str(v["id"]), why="expired", compact=False)
            self.store.delete(k)
        if old:
            self.store.compact()
        return len(old)

    # ------------------------------------------------------------------ KEK rotation
    def pending_rewrap(self) -> int:
        return sum(1 for _, v in self.store.iter_json(_DK) if self.kek.needs_rewrap(str(v["wrapped"])))

    def summary(self, *, max_age: float = 30.0) -> dict[str, int]:
        """Counts for /health (live, spare, destroyed, rewrap_pending), recomputed at most every ``max_age`` s
        or at once after a rotation."""
        now = time.monotonic()
        cached = self._summary
        if cached is not None and now - cached[0] < max_age and cached[1] == self.kek.current_kid:
            return cached[2]
        out = {**self.counts(), "rewrap_pending": self.pending_rewrap()}
        self._summary = (now, self.kek.current_kid, out)
        return out

    def rewrap(self, *, limit: int = 256) -> int:
        """Re-wrap up to ``limit`` keys still wrapped under an older KEK key (one synced batch); returns how many."""
        with self._lock:
            todo = []
            for k, v in self.store.iter_json(_DK):
                if self.kek.needs_rewrap(str(v["wrapped"])):
                    todo.append((k, v))
                    if len(todo) >= limit:
                        break
            if not todo:
                return 0
            with self.store.write_batch() as wb:
                for k, v in todo:
                    kid = k[len(_DK) :].decode()
                    key = self.kek.unwrap(str(v["wrapped"]), context=_ctx(self.hall_id, kid))
                    wb.put_json(k, {**v, "wrapped": self.kek.wrap(key, context=_ctx(self.hall_id, kid))})
            self.rewrapped_total += len(todo)
            self._summary = None
        log.info("re-wrapped %d data keys under key-encryption key %s", len(todo), self.kek.current_kid)
        return len(todo)

    def counts(self) -> dict[str, int]:
        live = spare = 0
        for _, v in self.store.iter_json(_DK):
            live += 1
            spare += v.get("state") == "spare"
        return {"live": live - spare, "spare": spare, "destroyed": self.store.count_prefix(_GONE)}
