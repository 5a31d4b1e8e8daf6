"""Backup and restore of one hall: a consistent store snapshot, the encrypted keystore, ``hall.json``.

A backup is a ``.tar.gz`` with::

    manifest.json                   what, whose, when: hall, account, chain head and indexer cursor
    store/                          a LevelDB copied from one LevelDB snapshot (point in time)
    keystore.json                   the hall key, still encrypted (the password is NOT in a backup)
    keystore.<addr>.retired.json    retired keys, encrypted, if any
    hall.json                       the hall's descriptor (name, district, endpoint, port)

Never in a backup (and refused in one): the keystore password, the node's admin token, the demo
accounts file, the key-encryption key (``kek.json``, :mod:`ledger.hall.kek`) and the data-key store
(``datakeys/``, :mod:`ledger.hall.datakeys`). The store in ``store/`` holds every applicant's personal
fields, salts, file lists and files only **sealed** under their case's data key (:mod:`ledger.hall.atrest`),
and the staff's TOTP secrets and sessions sealed too: a backup alone gives none of them away, and a case
erased after the backup (its data key destroyed) does not come back when the backup is restored. A restore
therefore needs the KEK and the data-key store kept apart from the backups. Every backup and every restore
is an entry of the hall's anchored access trail.

A restore reads the manifest (near the start, at most 64 KiB) and then walks the archive's headers
before it writes anything, refusing more than :attr:`RestoreLimits.max_entries` entries, more than
:attr:`RestoreLimits.max_total_bytes`, or an unpack ratio above :attr:`RestoreLimits.max_ratio`.

The running node holds the LevelDB lock, so only the node itself can read a consistent snapshot:
:func:`write_backup` runs inside the node (``POST /admin/backup``) and streams the archive back.
:func:`restore_backup` runs while the node is stopped. After a restore the node's indexer resumes at
the cursor saved in the snapshot, re-scans every later block and marks the cases whose records it
lacks (its own included, see ``meta/restored``) for a pull from the peer halls, which verifies every
record against the chain before storing it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.core.jsonsafe import loads_bounded
from ledger.errors import ConfigError, InputError, StoreError
from ledger.hall.access import AccessTrail
from ledger.hall.integrity import write_generation_file
from ledger.hall.keys import GENERATION_KEY, INDEXER_CURSOR_KEY, RESTORED_KEY
from ledger.hall.store import Store

__all__ = [
    "ADMIN_TOKEN_FILE",
    "ADMIN_TOKEN_HEADER",
    "DEFAULT_LIMITS",
    "FORMAT",
    "DATA_KEYS_DIR",
    "KEK_FILE",
    "BackupManifest",
    "RestoreLimits",
    "read_manifest",
    "restore_backup",
    "write_backup",
]

FORMAT = "caseledger-hall-backup/1"
# A running node writes a fresh local admin token into <data_dir>/admin.token; `caseledger backup` sends
# it in this header to POST /admin/backup (node_api.core.ops checks it).
ADMIN_TOKEN_FILE = "admin.token"
ADMIN_TOKEN_HEADER = "X-CaseLedger-Admin-Token"
_KEYSTORE_GLOB = "keystore*.json"
KEK_FILE = "kek.json"
DATA_KEYS_DIR = "datakeys"
"""the data-key store's directory, beside the KEK file by default (ledger.hall.datakeys): never in a backup"""
_NEVER = ("keystore.password", ADMIN_TOKEN_FILE, "demo-accounts.json", KEK_FILE, DATA_KEYS_DIR)


@dataclass(frozen=True)
class BackupManifest:
    format: str
    hall_id: int
    district: int
    name: str
    account: str
    created_at: float
    chain_block: int | None
    indexer_cursor: int | None
    keys: int
    files: list[str]

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def write_backup(
    store: Store,
    out: Path,
    *,
    hall: dict[str, Any],
    keystores: list[Path],
    hall_json: Path | None,
    chain_block: int | None,
) -> BackupManifest:
    """Write a backup archive of ``store`` (snapshot while it is in use) and the hall's files to ``out``."""
    with tempfile.TemporaryDirectory(prefix="caseledger-backup-") as tmp:
        snap = Path(tmp) / "store"
        keys = store.snapshot_to(snap)
        with Store(snap) as copy:
            cursor = copy.get_json(INDEXER_CURSOR_KEY)
        files = [p for p in keystores if p.is_file() and p.name not in _NEVER]
        if hall_json is not None and hall_json.is_file():
            files.append(hall_json)
        manifest = BackupManifest(
            format=FORMAT,
            hall_id=int(hall["hall_id"]),
            district=int(hall["district"]),
            name=str(hall["name"]),
            account=str(hall["account"]),
            created_at=time.time(),
            chain_block=chain_block,
            indexer_cursor=None if cursor is None else int(cursor),
            keys=keys,
            files=sorted(p.name for p in files),
        )
        with tarfile.open(out, "w:gz") as tar:
            _add_bytes(tar, "manifest.json", json.dumps(manifest.to_json(), ensure_ascii=False, indent=2).encode())
            tar.add(snap, arcname="store")
            for p in files:
                tar.add(p, arcname=p.name)
    return manifest


@dataclass(frozen=True)
class RestoreLimits:
    """What a restore unpacks at most; an archive beyond any of them is refused before anything is written.

    ``max_ratio`` (unpacked ÷ archive size) applies once the unpacked total passes ``ratio_floor``: a
    small store compresses very well, a 300 MB store in a 300 KB archive is a decompression bomb.
    """

    max_total_bytes: int = 256 * 1024**3
    max_ratio: float = 50.0
    ratio_floor: int = 64 * 1024**2
    max_entries: int = 100_000
    max_manifest_bytes: int = 64 * 1024


DEFAULT_LIMITS = RestoreLimits()


def read_manifest(archive: Path, *, limits: RestoreLimits = DEFAULT_LIMITS) -> BackupManifest:
    """The manifest of a backup archive, or a StoreError saying why the file is not one.

    Read as a stream, bounded: ``manifest.json`` (at most ``limits.max_manifest_bytes``) must come among the
    first 64 entries and after at most 16 MiB of other entries (a backup writes it first)."""
    try:
        with tarfile.open(archive, "r|gz") as tar:  # stream: only the entries up to the manifest are read
            first, skipped = tar.next(), 0
            for _ in range(64):
                if first is None or first.name == "manifest.json":
                    break
                skipped += max(0, first.size)
                if skipped > 16 * 1024 * 1024:
                    break
                first = tar.next()
            if first is None or first.name != "manifest.json" or not first.isfile():
                raise StoreError(f"{archive} has no manifest.json near its start: not a CaseLedger hall backup")
            if first.size > limits.max_manifest_bytes:
                raise StoreError(
                    f"the manifest of {archive} is {first.size} bytes; a manifest has at most "
                    f"{limits.max_manifest_bytes}; refused"
                )
            f = tar.extractfile(first)
            data = f.read(limits.max_manifest_bytes + 1) if f is not None else b""
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise StoreError(f"{archive} is not a readable CaseLedger hall backup: {exc}") from exc
    try:
        raw = loads_bounded(data, what="manifest.json", max_bytes=limits.max_manifest_bytes)
    except InputError as exc:
        raise StoreError(f"the manifest of {archive} is not readable: {exc.message}") from exc
    if not isinstance(raw, dict):
        raise StoreError(f"the manifest of {archive} is not a JSON object")
    if raw.get("format") != FORMAT:
        raise StoreError(f"{archive} is a backup of format {raw.get('format')!r}; this version reads {FORMAT}")
    try:
        m = BackupManifest(**raw)
    except TypeError as exc:
        raise StoreError(f"the manifest of {archive} is malformed: {exc}") from exc
    if not isinstance(m.files, list) or not all(isinstance(f, str) for f in m.files):
        raise StoreError(f"the manifest of {archive} is malformed: files is not a list of names")
    return m


def _members(
    tar: tarfile.TarFile, manifest: BackupManifest, *, archive_size: int, limits: RestoreLimits
) -> list[tarfile.TarInfo]:
    """Only the names a backup may hold; anything else (absolute, ``..``, links, devices) is refused, and so
    is an archive with more entries, more bytes or a higher unpack ratio than ``limits`` allow (checked
    entry by entry, from the headers, before anything is extracted)."""
    allowed = set(manifest.files) | {"manifest.json"}
    out: list[tarfile.TarInfo] = []
    total = 0
    for m in tar:
        if len(out) >= limits.max_entries:
            raise StoreError(f"the backup holds more than {limits.max_entries} entries; refused")
        total += max(0, m.size)
        if total > limits.max_total_bytes:
            raise StoreError(f"the backup unpacks to more than {limits.max_total_bytes} bytes; refused")
        if total > limits.ratio_floor and total > limits.max_ratio * max(1, archive_size):
            raise StoreError(
                f"the backup unpacks to more than {limits.max_ratio:.0f} times its own size "
                f"({archive_size} bytes): a decompression bomb, not a hall backup; refused"
            )
        name = m.name
        top = name.split("/", 1)[0]
        if name.startswith("/") or ".." in name.split("/") or not (m.isfile() or m.isdir()):
            raise StoreError(f"the backup holds an unsafe entry {name!r}; refused")
        if top != "store" and name not in allowed:
            raise StoreError(f"the backup holds an unexpected entry {name!r}; refused")
        if name in _NEVER or top in _NEVER:
            raise StoreError(f"the backup holds {name!r}, which a backup never contains; refused")
        out.append(m)
    return out


def _store_nonempty(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def restore_backup(
    archive: Path,
    hall_dir: Path,
    *,
    data_dir: Path | None = None,
    force: bool = False,
    password_file: Path | None = None,
    limits: RestoreLimits = DEFAULT_LIMITS,
    restored_by: str = "operator:restore",
    kek_file: Path | None = None,
    data_keys_dir: Path | None = None,
) -> BackupManifest:
    """Restore ``archive`` into ``hall_dir`` (store under ``data_dir or hall_dir``). The node must be stopped.

    Refuses a non-empty store, or a keystore of another account, unless ``force`` (the replaced store
    is moved aside to ``store.replaced-<time>``, never deleted). Files already present (a keystore of
    the same account, ``hall.json``) are kept unless ``force``. ``kek_file`` and ``data_keys_dir`` (kept
    apart from the backups) are installed into the hall dir (``kek.json``, ``datakeys/``); a data-key store
    already there is never replaced (it holds the only copy of every case's key).
    """
    manifest = read_manifest(archive, limits=limits)
    data_dir = data_dir or hall_dir
    store_dir = data_dir / "store"
    if _store_nonempty(store_dir) and not force:
        raise ConfigError(f"{store_dir} already holds a store; restoring would replace it (use --force)")
    ks = hall_dir / "keystore.json"
    if ks.is_file() and not force:
        try:
            have = str(json.loads(ks.read_text()).get("address", "")).lower().removeprefix("0x")
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{ks} is unreadable: {exc}") from exc
        if have and have != manifest.account.lower().removeprefix("0x"):
            raise ConfigError(
                f"{ks} holds the key 0x{have}, the backup is of hall {manifest.hall_id} "
                f"({manifest.account}); wrong hall? (use --force)"
            )
    if password_file is not None and not password_file.is_file():
        raise InputError("--password-file", "file_missing", path=str(password_file))
    if kek_file is not None and not kek_file.is_file():
        raise InputError("--kek-file", "file_missing", path=str(kek_file))
    if data_keys_dir is not None:
        if not (data_keys_dir / "CURRENT").is_file():
            raise InputError("--data-keys", "data_keys_dir_invalid", path=str(data_keys_dir))
        if (hall_dir / DATA_KEYS_DIR).exists() and (hall_dir / DATA_KEYS_DIR).resolve() != data_keys_dir.resolve():
            raise ConfigError(
                f"{hall_dir / DATA_KEYS_DIR} already holds a data-key store; it is never replaced (move it "
                "aside yourself if it is really not this hall's)"
            )
    hall_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=data_dir) as tmp:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = _members(tar, manifest, archive_size=archive.stat().st_size, limits=limits)
                tar.extractall(tmp, members=members, filter="data")
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise StoreError(f"cannot unpack {archive}: {exc}") from exc
        staged = Path(tmp) / "store"
        if not (staged / "CURRENT").is_file():
            raise StoreError(f"{archive} holds no LevelDB store under store/")
        with Store(staged) as s:  # opens (checks the LevelDB), then marks it restored for the indexer
            AccessTrail(s, hall_id=manifest.hall_id).record(
                actor=restored_by,
                action="restore_backup",
                serial="",
                what=f"backup of {datetime.fromtimestamp(manifest.created_at, UTC).isoformat(timespec='seconds')} "
                f"(chain block {manifest.chain_block}) from {archive.name}",
            )
            s.put_json(
                RESTORED_KEY,
                {
                    "cursor": manifest.indexer_cursor,
                    "backup_created_at": manifest.created_at,
                    "restored_at": time.time(),
                },
            )
            generation = int(s.get_json(GENERATION_KEY) or 0)
        if store_dir.exists():
            if _store_nonempty(store_dir):
                store_dir.rename(data_dir / f"store.replaced-{int(time.time())}")
            else:
                shutil.rmtree(store_dir)
        staged.rename(store_dir)
        write_generation_file(data_dir, generation)  # the restored store is the current one now (ledger.hall.integrity)
        for name in manifest.files:
            src, dst = Path(tmp) / name, hall_dir / name
            if src.is_file() and (force or not dst.exists()):
                shutil.copyfile(src, dst)
                os.chmod(dst, 0o600)
    if password_file is not None:
        dst = hall_dir / "keystore.password"
        shutil.copyfile(password_file, dst)
        os.chmod(dst, 0o600)
    if kek_file is not None:  # the key-encryption key, kept apart from the backups like the password
        dst = hall_dir / KEK_FILE
        shutil.copyfile(kek_file, dst)
        os.chmod(dst, 0o600)
    if data_keys_dir is not None and not (hall_dir / DATA_KEYS_DIR).exists():
        shutil.copytree(data_keys_dir, hall_dir / DATA_KEYS_DIR)
        os.chmod(hall_dir / DATA_KEYS_DIR, 0o700)
    return manifest


def keystore_files(keystore: Path) -> list[Path]:
    """The hall's keystore and its retired ones (all encrypted)."""
    return sorted(p for p in keystore.parent.glob(_KEYSTORE_GLOB) if p.name not in _NEVER)


__all__ += ["keystore_files"]
