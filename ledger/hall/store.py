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

**Files are stored in chunks** (issue 20, scans of 2–20 MB): :meth:`Store.stage_blob` reads a file in pieces of
:data:`CHUNK_BYTES` (256 KiB) from a file object (a spooled upload), hashes it with the suite's hash as it goes
and writes each piece, sealed by the codec, at ``blob/<serial>/<fid>/<i:06d>`` in **its own** small write batch
(``fid``: 16 random bytes naming this copy of the file); the first batch also writes a staging marker
``bstage/<serial>/<fid>``. Nothing references those chunks until the record's commit batch writes the file's
**manifest** (:meth:`WriteBatch.put_staged`) at the file's address and deletes the marker — so a failed or
refused write leaves only chunks no reader can reach, which the writer deletes at once, and which
:meth:`Store.sweep_chunks` deletes at the next start after a crash (it reads the markers only, not the
files). :meth:`WriteBatch.put_blob` (whole bytes at hand: received packages, conversions, files of one chunk)
writes chunks and manifest in the same batch. Reads go chunk by chunk (:meth:`Store.iter_blob`) and re-hash the
file. A value at a file's address that is not a manifest is a file
stored whole (stores written before chunking): it reads back as before; nothing converts it.

Memory per write is bounded: one chunk read, its ciphertext, its envelope and the write batch holding it (about
four times :data:`CHUNK_BYTES`), beside LevelDB's own buffers, set explicitly at the open
(:data:`WRITE_BUFFER_BYTES` for the memtable, and the immutable one being flushed; :data:`BLOCK_CACHE_BYTES` for
the block cache, which chunk reads bypass; the table files LevelDB maps to read them). A hall node process also
asks glibc to give buffers of a chunk's size back to the system when freed (``node_api/__main__.py``).

A full disk (``ENOSPC``) makes LevelDB refuse every later write until the database is reopened. The
store then answers :class:`StorageFullError` for writes (reads keep working) and reopens itself once
``min_free_bytes`` are free again (:meth:`Store.recover`, tried before each write and by ``/health``).
"""

from __future__ import annotations

import errno
import json
import logging
import secrets
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import orjson
import plyvel

from ledger.core.suites import INTL, Suite
from ledger.errors import ConfigError, NotFoundError, StorageFullError, StoreDamagedError, StoreError
from ledger.hall.changes import ChangeJournal, journaled
from ledger.hall.keys import (
    CHANGE_PREFIX,
    STAGE_PREFIX,
    STORE_INIT_KEY,
    SYNC_KEY,
    blob_key,
    chunk_key,
    chunk_prefix,
    stage_key,
)
from ledger.hall.ldbmanifest import live_tables

__all__ = [
    "CHUNK_BYTES",
    "MANIFEST_MAGIC",
    "STORE_FORMAT",
    "STORE_LAYOUT",
    "Codec",
    "PlainCodec",
    "StagedBlob",
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
CHUNK_BYTES = 256 * 1024
"""the plaintext size of a stored file's chunks (the last one may be shorter); small enough that the buffers of
one chunk in flight, and LevelDB's tables holding them, stay small (docs/benchmarks.md, large intake)"""
MANIFEST_MAGIC = b"CLM1"
"""how a chunked file's manifest begins (``CLM1 ‖ fid (16 bytes) ‖ …``); a file stored whole never does: stored
files are checked for their type's leading bytes (:mod:`ledger.hall.uploads`), and sealed ones begin ``CLE1``"""
WRITE_BUFFER_BYTES = 1024 * 1024
"""LevelDB's memtable (``write_buffer_size``, LevelDB's default is 4 MiB): up to two of them (one being flushed)
are in memory, and each flush is a level-0 table that LevelDB maps into memory to read while compacting"""
BLOCK_CACHE_BYTES = 8 * 1024 * 1024
"""LevelDB's block cache (``lru_cache_size``); file chunks are read with ``fill_cache=False``"""
MAX_OPEN_FILES = 1000
"""LevelDB's table cache (its default): every open table file is mapped into memory; its pages read count as
resident (file-backed, reclaimable) memory"""
MAX_TABLE_BYTES = 2 * 1024 * 1024
"""LevelDB's table file size (its default): smaller tables would map less but make many more files"""
_FLUSH_BYTES = 16 * 1024 * 1024  # a store snapshot (backup) is copied in batches of about this much


@dataclass(frozen=True)
class StagedBlob:
    """A file written as chunks (:meth:`Store.stage_blob`) that no manifest references yet."""

    case: str
    fid: str
    digest: str
    size: int
    chunks: int


@dataclass(frozen=True)
class Manifest:
    """What a chunked file's manifest says (the case and ``fid`` naming its chunks; ``chunks``: how many)."""

    case: str
    fid: str
    chunks: int
    size: int


def manifest_fid(raw: bytes) -> str | None:
    """The chunk name a manifest value names, or None when ``raw`` is a file stored whole."""
    if raw.startswith(MANIFEST_MAGIC) and len(raw) >= len(MANIFEST_MAGIC) + 16:
        return raw[len(MANIFEST_MAGIC) : len(MANIFEST_MAGIC) + 16].hex()
    return None


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

    def seal_chunk(
        self, case: str, fid: str, index: int, final: bool, data: bytes, pending: dict[str, str]
    ) -> list[tuple[bytes, bytes]]:
        """The pairs that store chunk ``index`` of file copy ``fid`` of ``case`` (``final``: the last one)."""
        ...

    def open_chunk(self, key: bytes, final: bool, raw: bytes) -> bytes: ...

    def seal_manifest(self, staged: StagedBlob, pending: dict[str, str]) -> list[tuple[bytes, bytes]]:
        """The pairs that make ``staged`` readable at the file's address (the first is the address)."""
        ...

    def open_manifest(self, key: bytes, raw: bytes) -> Manifest: ...

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

    def seal_chunk(
        self, case: str, fid: str, index: int, final: bool, data: bytes, pending: dict[str, str]
    ) -> list[tuple[bytes, bytes]]:
        return [(chunk_key(case, fid, index), data)]

    def open_chunk(self, key: bytes, final: bool, raw: bytes) -> bytes:
        return raw

    def seal_manifest(self, staged: StagedBlob, pending: dict[str, str]) -> list[tuple[bytes, bytes]]:
        body = dump_json({"case": staged.case, "chunks": staged.chunks, "size": staged.size})
        return [(blob_key(staged.digest), MANIFEST_MAGIC + bytes.fromhex(staged.fid) + body)]

    def open_manifest(self, key: bytes, raw: bytes) -> Manifest:
        fid = manifest_fid(raw)
        try:
            body = load_json(raw[len(MANIFEST_MAGIC) + 16 :])
            assert fid is not None
            return Manifest(case=str(body["case"]), fid=fid, chunks=int(body["chunks"]), size=int(body["size"]))
        except (AssertionError, KeyError, TypeError, ValueError) as exc:
            raise StoreDamagedError(f"the file manifest at {key.decode(errors='replace')} is damaged") from exc

    def committed(self, pending: dict[str, str]) -> None:
        return None


def _pieces(source: BinaryIO | bytes, size: int) -> Iterator[tuple[bytes, bool]]:
    """``source`` in pieces of ``size`` bytes, each with whether it is the last (one empty piece for nothing)."""
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        n = max(1, -(-len(view) // size))
        for i in range(n):
            yield bytes(view[i * size : (i + 1) * size]), i == n - 1
        return
    piece = source.read(size)
    while True:
        ahead = source.read(size) if len(piece) == size else b""
        yield piece, not ahead
        if not ahead:
            return
        piece = ahead


class WriteBatch:
    """Writes collected here land together or not at all."""

    def __init__(
        self,
        batch: Any,
        suite: Suite = INTL,
        codec: Codec | None = None,
        get: Callable[[bytes], bytes | None] | None = None,
    ) -> None:
        self._b = batch
        self._suite = suite
        self._codec: Codec = codec or PlainCodec()
        self._get = get
        self.pending: dict[str, str] = {}  # data keys bound to new cases in this batch (the codec's)
        self.keys: list[bytes] = []  # what this batch writes (batch hooks look at it)
        self._files: set[bytes] = set()  # file addresses this batch writes (a file twice is stored once)

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
        """Store file ``data`` of case ``case`` (its chunks and manifest, in this batch); returns its hex digest in
        the store's hash suite (SHA-256 or SM3)."""
        fid = secrets.token_hex(16)
        hasher = self._suite.hasher()
        n = 0
        pairs: list[tuple[bytes, bytes]] = []
        for piece, final in _pieces(data, CHUNK_BYTES):
            hasher.update(piece)
            pairs += self._codec.seal_chunk(case, fid, n, final, piece, self.pending)
            n += 1
        staged = StagedBlob(case=case, fid=fid, digest=hasher.hexdigest(), size=len(data), chunks=n)
        if self.put_staged(staged):
            for k, v in pairs:
                self._b.put(k, v)
        return staged.digest

    def put_staged(self, staged: StagedBlob) -> bool:
        """Reference the chunks of ``staged`` (written before, :meth:`Store.stage_blob`) from the file's address.

        When the case holds this file already (or this batch stores it), the new chunks are deleted in this
        batch instead and False is returned: a file is stored once per case."""
        pairs = self._codec.seal_manifest(staged, self.pending)
        address = pairs[0][0]
        self._b.delete(stage_key(staged.case, staged.fid))  # referenced (or deleted) now: no longer staging
        if address in self._files or (self._get is not None and self._get(address) is not None):
            for i in range(staged.chunks):
                self._b.delete(chunk_key(staged.case, staged.fid, i))
            return False
        self._files.add(address)
        for k, v in pairs:
            self._b.put(k, v)
        return True


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
                str(self.path),
                create_if_missing=create,
                error_if_exists=create,
                compression=None,
                paranoid_checks=True,
                write_buffer_size=WRITE_BUFFER_BYTES,
                lru_cache_size=BLOCK_CACHE_BYTES,
                max_open_files=MAX_OPEN_FILES,
                max_file_size=MAX_TABLE_BYTES,
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
            wb = WriteBatch(batch, self.suite, self.codec, self.get)
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
        """File ``digest_hex`` of case ``case`` whole; re-hashed on read so disk corruption is caught."""
        return b"".join(self.iter_blob(digest_hex, case=case))

    def iter_blob(self, digest_hex: str, *, case: str) -> Iterator[bytes]:
        """File ``digest_hex`` of case ``case`` chunk by chunk (each opened and checked; the whole re-hashed: a
        :class:`StoreDamagedError` at the end, before the last chunk is given, when it does not match).

        The manifest is read when the iteration starts, so a missing file or an erased case is answered by the
        first ``next``; a reader that must answer before streaming calls :meth:`open_blob_stream`."""
        yield from self.open_blob_stream(digest_hex, case=case)

    def open_blob_stream(self, digest_hex: str, *, case: str) -> Iterator[bytes]:
        """Like :meth:`iter_blob`, but the file's manifest is read (and :class:`NotFoundError`,
        :class:`~ledger.errors.DataErasedError` raised) now, not at the first ``next``."""
        key = self.codec.blob_key(case, digest_hex)
        raw = self.get(key)
        if raw is None:
            raise NotFoundError("file_not_found", digest=digest_hex)
        if manifest_fid(raw) is None:  # stored whole (before chunking)
            data = self.codec.open_blob(key, raw)
            if self.suite.hexdigest(data) != digest_hex:
                raise StoreDamagedError(f"stored file {digest_hex} is corrupted on disk")
            return iter((data,))
        manifest = self.codec.open_manifest(key, raw)
        return self._chunks(digest_hex, manifest)

    def _chunks(self, digest_hex: str, m: Manifest) -> Iterator[bytes]:
        hasher = self.suite.hasher()
        size = 0
        held: bytes | None = None
        for i in range(m.chunks):
            key = chunk_key(m.case, m.fid, i)
            with self._use() as db:
                raw: bytes | None = db.get(key, verify_checksums=True, fill_cache=False)
            if raw is None:
                raise StoreDamagedError(f"stored file {digest_hex} is incomplete on disk: chunk {i} is missing")
            piece = self.codec.open_chunk(key, i == m.chunks - 1, raw)
            hasher.update(piece)
            size += len(piece)
            if held is not None:
                yield held
            held = piece
        if size != m.size or hasher.hexdigest() != digest_hex:
            raise StoreDamagedError(f"stored file {digest_hex} is corrupted on disk")
        if held is not None:
            yield held

    def stage_blob(self, source: BinaryIO | bytes, *, case: str) -> StagedBlob:
        """Write ``source`` (read in pieces of :data:`CHUNK_BYTES`) as chunks of a file of ``case``, each in its
        own write batch, hashing it as it goes; nothing references them until :meth:`WriteBatch.put_staged`.

        On any failure the chunks written so far are deleted before the error is raised; after a crash they are
        left to :meth:`sweep_chunks`. The caller syncs (the record's commit batch is written with ``sync``)."""
        fid = secrets.token_hex(16)
        hasher = self.suite.hasher()
        n = size = 0
        try:
            for piece, final in _pieces(source, CHUNK_BYTES):
                hasher.update(piece)
                with self.write_batch(sync=False) as wb:
                    if n == 0:
                        wb.put(stage_key(case, fid), dump_json({"at": time.time()}))
                    for k, v in self.codec.seal_chunk(case, fid, n, final, piece, wb.pending):
                        wb.put(k, v)
                n += 1
                size += len(piece)
        except BaseException:
            self.discard_staged(StagedBlob(case=case, fid=fid, digest="", size=size, chunks=n + 1))
            raise
        return StagedBlob(case=case, fid=fid, digest=hasher.hexdigest(), size=size, chunks=n)

    def discard_staged(self, staged: StagedBlob) -> None:
        """Delete the chunks of a staged file no manifest references (best effort: a failure is logged, and
        :meth:`sweep_chunks` deletes them at the next start)."""
        try:
            with self.write_batch(sync=False) as wb:
                for k, _ in self.iter_prefix_keys(chunk_prefix(staged.case, staged.fid)):
                    wb.delete(k)
                wb.delete(stage_key(staged.case, staged.fid))
        except Exception:
            log.exception("store: the chunks of an unfinished file of %s could not be deleted", staged.case)

    def iter_prefix_keys(self, prefix: bytes) -> Iterator[tuple[bytes, None]]:
        with self._use() as db, db.iterator(prefix=prefix, include_value=False) as it:
            for k in it:
                yield k, None

    def sweep_chunks(self) -> int:
        """At start: delete the chunks of every file still staging (its marker ``bstage/<serial>/<fid>``: a write
        a crash interrupted before the record's batch referenced it) and the markers; returns how many chunks.
        Reads the markers only. Run before the node serves (no write is staging then)."""
        gone = 0
        for k, _ in list(self.iter_prefix_keys(STAGE_PREFIX)):
            serial, fid = k[len(STAGE_PREFIX) :].decode().split("/", 1)
            chunks = [c for c, _ in self.iter_prefix_keys(chunk_prefix(serial, fid))]
            for i in range(0, len(chunks), 256):
                with self.write_batch(sync=False) as wb:
                    for c in chunks[i : i + 256]:
                        wb.delete(c)
            with self.write_batch(sync=False) as wb:
                wb.delete(k)
            gone += len(chunks)
        if gone:
            self.sync()
            log.warning("store: deleted %d chunk(s) of files no record references (an interrupted write)", gone)
        return gone

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
                    # in batches of about _FLUSH_BYTES: a new LevelDB no one reads yet needs no single batch, and
                    # one batch would hold the whole store (every file) in memory
                    wb = out.write_batch()
                    held = 0
                    with snap.iterator(verify_checksums=True, fill_cache=False) as it:
                        for k, v in it:
                            wb.put(k, v)
                            n += 1
                            held += len(k) + len(v)
                            if held >= _FLUSH_BYTES:
                                wb.write()
                                wb = out.write_batch()
                                held = 0
                    wb.write()
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
