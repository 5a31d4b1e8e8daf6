"""The Mon-Fri fallback of ledger.hall.workdays for years the official calendar does not cover yet."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.hall.workdays import (
    ComplianceStatus,
    add_working_days,
    compliance_report,
    due_date,
    supported_range,
    working_days_between,
)

LAST = supported_range()[1]
NEXT = LAST.year + 1


def test_strict_mode_still_refuses_an_unsupported_year() -> None:
    with pytest.raises(ValueError, match=f"year {NEXT}"):
        add_working_days(date(NEXT, 1, 5), 1)


def test_fallback_counts_monday_to_friday_beyond_the_calendar() -> None:
    first = date(NEXT, 1, 1)
    # the first Monday of the next year, plus 5 working days Mon-Fri -> the following Monday
    monday = first if first.weekday() == 0 else date(NEXT, 1, 1 + (7 - first.weekday()))
    assert add_working_days(monday, 5, fallback=True) == date(NEXT, 1, monday.day + 7)
    assert working_days_between(monday, date(NEXT, 1, monday.day + 7), fallback=True) == 5


def test_fallback_across_the_year_boundary_mixes_official_and_estimated_days() -> None:
    # From the last supported year's Dec 24 (official calendar) into the next year (Mon-Fri estimate).
    start = date(LAST.year, 12, 24)
    strict_part = working_days_between(start, LAST)
    d = due_date(start, strict_part + 3, fallback=True)
    assert d.year == NEXT and working_days_between(LAST, d, fallback=True) == 3
    assert d.weekday() < 5


def test_compliance_report_is_flagged_approximate_only_when_it_leaves_the_calendar() -> None:
    inside = compliance_report(date(2026, 9, 28), 5, [], None, date(2026, 10, 8), fallback=True)
    assert not inside.approximate and inside.due == date(2026, 10, 10)
    beyond = compliance_report(date(LAST.year, 12, 28), 10, [], None, date(LAST.year, 12, 30), fallback=True)
    assert beyond.approximate and beyond.due.year == NEXT and beyond.status == ComplianceStatus.ON_TIME
