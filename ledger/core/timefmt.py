"""Time as CaseLedger shows and stamps it: China Standard Time (UTC+8, no daylight saving).

Block times and other machine times stay Unix seconds; ISO time stamps a hall writes into records
(``created_at``, a record's ``at``, ...) and every time shown to a person are in :data:`CST`::

    now_iso()                      # "2026-03-07T09:30:00+08:00"
    unix_to_cst(1772847000)        # "2026-03-07 09:30:00"
    iso_to_cst("2026-03-07T01:30:00+00:00")   # "2026-03-07 09:30:00"
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["CST", "DISPLAY_FORMAT", "iso_to_cst", "now_iso", "unix_to_cst"]

CST = timezone(timedelta(hours=8))
DISPLAY_FORMAT = "%Y-%m-%d %H:%M:%S"


def now_iso() -> str:
    """The current time in CST, ISO 8601 to the second."""
    return datetime.now(CST).isoformat(timespec="seconds")


def unix_to_cst(ts: float) -> str:
    """A Unix time as ``YYYY-MM-DD HH:MM:SS`` in CST."""
    return datetime.fromtimestamp(ts, CST).strftime(DISPLAY_FORMAT)


def iso_to_cst(stamp: str) -> str:
    """An ISO 8601 time (with offset) as ``YYYY-MM-DD HH:MM:SS`` in CST; :class:`ValueError` if not ISO."""
    return datetime.fromisoformat(stamp).astimezone(CST).strftime(DISPLAY_FORMAT)
