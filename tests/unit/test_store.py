"""LevelDB store: atomic batches, content-addressed blobs, corruption detection, snapshots."""

from __future__ import annotations

from pathlib import Path

import plyvel
import pytest

from ledger.errors import NotFoundError, StoreError
from ledger.hall.keys import blob_key
from ledger.hall.store import Store


def test_batch_is_all_or_nothing(tmp_path: Path) -> None:
    with Store.init(tmp_path / "db") as s:
        with pytest.raises(RuntimeError), s.write_batch() as wb:
            wb.put_json(b"case/A", {"x": 1})
            wb.put_blob(b"file", case="A")
            raise RuntimeError("crash in the middle")
        assert s.get_json(b"case/A") is None
        assert s.count_prefix(b"blob/") == 0
        with s.write_batch() as wb:
            wb.put_json(b"case/A", {"x": 1})
        assert s.get_json(b"case/A") == {"x": 1}


def test_blobs_are_content_addressed_and_checked(tmp_path: Path) -> None:
    with Store.init(tmp_path / "db") as s:
        h = s.put_blob(b"hello", case="A")
        assert s.put_blob(b"hello", case="B") == h  # no encryption: one copy (its manifest and its one chunk)
        assert s.count_prefix(b"blob/") == 2 and s.count_prefix(b"blob/A/") == 1 and s.count_prefix(b"blob/B/") == 0
        assert s.get_blob(h, case="A") == b"hello"
        with pytest.raises(NotFoundError):
            s.get_blob("00" * 32, case="A")
    db = plyvel.DB(str(tmp_path / "db"))
    db.put(blob_key(h), b"hellO")
    db.close()
    with Store(tmp_path / "db") as s, pytest.raises(StoreError, match="corrupted"):
        s.get_blob(h, case="A")


def test_survives_reopen_and_iterates_in_order(tmp_path: Path) -> None:
    with Store.init(tmp_path / "db") as s:
        for i in (3, 1, 2):
            s.put_json(f"rec/A/{i:06d}".encode(), {"i": i})
    with Store(tmp_path / "db") as s:
        assert [v["i"] for _, v in s.iter_json(b"rec/A/")] == [1, 2, 3]


def test_second_opener_gets_a_clear_error(tmp_path: Path) -> None:
    with Store.init(tmp_path / "db"), pytest.raises(StoreError, match="another node"):
        Store(tmp_path / "db")


def test_snapshot_copy(tmp_path: Path) -> None:
    with Store.init(tmp_path / "db") as s:
        s.put_json(b"case/A", {"x": 1})
        s.put_blob(b"data", case="A")
        assert s.snapshot_to(tmp_path / "copy") == 5  # a manifest, a chunk, the store marker, a journal entry
    with Store(tmp_path / "copy") as c:
        assert c.get_json(b"case/A") == {"x": 1}


def test_group_commit_sync_covers_concurrent_writers(tmp_path: Path) -> None:
    import threading

    with Store.init(tmp_path / "db") as s:
        errors: list[BaseException] = []

        def writer(i: int) -> None:
            try:
                for j in range(50):
                    with s.write_batch(sync=False) as wb:
                        wb.put_json(f"k/{i}/{j}".encode(), j)
                    s.sync()
                    assert s._synced >= s._tls.ticket  # what this thread wrote is covered by an fsync
            except BaseException as exc:  # noqa: BLE001 - surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert s.count_prefix(b"k/") == 400
        assert s._synced == 400
