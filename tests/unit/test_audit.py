"""Audit logic over hand-built records: working-day compliance across the 2026 National Day holiday,
filters, summaries, CSV, trail privacy, and the pure anomaly checks.

The 2026 calendar (see tests/unit/test_workdays.py): Sep 25-27 and Oct 1-7 off; make-up working days
Sun Sep 20 and Sat Oct 10. BDC-TRANSFER has a 5-working-day limit, SB-TRANSFER 15.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from ledger.core.facts import ChainEventFact, ChainFacts
from ledger.core.records import SaltedRecord
from ledger.core.stages import Stage
from ledger.hall.audit import (
    AuditThresholds,
    case_anomalies,
    case_row,
    cases_table,
    compliance_lists,
    filter_rows,
    outbox_anomalies,
    summarize,
    trail,
)
from ledger.hall.catalogue import load_catalogue
from ledger.hall.exports import to_csv
from ledger.verify.checks import claimed_time
from tests.conftest import case_facts

CAT = load_catalogue()
D = date


def _t(d: date, hh: int = 10) -> str:
    return f"{d.isoformat()}T{hh:02d}:00:00+08:00"


def _rec(
    seq: int,
    stage: Stage,
    fields: dict[str, Any],
    *,
    state: str = "anchored",
    index: int | None = None,
    serial: str = "TB-A-1",
    anchored: int | None = None,
) -> dict[str, Any]:
    """A stored record; ``fields["at"]`` is its claimed time, anchored a minute later unless ``anchored``."""
    fields = dict(fields)
    at = fields.pop("at")
    ic = None if stage == Stage.INTAKE else "0x" + "ab" * 32
    r = SaltedRecord.new(serial, stage, fields, at=at, intake_commitment=ic)
    when = claimed_time(at)
    assert when is not None
    return {
        "seq": seq,
        "stage": stage.name,
        "fields": r.fields,
        "salts": r.salts,
        "commitment": r.commitment.hex(),
        "writer_hall": 1,
        "origin": "local",
        "files": [],
        "written_at": 0.0,
        "anchor": {
            "state": state,
            "index": seq if index is None else index,
            "time": when + 60 if anchored is None else anchored,
            "block": 1,
            "tx": "0x01",
        }
        if state == "anchored"
        else {"state": state},
    }


def _header(
    serial: str = "TB-A-1", item: str = "BDC-TRANSFER", hall: int = 1, district: int = 350503
) -> dict[str, Any]:
    return {
        "serial": serial,
        "item_code": item,
        "accepting_hall": hall,
        "home_district": district,
        "accepting_district": 350502,
        "created_at": _t(D(2026, 9, 28), 9),
        "next_seq": 9,
    }


def _case(
    accepted: date,
    *,
    result: date | None = None,
    pauses: list[tuple[date, date | None]] = (),  # type: ignore[assignment]
    serial: str = "TB-A-1",
    decision: str = "accepted",
) -> list[dict[str, Any]]:
    recs = [
        _rec(
            0,
            Stage.INTAKE,
            {"at": _t(accepted, 9), "applicant_name": "张三", "applicant_id_number": "350503198807150019"},
            serial=serial,
        ),
        _rec(1, Stage.MATERIALS, {"at": _t(accepted, 9), "supplement": False}, serial=serial),
        _rec(2, Stage.ACCEPTANCE, {"decision": decision, "at": _t(accepted)}, serial=serial),
    ]
    for req, got in pauses:
        recs.append(_rec(len(recs), Stage.PROCESS, {"step": "supplement_requested", "at": _t(req)}, serial=serial))
        if got is not None:
            recs.append(_rec(len(recs), Stage.MATERIALS, {"at": _t(got), "supplement": True}, serial=serial))
    if result is not None:
        recs.append(_rec(len(recs), Stage.RESULT, {"decision": "approved", "at": _t(result)}, serial=serial))
    return recs


def test_due_date_crosses_national_day_and_lands_on_the_makeup_saturday() -> None:
    # Accepted Mon 09-28, 5 working days: 29, 30, (Oct 1-7 off), 8, 9, Sat 10 (调休) -> due Sat 2026-10-10.
    row = case_row(_header(), _case(D(2026, 9, 28)), CAT, today=D(2026, 9, 30))
    assert row.due == D(2026, 10, 10) and row.compliance == "on_time"
    assert row.working_days_used == 2 and row.working_days_remaining == 3 and not row.approximate


def test_near_due_on_the_day_after_the_holiday() -> None:
    # Today Thu 10-08: remaining 9 (Fri), 10 (Sat 调休) = 2 working days -> near due with the default threshold 2.
    row = case_row(_header(), _case(D(2026, 9, 28)), CAT, today=D(2026, 10, 8))
    assert row.compliance == "near_due" and row.working_days_remaining == 2


def test_completed_on_the_makeup_saturday_is_on_time_and_monday_is_late() -> None:
    on_time = case_row(_header(), _case(D(2026, 9, 28), result=D(2026, 10, 10)), CAT, today=D(2026, 10, 20))
    assert on_time.compliance == "completed_on_time" and on_time.completed_on == D(2026, 10, 10)
    late = case_row(_header(), _case(D(2026, 9, 28), result=D(2026, 10, 12)), CAT, today=D(2026, 10, 20))
    # A Mon-Fri count would have put the due date on Mon 10-05; without make-up days on Mon 10-12 (on time).
    assert late.compliance == "completed_late" and late.working_days_remaining == -1


def test_open_case_past_due_is_overdue() -> None:
    row = case_row(_header(), _case(D(2026, 9, 28)), CAT, today=D(2026, 10, 12))
    assert row.compliance == "overdue"


def test_supplement_pause_over_the_holiday_extends_the_due_date() -> None:
    # Accepted Tue 09-22, limit 5: 23 (1), 24 (2); supplement requested Fri 09-25 (a holiday), received
    # Thu 10-08: days 25..10-08 do not count (Sep 28, 29, 30 and Oct 8 are the paused working days);
    # resume: Fri 10-09 (3), Sat 10-10 (4, 调休), Mon 10-12 (5) -> due Mon 2026-10-12.
    recs = _case(D(2026, 9, 22), pauses=[(D(2026, 9, 25), D(2026, 10, 8))])
    row = case_row(_header(), recs, CAT, today=D(2026, 10, 9))
    assert row.due == D(2026, 10, 12)
    assert row.pauses == [(D(2026, 9, 25), D(2026, 10, 8))]
    assert row.compliance == "near_due"
    # without the pause the due date would be Wed 09-30: 23, 24, 28, 29, 30
    assert case_row(_header(), _case(D(2026, 9, 22)), CAT, today=D(2026, 9, 23)).due == D(2026, 9, 30)


def test_open_supplement_pause_runs_until_today() -> None:
    # Requested Wed 09-23 after 1 working day (Sep 23 itself is inside the pause): still open on 10-09.
    recs = _case(D(2026, 9, 22), pauses=[(D(2026, 9, 23), None)])
    row = case_row(_header(), recs, CAT, today=D(2026, 10, 9))
    # pause (09-23, 10-09): nothing counted; resume 10-10 (1), 12, 13, 14, 15 -> due Thu 10-15
    assert row.due == D(2026, 10, 15) and row.compliance == "on_time"


def test_rejected_and_unaccepted_cases_have_no_time_limit_status() -> None:
    assert case_row(_header(), _case(D(2026, 9, 28), decision="rejected"), CAT, today=D(2026, 10, 8)).compliance == (
        "not_accepted"
    )
    assert case_row(_header(), _case(D(2026, 9, 28))[:2], CAT, today=D(2026, 10, 8)).compliance == (
        "awaiting_acceptance"
    )


def test_a_case_running_into_2027_does_not_crash_and_is_flagged_approximate() -> None:
    # SB-TRANSFER (15 working days) accepted Thu 2026-12-24: the 2027 days are counted Mon-Fri.
    row = case_row(_header(item="SB-TRANSFER"), _case(D(2026, 12, 24)), CAT, today=D(2027, 1, 4))
    assert row.approximate and "官方日历未发布" in row.note
    assert row.due is not None and row.due.year == 2027 and row.compliance == "on_time"


def test_filters_lists_summary_and_csv() -> None:
    rows = [
        case_row(_header("A", hall=1), _case(D(2026, 9, 28), serial="A"), CAT, today=D(2026, 10, 12)),
        case_row(
            _header("B", hall=2, district=350502),
            _case(D(2026, 9, 28), result=D(2026, 10, 9), serial="B"),
            CAT,
            today=D(2026, 10, 12),
        ),
        case_row(
            _header("C", hall=1, item="SB-TRANSFER"), _case(D(2026, 9, 28), serial="C"), CAT, today=D(2026, 10, 12)
        ),
    ]
    assert [r.serial for r in filter_rows(rows, accepting_hall=1)] == ["A", "C"]
    assert [r.serial for r in filter_rows(rows, home_district=350502)] == ["B"]
    assert [r.serial for r in filter_rows(rows, item_code="SB-TRANSFER")] == ["C"]
    assert [r.serial for r in filter_rows(rows, status="decided")] == ["B"]
    assert filter_rows(rows, since=D(2026, 9, 29)) == []
    assert len(filter_rows(rows, since=D(2026, 9, 28), until=D(2026, 9, 28))) == 3
    lists = compliance_lists(rows)
    assert [r.serial for r in lists["overdue"]] == ["A"]
    by_hall = {s.key: s for s in summarize(rows, "hall")}
    assert by_hall["1"].cases == 2 and by_hall["1"].overdue == 1 and by_hall["2"].on_time_rate == 1.0
    assert {s.key for s in summarize(rows, "item")} == {"BDC-TRANSFER", "SB-TRANSFER"}
    parsed = list(csv.DictReader(io.StringIO(to_csv(cases_table(rows, CAT)).decode("utf-8-sig"))))
    assert [p["办件编号"] for p in parsed] == ["A", "B", "C"] and parsed[0]["时限情况"] == "已超期"


def test_trail_withholds_personal_fields() -> None:
    t = trail(_case(D(2026, 9, 28)))
    assert [e.stage for e in t] == ["INTAKE", "MATERIALS", "ACCEPTANCE"]
    assert "applicant_name" not in t[0].fields and t[0].withheld == ["applicant_id_number", "applicant_name"]
    assert t[0].at == _t(D(2026, 9, 28), 9)


# ---------------------------------------------------------------- pure anomaly checks on synthetic facts
def _facts(recs: list[dict[str, Any]], serial: str = "TB-A-1") -> ChainFacts:
    from ledger.core.hashchain import case_id, next_head

    writer = "0x" + "11" * 20
    prev, events = case_id(1, serial), []
    for r in recs:
        if r["anchor"]["state"] != "anchored":
            continue
        c = bytes.fromhex(r["commitment"])
        head = next_head(prev, Stage[r["stage"]], c, writer)
        prev = head
        events.append(
            ChainEventFact(
                index=r["anchor"]["index"],
                stage=Stage[r["stage"]],
                writer=writer,
                hall_id=1,
                commitment="0x" + c.hex(),
                head="0x" + head.hex(),
                ref=0,
                prev_block=len(events),
                block=1 + len(events),
                log_index=0,
                tx="0x01",
                time=1_790_000_000,
            )
        )
    from ledger.core.facts import RegistryFact

    reg = [RegistryFact(kind="registered", hall_id=1, account=writer, district=350503, block=0, log_index=0)]
    return case_facts(serial, events, reg, head="0x" + prev.hex(), ledger="0x" + "22" * 20, registry="0x" + "33" * 20)


def test_clean_case_has_no_anomalies_and_each_kind_is_named() -> None:
    recs = _case(D(2026, 9, 28), result=D(2026, 10, 9))
    facts = _facts(recs)
    now = 1_790_000_100.0
    assert case_anomalies(_header(), recs, facts, None, now=now) == []

    tampered = [dict(r) for r in recs]
    tampered[2] = {**tampered[2], "fields": {**tampered[2]["fields"], "decision": "rejected"}}
    got = case_anomalies(_header(), tampered, facts, None, now=now)
    assert [(a.kind, a.seq) for a in got] == [("record_tampered", 2)]

    dropped = recs[:3] + recs[4:]
    got = case_anomalies(_header(), dropped, facts, None, now=now + 3600)
    assert [(a.kind, a.index) for a in got] == [("anchor_without_record", 3)]
    assert case_anomalies(_header(), dropped, facts, None, now=now) == []  # within the transfer grace

    pending = recs + [_rec(9, Stage.DELIVERY, {"at": _t(D(2026, 10, 9))}, state="pending")]
    th = AuditThresholds(pending_after_s=60)
    assert [a.kind for a in case_anomalies(_header(), pending, facts, None, now=now, thresholds=th)] == [
        "record_unanchored"
    ]
    refused = recs + [_rec(9, Stage.DELIVERY, {"at": _t(D(2026, 10, 9))}, state="refused")]
    assert [a.kind for a in case_anomalies(_header(), refused, facts, None, now=now)] == ["record_refused"]

    late = case_row(_header(), _case(D(2026, 9, 28), result=D(2026, 10, 12)), CAT, today=D(2026, 10, 20))
    got = case_anomalies(_header(), recs, facts, late, now=now)
    assert [a.kind for a in got] == ["result_late"]

    assert [
        a.kind for a in outbox_anomalies([{"seq": 1, "serial": "X", "created_at": 0.0}], now=now, thresholds=th)
    ] == ["outbox_stale"]


def test_rights_and_order_come_from_the_shared_chain_check() -> None:
    recs = _case(D(2026, 9, 28))
    # ACCEPTANCE before MATERIALS on chain: swap their indices
    swapped = [dict(r) for r in recs]
    swapped[1] = {**swapped[1], "anchor": {**swapped[1]["anchor"], "index": 2}}
    swapped[2] = {**swapped[2], "anchor": {**swapped[2]["anchor"], "index": 1}}
    order = sorted(swapped, key=lambda r: r["anchor"]["index"])
    facts = _facts(order)
    kinds = {a.kind for a in case_anomalies(_header(), swapped, facts, None, now=1_790_000_100.0)}
    assert "out_of_order" in kinds
    # a writer from another district writing ACCEPTANCE: outside its rights
    facts2 = _facts(recs)
    reg = [*facts2.registry_log]
    facts3 = facts2.model_copy(
        update={"header": facts2.header.model_copy(update={"home_district": 350505}), "registry_log": reg}
    )
    kinds = {a.kind for a in case_anomalies(_header(), recs, facts3, None, now=1_790_000_100.0)}
    assert kinds == {"writer_outside_rights"}


def test_compliance_uses_the_proven_time_when_a_record_was_anchored_late() -> None:
    """Back-dating (issue 11, hole 3): an ACCEPTANCE dated Mon 09-28 but anchored on Thu 10-08 counts from
    10-08, the day the chain proves; within the bound (6 h) the claimed time counts."""
    recs = _case(D(2026, 9, 28))
    late_anchor = claimed_time(_t(D(2026, 10, 8)))
    assert late_anchor is not None
    recs[2] = _rec(2, Stage.ACCEPTANCE, {"decision": "accepted", "at": _t(D(2026, 9, 28))}, anchored=late_anchor)
    row = case_row(_header(), recs, CAT, today=D(2026, 10, 9))
    assert row.accepted_on == D(2026, 10, 8) and row.proven_time_stages == ["ACCEPTANCE"]
    assert row.due == D(2026, 10, 14)  # from Thu 10-08: Fri 9 (1), Sat 10 调休 (2), 12 (3), 13 (4), 14 (5)
    honest = case_row(_header(), _case(D(2026, 9, 28)), CAT, today=D(2026, 10, 9))
    assert honest.accepted_on == D(2026, 9, 28) and honest.proven_time_stages == [] and honest.due == D(2026, 10, 10)
    # five hours late is within the default bound; under a one-hour bound the block time counts
    five_h = claimed_time(_t(D(2026, 9, 28), 15))
    assert five_h is not None
    recs[2] = _rec(2, Stage.ACCEPTANCE, {"decision": "accepted", "at": _t(D(2026, 9, 28), 10)}, anchored=five_h)
    assert case_row(_header(), recs, CAT, today=D(2026, 10, 9)).proven_time_stages == []
    assert case_row(_header(), recs, CAT, today=D(2026, 10, 9), max_anchor_lag_s=3600).proven_time_stages == [
        "ACCEPTANCE"
    ]


def test_a_claimed_time_after_its_block_counts_from_the_block() -> None:
    recs = _case(D(2026, 9, 28))
    before = claimed_time(_t(D(2026, 9, 25)))
    assert before is not None
    recs[2] = _rec(2, Stage.ACCEPTANCE, {"decision": "accepted", "at": _t(D(2026, 9, 28))}, anchored=before)
    row = case_row(_header(), recs, CAT, today=D(2026, 9, 29))
    assert row.accepted_on == D(2026, 9, 25) and row.proven_time_stages == ["ACCEPTANCE"]
