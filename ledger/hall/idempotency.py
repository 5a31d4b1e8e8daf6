"""First answers of ``Idempotency-Key`` requests, stored durably so that a retry never acts twice (issue 13).

A staff client (the pages send one key per form submission) retries a POST whose answer it lost with
the same key; the hall answers with the first answer instead of doing it again, also across a restart.
Two records per key (``idem/<username>/<sha256 of the key>``), both in the hall's store:

* ``committed`` — written *inside the same LevelDB batch* as the request's first write (a batch hook),
  so a crash after the write but before the answer was kept still knows the request was done, and
  which case it made (``ref``: the first ``case/<serial>`` key of that batch);
* ``done`` — the answer itself (status, content type, body), written right after the handler returns.

A retry finds ``done`` → the same answer; only ``committed`` → the current view of the case it made
(the answer was lost with the process). Entries expire after ``ttl`` seconds::

    answers = Answers(store, ttl=86400)
    with answers.claim("clerk1", key, fingerprint="POST /cases") as claim:
        ...   # the handler's writes carry the committed marker
        answers.finish(claim, 201, body, "application/json")
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ledger.errors import LedgerError
from ledger.hall.keys import CASE_PREFIX, IDEM_PREFIX, idem_key
from ledger.hall.store import Store, WriteBatch

__all__ = ["Answers", "Claim", "key_hash"]

log = logging.getLogger("caseledger.idempotency")

_CLAIM: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("caseledger_idempotency_claim", default=None)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass
class Claim:
    username: str
    key_hash: str
    fingerprint: str
    expires_at: float
    committed: bool = False
    ref: str | None = None

    @property
    def store_key(self) -> bytes:
        return idem_key(self.username, self.key_hash)


class Answers:
    def __init__(self, store: Store, *, ttl: float = 24 * 3600) -> None:
        self.store = store
        self.ttl = ttl
        self._inflight: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        store.batch_hooks.append(self._hook)

    def lookup(self, username: str, key: str) -> dict[str, Any] | None:
        rec: dict[str, Any] | None = self.store.get_json(idem_key(username, key_hash(key)))
        if rec is None or float(rec.get("expires_at", 0)) < time.time():
            return None
        return rec

    @contextmanager
    def claim(self, username: str, key: str, *, fingerprint: str) -> Iterator[Claim | None]:
        """The claim for this key (None if another request with the same key is in progress)."""
        c = Claim(username, key_hash(key), fingerprint, time.time() + self.ttl)
        with self._lock:
            if (username, c.key_hash) in self._inflight:
                yield None
                return
            self._inflight.add((username, c.key_hash))
        token = _CLAIM.set(c)
        try:
            yield c
        finally:
            _CLAIM.reset(token)
            with self._lock:
                self._inflight.discard((username, c.key_hash))

    def _hook(self, wb: WriteBatch) -> None:
        c = _CLAIM.get()
        if c is None or c.committed:
            return
        c.ref = next((k[len(CASE_PREFIX) :].decode() for k in wb.keys if k.startswith(CASE_PREFIX)), None)
        wb.put_json(
            c.store_key,
            {
                "state": "committed",
                "fingerprint": c.fingerprint,
                "ref": c.ref,
                "at": time.time(),
                "expires_at": c.expires_at,
            },
        )
        c.committed = True

    def finish(self, c: Claim, status: int, body: bytes, content_type: str) -> None:
        """Keep the answer (not synced: if it is lost, the committed marker in the request's batch remains)."""
        rec = {
            "state": "done",
            "fingerprint": c.fingerprint,
            "ref": c.ref,
            "status": status,
            "content_type": content_type,
            "body": base64.b64encode(body).decode(),
            "at": time.time(),
            "expires_at": c.expires_at,
        }
        try:
            self.store.put_json(c.store_key, rec, sync=False)
        except LedgerError as exc:  # a full disk: the committed marker (if any) still answers a retry
            log.warning("idempotency: the answer of a request could not be kept: %s", exc)

    def prune(self) -> int:
        now = time.time()
        old = [k for k, v in self.store.iter_json(IDEM_PREFIX) if float(v.get("expires_at", 0)) < now]
        for k in old:
            self.store.delete(k)
        return len(old)
