"""The hall's off-chain store on LevelDB (``plyvel``).

Key layout: :mod:`ledger.hall.keys`. Every multi-key change goes through :meth:`Store.write_batch`,
which LevelDB applies atomically, so a crash never leaves half a case behind::

    store = Store.init(path, hall_id=1)     # once, when the hall is set up: writes the store marker
    store = Store(path)                      # every later start: opens an existing store, never creates one
    with store.write_batch() as wb:
        wb.put_json(b"case/TB-1", {...})
        wb.put_blob(pdf_bytes)

Damage is refused, never papered over (issue 13):

* a store is created only by :meth:`Store.init`; a missing directory, a missing ``CURRENT`` or a store
  without its marker (``meta/store_init``) is damage, not a new store (:class:`StoreDamagedError`);
* LevelDB runs with ``paranoid_checks`` and reads verify block checksums; every live table file (named by
  the MANIFEST, :mod:`ledger.hall.ldbmanifest`) is checked at open for its recorded size and its footer (the
  table magic number), so a truncated table is found before it answers;
* a LevelDB corruption found later answers :class:`StoreDamagedError` (HTTP 503), never a 500.

**Encryption at rest** happens beneath the services, in the store's *codec* (:class:`Codec`): every JSON
value goes through :meth:`Codec.encode` before LevelDB sees it and :meth:`Codec.decode` after it is read, and
files go through :meth:`Codec.seal_blob` / :meth:`Codec.open_blob` under an address the codec chooses. A
hall node installs :class:`ledger.hall.atrest.AtRest` (personal fields, salts, file lists and files of each
case sealed under the case's data key); the default :class:`PlainCodec` stores JSON as it is and files under
their digest (``blob/<digest>``), for tools and tests that hold no personal data.

A full disk (``ENOSPC``) makes LevelDB refuse every later write until the database is reopened. The
store then answers :class:`StorageFullError` for writes (reads keep working) and reopens itself once
``min_free_bytes`` are free again (:meth:`Store.recover`, tried before each write and by ``/health``).
"""

from __future__ import annotations

import errno
import json
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import orjson
import plyvel

from ledger.core.suites import INTL, Suite
from ledger.errors import ConfigError, NotFoundError, StorageFullError, StoreDamagedError, StoreError
from ledger.hall.changes import ChangeJournal, journaled
from ledger.hall.keys import CHANGE_PREFIX, STORE_INIT_KEY, SYNC_KEY, blob_key
from ledger.hall.ldbmanifest import live_tables

__all__ = [
    "STORE_FORMAT",
    "STORE_LAYOUT",
    "Codec",
    "PlainCodec",
    "Store",
    "WriteBatch",
    "check_table_footers",
    "dump_json",
    "load_json",
]

log = logging.getLogger("caseledger.store")

STORE_LAYOUT = 2
"""the store's own layout (in its marker): 2 = personal data sealed at rest (:mod:`ledger.hall.atrest`); a store
of layout 1 (plaintext) is converted in place at the node's first start of this release"""
STORE_FORMAT = 2
"""the evidence format of the records a store holds (in its marker); a store of another format is refused"""
# the last 8 bytes of every LevelDB table file (table/format.h kTableMagicNumber, little-endian)
_TABLE_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")
_FOOTER = 48
DEFAULT_MIN_FREE = 8 * 1024 * 1024


def check_table_footers(path: Path) -> None:
    """Every table file the LevelDB at ``path`` uses (its MANIFEST's live tables) is there, has the size the
    MANIFEST recorded and ends with the table magic number (a truncated or overwritten table does not):
    :class:`StoreDamagedError` naming the first that does not.

    A table file the MANIFEST does not name is the output of a compaction or flush that a stop or a crash
    interrupted: LevelDB deletes it at the open, so it is not damage (:mod:`ledger.hall.ldbmanifest`). When the
    MANIFEST cannot be read here, every table file is checked (LevelDB's own open then judges the MANIFEST)."""
    tables = sorted([*path.glob("*.ldb"), *path.glob("*.sst")])
    expected: dict[str, int | None] = {f.name: None for f in tables}
    try:
        current = (path / "CURRENT").read_text(encoding="ascii").strip()
        live = live_tables((path / current).read_bytes())
    except (OSError, UnicodeDecodeError, StoreDamagedError) as exc:
        log.warning(
            "store: the MANIFEST of %s cannot be read before the open (%s); checking every table file", path, exc
        )
    else:
        expected = {}
        for number, size in live.items():
            name = next((n for n in (f"{number:06d}.ldb", f"{number:06d}.sst") if (path / n).exists()), None)
            if name is None:
                raise StoreDamagedError(f"the store at {path} is damaged: table file {number:06d}.ldb is missing")
            expected[name] = size
    for name, want in sorted(expected.items()):
        f = path / name
        try:
            size = f.stat().st_size
            with f.open("rb") as fh:
                fh.seek(max(0, size - 8))
                tail = fh.read(8)
        except OSError as exc:
            raise StoreDamagedError(f"the store at {path} is damaged: table {f.name} cannot be read ({exc})") from exc
        if size < _FOOTER or tail != _TABLE_MAGIC or (want is not None and size != want):
            raise StoreDamagedError(
                f"the store at {path} is damaged: table file {f.name} is truncated or overwritten ({size} bytes)"
            )


def _is_full(exc: BaseException) -> bool:
    text = str(exc)
    return "No space left" in text or f"errno {errno.ENOSPC}" in text or "Disk quota" in text


def dump_json(value: Any) -> bytes:
    """The store's spelling of a JSON value (UTF-8, sorted keys, no spaces): orjson, and the stdlib for what
    orjson does not take (integers beyond 64 bits, non-string keys, NaN), which spells it the same way."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def load_json(raw: bytes) -> Any:
    """A value the store wrote (orjson; the stdlib for integers beyond 64 bits and NaN)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


class Codec(Protocol):
    """How values reach LevelDB. ``pending`` is the batch's own new bindings (serial → data key id), which the
    codec fills when a write of a new case needs a key and reads before the batch is committed."""

    sealing: bool

    def encode(self, key: bytes, value: Any, pending: dict[str, str]) -> list[tuple[bytes, bytes]]:
        """The (key, bytes) pairs to write for ``value`` at ``key`` (the first is ``key`` itself)."""
        ...

    def decode(self, key: bytes, raw: bytes) -> Any: ...

    def seal_blob(self, case: str, digest: str, data: bytes, pending: dict[str, str]) -> list[tuple[bytes, bytes]]:
        """The pairs that store file ``data`` (its suite digest ``digest``) of case ``case``."""
        ...

    def blob_key(self, case: str, digest: str) -> bytes:
        """Where file ``digest`` of ``case`` is (:class:`NotFoundError` when the case has no key for it)."""
        ...

    def open_blob(self, key: bytes, raw: bytes) -> bytes: ...

    def committed(self, pending: dict[str, str]) -> None:
        """The batch holding these bindings is in LevelDB."""
        ...


class PlainCodec:
    """No encryption: JSON as it is, files under their digest (``blob/<digest>``, shared by every case)."""

    sealing = False

    def encode(self, key: bytes, value: Any, pending: dict[str, str]) -> list[tuple[bytes, bytes]]:
        return [(key, dump_json(value))]

    def decode(self, key: bytes, raw: bytes) -> Any:
        return load_json(raw)

    def seal_blob(self, case: str, digest: str, data: bytes, pending: dict[str, str]) -> list[tuple[bytes, bytes]]:
        return [(blob_key(digest), data)]

    def blob_key(self, case: str, digest: str) -> bytes:
        return blob_key(digest)

    def open_blob(self, key: bytes, raw: bytes) -> bytes:
        return raw

    def committed(self, pending: dict[str, str]) -> None:
        return None


class WriteBatch:
    """Writes collected here land together or not at all."""

    def __init__(self, batch: Any, suite: Suite = INTL, codec: Codec | None = None) -> None:
        self._b = batch
        self._suite = suite
        self._codec: Codec = codec or PlainCodec()
        self.pending: dict[str, str] = {}  # data keys bound to new cases in this batch (the codec's)
        self.keys: list[bytes] = []  # what this batch writes (batch hooks look at it)

    def put(self, key: bytes, value: bytes) -> None:
        self._b.put(key, value)
        self.keys.append(key)

    def put_json(self, key: bytes, value: Any) -> None:
        for k, v in self._codec.encode(key, value, self.pending):
            self._b.put(k, v)
            self.keys.append(k)

    def delete(self, key: bytes) -> None:
        self._b.delete(key)
        self.keys.append(key)

    def put_blob(self, data: bytes, *, case: str) -> str:
        """Store file ``data`` of case ``case``; returns its hex digest in the store's hash suite (SHA-256 or SM3)."""
        digest = self._suite.hexdigest(data)
        for k, v in self._codec.seal_blob(case, digest, data, self.pending):
            self._b.put(k, v)
        return digest


class Store:
    """A LevelDB directory owned by one hall node (one process at a time). Opens existing stores only."""

    def __init__(
        self, path: Path | str, *, suite: Suite = INTL, min_free_bytes: int = DEFAULT_MIN_FREE, _create: bool = False
    ) -> None:
        self.path = Path(path)
        self.suite = suite
        self.min_free_bytes = min_free_bytes
        self._issued = 0
        self._synced = 0
        self._ticket_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._tls = threading.local()
        # every operation is a "user" of the LevelDB handle; reopening after a full disk waits for none
        self._gate = threading.Condition()
        self._users = 0
        self._reopening = False
        self.full_since: float | None = None
        self.full_error: str | None = None
        self.damage: str | None = None
        self.on_recovered: list[Callable[[], None]] = []
        self.batch_hooks: list[Callable[[WriteBatch], None]] = []
        # called with the keys of every committed change (derived in-memory indexes, e.g. the inbox)
        self.listeners: list[Callable[[list[bytes]], None]] = []
        self.codec: Codec = PlainCodec()
        if not _create:
            if not self.path.is_dir():
                raise StoreDamagedError(
                    f"there is no store at {self.path}: restore the hall's latest backup (caseledger restore), "
                    "or, for a new hall, initialise it once with `caseledger hall init`"
                )
            if not (self.path / "CURRENT").is_file():
                raise StoreDamagedError(
                    f"the store at {self.path} is damaged: its CURRENT file is missing; restore the latest backup "
                    "(caseledger restore) or re-fetch the hall's cases from its peers (caseledger hall recover)"
                )
            check_table_footers(self.path)
        self._db = self._open(create=_create)
        if not _create and self._db.get(STORE_INIT_KEY) is None:
            self._db.close()
            raise StoreDamagedError(
                f"the store at {self.path} has no store marker (meta/store_init): it was not made by "
                "`caseledger hall init` or it lost its first records; restore the latest backup (caseledger restore)"
            )
        # the change journal of cases (ledger.hall.changes): every batch touching a case says so in itself
        with self._db.iterator(prefix=CHANGE_PREFIX, reverse=True, include_value=False) as it:
            last = next(it, None)
        self.journal = ChangeJournal(last)
        self.batch_hooks.append(self.journal.hook)

    def _open(self, *, create: bool) -> Any:
        try:
            # no block compression: what is on disk is what a raw scan sees (privacy checks after erasure)
            return plyvel.DB(
                str(self.path), create_if_missing=create, error_if_exists=create, compression=None, paranoid_checks=True
            )
        except plyvel.CorruptionError as exc:
            raise StoreDamagedError(
                f"the store at {self.path} is damaged ({_plain(exc)}); restore the latest backup (caseledger restore) "
                "or re-fetch the hall's cases from its peers (caseledger hall recover)"
            ) from exc
        except plyvel.IOError as exc:
            if "lock" in str(exc).lower():
                raise StoreError(f"cannot open the store at {self.path}: another node is using it") from exc
            raise StoreDamagedError(f"cannot open the store at {self.path}: {_plain(exc)}") from exc
        except plyvel.Error as exc:
            raise StoreDamagedError(f"cannot open the store at {self.path}: {_plain(exc)}") from exc

    @classmethod
    def init(
        cls,
        path: Path | str,
        *,
        hall_id: int | None = None,
        suite: Suite = INTL,
        min_free_bytes: int = DEFAULT_MIN_FREE,
    ) -> Store:
        """Create a new, empty store with its marker (first initialisation of a hall; refuses an existing one)."""
        p = Path(path)
        if p.exists() and any(p.iterdir()):
            raise StoreError(
                f"{p} already holds files; a store is initialised only once (caseledger restore replaces one)"
            )
        p.mkdir(parents=True, exist_ok=True)
        store = cls(p, suite=suite, min_free_bytes=min_free_bytes, _create=True)
        marker = {
            "layout": STORE_LAYOUT,
            "format": STORE_FORMAT,
            "suite": suite.name,
            "hall_id": hall_id,
            "created_at": time.time(),
            "store_id": uuid.uuid4().hex,
        }
        store.put_json(STORE_INIT_KEY, marker)
        return store

    def check_format(self) -> None:
        """Refuse, in one sentence with the way out, a store of another evidence format or hash suite."""
        m = self.marker()
        fmt = m.get("format", 1)
        if fmt != STORE_FORMAT:
            raise ConfigError(
                f"the store at {self.path} is format {fmt} and this release runs format {STORE_FORMAT}: on a "
                "development machine run `caseledger reset`; in a pilot, export the bundles you need and "
                "start afresh"
            )
        if m.get("suite", "intl") != self.suite.name:
            raise ConfigError(
                f"the store at {self.path} holds {m.get('suite')} digests but the deployment's suite is "
                f"{self.suite.name}: it belongs to another deployment"
            )

    def marker(self) -> dict[str, Any]:
        m: dict[str, Any] = self.get_json(STORE_INIT_KEY) or {}
        return m

    def close(self) -> None:
        with self._gate:
            if not self._db.closed:
                self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ use, errors, a full disk
    @contextmanager
    def _use(self) -> Iterator[Any]:
        with self._gate:
            while self._reopening:
                self._gate.wait()
            self._users += 1
        try:
            yield self._db
        except plyvel.CorruptionError as exc:
            self.damage = _plain(exc)
            log.error("store: LevelDB reports corruption: %s", exc)
            raise StoreDamagedError(
                f"the store at {self.path} is damaged ({_plain(exc)}); restore the latest backup or re-fetch from "
                "the peer halls (see docs/operations.md)"
            ) from exc
        finally:
            with self._gate:
                self._users -= 1
                if self._users == 0:
                    self._gate.notify_all()

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        """A write: refused at once while the disk is full (unless space is back: then reopen first)."""
        if self.full_since is not None and not self.recover():
            raise StorageFullError(
                f"the hall's disk is full ({self.path}); nothing new can be saved until space is freed "
                f"({self.free_bytes() // 1024} KiB free, {self.min_free_bytes // 1024} KiB needed)"
            )
        with self._use() as db:
            try:
                yield db
            except plyvel.IOError as exc:
                if not _is_full(exc):
                    raise StoreError(f"the store at {self.path} could not write: {_plain(exc)}") from exc
                if self.full_since is None:
                    self.full_since = time.time()
                    log.error("store: the disk is full (%s); writes answer 503 until space is freed", exc)
                self.full_error = _plain(exc)
                raise StorageFullError(
                    f"the hall's disk is full ({self.path}); nothing new can be saved until space is freed"
                ) from exc

    def is_full(self) -> bool:
        return self.full_since is not None

    def free_bytes(self) -> int:
        try:
            return shutil.disk_usage(self.path).free
        except OSError:
            return 0

    def recover(self) -> bool:
        """After a full disk: reopen the LevelDB (it refuses writes until then) once enough space is free.

        True if the store takes writes again. Waits for in-flight reads to finish (bounded)."""
        if self.full_since is None:
            return True
        if self.free_bytes() < self.min_free_bytes:
            return False
        with self._gate:
            if not self.is_full():  # another thread reopened it meanwhile
                return True
            self._reopening = True
            deadline = time.monotonic() + 10
            try:
                while self._users > 0:
                    if not self._gate.wait(timeout=max(0.0, deadline - time.monotonic())):
                        return False
                self._db.close()
                try:
                    self._db = self._open(create=False)
                except StoreError as exc:
                    log.error("store: reopening after a full disk failed (%s); trying once more", exc)
                    time.sleep(0.5)
                    try:
                        self._db = self._open(create=False)
                    except StoreError as again:
                        self.damage = str(again)
                        raise
                log.info("store: space is back (%d KiB free); the store takes writes again", self.free_bytes() // 1024)
                self.full_since = None
                self.full_error = None
            finally:
                self._reopening = False
                self._gate.notify_all()
        for cb in list(self.on_recovered):
            try:
                cb()
            except Exception:
                log.exception("store: a recovery callback failed")
        return True

    # ------------------------------------------------------------------ writes
    @contextmanager
    def write_batch(self, *, sync: bool = True) -> Iterator[WriteBatch]:
        """Atomic batch: applied only if the block finishes without an exception.

        ``sync=True`` (the default) returns only once the batch is on disk. ``sync=False`` returns
        as soon as LevelDB has it; the caller then calls :meth:`sync` (outside any lock) before
        telling anyone the data is saved — concurrent callers then share one fsync (group commit).
        """
        with self._writing() as db:
            batch = db.write_batch(transaction=True, sync=sync)
            wb = WriteBatch(batch, self.suite, self.codec)
            with batch:
                yield wb
                for hook in self.batch_hooks:
                    hook(wb)
        if wb.pending:
            self.codec.committed(wb.pending)
        self._changed(wb.keys)
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
            with self._writing() as db:
                db.put(SYNC_KEY, b"", sync=True)  # a synced write flushes the whole log before it
            self._synced = upto

    def put_json(self, key: bytes, value: Any, *, sync: bool = True) -> None:
        if journaled(key):  # a case's key: with its journal entry, atomically
            with self.write_batch(sync=sync) as wb:
                wb.put_json(key, value)
            return
        pending: dict[str, str] = {}
        pairs = self.codec.encode(key, value, pending)
        with self._writing() as db:
            if len(pairs) == 1:
                db.put(pairs[0][0], pairs[0][1], sync=sync)
            else:
                with db.write_batch(transaction=True, sync=sync) as b:
                    for k, v in pairs:
                        b.put(k, v)
        if pending:
            self.codec.committed(pending)
        self._changed([k for k, _ in pairs])

    def delete(self, key: bytes) -> None:
        if journaled(key):
            with self.write_batch() as wb:
                wb.delete(key)
            return
        with self._writing() as db:
            db.delete(key, sync=True)
        self._changed([key])

    def _changed(self, keys: list[bytes]) -> None:
        """Tell the listeners which keys a committed write changed (they must not raise or block)."""
        if keys:
            for listener in self.listeners:
                listener(keys)

    def put_blob(self, data: bytes, *, case: str) -> str:
        with self.write_batch() as wb:
            return wb.put_blob(data, case=case)

    # ------------------------------------------------------------------ reads
    def get(self, key: bytes) -> bytes | None:
        with self._use() as db:
            value: bytes | None = db.get(key, verify_checksums=True)
        return value

    def get_json(self, key: bytes) -> Any:
        raw = self.get(key)
        return None if raw is None else self.codec.decode(key, raw)

    def iter_prefix(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        with self._use() as db, db.iterator(prefix=prefix, reverse=reverse, verify_checksums=True) as it:
            yield from it

    def iter_json(self, prefix: bytes) -> Iterator[tuple[bytes, Any]]:
        for k, v in self.iter_prefix(prefix):
            yield k, self.codec.decode(k, v)

    def count_prefix(self, prefix: bytes) -> int:
        with self._use() as db, db.iterator(prefix=prefix, include_value=False, verify_checksums=True) as it:
            return sum(1 for _ in it)

    def get_blob(self, digest_hex: str, *, case: str) -> bytes:
        """File ``digest_hex`` of case ``case``; re-hashed on read so disk corruption is caught."""
        key = self.codec.blob_key(case, digest_hex)
        raw = self.get(key)
        if raw is None:
            raise NotFoundError("file_not_found", digest=digest_hex)
        data = self.codec.open_blob(key, raw)
        if self.suite.hexdigest(data) != digest_hex:
            raise StoreDamagedError(f"stored file {digest_hex} is corrupted on disk")
        return data

    def has_blob(self, digest_hex: str, *, case: str) -> bool:
        try:
            return self.get(self.codec.blob_key(case, digest_hex)) is not None
        except NotFoundError:
            return False

    def compact(self) -> None:
        """Compact the whole key range: overwritten and deleted values leave the on-disk files
        (used after erasing personal data, so old versions do not linger in logs or tables).

        The range is explicit (plyvel's default passes an empty range, which compacts nothing but the
        memtable); keys are UTF-8, which never contains the byte 0xff. Twice: a table still pinned by
        a concurrent iterator during the first pass is deleted as obsolete at the end of the next."""
        with self._writing() as db:
            db.compact_range(start=b"\x00", stop=b"\xff" * 8)
            db.compact_range(start=b"\x00", stop=b"\xff" * 8)

    def snapshot_to(self, target: Path) -> int:
        """Copy a consistent point-in-time snapshot into a new LevelDB at ``target``; returns keys copied.

        The copy holds every key, the store marker included, so it opens as a store of the same hall."""
        n = 0
        with self._use() as db:
            snap = db.snapshot()
            try:
                out = plyvel.DB(str(target), create_if_missing=True, error_if_exists=True, compression=None)
                try:
                    with out.write_batch() as wb, snap.iterator(verify_checksums=True) as it:
                        for k, v in it:
                            wb.put(k, v)
                            n += 1
                finally:
                    out.close()
            finally:
                snap.close()
        return n


def _plain(exc: BaseException) -> str:
    """plyvel's message without the bytes repr (``b'Corruption: ...'``)."""
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text)
