"""The hall's off-chain store on LevelDB (``plyvel``).

Key layout (all keys are UTF-8; values JSON unless noted)::

    case/<serial>                    case header (what the hall knows of the case)
    rec/<serial>/<seq:06d>           one stage record with its salts and local anchor state
    blob/<sha256>                    raw bytes of a material or result file (content-addressed)
    meta/<name>                      small named values (cursors, counters)
    plus prefixes owned by other modules (outbox/, ...)

Every multi-key change goes through :meth:`Store.write_batch`, which LevelDB applies atomically,
so a crash never leaves half a case behind::

    with store.write_batch() as wb:
        wb.put_json(b"case/TB-1", {...})
        wb.put_blob(pdf_bytes)
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import plyvel

from ledger.errors import NotFoundError, StoreError
from ledger.hall.keys import SYNC_KEY, blob_key

__all__ = ["Store", "WriteBatch"]


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


class WriteBatch:
    """Writes collected here land together or not at all."""

    def __init__(self, batch: Any) -> None:
        self._b = batch

    def put(self, key: bytes, value: bytes) -> None:
        self._b.put(key, value)

    def put_json(self, key: bytes, value: Any) -> None:
        self._b.put(key, _dump(value))

    def delete(self, key: bytes) -> None:
        self._b.delete(key)

    def put_blob(self, data: bytes) -> str:
        """Store ``data`` under its SHA-256 and return the hex digest."""
        digest = hashlib.sha256(data).hexdigest()
        self._b.put(blob_key(digest), data)
        return digest


class Store:
    """A LevelDB directory owned by one hall node (one process at a time)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._issued = 0
        self._synced = 0
        self._ticket_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._tls = threading.local()
        try:
            # no block compression: what is on disk is what a raw scan sees (privacy checks after erasure)
            self._db = plyvel.DB(str(self.path), create_if_missing=True, compression=None)
        except plyvel.IOError as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc} (is another node using it?)") from exc

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def write_batch(self, *, sync: bool = True) -> Iterator[WriteBatch]:
        """Atomic batch: applied only if the block finishes without an exception.

        ``sync=True`` (the default) returns only once the batch is on disk. ``sync=False`` returns
        as soon as LevelDB has it; the caller then calls :meth:`sync` (outside any lock) before
        telling anyone the data is saved — concurrent callers then share one fsync (group commit).
        """
        batch = self._db.write_batch(transaction=True, sync=sync)
        with batch:
            yield WriteBatch(batch)
        if not sync:
            # tickets are taken after the write is in LevelDB: every ticket <= _issued is written
            with self._ticket_lock:
                self._issued += 1
                self._tls.ticket = self._issued

    def sync(self) -> None:
        """Block until this thread's unsynced writes are on disk (one fsync serves many waiters)."""
        target = getattr(self._tls, "ticket", 0)
        with self._sync_lock:
            if self._synced >= target:
                return  # another thread's fsync, started after our write, covered it
            with self._ticket_lock:
                upto = self._issued
            self._db.put(SYNC_KEY, b"", sync=True)  # a synced write flushes the whole log before it
            self._synced = upto

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._db.get(key)
        return value

    def get_json(self, key: bytes) -> Any:
        raw = self._db.get(key)
        return None if raw is None else json.loads(raw)

    def put_json(self, key: bytes, value: Any) -> None:
        self._db.put(key, _dump(value), sync=True)

    def delete(self, key: bytes) -> None:
        self._db.delete(key, sync=True)

    def iter_prefix(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        with self._db.iterator(prefix=prefix, reverse=reverse) as it:
            yield from it

    def iter_json(self, prefix: bytes) -> Iterator[tuple[bytes, Any]]:
        for k, v in self.iter_prefix(prefix):
            yield k, json.loads(v)

    def count_prefix(self, prefix: bytes) -> int:
        with self._db.iterator(prefix=prefix, include_value=False) as it:
            return sum(1 for _ in it)

    def put_blob(self, data: bytes) -> str:
        with self.write_batch() as wb:
            return wb.put_blob(data)

    def get_blob(self, digest_hex: str) -> bytes:
        """The bytes stored under ``digest_hex``; re-hashed on read so disk corruption is caught."""
        data = self._db.get(blob_key(digest_hex))
        if data is None:
            raise NotFoundError(f"no file with SHA-256 {digest_hex} in this hall's store")
        if hashlib.sha256(data).hexdigest() != digest_hex:
            raise StoreError(f"stored file {digest_hex} is corrupted on disk")
        blob: bytes = data
        return blob

    def has_blob(self, digest_hex: str) -> bool:
        return self._db.get(blob_key(digest_hex)) is not None

    def compact(self) -> None:
        """Compact the whole key range: overwritten and deleted values leave the on-disk files
        (used after erasing personal data, so old versions do not linger in logs or tables).

        The range is explicit (plyvel's default passes an empty range, which compacts nothing but the
        memtable); keys are UTF-8, which never contains the byte 0xff. Twice: a table still pinned by
        a concurrent iterator during the first pass is deleted as obsolete at the end of the next."""
        self._db.compact_range(start=b"\x00", stop=b"\xff" * 8)
        self._db.compact_range(start=b"\x00", stop=b"\xff" * 8)

    def snapshot_to(self, target: Path) -> int:
        """Copy a consistent point-in-time snapshot into a new LevelDB at ``target``; returns keys copied."""
        n = 0
        snap = self._db.snapshot()
        try:
            out = plyvel.DB(str(target), create_if_missing=True, error_if_exists=True)
            try:
                with out.write_batch() as wb, snap.iterator() as it:
                    for k, v in it:
                        wb.put(k, v)
                        n += 1
            finally:
                out.close()
        finally:
            snap.close()
        return n
