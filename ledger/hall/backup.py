"""Backup and restore of one hall: a consistent store snapshot, the encrypted keystore, ``hall.json``.

A backup is a ``.tar.gz`` with::

    manifest.json                   what, whose, when: hall, account, chain head and indexer cursor
    store/                          a LevelDB copied from one LevelDB snapshot (point in time)
    keystore.json                   the hall key, still encrypted (the password is NOT in a backup)
    keystore.<addr>.retired.json    retired keys, encrypted, if any
    hall.json                       the hall's descriptor (name, district, endpoint, port)

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
from pathlib import Path
from typing import Any

from ledger.errors import ConfigError, InputError, StoreError
from ledger.hall.integrity import write_generation_file
from ledger.hall.keys import GENERATION_KEY, INDEXER_CURSOR_KEY, RESTORED_KEY
from ledger.hall.store import Store

__all__ = [
    "ADMIN_TOKEN_FILE",
    "ADMIN_TOKEN_HEADER",
    "FORMAT",
    "BackupManifest",
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
_NEVER = ("keystore.password", ADMIN_TOKEN_FILE, "demo-accounts.json")


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


def read_manifest(archive: Path) -> BackupManifest:
    """The manifest of a backup archive, or a StoreError saying why the file is not one."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            f = tar.extractfile("manifest.json")
            if f is None:
                raise StoreError(f"{archive} has no manifest.json: not a CaseLedger hall backup")
            raw = json.loads(f.read())
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise StoreError(f"{archive} is not a readable CaseLedger hall backup: {exc}") from exc
    if raw.get("format") != FORMAT:
        raise StoreError(f"{archive} is a backup of format {raw.get('format')!r}; this version reads {FORMAT}")
    try:
        return BackupManifest(**raw)
    except TypeError as exc:
        raise StoreError(f"the manifest of {archive} is malformed: {exc}") from exc


def _members(tar: tarfile.TarFile, manifest: BackupManifest) -> list[tarfile.TarInfo]:
    """Only the names a backup may hold; anything else (absolute, ``..``, links, devices) is refused."""
    allowed = set(manifest.files) | {"manifest.json"}
    out = []
    for m in tar.getmembers():
        name = m.name
        top = name.split("/", 1)[0]
        if name.startswith("/") or ".." in name.split("/") or not (m.isfile() or m.isdir()):
            raise StoreError(f"the backup holds an unsafe entry {name!r}; refused")
        if top != "store" and name not in allowed:
            raise StoreError(f"the backup holds an unexpected entry {name!r}; refused")
        if name in _NEVER:
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
) -> BackupManifest:
    """Restore ``archive`` into ``hall_dir`` (store under ``data_dir or hall_dir``). The node must be stopped.

    Refuses a non-empty store, or a keystore of another account, unless ``force`` (the replaced store
    is moved aside to ``store.replaced-<time>``, never deleted). Files already present (a keystore of
    the same account, ``hall.json``) are kept unless ``force``.
    """
    manifest = read_manifest(archive)
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
        raise InputError("--password-file", f"{password_file} does not exist")
    hall_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=data_dir) as tmp:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(tmp, members=_members(tar, manifest), filter="data")
        except (OSError, tarfile.TarError) as exc:
            raise StoreError(f"cannot unpack {archive}: {exc}") from exc
        staged = Path(tmp) / "store"
        if not staged.is_dir():
            raise StoreError(f"{archive} holds no store/")
        with Store(staged) as s:  # opens (checks the LevelDB), then marks it restored for the indexer
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
    return manifest


def keystore_files(keystore: Path) -> list[Path]:
    """The hall's keystore and its retired ones (all encrypted)."""
    return sorted(p for p in keystore.parent.glob(_KEYSTORE_GLOB) if p.name not in _NEVER)


__all__ += ["keystore_files"]
