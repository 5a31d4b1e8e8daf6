"""Holiday arrangements an administrator loads for a year the calendar library does not cover (issue 13 item 7).

The arrangement below is TEST DATA in the shape of a State Council notice, not the official 2027 one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import InputError
from ledger.hall.holidays import add_arrangement, arrangements, install_all
from ledger.hall.store import Store
from ledger.hall.workdays import LIBRARY_VERSION, compliance_report, due_date, remove_arrangement


def _arrangement(**over: Any) -> dict[str, Any]:
    return {
        "schema": "caseledger-holidays/1",
        "year": 2027,
        "source": "测试用安排（非官方）test data, not official",
        "holidays": [
            {"name": "元旦", "dates": ["2027-01-01", "2027-01-02", "2027-01-03"]},
            {
                "name": "春节",
                "dates": [
                    "2027-02-06",
                    "2027-02-07",
                    "2027-02-08",
                    "2027-02-09",
                    "2027-02-10",
                    "2027-02-11",
                    "2027-02-12",
                ],
            },
        ],
        "workdays": ["2027-02-14"],
        **over,
    }


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    remove_arrangement(2027)
    yield
    remove_arrangement(2027)


def test_a_case_due_in_january_2027_uses_the_loaded_arrangement(tmp_path: Path) -> None:
    """Issue 13 item 7: a case due in January 2027 was counted Monday to Friday."""
    accepted = date(2026, 12, 24)  # Thursday; 10 working days
    before = compliance_report(accepted, 10, [], None, accepted, fallback=True)
    assert before.approximate and before.due == date(2027, 1, 7)  # Mon-Fri: Jan 1 (New Year) counted
    assert before.calendar == f"{LIBRARY_VERSION} + 2027 Mon-Fri estimate"
    with Store.init(tmp_path / "s") as store:
        info = add_arrangement(store, _arrangement(), staff="admin")
    assert info.year == 2027 and info.version == 1 and info.label.startswith("2027 v1 (sha256 ")
    after = compliance_report(accepted, 10, [], None, accepted, fallback=True)
    assert not after.approximate and after.due == date(2027, 1, 8)  # Jan 1 is a holiday now
    assert after.calendar == f"{LIBRARY_VERSION} + {info.label}"
    assert due_date(date(2027, 2, 12), 1) == date(2027, 2, 14)  # the make-up Sunday counts
    remove_arrangement(2027)
    with Store(tmp_path / "s") as store:  # after a restart: the store's arrangement is used again
        assert install_all(store) == [info.label]
        changed = add_arrangement(store, _arrangement(workdays=[]), staff="admin")
        assert changed.version == 2
        assert add_arrangement(store, _arrangement(workdays=[]), staff="admin").version == 2  # same file
        assert [a.version for a in arrangements(store)] == [1, 2]


@pytest.mark.parametrize(
    ("over", "words"),
    [
        ({"year": 2026}, "already in the official calendar of chinese-calendar"),
        ({"workdays": ["2027-02-15"]}, "is a weekday"),
        ({"workdays": ["2026-12-26"]}, "is not in 2027"),
        ({"workdays": ["2027-01-02"]}, "both a holiday and a working day"),
        ({"schema": "other/1"}, "schema"),
    ],
)
def test_a_wrong_arrangement_is_refused_naming_what_is_wrong(tmp_path: Path, over: dict[str, Any], words: str) -> None:
    with Store.init(tmp_path / "s") as store:
        with pytest.raises(InputError) as err:
            add_arrangement(store, _arrangement(**over), staff="admin")
        assert words in str(err.value)
        assert arrangements(store) == []
