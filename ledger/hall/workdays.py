"""Statutory time limits (办理时限) counted in Chinese working days (工作日) on the official calendar.

Working days come from :mod:`chinese_calendar`, which knows the State Council's holiday
arrangements: official holidays are not working days, and make-up working days (调休上班),
even on a Saturday or Sunday, are. Its data covers a fixed range of years
(see :func:`supported_range`); by default any date outside it raises :class:`ValueError` naming
the year, because a time limit cannot be computed exactly without the official arrangement for
that year. With ``fallback=True`` (what the audit uses, so a case running into a year the calendar
does not cover yet does not stop the audit) such days are counted Monday to Friday and the
:class:`ComplianceReport` is flagged ``approximate`` (官方日历未发布).

Conventions:

* The day of acceptance (受理日) does not count: counting starts on the next working day, so a
  1-working-day limit on a case accepted on a Friday before a normal weekend is due on Monday.
* A supplement period (补正期间) is a closed interval ``(requested, received)``; working days
  inside it do not count toward the limit, and counting resumes on the next working day after
  the supplement is received. Overlapping pauses are merged, so a working day is never
  "paused twice". A still-open pause is passed by the caller with ``received = today``.

Pure functions, no I/O::

    >>> from datetime import date
    >>> add_working_days(date(2026, 9, 28), 5)  # Sep 29, 30, (Oct 1-7 off), Oct 8, 9, Sat Oct 10 (调休上班)
    datetime.date(2026, 10, 10)
    >>> working_days_between(date(2026, 9, 30), date(2026, 10, 12))
    4
    >>> due_date(date(2026, 9, 22), 10, [(date(2026, 9, 29), date(2026, 10, 9))])
    datetime.date(2026, 10, 19)
    >>> compliance(date(2026, 9, 28), 5, [], completed=None, today=date(2026, 10, 8))
    <ComplianceStatus.NEAR_DUE: 'near_due'>
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from typing import Literal

import chinese_calendar
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "APPROXIMATE_NOTE",
    "APPROXIMATE_NOTE_EN",
    "NEAR_DUE_DAYS",
    "LIBRARY_VERSION",
    "Arrangement",
    "ComplianceReport",
    "ComplianceStatus",
    "Pause",
    "HolidayPeriod",
    "add_working_days",
    "calendar_fingerprint",
    "calendar_version",
    "compliance",
    "compliance_report",
    "due_date",
    "install_arrangement",
    "remove_arrangement",
    "is_supported",
    "is_working_day",
    "supported_range",
    "working_days_between",
]

Pause = tuple[date, date]
"""A supplement period ``(requested, received)``, both days inclusive, ``received >= requested``."""

_ONE_DAY = timedelta(days=1)

NEAR_DUE_DAYS = 2
"""Default near-due threshold: an open case with at most this many working days left is ``near_due``."""

# The years chinese_calendar has official arrangements for (it checks the same way internally).
_FIRST_YEAR: int = min(d.year for d in chinese_calendar.constants.holidays)
_LAST_YEAR: int = max(d.year for d in chinese_calendar.constants.holidays)


def supported_range() -> tuple[date, date]:
    """First and last date the official calendar covers (inclusive).

    >>> first, last = supported_range()
    >>> first.year <= 2026 <= last.year
    True
    """
    return date(_FIRST_YEAR, 1, 1), date(_LAST_YEAR, 12, 31)


def _in_library(d: date) -> bool:
    return _FIRST_YEAR <= d.year <= _LAST_YEAR


def is_supported(d: date) -> bool:
    """Whether the official calendar has the arrangement for ``d``'s year (the library's, or one an
    administrator loaded with :func:`install_arrangement`)."""
    return _in_library(d) or d.year in _EXTRA


# ---------------------------------------------------------------------------------------------------
# Arrangements of later years, loaded by an administrator (the State Council publishes each year's in
# November; chinese-calendar ships it in a later release). Schema ``caseledger-holidays/1``:
#
#   {"schema": "caseledger-holidays/1", "year": 2027,
#    "source": "国务院办公厅关于2027年部分节假日安排的通知（国办发明电〔2026〕N号）", "published": "2026-11-..",
#    "holidays": [{"name": "元旦", "dates": ["2027-01-01", ...]}, ...],
#    "workdays": ["2027-02-..", ...]}                       # make-up working days (调休上班), Sat/Sun only
LIBRARY_VERSION = f"chinese-calendar {getattr(chinese_calendar, '__version__', '?')}"


class HolidayPeriod(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=40)
    dates: list[date] = Field(min_length=1, max_length=15)


class Arrangement(BaseModel):
    """One year's official holiday arrangement: holidays and make-up working days (调休上班)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_: Literal["caseledger-holidays/1"] = Field(alias="schema")
    year: int = Field(ge=2000, le=2100)
    source: str = Field(min_length=4, max_length=300, description="the notice it comes from (title and number)")
    published: date | None = None
    holidays: list[HolidayPeriod] = Field(min_length=1, max_length=20)
    workdays: list[date] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _check(self) -> Arrangement:
        if self.year <= _LAST_YEAR:
            raise ValueError(
                f"year {self.year} is already in the official calendar of {LIBRARY_VERSION} "
                f"(years {_FIRST_YEAR}-{_LAST_YEAR}); only later years can be loaded"
            )
        off = [d for p in self.holidays for d in p.dates]
        for d in [*off, *self.workdays]:
            if d.year != self.year:
                raise ValueError(f"{d.isoformat()} is not in {self.year}")
        if len(set(off)) != len(off):
            raise ValueError("a holiday date is listed twice")
        if set(off) & set(self.workdays):
            raise ValueError(f"{min(set(off) & set(self.workdays)).isoformat()} is both a holiday and a working day")
        for d in self.workdays:
            if d.weekday() < 5:
                raise ValueError(f"make-up working day {d.isoformat()} is a weekday (调休上班 falls on a Sat/Sun)")
        return self

    def digest(self) -> str:
        body = self.model_dump(mode="json", by_alias=True)
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


_EXTRA: dict[int, tuple[frozenset[date], frozenset[date], str]] = {}


def install_arrangement(arr: Arrangement, version: int) -> str:
    """Use ``arr`` for its year from now on; returns its label (``2027 v1 (sha256 1a2b3c4d)``)."""
    label = f"{arr.year} v{version} (sha256 {arr.digest()[:8]})"
    off = frozenset(d for p in arr.holidays for d in p.dates)
    _EXTRA[arr.year] = (off, frozenset(arr.workdays), label)
    _workday.cache_clear()
    return label


def remove_arrangement(year: int) -> None:
    _EXTRA.pop(year, None)
    _workday.cache_clear()


def calendar_fingerprint() -> str:
    """Every calendar the working-day counts use now (the library's and each loaded year's label): stored
    verdicts counted on another calendar are counted again (:func:`ledger.hall.audit.scan_incremental`)."""
    return " + ".join([LIBRARY_VERSION, *(_EXTRA[y][2] for y in sorted(_EXTRA))])


def calendar_version(first: date, last: date) -> str:
    """Which calendar data a computation over ``[first, last]`` used (named in every compliance row)."""
    parts = [LIBRARY_VERSION]
    for y in range(first.year, last.year + 1):
        if y > _LAST_YEAR:
            parts.append(_EXTRA[y][2] if y in _EXTRA else f"{y} Mon-Fri estimate")
    return " + ".join(parts)


APPROXIMATE_NOTE = "官方日历未发布，按周一至周五估算"
APPROXIMATE_NOTE_EN = "official calendar not published: a Monday-to-Friday estimate"


def _check_date(d: date, what: str = "date", fallback: bool = False) -> None:
    if fallback:
        return
    if not is_supported(d):
        raise ValueError(
            f"The official holiday calendar has no data for year {d.year} ({what} {d.isoformat()}); "
            f"only years {_FIRST_YEAR} to {_LAST_YEAR} are supported (an administrator can load a later year)."
        )


@cache
def _workday(d: date) -> bool:
    _check_date(d)
    extra = _EXTRA.get(d.year)
    if extra is not None:
        off, on, _ = extra
        return d in on or (d.weekday() < 5 and d not in off)
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError as exc:  # defensive: the library's own range check
        raise ValueError(
            f"The official holiday calendar has no data for year {d.year} (date {d.isoformat()})."
        ) from exc


def _day(d: date, fallback: bool) -> bool:
    if fallback and not is_supported(d):
        return d.weekday() < 5
    return _workday(d)


def _check_count(n: int, what: str) -> None:
    if n < 0:
        raise ValueError(f"The {what} must be zero or more working days, got {n}.")


def is_working_day(d: date) -> bool:
    """Whether ``d`` is a working day on the official calendar (make-up working days included).

    >>> is_working_day(date(2026, 10, 1)), is_working_day(date(2026, 10, 10))  # National Day; 调休 Saturday
    (False, True)
    """
    return _workday(d)


def add_working_days(start: date, n: int, *, fallback: bool = False) -> date:
    """The date on which the ``n``-th working day after ``start`` falls (``start`` itself never counts).

    ``n == 0`` returns ``start`` unchanged; for ``n >= 1`` the result is always a working day.

    >>> add_working_days(date(2026, 6, 5), 1)  # Friday -> Monday
    datetime.date(2026, 6, 8)
    """
    _check_count(n, "number of working days to add")
    _check_date(start, "start", fallback)
    d = start
    left = n
    while left > 0:
        d += _ONE_DAY
        if _day(d, fallback):
            left -= 1
    return d


def working_days_between(start: date, end: date, *, fallback: bool = False) -> int:
    """Number of working days in the half-open interval ``(start, end]``; 0 if ``end <= start``.

    >>> working_days_between(date(2026, 2, 13), date(2026, 2, 28))  # Spring Festival 2026
    6
    """
    _check_date(start, "start", fallback)
    _check_date(end, "end", fallback)
    if end <= start:
        return 0
    if _in_library(start + _ONE_DAY) and _in_library(end):
        return len(chinese_calendar.get_workdays(start + _ONE_DAY, end))
    n, d = 0, start
    while d < end:
        d += _ONE_DAY
        n += _day(d, True)
    return n


def _merge_pauses(accepted: date, pauses: Sequence[Pause], fallback: bool = False) -> list[Pause]:
    """Validate pauses, then sort and merge overlapping (or touching) ones."""
    for requested, received in pauses:
        _check_date(requested, "supplement request", fallback)
        _check_date(received, "supplement receipt", fallback)
        if received < requested:
            raise ValueError(
                f"A supplement pause cannot end ({received.isoformat()}) before it starts ({requested.isoformat()})."
            )
        if requested < accepted:
            raise ValueError(
                f"A supplement cannot be requested ({requested.isoformat()}) "
                f"before the case was accepted ({accepted.isoformat()})."
            )
    merged: list[Pause] = []
    for requested, received in sorted(pauses):
        if merged and requested <= merged[-1][1] + _ONE_DAY:
            if received > merged[-1][1]:
                merged[-1] = (merged[-1][0], received)
        else:
            merged.append((requested, received))
    return merged


def due_date(accepted: date, limit_working_days: int, pauses: Sequence[Pause] = (), *, fallback: bool = False) -> date:
    """Due date of a case accepted on ``accepted`` with a limit of ``limit_working_days`` working days.

    Working days inside a supplement pause do not count, which extends the limit by the working
    days of each (merged) pause. A pause that starts only after the limit has already run out
    cannot revive it and is ignored.

    >>> due_date(date(2026, 9, 22), 10)  # no pause: Sep 23, 24, 28, 29, 30, Oct 8, 9, 10, 12, 13
    datetime.date(2026, 10, 13)
    >>> due_date(date(2026, 9, 22), 10, [(date(2026, 9, 29), date(2026, 10, 9))])  # +4 paused working days
    datetime.date(2026, 10, 19)
    """
    _check_count(limit_working_days, "time limit")
    _check_date(accepted, "acceptance", fallback)
    cursor = accepted
    left = limit_working_days
    for requested, received in _merge_pauses(accepted, pauses, fallback):
        before = working_days_between(cursor, requested - _ONE_DAY, fallback=fallback) if requested > cursor else 0
        if before >= left:
            break  # the limit runs out before this pause starts
        left -= before
        cursor = received
    return add_working_days(cursor, left, fallback=fallback)


class ComplianceStatus(StrEnum):
    """Where a case stands against its time limit."""

    ON_TIME = "on_time"
    NEAR_DUE = "near_due"
    OVERDUE = "overdue"
    COMPLETED_ON_TIME = "completed_on_time"
    COMPLETED_LATE = "completed_late"


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    """A case's standing against its limit, as of ``as_of`` (the completion date, or today if still open).

    ``working_days_remaining`` is the number of working days in ``(as_of, due]``; when ``as_of`` is
    past the due date it is minus the working days in ``(due, as_of]`` (so it can be 0 for a case
    late only by non-working days: the status is what decides). ``working_days_used`` is
    ``limit - working_days_remaining``.
    """

    status: ComplianceStatus
    due: date
    as_of: date
    limit: int
    working_days_used: int
    working_days_remaining: int
    approximate: bool = False
    calendar: str = ""
    """Which calendar data the computation used (library version, loaded years with their version)."""
    """True when some day of the computation lies in a year the official calendar does not cover
    (only with ``fallback=True``): those days were counted Monday to Friday (官方日历未发布)."""


def compliance_report(
    accepted: date,
    limit: int,
    pauses: Sequence[Pause],
    completed: date | None,
    today: date,
    near_due_days: int = NEAR_DUE_DAYS,
    *,
    fallback: bool = False,
) -> ComplianceReport:
    """Full :class:`ComplianceReport`; :func:`compliance` returns only its status.

    An open case is ``near_due`` when at most ``near_due_days`` working days remain after today
    (a case due today is near due), ``overdue`` once today is past the due date.

    >>> r = compliance_report(date(2026, 9, 28), 5, [], completed=date(2026, 10, 9), today=date(2026, 10, 12))
    >>> r.status, r.due, r.working_days_used, r.working_days_remaining
    (<ComplianceStatus.COMPLETED_ON_TIME: 'completed_on_time'>, datetime.date(2026, 10, 10), 4, 1)
    """
    _check_count(near_due_days, "near-due threshold")
    due = due_date(accepted, limit, pauses, fallback=fallback)
    _check_date(today, "today", fallback)
    if today < accepted:
        raise ValueError(f"Today ({today.isoformat()}) cannot be before acceptance ({accepted.isoformat()}).")
    if completed is not None:
        _check_date(completed, "completion", fallback)
        if completed < accepted:
            raise ValueError(
                f"A case cannot be completed ({completed.isoformat()}) before it was accepted ({accepted.isoformat()})."
            )
        if completed > today:
            raise ValueError(f"Completion ({completed.isoformat()}) cannot be after today ({today.isoformat()}).")
    as_of = completed if completed is not None else today
    if as_of <= due:
        remaining = working_days_between(as_of, due, fallback=fallback)
    else:
        remaining = -working_days_between(due, as_of, fallback=fallback)
    approximate = fallback and not (is_supported(accepted) and is_supported(max(due, as_of)))

    if completed is not None:
        status = ComplianceStatus.COMPLETED_ON_TIME if completed <= due else ComplianceStatus.COMPLETED_LATE
    elif today > due:
        status = ComplianceStatus.OVERDUE
    elif remaining <= near_due_days:
        status = ComplianceStatus.NEAR_DUE
    else:
        status = ComplianceStatus.ON_TIME
    return ComplianceReport(
        status=status,
        due=due,
        as_of=as_of,
        limit=limit,
        working_days_used=limit - remaining,
        working_days_remaining=remaining,
        approximate=approximate,
        calendar=calendar_version(accepted, max(due, as_of)),
    )


def compliance(
    accepted: date,
    limit: int,
    pauses: Sequence[Pause],
    completed: date | None,
    today: date,
    near_due_days: int = NEAR_DUE_DAYS,
) -> ComplianceStatus:
    """Status of a case against its limit (see :func:`compliance_report` for the numbers).

    >>> compliance(date(2026, 9, 28), 5, [], completed=date(2026, 10, 12), today=date(2026, 10, 12))
    <ComplianceStatus.COMPLETED_LATE: 'completed_late'>
    """
    return compliance_report(accepted, limit, pauses, completed, today, near_due_days).status
