"""The store's change journal: which cases changed since a reader last looked (the incremental audit's feed).

Every write batch that touches a case's header (``case/``), its records (``rec/``) or its indexed chain
events (``chainev/``, written by the indexer from its cursor) adds, in the same atomic batch, one
journal entry per case it touched::

    chg/<seq:016d>  →  "<serial>" (a JSON string)   or  "*"  (everything: the official calendar changed)

so a writer cannot change a case without the journal saying so, a crash loses neither, and no writer
needs to know the journal exists (the store installs it when it opens). A reader
(:func:`ledger.hall.audit.scan_incremental`) takes the entries it sees, re-evaluates those cases, and
deletes exactly the entries it read in the batch that stores its verdicts: an entry written meanwhile
has a higher sequence number and stays for the next reader. Entries are not coalesced on the write
path (no read per write); the reader de-duplicates.

The sequence continues after the highest entry present when the store opens, so a restart never reuses
an unread entry's key.
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import Protocol

from ledger.hall.keys import CALENDAR_PREFIX, CASE_PREFIX, CHAIN_EVENT_PREFIX, CHANGE_PREFIX, RECORD_PREFIX

__all__ = ["EVERYTHING", "ChangeJournal", "change_key", "journaled", "serial_of"]

EVERYTHING = "*"
"""the journal value meaning "re-evaluate every case" (an official calendar was loaded or removed)"""

_PER_CASE = (CASE_PREFIX, RECORD_PREFIX, CHAIN_EVENT_PREFIX)


class _Batch(Protocol):
    keys: list[bytes]

    def put(self, key: bytes, value: bytes) -> None: ...


def change_key(seq: int) -> bytes:
    return CHANGE_PREFIX + f"{seq:016d}".encode()


def serial_of(key: bytes) -> str | None:
    """The case serial a store key belongs to (``case/S``, ``rec/S/…``, ``chainev/S/…``), else None."""
    for prefix in _PER_CASE:
        if key.startswith(prefix):
            return key[len(prefix) :].split(b"/", 1)[0].decode("utf-8", "replace")
    return None


def journaled(key: bytes) -> bool:
    return key.startswith(_PER_CASE) or key.startswith(CALENDAR_PREFIX)


class ChangeJournal:
    """The batch hook (:attr:`ledger.hall.store.Store.batch_hooks`) that writes the journal entries."""

    def __init__(self, last_key: bytes | None) -> None:
        """``last_key``: the highest journal key present in the store (None: the journal is empty)."""
        start = 0 if last_key is None else int(last_key[len(CHANGE_PREFIX) :]) + 1
        self._seq = itertools.count(start)
        self._lock = threading.Lock()

    def hook(self, wb: _Batch) -> None:
        touched: set[str] = set()
        for k in wb.keys:
            if k.startswith(CHANGE_PREFIX):
                continue
            s = serial_of(k)
            if s is not None:
                touched.add(s)
            elif k.startswith(CALENDAR_PREFIX):
                touched.add(EVERYTHING)
        if not touched:
            return
        with self._lock:
            seqs = [next(self._seq) for _ in touched]
        for seq, s in zip(seqs, sorted(touched), strict=True):
            wb.put(change_key(seq), json.dumps(s).encode())  # a JSON string, as every value of the store
