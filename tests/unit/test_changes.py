"""The store's change journal (ledger.hall.changes): every write of a case says so in its own batch."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.hall.changes import EVERYTHING
from ledger.hall.keys import CHANGE_PREFIX, calendar_key
from ledger.hall.store import Store


def _journal(s: Store) -> list[tuple[bytes, str]]:
    return [(k, json.loads(v)) for k, v in s.iter_prefix(CHANGE_PREFIX)]


def test_each_case_touched_gets_one_entry_in_the_same_batch(tmp_path: Path) -> None:
    with Store.init(tmp_path / "db") as s:
        with s.write_batch() as wb:
            wb.put_json(b"case/A", {"serial": "A"})
            wb.put_json(b"rec/A/000000", {})
            wb.put_json(b"rec/B/000001", {})
            wb.put_json(b"outbox/000000000001", {})  # not a case's key
        assert sorted(v for _, v in _journal(s)) == ["A", "B"]
        s.put_json(b"chainev/C/000000", {})  # single writes of a case's keys go through a batch too
        s.delete(b"rec/A/000000")
        s.put_json(b"acct/clerk", {})  # not journaled
        assert [v for _, v in _journal(s)] == ["A", "B", "C", "A"]
        s.put_json(calendar_key(2027, 1), {})
        assert _journal(s)[-1][1] == EVERYTHING


def test_the_sequence_continues_after_a_restart_and_a_reader_deletes_only_what_it_read(tmp_path: Path) -> None:
    with Store.init(tmp_path / "db") as s:
        s.put_json(b"case/A", {})
        s.put_json(b"case/B", {})
        read = _journal(s)
    with Store(tmp_path / "db") as s:
        s.put_json(b"case/C", {})  # written after the reader looked
        with s.write_batch() as wb:
            for k, _ in read:
                wb.delete(k)
        left = _journal(s)
        assert [v for _, v in left] == ["C"] and left[0][0] > read[-1][0]
