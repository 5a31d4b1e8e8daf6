"""Time as CaseLedger shows and stamps it: China Standard Time (UTC+8, no daylight saving).

Block times and other machine times stay Unix seconds; ISO time stamps a hall writes into records
(``created_at``, a record's ``at``, ...) and every time shown to a person are in :data:`CST`::

    now_iso()                      # "2026-03-07T09:30:00+08:00"
    unix_to_cst(1772847000)        # "2026-03-07 09:30:00"
    iso_to_cst("2026-03-07T01:30:00+00:00")   # "2026-03-07 09:30:00"
    long_cst(1796177492)           # "2026年12月2日 10:11:32 (北京时间)"  (printed documents, for a court)
    long_cst(1796177492, "en")     # "2 December 2026 10:11:32 (Beijing time)"
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

__all__ = ["CST", "DISPLAY_FORMAT", "iso_to_cst", "long_cst", "now_iso", "unix_to_cst"]

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


_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def long_cst(when: float | str, lang: str = "zh") -> str:
    """A Unix time or an ISO 8601 time (with offset) as a person reads it on paper, in CST:
    ``2026年12月2日 10:11:32 (北京时间)`` (``lang="en"``: ``2 December 2026 10:11:32 (Beijing time)``).
    :class:`ValueError` for a text that is not ISO 8601."""
    d = (datetime.fromisoformat(when) if isinstance(when, str) else datetime.fromtimestamp(when, CST)).astimezone(CST)
    clock = d.strftime("%H:%M:%S")
    if lang == "en":
        return f"{d.day} {_MONTHS[d.month - 1]} {d.year} {clock} (Beijing time)"
    return f"{d.year}年{d.month}月{d.day}日 {clock} (北京时间)"
