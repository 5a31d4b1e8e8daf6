"""Working-day time limits on the official 2026 calendar, with hand-computed expectations.

Official 2026 arrangements used below (State Council notice; chinese_calendar 1.11 has them, checked
by ``test_calendar_facts``):

    Sep 2026  Fri 18 work | Sat 19 off | Sun 20 WORK (调休 for National Day) | Mon 21 - Thu 24 work
              Fri 25 - Sun 27 off (Mid-Autumn) | Mon 28, Tue 29, Wed 30 work
    Oct 2026  Thu 1 - Wed 7 off (National Day) | Thu 8, Fri 9 work | Sat 10 WORK (调休) | Sun 11 off
              Mon 12 - Fri 16 work | Sat 17, Sun 18 off | Mon 19, Tue 20 work
    Feb 2026  Fri 13 work | Sat 14 WORK (调休) | Sun 15 - Mon 23 off (Spring Festival)
              Tue 24 - Fri 27 work | Sat 28 WORK (调休)

Convention: the day of acceptance never counts; the n-th working day after it is the due date.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.hall.workdays import (
    LIBRARY_VERSION,
    ComplianceReport,
    ComplianceStatus,
    add_working_days,
    compliance,
    compliance_report,
    due_date,
    is_working_day,
    supported_range,
    working_days_between,
)

D = date
FIRST, LAST = supported_range()


def test_calendar_facts() -> None:
    """The hand computations below rest on these official 2026 days; fail loudly if the data changes."""
    off = [D(2026, 9, 19), D(2026, 9, 25), D(2026, 9, 27), D(2026, 10, 11), D(2026, 2, 15), D(2026, 2, 23)]
    off += [D(2026, 10, 1) + timedelta(days=i) for i in range(7)]
    makeup = [D(2026, 9, 20), D(2026, 10, 10), D(2026, 2, 14), D(2026, 2, 28)]
    assert not any(is_working_day(d) for d in off)
    assert all(is_working_day(d) for d in makeup)
    assert all(d.weekday() >= 5 for d in makeup)  # the make-up days really are weekend days
    assert is_working_day(D(2026, 10, 8)) and is_working_day(D(2026, 9, 30))
    assert supported_range()[0] == D(2004, 1, 1) and supported_range()[1] >= D(2026, 12, 31)


# ---------------------------------------------------------------- add_working_days


def test_zero_days_returns_start_even_on_a_holiday() -> None:
    assert add_working_days(D(2026, 10, 3), 0) == D(2026, 10, 3)


def test_friday_plus_one_is_monday_on_a_normal_weekend() -> None:
    # Fri 2026-06-05; Sat 6 / Sun 7 are ordinary weekend days (Dragon Boat is Jun 19-21) -> Mon 8.
    assert add_working_days(D(2026, 6, 5), 1) == D(2026, 6, 8)


def test_limit_crossing_national_day_lands_on_makeup_saturday() -> None:
    # Accepted Mon 09-28, 5 working days: Tue 29 (1), Wed 30 (2), Oct 1-7 off, Thu 8 (3), Fri 9 (4),
    # Sat 10 (5, 调休上班) -> Sat 2026-10-10.
    # A plain Mon-Fri count would give Mon 10-05 (29, 30, 1, 2, 5); holidays without make-up days Mon 10-12.
    assert add_working_days(D(2026, 9, 28), 5) == D(2026, 10, 10)
    # One more: Sun 10-11 is an ordinary day off -> Mon 10-12.
    assert add_working_days(D(2026, 9, 28), 6) == D(2026, 10, 12)


def test_makeup_sunday_counts_as_a_working_day() -> None:
    # Accepted Fri 09-18: Sat 19 off, Sun 20 is a make-up working day (1) -> Sun 2026-09-20, not Mon 21.
    assert add_working_days(D(2026, 9, 18), 1) == D(2026, 9, 20)
    # Sun 20 (1), Mon 21 (2), Tue 22 (3), Wed 23 (4), Thu 24 (5) -> Thu 09-24.
    assert add_working_days(D(2026, 9, 18), 5) == D(2026, 9, 24)
    # Fri 25 - Sun 27 Mid-Autumn off -> 6th is Mon 09-28.
    assert add_working_days(D(2026, 9, 18), 6) == D(2026, 9, 28)


def test_acceptance_on_a_holiday() -> None:
    # Accepted Sat 10-03 (inside National Day): Thu 8 (1), Fri 9 (2), Sat 10 (3, 调休), Sun 11 off, Mon 12 (4).
    assert add_working_days(D(2026, 10, 3), 1) == D(2026, 10, 8)
    assert add_working_days(D(2026, 10, 3), 3) == D(2026, 10, 10)
    assert add_working_days(D(2026, 10, 3), 4) == D(2026, 10, 12)


def test_spring_festival() -> None:
    # Accepted Fri 02-13: Sat 14 (1, 调休), Sun 15 - Mon 23 off, Tue 24 (2) ... Fri 27 (5), Sat 28 (6, 调休).
    assert add_working_days(D(2026, 2, 13), 2) == D(2026, 2, 24)
    assert add_working_days(D(2026, 2, 13), 6) == D(2026, 2, 28)


# ---------------------------------------------------------------- working_days_between


def test_working_days_between() -> None:
    # (09-30, 10-12]: Oct 8, 9, 10 (调休), 12 -> 4 (a Mon-Fri count would give 8).
    assert working_days_between(D(2026, 9, 30), D(2026, 10, 12)) == 4
    # (09-18, 09-30]: Sep 20 (调休), 21, 22, 23, 24, 28, 29, 30 -> 8.
    assert working_days_between(D(2026, 9, 18), D(2026, 9, 30)) == 8
    # (02-13, 02-28]: Feb 14 (调休), 24, 25, 26, 27, 28 (调休) -> 6 (a Mon-Fri count would give 10).
    assert working_days_between(D(2026, 2, 13), D(2026, 2, 28)) == 6
    # Entirely inside the holiday: 0.
    assert working_days_between(D(2026, 10, 1), D(2026, 10, 7)) == 0


def test_working_days_between_empty_when_end_not_after_start() -> None:
    assert working_days_between(D(2026, 10, 12), D(2026, 10, 12)) == 0
    assert working_days_between(D(2026, 10, 12), D(2026, 9, 30)) == 0


# ---------------------------------------------------------------- due_date with supplement pauses

ACCEPTED = D(2026, 9, 22)  # Tue; limit 10 below


def test_due_date_without_pause() -> None:
    # Sep 23 (1), 24 (2), [25-27 off], 28 (3), 29 (4), 30 (5), [Oct 1-7 off], Oct 8 (6), 9 (7), 10 (8, 调休),
    # [11 off], 12 (9), 13 (10) -> Tue 10-13.
    assert due_date(ACCEPTED, 10, []) == D(2026, 10, 13)
    assert due_date(ACCEPTED, 10) == add_working_days(ACCEPTED, 10)


def test_supplement_pause_covering_the_holiday() -> None:
    # Supplement requested Tue 09-29, received Fri 10-09. Working days in the pause: Sep 29, 30, Oct 8, 9 = 4
    # (the 7 holiday days are not working days anyway). Counting: Sep 23 (1), 24 (2), 28 (3), [pause],
    # Sat Oct 10 (4, 调休), 12 (5), 13 (6), 14 (7), 15 (8), 16 (9), [17-18 weekend], Mon 19 (10) -> Mon 10-19.
    # Extending by the 11 calendar days or the 9 weekdays of the pause would give a later date.
    assert due_date(ACCEPTED, 10, [(D(2026, 9, 29), D(2026, 10, 9))]) == D(2026, 10, 19)


def test_pause_only_on_non_working_days_changes_nothing() -> None:
    # Oct 1-7 holds no working day, so the due date stays Tue 10-13.
    assert due_date(ACCEPTED, 10, [(D(2026, 10, 1), D(2026, 10, 7))]) == D(2026, 10, 13)


def test_overlapping_pauses_are_merged() -> None:
    # (09-28, 09-30) and (09-29, 10-09) merge into (09-28, 10-09): working days Sep 28, 29, 30, Oct 8, 9 = 5.
    # Counting: Sep 23 (1), 24 (2), [pause], Oct 10 (3), 12 (4), 13 (5), 14 (6), 15 (7), 16 (8), 19 (9),
    # Tue 20 (10) -> 10-20. Summing the two pauses separately (3 + 4 = 7) would give Thu 10-22.
    pauses = [(D(2026, 9, 29), D(2026, 10, 9)), (D(2026, 9, 28), D(2026, 9, 30))]
    assert due_date(ACCEPTED, 10, pauses) == D(2026, 10, 20)
    # A pause nested inside another adds nothing; order does not matter.
    nested = [*pauses, (D(2026, 10, 8), D(2026, 10, 8))]
    assert due_date(ACCEPTED, 10, nested) == D(2026, 10, 20)
    assert due_date(ACCEPTED, 10, list(reversed(nested))) == D(2026, 10, 20)


def test_pause_from_the_acceptance_day() -> None:
    # Supplement requested on acceptance day Tue 09-22, received Thu 09-24. Sep 22 never counted anyway, so
    # only Sep 23, 24 are paused: Sep 28 (1), 29 (2), 30 (3), Oct 8 (4), 9 (5), 10 (6), 12 (7), 13 (8), 14 (9),
    # Thu 15 (10) -> 10-15. (Treating Sep 22 as a paused working day too would give Fri 10-16.)
    assert due_date(ACCEPTED, 10, [(D(2026, 9, 22), D(2026, 9, 24))]) == D(2026, 10, 15)


def test_pause_on_the_first_supported_day() -> None:
    # Regression (found by the property test): a pause starting on the acceptance day must not look at the day
    # before it, which here lies outside the calendar. Thu 2004-01-01 is New Year's Day; Fri 01-02 is a working day.
    assert due_date(FIRST, 1, [(FIRST, FIRST)]) == D(2004, 1, 2)
    assert due_date(FIRST, 0, [(FIRST, FIRST)]) == FIRST


def test_pause_after_the_deadline_does_not_revive_the_limit() -> None:
    # Accepted 09-28, 5 working days -> due Sat 10-10; a supplement requested on 10-12 comes too late.
    assert due_date(D(2026, 9, 28), 5, [(D(2026, 10, 12), D(2026, 10, 14))]) == D(2026, 10, 10)


def test_zero_limit_with_pause_is_acceptance_day() -> None:
    assert due_date(ACCEPTED, 0, [(D(2026, 9, 23), D(2026, 9, 24))]) == ACCEPTED


# ---------------------------------------------------------------- compliance

# Accepted Mon 09-28 with 5 working days -> due Sat 10-10 (see above).
CASE = (D(2026, 9, 28), 5)


@pytest.mark.parametrize(
    ("today", "expected", "remaining"),
    [
        # Tue 09-29: (29, 10-10] holds Sep 30, Oct 8, 9, 10 = 4 working days left -> on time.
        (D(2026, 9, 29), ComplianceStatus.ON_TIME, 4),
        # Mon 10-05, 5 calendar days before the due date but only Oct 8, 9, 10 = 3 working days left -> on time.
        (D(2026, 10, 5), ComplianceStatus.ON_TIME, 3),
        # Thu 10-08: Oct 9, 10 = 2 left -> near due (threshold 2).
        (D(2026, 10, 8), ComplianceStatus.NEAR_DUE, 2),
        # Fri 10-09: 1 left. A Mon-Fri count (due 10-05) would already call this overdue.
        (D(2026, 10, 9), ComplianceStatus.NEAR_DUE, 1),
        # Sat 10-10 is the due date itself (调休 working day): near due, 0 left.
        (D(2026, 10, 10), ComplianceStatus.NEAR_DUE, 0),
        # Sun 10-11: past the due date (late only by a day off, so 0 working days) -> overdue.
        (D(2026, 10, 11), ComplianceStatus.OVERDUE, 0),
        # Mon 10-12: one working day past due.
        (D(2026, 10, 12), ComplianceStatus.OVERDUE, -1),
    ],
)
def test_open_case_status(today: date, expected: ComplianceStatus, remaining: int) -> None:
    report = compliance_report(*CASE, [], completed=None, today=today)
    assert report.status is expected
    assert report.due == D(2026, 10, 10)
    assert report.working_days_remaining == remaining
    assert report.working_days_used == 5 - remaining
    assert compliance(*CASE, [], completed=None, today=today) is expected


def test_near_due_threshold_is_configurable() -> None:
    # On Mon 10-05, 3 working days remain: near due with a threshold of 3, on time with 2.
    assert compliance(*CASE, [], completed=None, today=D(2026, 10, 5), near_due_days=3) is ComplianceStatus.NEAR_DUE
    assert compliance(*CASE, [], completed=None, today=D(2026, 10, 5), near_due_days=2) is ComplianceStatus.ON_TIME


def test_completed_on_time_and_late() -> None:
    today = D(2026, 10, 20)
    # Completed on the make-up Saturday 10-10 (the due date) -> on time; on Fri 10-09 -> on time, 1 day to spare.
    assert compliance(*CASE, [], completed=D(2026, 10, 10), today=today) is ComplianceStatus.COMPLETED_ON_TIME
    r = compliance_report(*CASE, [], completed=D(2026, 10, 9), today=today)
    assert r == ComplianceReport(
        status=ComplianceStatus.COMPLETED_ON_TIME,
        due=D(2026, 10, 10),
        as_of=D(2026, 10, 9),
        limit=5,
        working_days_used=4,
        working_days_remaining=1,
        calendar=LIBRARY_VERSION,
    )
    # Completed Mon 10-12 -> late by one working day.
    r = compliance_report(*CASE, [], completed=D(2026, 10, 12), today=today)
    assert r.status is ComplianceStatus.COMPLETED_LATE
    assert r.working_days_remaining == -1


def test_pause_turns_late_completion_into_on_time() -> None:
    # Accepted 09-22, limit 10: due 10-13 without a pause, 10-19 with the supplement pause 09-29..10-09.
    # Completed Fri 10-16: late without the pause, on time with it.
    pause = [(D(2026, 9, 29), D(2026, 10, 9))]
    done, today = D(2026, 10, 16), D(2026, 10, 16)
    assert compliance(ACCEPTED, 10, [], completed=done, today=today) is ComplianceStatus.COMPLETED_LATE
    assert compliance(ACCEPTED, 10, pause, completed=done, today=today) is ComplianceStatus.COMPLETED_ON_TIME


def test_open_pause_passed_with_today() -> None:
    # Supplement requested 09-29, still outstanding on Fri 10-09 (caller passes end = today). Used so far:
    # Sep 23, 24, 28 = 3; due 10-19; left in (10-09, 10-19]: Oct 10, 12, 13, 14, 15, 16, 19 = 7 -> on time.
    r = compliance_report(ACCEPTED, 10, [(D(2026, 9, 29), D(2026, 10, 9))], completed=None, today=D(2026, 10, 9))
    assert (r.status, r.due, r.working_days_used, r.working_days_remaining) == (
        ComplianceStatus.ON_TIME,
        D(2026, 10, 19),
        3,
        7,
    )


def test_status_values() -> None:
    assert [s.value for s in ComplianceStatus] == [
        "on_time",
        "near_due",
        "overdue",
        "completed_on_time",
        "completed_late",
    ]
    assert str(ComplianceStatus.NEAR_DUE) == "near_due"  # StrEnum: serialises as its value


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: add_working_days(D(2026, 9, 28), -1), "zero or more"),
        (lambda: due_date(D(2026, 9, 28), -3, []), "time limit"),
        (lambda: due_date(ACCEPTED, 10, [(D(2026, 10, 9), D(2026, 9, 29))]), "cannot end"),
        (lambda: due_date(ACCEPTED, 10, [(D(2026, 9, 21), D(2026, 9, 29))]), "before the case was accepted"),
        (lambda: is_working_day(D(2003, 12, 31)), "year 2003"),
        (lambda: is_working_day(D(2099, 1, 5)), "year 2099"),
        (lambda: working_days_between(D(2003, 12, 1), D(2004, 1, 10)), "year 2003"),
        (lambda: due_date(ACCEPTED, 10, [(D(2026, 9, 29), D(2099, 1, 1))]), "year 2099"),
        (lambda: compliance(*CASE, [], completed=D(2026, 9, 27), today=D(2026, 10, 1)), "before it was accepted"),
        (lambda: compliance(*CASE, [], completed=D(2026, 10, 2), today=D(2026, 10, 1)), "after today"),
        (lambda: compliance(*CASE, [], completed=None, today=D(2026, 9, 27)), "before acceptance"),
        (lambda: compliance(*CASE, [], completed=None, today=D(2026, 10, 1), near_due_days=-1), "near-due"),
    ],
)
def test_bad_input_raises_value_error(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call()


def test_running_past_the_last_supported_year_names_that_year() -> None:
    # Counting forward from the last covered day needs the next year's (unpublished) arrangement.
    next_year = LAST.year + 1
    with pytest.raises(ValueError, match=f"year {next_year}"):
        add_working_days(LAST - timedelta(days=1), 5)


def test_chinese_calendar_own_error_is_not_leaked() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(D(2003, 6, 2))  # the library's behaviour we translate
    with pytest.raises(ValueError, match="2003"):
        is_working_day(D(2003, 6, 2))


# ---------------------------------------------------------------- properties

# Starts leave room for 60 working days (at most ~95 calendar days, even across Spring Festival).
starts = st.dates(min_value=FIRST, max_value=LAST - timedelta(days=120))


@given(start=starts, n=st.integers(min_value=0, max_value=60))
def test_between_inverts_add(start: date, n: int) -> None:
    end = add_working_days(start, n)
    assert working_days_between(start, end) == n
    if n > 0:
        # The due date is a working day and the earliest date reaching n.
        assert chinese_calendar.is_workday(end)
        assert working_days_between(start, end - timedelta(days=1)) == n - 1


def _reference_due(accepted: date, limit: int, pauses: list[tuple[date, date]]) -> date:
    """Day-by-day model: walk forward, count working days not inside any pause."""
    d, left = accepted, limit
    while left > 0:
        d += timedelta(days=1)
        if chinese_calendar.is_workday(d) and not any(a <= d <= b for a, b in pauses):
            left -= 1
    return d


@settings(max_examples=200)
@given(
    accepted=st.dates(min_value=FIRST, max_value=LAST - timedelta(days=400)),
    limit=st.integers(min_value=0, max_value=40),
    raw=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 20)), max_size=4),
    seed=st.integers(0, 1000),
)
def test_due_date_matches_day_by_day_model(accepted: date, limit: int, raw: list[tuple[int, int]], seed: int) -> None:
    pauses = [(accepted + timedelta(days=off), accepted + timedelta(days=off + length)) for off, length in raw]
    expected = _reference_due(accepted, limit, pauses)
    assert due_date(accepted, limit, pauses) == expected
    random.Random(seed).shuffle(pauses)
    assert due_date(accepted, limit, pauses) == expected
    assert due_date(accepted, limit, pauses) >= due_date(accepted, limit, [])
