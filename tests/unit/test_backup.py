"""Backup archives (ledger.hall.backup): snapshot round trip, refusals, hostile archives; health problems in words."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import ConfigError, StoreError
from ledger.hall.backup import FORMAT, RestoreLimits, read_manifest, restore_backup, write_backup
from ledger.hall.health import HealthNumbers
from ledger.hall.keys import RESTORED_KEY
from ledger.hall.store import Store
from node_api.core.config import Settings
from node_api.core.ops import problems

HALL = {"hall_id": 2, "district": 350503, "name": "丰泽区行政服务中心", "account": "0x" + "ab" * 20}


def _hall_dir(tmp: Path) -> Path:
    d = tmp / "hall"
    d.mkdir()
    (d / "keystore.json").write_text(json.dumps({"address": "ab" * 20, "crypto": {"ciphertext": "00"}}))
    (d / "keystore.password").write_text("secret\n")
    (d / "hall.json").write_text(json.dumps({"name": HALL["name"], "port": 8602}))
    return d


def _backup(tmp: Path, d: Path) -> Path:
    out = tmp / "b.tar.gz"
    with Store.init(d / "store") as s:
        s.put_json(b"case/TB-1", {"serial": "TB-1"})
        s.put_json(b"meta/indexer_cursor", 41)
        s.put_blob(b"%PDF- scan", case="TB-1")
        m = write_backup(
            s,
            out,
            hall=HALL,
            keystores=[d / "keystore.json", d / "keystore.password"],
            hall_json=d / "hall.json",
            chain_block=45,
        )
        s.put_json(b"case/TB-2", {"serial": "TB-2"})  # after the snapshot: not in the backup
    assert m.keys == 6 and m.indexer_cursor == 41  # 3 (a file: its manifest and chunk) + the marker + the journal entry
    return out


def test_round_trip_restores_the_snapshot_and_never_the_password(tmp_path: Path) -> None:
    d = _hall_dir(tmp_path)
    out = _backup(tmp_path, d)
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert "keystore.password" not in names and "keystore.json" in names and "hall.json" in names
    m = read_manifest(out)
    assert m.format == FORMAT and m.hall_id == 2 and m.files == ["hall.json", "keystore.json"]

    lost = tmp_path / "lost"  # the disk is gone: a new, empty hall dir
    restore_backup(out, lost, password_file=d / "keystore.password")
    assert json.loads((lost / "keystore.json").read_text())["address"] == "ab" * 20
    assert (lost / "keystore.password").stat().st_mode & 0o777 == 0o600
    with Store(lost / "store") as s:
        assert s.get_json(b"case/TB-1") == {"serial": "TB-1"}
        assert s.get_json(b"case/TB-2") is None
        assert s.get_json(RESTORED_KEY)["cursor"] == 41


def test_restore_refuses_a_non_empty_store_unless_forced(tmp_path: Path) -> None:
    d = _hall_dir(tmp_path)
    out = _backup(tmp_path, d)
    with pytest.raises(ConfigError, match="--force"):
        restore_backup(out, d)
    restore_backup(out, d, force=True)
    assert list(d.glob("store.replaced-*")), "the replaced store is moved aside, not deleted"
    with Store(d / "store") as s:
        assert s.get_json(b"case/TB-2") is None


def test_restore_refuses_another_halls_keystore(tmp_path: Path) -> None:
    d = _hall_dir(tmp_path)
    out = _backup(tmp_path, d)
    other = tmp_path / "other"
    other.mkdir()
    (other / "keystore.json").write_text(json.dumps({"address": "cd" * 20}))
    with pytest.raises(ConfigError, match="wrong hall"):
        restore_backup(out, other)


def _evil(tmp: Path, name: str, manifest: dict[str, Any] | None = None) -> Path:
    p = tmp / "evil.tar.gz"
    man = manifest or {
        "format": FORMAT,
        "hall_id": 1,
        "district": 1,
        "name": "x",
        "account": "0x" + "00" * 20,
        "created_at": 0.0,
        "chain_block": None,
        "indexer_cursor": None,
        "keys": 0,
        "files": [],
    }
    with tarfile.open(p, "w:gz") as tar:
        for n, data in (("manifest.json", json.dumps(man).encode()), (name, b"x")):
            info = tarfile.TarInfo(n)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return p


@pytest.mark.parametrize("name", ["../escape", "keystore.password", "notes.txt", "/etc/x"])
def test_hostile_archive_entries_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(StoreError, match="refused"):
        restore_backup(_evil(tmp_path, name), tmp_path / "h")
    assert not (tmp_path / "h" / "store").exists()


def test_not_a_backup(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    with pytest.raises(StoreError, match="not a readable"):
        read_manifest(junk)


def _health(**over: Any) -> HealthNumbers:
    h: dict[str, Any] = {
        "store": {
            "full": False,
            "full_since": None,
            "free_bytes": 10**9,
            "min_free_bytes": 10**6,
            "damage": None,
            "generation": 1,
        },
        "serial_check": {"done": True, "last_error": None},
        "held_cases": 0,
        "clock": {
            "skew_seconds": 0.0,
            "chain_skew_seconds": 0.0,
            "peer_skew_seconds": {},
            "max_skew_seconds": 30.0,
            "held": False,
            "last_error": None,
        },
        "hall_id": 1,
        "name": "hall 1",
        "district": 350502,
        "account": "0x" + "11" * 20,
        "chain": {
            "connected": True,
            "block": 10,
            "rpc_url": "http://127.0.0.1:8545",
            "endpoints": {
                "active": "http://127.0.0.1:8545",
                "preferred": "http://127.0.0.1:8545",
                "on_preferred": True,
                "epoch": 0,
                "switches": 0,
                "switched_at": None,
                "last_switch": None,
                "max_lag": 5,
                "endpoints": [],
            },
            "deployment_lost": None,
        },
        "outbox": {
            "pending": 0,
            "oldest_pending_age": None,
            "refused": 0,
            "last_error": None,
            "requeued_pending": 0,
            "lost_total": 0,
            "last_loss": None,
        },
        "merkle": {
            "anchor_mode": "event",
            "pending": 0,
            "batches_unanchored": 0,
            "next_seq": None,
            "refused": 0,
            "last_error": None,
            "lost_total": 0,
            "manifests_wanted": 0,
            "manifests_unavailable": [],
            "findings": 0,
        },
        "indexer": {
            "cursor": 10,
            "head": 10,
            "lag": 0,
            "confirmations": 0,
            "last_error": None,
            "forks": 0,
            "last_fork": None,
        },
        "transfers": {"open": 0, "retrying": 0, "failing": 0, "refused": 0},
        "suite": "intl",
        "at_rest": {
            "cipher": "aes-256-gcm",
            "kek_id": "k1",
            "kek_keys": 1,
            "data_keys": {"live": 0, "spare": 0, "destroyed": 0, "rewrap_pending": 0},
            "rewrap_error": None,
        },
        "access_trail": {"size": 0, "anchored": 0, "last_error": None},
    }
    for k, v in over.items():
        h[k].update(v)
    return HealthNumbers.model_validate(h)


def test_health_problems_in_words() -> None:
    s = Settings(health_outbox_stale_after=60, health_indexer_max_lag=5)
    assert problems(_health(), s) == []
    found = problems(
        _health(
            chain={"connected": False, "block": None},
            outbox={"pending": 3, "oldest_pending_age": 90.0},
            indexer={"lag": 9, "last_error": "boom"},
            transfers={"refused": 1, "failing": 2},
        ),
        s,
    )
    codes = [p.code for p in found]
    assert codes == ["chain_unreachable", "outbox_stale", "indexer_lagging", "transfer_refused", "transfers_failing"]
    assert found[0].zh.startswith("无法连接区块链节点") and "unreachable" in found[0].en
    assert "90s" in found[1].en and "60s" in found[1].en


class _Zeros:
    """A file-like of ``n`` zero bytes, produced on the fly (the bomb never exists in memory)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def read(self, k: int = -1) -> bytes:
        k = self.n if k < 0 else min(k, self.n)
        self.n -= k
        return bytes(k)


def _archive(tmp: Path, entries: list[tuple[str, int]], manifest: dict[str, Any] | None = None) -> Path:
    out = tmp / "crafted.tar.gz"
    m = manifest or {
        "format": FORMAT,
        **HALL,
        "created_at": 0.0,
        "chain_block": 1,
        "indexer_cursor": 1,
        "keys": 1,
        "files": [],
    }
    with tarfile.open(out, "w:gz") as tar:
        data = json.dumps(m).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for name, size in entries:
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, _Zeros(size))  # type: ignore[arg-type]
    return out


def test_restore_refuses_a_decompression_bomb_regression(tmp_path: Path) -> None:
    """Regression (issue 12 item 8): a 306 KB archive expanded to 300 MB on restore, without any limit."""
    bomb = _archive(tmp_path, [("store/000005.ldb", 300 * 1024 * 1024)])
    assert bomb.stat().st_size < 400_000
    target = tmp_path / "target"
    with pytest.raises(StoreError, match="decompression bomb"):
        restore_backup(bomb, target)
    assert not (target / "store").exists() and sum(f.stat().st_size for f in target.rglob("*") if f.is_file()) == 0


def test_restore_refuses_too_many_entries_and_too_many_bytes(tmp_path: Path) -> None:
    many = _archive(tmp_path, [(f"store/{i:06d}.ldb", 1) for i in range(60)])
    with pytest.raises(StoreError, match="more than 50 entries"):
        restore_backup(many, tmp_path / "t1", limits=RestoreLimits(max_entries=50))
    big = _archive(tmp_path, [("store/000005.ldb", 2 * 1024 * 1024)])
    with pytest.raises(StoreError, match="more than 1048576 bytes"):
        restore_backup(big, tmp_path / "t2", limits=RestoreLimits(max_total_bytes=1024 * 1024))


def test_manifest_is_read_with_a_size_and_depth_bound(tmp_path: Path) -> None:
    huge = {
        "format": FORMAT,
        **HALL,
        "created_at": 0.0,
        "chain_block": 1,
        "indexer_cursor": 1,
        "keys": 1,
        "files": ["x" * 100] * 1000,
    }
    with pytest.raises(StoreError, match="a manifest has at most"):
        read_manifest(_archive(tmp_path, [], huge))
    out = tmp_path / "deep.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        data = b"[" * 50_000
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(StoreError, match="nests"):
        read_manifest(out)


def test_backup_never_holds_the_key_encryption_key(tmp_path: Path) -> None:
    d = _hall_dir(tmp_path)
    (d / "kek.json").write_text("{}")
    out = _backup(tmp_path, d)
    with tarfile.open(out) as tar:
        assert "kek.json" not in tar.getnames()
    evil = _evil(tmp_path, "kek.json")
    with pytest.raises(StoreError):
        restore_backup(evil, tmp_path / "t3")
