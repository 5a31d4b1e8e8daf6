"""Backup archives (ledger.hall.backup): snapshot round trip, refusals, hostile archives; health problems in words."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import ConfigError, StoreError
from ledger.hall.backup import FORMAT, read_manifest, restore_backup, write_backup
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
        s.put_blob(b"%PDF- scan")
        m = write_backup(
            s,
            out,
            hall=HALL,
            keystores=[d / "keystore.json", d / "keystore.password"],
            hall_json=d / "hall.json",
            chain_block=45,
        )
        s.put_json(b"case/TB-2", {"serial": "TB-2"})  # after the snapshot: not in the backup
    assert m.keys == 4 and m.indexer_cursor == 41  # 3 + the store marker and m.chain_block == 45
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


def _health(**over: Any) -> dict[str, Any]:
    h: dict[str, Any] = {
        "chain": {"connected": True, "block": 10, "rpc_url": "http://127.0.0.1:8545"},
        "outbox": {"pending": 0, "oldest_pending_age": None, "refused": 0, "last_error": None},
        "indexer": {"cursor": 10, "head": 10, "lag": 0, "confirmations": 0, "last_error": None},
        "transfers": {"open": 0, "retrying": 0, "failing": 0, "refused": 0},
        "access_trail": {"size": 0, "anchored": 0, "last_error": None},
    }
    for k, v in over.items():
        h[k].update(v)
    return h


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
    codes = [p["code"] for p in found]
    assert codes == ["chain_unreachable", "outbox_stale", "indexer_lagging", "transfer_refused", "transfers_failing"]
    assert found[0]["zh"].startswith("无法连接区块链节点") and "unreachable" in found[0]["en"]
    assert "90s" in found[1]["en"] and "60s" in found[1]["en"]
