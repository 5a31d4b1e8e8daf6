"""Regulator exports for Excel: one table, written as CSV or as an .xlsx workbook, the same rows in both.

Every regulator export (the city-wide view's, and a hall's audit lists: cases, time limits, summaries,
anomalies) is built as a :class:`Table` — a sheet name, a header row and rows of plain cells, already in
the staff's language — and written by :func:`to_csv` or :func:`to_xlsx`::

    table = Table(sheet="办件清单", header=["办件编号", "办理事项"], rows=[["TB20261201-001-00001", "户口迁移"]])
    to_csv(table)     # UTF-8 with a byte-order mark (Excel opens it as UTF-8), CRLF line ends
    to_xlsx(table)    # one sheet, bold frozen header row, column widths to fit

What a cell may hold: text, an integer or a number — never a list or a mapping (no JSON in a cell: lists
are joined with :func:`joined`). Dates are ``YYYY-MM-DD`` (Excel reads them as dates), times
``YYYY-MM-DD HH:MM:SS`` Beijing time (:func:`day`, :func:`clock`); yes/no are words (:func:`yes_no`).
The word tables here (:data:`STATUS_WORDS`, :data:`COMPLIANCE_WORDS`, :data:`STAGE_EN`) are shared by the
exports of every view.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date

from pydantic import BaseModel, ConfigDict

from ledger.core.stages import Stage
from ledger.core.timefmt import iso_to_cst, unix_to_cst
from ledger.errors import LedgerError

__all__ = [
    "COMPLIANCE_WORDS",
    "STAGE_EN",
    "STATUS_WORDS",
    "XLSX_MEDIA_TYPE",
    "Cell",
    "Table",
    "clock",
    "day",
    "joined",
    "stage_word",
    "to_csv",
    "to_xlsx",
    "word",
    "yes_no",
]

Cell = str | int | float
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

COMPLIANCE_WORDS: dict[str, tuple[str, str]] = {
    "on_time": ("按时", "on time"),
    "near_due": ("即将到期", "due soon"),
    "overdue": ("已超期", "overdue"),
    "completed_on_time": ("按时办结", "completed on time"),
    "completed_late": ("超期办结", "completed late"),
    "awaiting_acceptance": ("待受理（未开始计时）", "awaiting acceptance (clock not started)"),
    "not_accepted": ("不予受理", "not accepted"),
    "no_limit": ("无承诺时限", "no time limit"),
    "invalid": ("无法计算", "cannot be computed"),
}
"""a case's working-day time-limit state (``CaseRow.compliance``, ``CityCase.compliance``) as staff say it"""

STATUS_WORDS: dict[str, tuple[str, str]] = {
    "submitted": ("待受理", "waiting for acceptance"),
    "accepted": ("办理中", "in progress"),
    "rejected": ("不予受理", "not accepted"),
    "supplement_requested": ("待补正", "supplement requested"),
    "decided": ("已办结", "decided"),
    "delivered": ("已送达", "delivered"),
}
"""where a case stands at a hall (:func:`ledger.hall.cases.case_status`), as the pages say it"""

STAGE_EN: dict[Stage, str] = {
    Stage.INTAKE: "intake",
    Stage.MATERIALS: "materials",
    Stage.ACCEPTANCE: "acceptance",
    Stage.PROCESS: "processing",
    Stage.RESULT: "result",
    Stage.DELIVERY: "delivery",
    Stage.DISPUTE_OPENED: "dispute opened",
    Stage.DISPUTE_RESOLVED: "dispute resolved",
}


class Table(BaseModel):
    """One sheet of an export: the header row and the rows, every cell already in the reader's language."""

    model_config = ConfigDict(frozen=True)

    sheet: str
    header: list[str]
    rows: list[list[Cell]]


def word(words: dict[str, tuple[str, str]], key: str, lang: str) -> str:
    """``key`` in the staff's words (``lang`` ``zh`` or ``en``); an unknown key as it is."""
    pair = words.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def stage_word(stage: str | None, lang: str) -> str:
    """A stage name (``INTAKE``, ...) as staff read it: 基本信息, ... (English: intake, ...); empty for none."""
    if not stage:
        return ""
    try:
        st = Stage[stage]
    except KeyError:
        return stage
    return STAGE_EN[st] if lang == "en" else st.label_zh


def yes_no(value: bool, lang: str) -> str:
    return ("yes" if value else "no") if lang == "en" else ("是" if value else "否")


def day(value: date | None) -> str:
    """A date as ``YYYY-MM-DD`` (Excel reads it as a date); empty for none."""
    return value.isoformat() if value is not None else ""


def clock(value: str | float | None) -> str:
    """An ISO 8601 time or Unix seconds as ``YYYY-MM-DD HH:MM:SS`` Beijing time; empty for none."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            return iso_to_cst(value)
        except ValueError:
            return value
    return unix_to_cst(value)


def joined(items: Iterable[str], lang: str) -> str:
    """A list as one readable cell: ``甲、乙、丙`` (English: ``a; b; c``)."""
    return ("; " if lang == "en" else "、").join(i for i in items if i)


def to_csv(table: Table) -> bytes:
    """CSV for Excel: UTF-8 with a byte-order mark, the header row first, CRLF line ends."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(table.header)
    w.writerows(table.rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _width(values: Sequence[Cell]) -> float:
    """Excel column width for the longest value (a CJK character is about two widths)."""
    longest = max((sum(2 if ord(ch) > 0x2E7F else 1 for ch in str(v)) for v in values), default=0)
    return min(60, max(8, longest + 2))


def to_xlsx(table: Table) -> bytes:
    """The same table as an Excel workbook (openpyxl): one sheet, bold frozen header row, widths to fit."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    if ws is None:  # a new workbook always has its sheet
        raise LedgerError("internal_error")
    ws.title = table.sheet[:31]  # Excel's limit on a sheet name
    ws.append(table.header)
    for row in table.rows:
        ws.append(row)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for n, name in enumerate(table.header, start=1):
        ws.column_dimensions[get_column_letter(n)].width = _width([name, *(r[n - 1] for r in table.rows)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
