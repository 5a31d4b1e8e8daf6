"""Regression tests of issue 13 without a chain: damaged stores, the CLI's one sentence, dead pids."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from ledger.dev.localnet import hall_pid, node_running
from ledger.errors import StoreDamagedError
from ledger.hall.backup import write_backup
from ledger.hall.store import Store

CLI = str(Path(sys.executable).parent / "caseledger")
HALL = {"hall_id": 2, "district": 350503, "name": "丰泽区行政服务中心", "account": "0x" + "ab" * 20}


def _store_with_table(path: Path) -> None:
    with Store.init(path) as s:
        for i in range(50):
            s.put_json(f"case/TB-{i}".encode(), {"serial": f"TB-{i}", "pad": "x" * 500})
    Store(path).close()  # the reopen turns the log into a table file
    assert list(path.glob("*.ldb"))


def test_truncated_table_is_refused_at_open_not_answered_with_500_later(tmp_path: Path) -> None:
    """Issue 13 item 3: a truncated table file started "ok" and then answered 500."""
    _store_with_table(tmp_path / "s")
    table = max((tmp_path / "s").glob("*.ldb"), key=lambda p: p.stat().st_size)
    os.truncate(table, table.stat().st_size - 20)
    with pytest.raises(StoreDamagedError, match=f"table file {table.name} is truncated"):
        Store(tmp_path / "s")


def test_a_table_left_by_an_interrupted_compaction_is_not_damage_regression(tmp_path: Path) -> None:
    """A hall stopped while LevelDB compacted (a fault test's clean-up, a kill -9, a power cut) left a half-written
    table the MANIFEST does not name; the check before the open called the store damaged and the node refused to
    start, although LevelDB deletes such a file at the open. Only the MANIFEST's live tables are checked now."""
    path = tmp_path / "s"
    _store_with_table(path)
    live = max(path.glob("*.ldb"), key=lambda p: p.stat().st_size)
    orphan = path / "009999.ldb"  # a number the MANIFEST never gave out, cut short like a compaction's output
    orphan.write_bytes(live.read_bytes()[: live.stat().st_size // 2])
    with Store(path) as s:
        assert s.get_json(b"case/TB-49") == {"serial": "TB-49", "pad": "x" * 500}
    assert not orphan.exists(), "LevelDB deleted the unused table at the open"
    live.unlink()  # a table the MANIFEST names is still required
    with pytest.raises(StoreDamagedError, match=f"table file {live.name} is missing"):
        Store(path)


def test_the_manifest_names_exactly_the_tables_left_after_many_compactions(tmp_path: Path) -> None:
    """The MANIFEST reader against LevelDB itself: a database flushed and compacted hundreds of times (a MANIFEST
    over one 32 KiB log block, so records cross blocks) names exactly the table files LevelDB keeps, with their
    sizes."""
    import plyvel

    from ledger.hall.ldbmanifest import live_tables

    path = tmp_path / "db"
    db = plyvel.DB(str(path), create_if_missing=True, write_buffer_size=64 * 1024, compression=None)
    for i in range(120_000):
        db.put(f"k{i % 9000:06d}-{i}".encode(), os.urandom(200))
        if i % 12000 == 11999:
            db.compact_range()
    db.close()
    manifest = path / (path / "CURRENT").read_text().strip()
    assert manifest.stat().st_size > 32 * 1024
    tables = {int(p.stem): p.stat().st_size for p in path.glob("*.ldb")}
    assert len(tables) > 3
    assert live_tables(manifest.read_bytes()) == tables


def test_a_missing_store_is_damage_not_a_new_store(tmp_path: Path) -> None:
    with pytest.raises(StoreDamagedError, match="there is no store"):
        Store(tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists(), "nothing was created"
    _store_with_table(tmp_path / "s")
    (tmp_path / "s" / "CURRENT").unlink()
    with pytest.raises(StoreDamagedError, match="CURRENT file is missing"):
        Store(tmp_path / "s")


def _damaged_backup(tmp_path: Path, damage: str) -> Path:
    d = tmp_path / "hall"
    d.mkdir()
    (d / "keystore.json").write_text(json.dumps({"address": "ab" * 20}))
    _store_with_table(d / "store")
    out = tmp_path / "b.tar.gz"
    with Store(d / "store") as s:
        write_backup(s, out, hall=HALL, keystores=[d / "keystore.json"], hall_json=None, chain_block=1)
    work = tmp_path / "unpacked"
    with tarfile.open(out) as tar:
        tar.extractall(work, filter="data")
    Store(work / "store").close()  # tables in the archive's store too
    store = work / "store"
    if damage == "missing table":
        for t in store.glob("*.ldb"):
            t.unlink()
    else:
        manifest = next(store.glob("MANIFEST-*"))
        manifest.write_bytes(b"\x00garbage" * 8)
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        for p in sorted(work.iterdir()):
            tar.add(p, arcname=p.name)
    return bad


@pytest.mark.parametrize("damage", ["missing table", "corrupt manifest"])
def test_damaged_backup_store_exits_2_with_one_sentence(tmp_path: Path, damage: str) -> None:
    """Issue 13 item 8: a missing table or corrupt manifest exited with a raw traceback."""
    bad = _damaged_backup(tmp_path, damage)
    r = subprocess.run(
        [CLI, "restore", "--hall-dir", str(tmp_path / "new"), "--from", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("caseledger: ") and "damaged" in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_restore_right_after_kill9_is_not_refused_by_a_dead_pid(tmp_path: Path) -> None:
    """Issue 13 item 8: `caseledger restore` right after a kill -9 said "node is running" (a zombie's pid)."""
    d = tmp_path / "hall"
    Store.init(d / "store").close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from ledger.hall.store import Store; "
            f"s = Store({str(d / 'store')!r}); print('open', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"open"
        (d / "node.pid").write_text(str(holder.pid))
        assert node_running(d) and hall_pid(d) == holder.pid
        os.kill(holder.pid, signal.SIGKILL)
        for _ in range(100):  # dead, not reaped yet: a zombie that kill(pid, 0) still finds
            if Path(f"/proc/{holder.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert hall_pid(d) is None
        assert not node_running(d)
        r = subprocess.run(
            [CLI, "restore", "--hall-dir", str(d), "--from", str(tmp_path / "none.tar.gz")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "is running" not in r.stderr, r.stderr
    finally:
        holder.kill()
        holder.wait()
