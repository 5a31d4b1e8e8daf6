"""The regulator exports (ledger.hall.exports): one table, CSV with a BOM and .xlsx with the same rows, in the
staff's words — Chinese headers and values (English with lang="en"), no JSON in a cell."""

from __future__ import annotations

import csv
import io
from datetime import date

from openpyxl import load_workbook

from ledger.hall.audit import Anomaly, CaseRow, SummaryRow, anomalies_table, cases_table, summary_table
from ledger.hall.catalogue import load_catalogue
from ledger.hall.exports import Table, to_csv, to_xlsx

CAT = load_catalogue()
D = date


def _row(**kw: object) -> CaseRow:
    base: dict[str, object] = {
        "serial": "TB20261001-001-00001",
        "item_code": CAT.items[0].code,
        "accepting_hall": 1,
        "accepting_district": CAT.districts[0].code,
        "home_district": CAT.districts[0].code,
        "status": "supplement_requested",
        "created_on": D(2026, 9, 28),
        "accepted_on": D(2026, 9, 29),
        "limit_working_days": 5,
        "due": D(2026, 10, 12),
        "compliance": "overdue",
        "working_days_used": 6,
        "working_days_remaining": -1,
        "pauses": [(D(2026, 9, 30), D(2026, 10, 8)), (D(2026, 10, 9), None)],
        "events": 5,
        "proven_time_stages": ["ACCEPTANCE", "PROCESS"],
    }
    return CaseRow.model_validate({**base, **kw})


def _csv_rows(table: Table) -> list[list[str]]:
    raw = to_csv(table)
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def _xlsx_rows(table: Table) -> list[list[str]]:
    ws = load_workbook(io.BytesIO(to_xlsx(table))).active
    assert ws is not None and ws.freeze_panes == "A2" and ws["A1"].font.b
    return [["" if v is None else str(v) for v in r] for r in ws.iter_rows(values_only=True)]


def test_case_rows_export_in_the_staffs_words_with_no_json_in_any_cell() -> None:
    table = cases_table([_row()], CAT, hall_names={1: "鼓楼区政务服务中心"})
    rows = _csv_rows(table)
    head, row = rows[0], dict(zip(rows[0], rows[1], strict=True))
    assert head[:3] == ["办件编号", "办理事项", "事项编码"]
    assert row["办理事项"] == CAT.items[0].name_zh and row["受理大厅"] == "鼓楼区政务服务中心"
    assert row["办件状态"] == "待补正" and row["时限情况"] == "已超期" and row["是否估算"] == "否"
    assert row["属地（承办区县）"] == CAT.districts[0].name_zh
    assert row["补正暂停"] == "2026-09-30 至 2026-10-08、2026-10-09 至 尚未补正"
    assert row["以上链时间计的环节"] == "受理信息、过程信息"
    assert row["到期日"] == "2026-10-12" and row["剩余工作日"] == "-1"
    assert not any(c.startswith(("[", "{")) for r in rows for c in r)
    assert _xlsx_rows(table) == rows


def test_english_export_has_english_headers_and_values() -> None:
    rows = _csv_rows(cases_table([_row(approximate=True)], CAT, lang="en"))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert rows[0][0] == "Case serial" and row["Status"] == "supplement requested" and row["Approximate"] == "yes"
    assert row["Supplement pauses"] == "2026-09-30 to 2026-10-08; 2026-10-09 to still open"
    assert row["Note"].startswith("official calendar not published")
    assert all(not any("\u4e00" <= ch <= "\u9fff" for ch in c) for c in rows[0])


def test_summary_and_anomalies_exports() -> None:
    s = SummaryRow(
        key=str(CAT.districts[0].code),
        cases=4,
        open=1,
        completed=3,
        completed_on_time=2,
        completed_late=1,
        overdue=0,
        near_due=1,
        on_time_rate=2 / 3,
    )
    rows = _csv_rows(summary_table([s], "district", CAT))
    assert rows[0][0] == "属地（承办区县）" and rows[1][0] == CAT.districts[0].name_zh and rows[1][-1] == "66.7%"
    a = Anomaly(
        kind="record_unanchored",
        serial="TB-1",
        seq=3,
        stage="RESULT",
        detail="pending for 700 s",
        detail_zh="已等待 700 秒",
    )
    zh = _csv_rows(anomalies_table([a]))
    assert zh[1] == ["记录长时间未上链", "TB-1", "结果信息", "", "3", "已等待 700 秒"]
    en = _csv_rows(anomalies_table([a], lang="en"))
    assert en[0][0] == "Anomaly" and en[1][2] == "result" and en[1][-1] == "pending for 700 s"
    assert _xlsx_rows(anomalies_table([a])) == zh


def test_an_empty_export_still_has_its_header_row() -> None:
    table = anomalies_table([])
    assert _csv_rows(table) == [table.header] == _xlsx_rows(table)
