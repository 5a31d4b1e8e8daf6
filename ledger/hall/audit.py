"""Regulator audit (监管/督查): trails, case filters, working-day time limits, anomalies, summaries.

The computations are pure functions over a hall's stored headers and records (and, for anomalies,
the chain facts of :mod:`ledger.core.facts`); :func:`scan` and :class:`AnomalyScanner` do the reading::

    rows = [case_row(h, recs, catalogue, today=date(2026, 10, 12)) for h, recs in cases]
    late = compliance_lists(rows)["overdue"]
    result = scan(book, client)                    # every case against the chain (on demand, and daily)
    result = scan_incremental(book, client)        # only what changed since (AnomalyScanner's schedule)
    data = to_xlsx(anomalies_table(result.anomalies))   # the export, Chinese (lang="en": English)

Time limits (办理时限): each record's date is its ``at`` — unless the chain anchored it more than the
anchor-lag bound later (default 6 h, :data:`ledger.verify.checks.DEFAULT_MAX_ANCHOR_LAG_S`) or
before it, when the proven time (its block's time) is used instead: a record's claimed time is
only proven to be no later than its block. Accepted date = the ACCEPTANCE record's date; supplement pauses run from a
PROCESS ``supplement_requested`` record to the next supplementary MATERIALS record (still open →
until completion or today); completed = the RESULT record's date; the limit is the catalogue item's
``time_limit_working_days``; counting is :mod:`ledger.hall.workdays` on the official calendar, with a
Monday-to-Friday estimate flagged ``approximate`` for a year the calendar does not cover yet.

Anomaly kinds (zh-CN / English in :data:`ANOMALY_TEXT`): ``record_tampered`` (stored content no longer
recomputes to the commitment at its anchor), ``record_unanchored`` (pending longer than a threshold),
``record_refused``, ``anchor_without_record``, ``out_of_order``, ``chain_head_broken``,
``writer_outside_rights`` (the rights logic of :func:`ledger.verify.checks.check_chain`), ``result_late``,
``outbox_stale``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ledger.chain.client import ChainClient
from ledger.chain.facts_reader import deployment_of, fetch_chain_facts, fetch_chain_facts_many, fetch_registry_log
from ledger.core.chainlog import case_fields, read_deployment
from ledger.core.facts import CaseHeader, ChainEventFact, ChainFacts, DeploymentFacts, RegistryFact
from ledger.core.hashchain import case_id
from ledger.core.records import DisclosedRecord
from ledger.core.stages import Phase, Stage
from ledger.core.suites import INTL, Suite, suite_named
from ledger.core.timefmt import CST
from ledger.errors import ChainError, InputError, LedgerError
from ledger.hall.cases import PERSONAL_FIELDS, CaseBook, case_status
from ledger.hall.catalogue import Catalogue
from ledger.hall.changes import EVERYTHING
from ledger.hall.exports import (
    COMPLIANCE_WORDS,
    STATUS_WORDS,
    Cell,
    Table,
    day,
    joined,
    stage_word,
    word,
    yes_no,
)
from ledger.hall.keys import (
    AUDIT_ANOMALY_PREFIX,
    AUDIT_CASE_PREFIX,
    AUDIT_STATE_KEY,
    AUDIT_WATCH_PREFIX,
    CASE_PREFIX,
    CHANGE_PREFIX,
    INDEXER_CURSOR_KEY,
    LAST_SCAN_KEY,
    MBOX_PREFIX,
    MFIND_PREFIX,
    MWANT_PREFIX,
    case_id_key,
    case_key,
    chain_event_prefix,
)
from ledger.hall.merkle_index import awaiting_index, merkle_case_facts
from ledger.hall.workdays import (
    APPROXIMATE_NOTE,
    APPROXIMATE_NOTE_EN,
    NEAR_DUE_DAYS,
    calendar_fingerprint,
    compliance_report,
)
from ledger.hall.worker import BackgroundWorker
from ledger.verify.checks import DEFAULT_MAX_ANCHOR_LAG_S, TIME_TOLERANCE_S, check_chain, claimed_time
from ledger.verify.report import Reason

__all__ = [
    "ANOMALY_TEXT",
    "Anomaly",
    "AnomalyScanner",
    "AuditThresholds",
    "CaseRow",
    "ScanResult",
    "SummaryRow",
    "TrailEntry",
    "anomalies_table",
    "case_anomalies",
    "case_row",
    "cases_table",
    "compliance_lists",
    "filter_rows",
    "hall_anomalies",
    "index_facts",
    "indexed_records",
    "merkle_anomalies",
    "outbox_anomalies",
    "scan",
    "scan_incremental",
    "summarize",
    "summary_table",
    "trail",
]

log = logging.getLogger("caseledger.audit")

ANOMALY_TEXT: dict[str, tuple[str, str]] = {
    "record_tampered": ("存储记录与链上锚定不符（疑似被改动）", "stored record no longer matches its anchor"),
    "record_unanchored": ("记录长时间未上链", "record not anchored after the threshold"),
    "record_refused": ("记录被链上规则拒绝", "record refused by the chain's rules"),
    "anchor_without_record": ("链上有事件但本大厅无对应记录", "event on chain without a record at this hall"),
    "out_of_order": ("环节顺序不符合办件流程", "stage out of lifecycle order"),
    "chain_head_broken": ("链上哈希链无法复算", "the on-chain hash chain does not recompute"),
    "writer_outside_rights": ("写入方超出权限", "event written by a hall outside its rights"),
    "result_late": ("办结超过法定时限", "result after its deadline"),
    "outbox_stale": ("待上链队列积压超时", "outbox entry older than the threshold"),
    "batch_rule_broken": (
        "某大厅锚定的批次违反办件规则（附批次坐标、叶子与证明）",
        "a hall anchored a batch that breaks a case rule (batch, leaf and proof attached)",
    ),
    "manifest_unavailable": (
        "批次清单无法从任何大厅取得，其中办件无法证明完整",
        "no hall could produce a batch's manifest: the cases in it cannot be proven complete",
    ),
}

Compliance = Literal[
    "on_time",
    "near_due",
    "overdue",
    "completed_on_time",
    "completed_late",
    "not_accepted",
    "awaiting_acceptance",
    "no_limit",
    "invalid",
]


class AuditThresholds(BaseModel):
    model_config = ConfigDict(frozen=True)

    pending_after_s: float = 600.0
    """a record still pending anchoring after this long is an anomaly"""
    outbox_after_s: float = 600.0
    """an outbox entry older than this is an anomaly"""
    transfer_grace_s: float = 600.0
    """an on-chain event older than this without a local record is an anomaly (transfer lag before)"""
    near_due_days: int = NEAR_DUE_DAYS


DEFAULT_THRESHOLDS = AuditThresholds()


class TrailEntry(BaseModel):
    seq: int
    index: int | None
    stage: str
    stage_zh: str
    writer_hall: int | None
    origin: str
    anchor: dict[str, Any]
    commitment: str
    at: str | None
    fields: dict[str, Any]
    withheld: list[str]


class CaseRow(BaseModel):
    serial: str
    item_code: str
    item_name: str = ""
    accepting_hall: int
    accepting_district: int | None = None
    home_district: int
    status: str
    created_on: date | None = None
    accepted_on: date | None = None
    completed_on: date | None = None
    limit_working_days: int | None = None
    due: date | None = None
    compliance: Compliance
    working_days_used: int | None = None
    working_days_remaining: int | None = None
    approximate: bool = False
    calendar: str = ""  # the calendar data the due date was counted on (workdays.calendar_version)
    note: str = ""
    pauses: list[tuple[date, date | None]] = []
    events: int = 0
    proven_time_stages: list[str] = []
    """stages whose date is their block's time: their claimed time was anchored too late (or is after the block)"""


class SummaryRow(BaseModel):
    key: str
    cases: int
    open: int
    completed: int
    completed_on_time: int
    completed_late: int
    overdue: int
    near_due: int
    on_time_rate: float | None


class Anomaly(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    serial: str
    index: int | None = None
    seq: int | None = None
    stage: str | None = None
    detail: str = ""
    """the detail in English (as the JSON has always carried it)"""
    detail_zh: str = ""
    """the same detail in Chinese, for the pages and the exports"""

    def text(self, lang: str = "zh") -> str:
        zh, en = ANOMALY_TEXT.get(self.kind, (self.kind, self.kind))
        return zh if lang == "zh" else en

    def detail_text(self, lang: str = "zh") -> str:
        """The detail in the reader's language (a scan stored before details had a Chinese text: none in zh)."""
        return self.detail if lang == "en" else self.detail_zh


class ScanResult(BaseModel):
    started_at: str
    finished_at: str
    duration_s: float
    cases: int
    anomalies: list[Anomaly]
    errors: list[str] = []
    mode: Literal["full", "incremental"] = "full"
    """full: every case against the chain's logs; incremental: the cases changed since the last scan"""
    as_of_block: int | None = None
    """incremental: the indexer's cursor the cases' chain facts were read up to"""
    rescanned: int | None = None
    """incremental: the cases evaluated again (changed, or due by time)"""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for a in self.anomalies:
            out[a.kind] = out.get(a.kind, 0) + 1
        return out


# ------------------------------------------------------------------------------------------ helpers
def _day(value: Any) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=CST)
    return d.astimezone(CST).date()


def _anchor_day(r: dict[str, Any]) -> date | None:
    t = (r.get("anchor") or {}).get("time")
    return datetime.fromtimestamp(int(t), CST).date() if isinstance(t, int | float) else None


def _ordered(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(r: dict[str, Any]) -> tuple[int, int]:
        idx = (r.get("anchor") or {}).get("index")
        return (idx if isinstance(idx, int) else 10**9, int(r.get("seq", 0)))

    return sorted((r for r in records if (r.get("anchor") or {}).get("state") != "refused"), key=key)


def _when(r: dict[str, Any], max_anchor_lag_s: int) -> tuple[date | None, bool]:
    """A record's date for the time limits, and whether it is the proven (block) time.

    The claimed time (``at``) counts while the record was anchored within ``max_anchor_lag_s`` of it;
    beyond that (or when ``at`` is after its block) only the block's time is proven.
    """
    claimed = claimed_time(r["fields"].get("at"))
    anchored = (r.get("anchor") or {}).get("time")
    if isinstance(anchored, int | float):
        if claimed is None or anchored - claimed > max_anchor_lag_s or claimed > anchored + TIME_TOLERANCE_S:
            return datetime.fromtimestamp(int(anchored), CST).date(), True
    if claimed is None:
        return None, False
    return datetime.fromtimestamp(claimed, CST).date(), False


# ------------------------------------------------------------------------------------------ trail
def trail(records: Sequence[dict[str, Any]]) -> list[TrailEntry]:
    """The case's events in chain order, personal fields withheld (a regulator sees no applicant data)."""
    out = []
    for r in sorted(records, key=lambda r: ((r.get("anchor") or {}).get("index", 10**9), r["seq"])):
        st = Stage[r["stage"]]
        shown = {k: v for k, v in r["fields"].items() if k not in PERSONAL_FIELDS and k not in ("case_serial", "stage")}
        out.append(
            TrailEntry(
                seq=r["seq"],
                index=(r.get("anchor") or {}).get("index"),
                stage=st.name,
                stage_zh=st.label_zh,
                writer_hall=r.get("writer_hall"),
                origin=str(r.get("origin", "")),
                anchor=r.get("anchor") or {"state": "pending"},
                commitment=r["commitment"],
                at=r["fields"].get("at"),
                fields=shown,
                withheld=sorted(k for k in r["fields"] if k in PERSONAL_FIELDS),
            )
        )
    return out


# ------------------------------------------------------------------------------------------ compliance
def case_row(
    header: dict[str, Any],
    records: Sequence[dict[str, Any]],
    catalogue: Catalogue,
    *,
    today: date,
    near_due_days: int = NEAR_DUE_DAYS,
    max_anchor_lag_s: int = DEFAULT_MAX_ANCHOR_LAG_S,
) -> CaseRow:
    """One case's audit row: where it stands and its working-day time-limit compliance (pure)."""
    recs = _ordered(records)
    accepted: date | None = None
    rejected = False
    completed: date | None = None
    not_accepted = False
    pauses: list[tuple[date, date | None]] = []
    created: date | None = _day(header.get("created_at"))
    proven: list[str] = []
    for r in recs:
        st, f = Stage[r["stage"]], r["fields"]
        when, by_block = _when(r, max_anchor_lag_s)
        if by_block:
            proven.append(st.name)
        if st == Stage.INTAKE and when:
            created = when
        elif st == Stage.ACCEPTANCE and accepted is None and not rejected:
            if f.get("decision") == "accepted":
                accepted = when
            else:
                rejected = True
        elif st == Stage.PROCESS and f.get("step") == "supplement_requested" and when:
            if not pauses or pauses[-1][1] is not None:
                pauses.append((when, None))
        elif st == Stage.MATERIALS and f.get("supplement") and when and pauses and pauses[-1][1] is None:
            pauses[-1] = (pauses[-1][0], when)
        elif st == Stage.RESULT and completed is None:
            completed = when
            not_accepted = f.get("decision") == "not_accepted"
    code = str(header.get("item_code", ""))
    try:
        item = catalogue.item(code)
        limit: int | None = item.time_limit_working_days
        name = item.name_zh
    except LedgerError:
        limit, name = None, ""
    row: dict[str, Any] = {
        "serial": header["serial"],
        "item_code": code,
        "item_name": name,
        "accepting_hall": header["accepting_hall"],
        "accepting_district": header.get("accepting_district"),
        "home_district": header["home_district"],
        "status": case_status(list(records)),
        "created_on": created,
        "accepted_on": accepted,
        "completed_on": completed,
        "limit_working_days": limit,
        "pauses": pauses,
        "events": len(recs),
        "proven_time_stages": proven,
    }
    if rejected or not_accepted:
        return CaseRow(**row, compliance="not_accepted")
    if accepted is None:
        return CaseRow(**row, compliance="awaiting_acceptance")
    if limit is None:
        return CaseRow(**row, compliance="no_limit", note=f"item {code} not in the catalogue")
    end = completed or today
    closed = [(a, b if b is not None else max(a, end)) for a, b in pauses]
    try:
        rep = compliance_report(
            accepted, limit, closed, completed, max(today, completed or today), near_due_days, fallback=True
        )
    except ValueError as exc:
        return CaseRow(**row, compliance="invalid", note=str(exc))
    return CaseRow(
        **row,
        due=rep.due,
        compliance=rep.status.value,
        working_days_used=rep.working_days_used,
        working_days_remaining=rep.working_days_remaining,
        approximate=rep.approximate,
        calendar=rep.calendar,
        note=APPROXIMATE_NOTE if rep.approximate else "",
    )


def filter_rows(
    rows: Iterable[CaseRow],
    *,
    accepting_hall: int | None = None,
    home_district: int | None = None,
    item_code: str | None = None,
    status: str | None = None,
    compliance: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[CaseRow]:
    """Cases by accepting hall, home district, item, status (or compliance), created in [since, until]."""
    if since and until and until < since:
        raise InputError("until", "date_range_reversed")
    out = []
    for r in rows:
        if accepting_hall is not None and r.accepting_hall != accepting_hall:
            continue
        if home_district is not None and r.home_district != home_district:
            continue
        if item_code and r.item_code != item_code:
            continue
        if status and r.status != status:
            continue
        if compliance and r.compliance != compliance:
            continue
        if since and (r.created_on is None or r.created_on < since):
            continue
        if until and (r.created_on is None or r.created_on > until):
            continue
        out.append(r)
    return out


def compliance_lists(rows: Iterable[CaseRow]) -> dict[str, list[CaseRow]]:
    """Open cases past their due date (``overdue``) and due within the near-due threshold (``near_due``)."""
    rows = list(rows)
    return {
        "overdue": sorted((r for r in rows if r.compliance == "overdue"), key=lambda r: r.due or date.max),
        "near_due": sorted((r for r in rows if r.compliance == "near_due"), key=lambda r: r.due or date.max),
        "completed_late": [r for r in rows if r.compliance == "completed_late"],
    }


def summarize(rows: Iterable[CaseRow], by: Literal["hall", "district", "item"]) -> list[SummaryRow]:
    """Summary figures per accepting hall, home district or service item."""
    groups: dict[str, list[CaseRow]] = {}
    for r in rows:
        key = str(r.accepting_hall if by == "hall" else r.home_district if by == "district" else r.item_code)
        groups.setdefault(key, []).append(r)
    out = []
    for key, rs in sorted(groups.items()):
        c = {
            k: sum(1 for r in rs if r.compliance == k)
            for k in ("completed_on_time", "completed_late", "overdue", "near_due")
        }
        done = c["completed_on_time"] + c["completed_late"]
        out.append(
            SummaryRow(
                key=key,
                cases=len(rs),
                open=sum(1 for r in rs if r.completed_on is None),
                completed=sum(1 for r in rs if r.completed_on is not None),
                completed_on_time=c["completed_on_time"],
                completed_late=c["completed_late"],
                overdue=c["overdue"],
                near_due=c["near_due"],
                on_time_rate=round(c["completed_on_time"] / done, 4) if done else None,
            )
        )
    return out


# ------------------------------------------------------------------------------------------ exports
_CASE_COLUMNS: list[tuple[str, str]] = [
    ("办件编号", "Case serial"),
    ("办理事项", "Service item"),
    ("事项编码", "Item code"),
    ("受理大厅", "Accepting hall"),
    ("受理地区县", "Accepting district"),
    ("属地（承办区县）", "Home district"),
    ("办件状态", "Status"),
    ("受理登记日期", "Taken in on"),
    ("受理日期", "Accepted on"),
    ("办结日期", "Completed on"),
    ("承诺时限（工作日）", "Time limit (working days)"),
    ("到期日", "Due"),
    ("时限情况", "Time limit"),
    ("已用工作日", "Working days used"),
    ("剩余工作日", "Working days left"),
    ("是否估算", "Approximate"),
    ("补正暂停", "Supplement pauses"),
    ("以上链时间计的环节", "Stages dated by their block"),
    ("事件数", "Events"),
    ("备注", "Note"),
]
_SUMMARY_KEY = {
    "hall": ("受理大厅", "Accepting hall"),
    "district": ("属地（承办区县）", "Home district"),
    "item": ("办理事项", "Service item"),
}
_SUMMARY_COLUMNS: list[tuple[str, str]] = [
    ("办件数", "Cases"),
    ("未办结", "Open"),
    ("已办结", "Completed"),
    ("按时办结", "Completed on time"),
    ("超期办结", "Completed late"),
    ("已超期", "Overdue"),
    ("即将到期", "Due soon"),
    ("按时办结率", "On-time rate"),
]
_ANOMALY_COLUMNS: list[tuple[str, str]] = [
    ("异常类型", "Anomaly"),
    ("办件编号", "Case serial"),
    ("环节", "Stage"),
    ("链上事件序号", "Event index on chain"),
    ("本大厅记录序号", "Record number at this hall"),
    ("详情", "Detail"),
]
_NOTES = {
    "approximate": (APPROXIMATE_NOTE, APPROXIMATE_NOTE_EN),
    "no_limit": ("该事项不在事项目录中，无法计算时限", "the item is not in the catalogue: no time limit to count"),
    "invalid": ("办理日期不在日历范围内，无法计算时限", "a date is outside the calendar: the limit cannot be counted"),
}


def _header(columns: Sequence[tuple[str, str]], lang: str) -> list[str]:
    return [en if lang == "en" else zh for zh, en in columns]


def _pause_text(pauses: Sequence[tuple[date, date | None]], lang: str) -> str:
    to, still = (" to ", "still open") if lang == "en" else (" 至 ", "尚未补正")
    return joined((f"{day(a)}{to}{day(b) if b else still}" for a, b in pauses), lang)


def cases_table(
    rows: Sequence[CaseRow],
    catalogue: Catalogue,
    *,
    hall_names: dict[int, str] | None = None,
    lang: str = "zh",
    sheet: tuple[str, str] = ("办件清单", "Cases"),
) -> Table:
    """Audit rows (``GET /audit/cases``, ``/audit/compliance``) as an export: one row per case, in the staff's
    words (status, time-limit state, item and district names), dates ``YYYY-MM-DD``, lists joined."""
    en = lang == "en"
    halls = hall_names or {}
    districts = {d.code: (d.name_en if en else d.name_zh) for d in catalogue.districts}
    items = {i.code: (i.name_en if en else i.name_zh) for i in catalogue.items}

    def district(code: int | None) -> str:
        return "" if code is None else districts.get(code, str(code))

    def count(n: int | None) -> Cell:
        return "" if n is None else n

    out: list[list[Cell]] = []
    for r in rows:
        note = "approximate" if r.approximate else r.compliance if r.compliance in _NOTES else ""
        out.append(
            [
                r.serial,
                items.get(r.item_code, r.item_name or r.item_code),
                r.item_code,
                halls.get(r.accepting_hall, str(r.accepting_hall)),
                district(r.accepting_district),
                district(r.home_district),
                word(STATUS_WORDS, r.status, lang),
                day(r.created_on),
                day(r.accepted_on),
                day(r.completed_on),
                count(r.limit_working_days),
                day(r.due),
                word(COMPLIANCE_WORDS, r.compliance, lang),
                count(r.working_days_used),
                count(r.working_days_remaining),
                yes_no(r.approximate, lang),
                _pause_text(r.pauses, lang),
                joined((stage_word(s, lang) for s in r.proven_time_stages), lang),
                r.events,
                word(_NOTES, note, lang) if note else "",
            ]
        )
    return Table(sheet=sheet[1] if en else sheet[0], header=_header(_CASE_COLUMNS, lang), rows=out)


def summary_table(
    rows: Sequence[SummaryRow],
    by: Literal["hall", "district", "item"],
    catalogue: Catalogue,
    *,
    hall_names: dict[int, str] | None = None,
    lang: str = "zh",
) -> Table:
    """Summary figures (``GET /audit/summary``) as an export: the hall, district or item by name, the on-time
    rate as a percentage."""
    en = lang == "en"
    if by == "hall":
        names = {str(k): v for k, v in (hall_names or {}).items()}
    elif by == "district":
        names = {str(d.code): (d.name_en if en else d.name_zh) for d in catalogue.districts}
    else:
        names = {i.code: (i.name_en if en else i.name_zh) for i in catalogue.items}
    out: list[list[Cell]] = []
    for s in rows:
        rate = "" if s.on_time_rate is None else f"{s.on_time_rate * 100:.1f}%"
        out.append(
            [
                names.get(s.key, s.key),
                s.cases,
                s.open,
                s.completed,
                s.completed_on_time,
                s.completed_late,
                s.overdue,
                s.near_due,
                rate,
            ]
        )
    header = _header([_SUMMARY_KEY[by], *_SUMMARY_COLUMNS], lang)
    return Table(sheet="Summary" if en else "汇总", header=header, rows=out)


def anomalies_table(anomalies: Sequence[Anomaly], *, lang: str = "zh") -> Table:
    """The last scan's anomalies (``GET /audit/anomalies``) as an export: what kind, where, and the detail, in
    the staff's language."""
    out: list[list[Cell]] = [
        [
            a.text(lang),
            a.serial,
            stage_word(a.stage, lang),
            "" if a.index is None else a.index,
            "" if a.seq is None else a.seq,
            a.detail_text(lang),
        ]
        for a in anomalies
    ]
    return Table(sheet="Anomalies" if lang == "en" else "异常清单", header=_header(_ANOMALY_COLUMNS, lang), rows=out)


# ------------------------------------------------------------------------------------------ anomalies
def _recompute(r: dict[str, Any], suite: Suite) -> str | None:
    """The commitment the stored record recomputes to (fields erased after their retention period
    count by the leaf hashes kept in ``withheld``); ``None`` for a malformed record."""
    try:
        rec = DisclosedRecord(fields=r["fields"], salts=r["salts"], withheld=r.get("withheld") or {})
        return rec.root(suite).hex()
    except (ValidationError, KeyError, LedgerError, TypeError, ValueError):
        return None


def case_anomalies(
    header: dict[str, Any],
    records: Sequence[dict[str, Any]],
    facts: ChainFacts | None,
    row: CaseRow | None,
    *,
    now: float,
    thresholds: AuditThresholds = DEFAULT_THRESHOLDS,
) -> list[Anomaly]:
    """Anomalies of one case at this hall, against the chain's ``facts`` (pure)."""
    serial = header["serial"]
    out: list[Anomaly] = []

    def add(kind: str, **kw: Any) -> None:
        out.append(Anomaly(kind=kind, serial=serial, **kw))

    events = {e.index: e for e in facts.events} if facts else {}
    matched: set[int] = set()
    local_commitments: set[str] = set()
    for r in records:
        a = r.get("anchor") or {}
        state = a.get("state", "pending")
        seq, stage = r.get("seq"), r.get("stage")
        if state == "refused":
            rule = str(a.get("rule", ""))
            add(
                "record_refused", seq=seq, stage=stage, detail=rule, detail_zh=f"链上规则代码（{rule}）" if rule else ""
            )
            continue
        local_commitments.add(str(r.get("commitment", "")))
        if state == "pending":
            written = r.get("written_at")
            age = now - float(written) if written is not None else 0.0
            if age > thresholds.pending_after_s:
                add(
                    "record_unanchored",
                    seq=seq,
                    stage=stage,
                    detail=f"pending for {age:.0f} s",
                    detail_zh=f"已等待 {age:.0f} 秒",
                )
            continue
        idx = a.get("index")
        ce = events.get(idx) if isinstance(idx, int) else None
        if ce is None:
            add(
                "record_tampered",
                seq=seq,
                stage=stage,
                index=idx,
                detail="its anchor index has no event on chain",
                detail_zh="其锚定的事件序号在链上没有事件",
            )
            continue
        matched.add(ce.index)
        got = _recompute(r, suite_named(facts.suite) if facts else INTL)
        want = ce.commitment.lower().removeprefix("0x")
        if got != want or ce.stage.name != stage:
            add(
                "record_tampered",
                seq=seq,
                stage=stage,
                index=idx,
                detail=f"recomputed {got or 'malformed record'} ≠ on-chain {want}",
                detail_zh=f"复算值 {got or '（记录格式错误）'} ≠ 链上承诺 {want}",
            )
    if facts is not None:
        for e in facts.events:
            if e.index in matched or e.commitment.lower().removeprefix("0x") in local_commitments:
                continue
            if now - e.time > thresholds.transfer_grace_s:
                add(
                    "anchor_without_record",
                    index=e.index,
                    stage=e.stage.name,
                    detail=f"block {e.block}, tx {e.tx}",
                    detail_zh=f"区块 {e.block}，交易 {e.tx}",
                )
        for idx, reasons in sorted(check_chain(facts).items()):
            stage = next((e.stage.name for e in facts.events if e.index == idx), None)
            for rs in reasons:
                kind = _CHAIN_ANOMALY.get(rs.code, rs.code)
                add(kind, index=idx, stage=stage, detail=rs.text("en"), detail_zh=rs.text("zh"))
    if row is not None and row.compliance == "completed_late":
        add(
            "result_late",
            stage="RESULT",
            detail=f"completed {row.completed_on}, due {row.due}",
            detail_zh=f"{row.completed_on} 办结，到期日 {row.due}",
        )
    elif row is not None and row.due is not None and row.completed_on is not None:
        res = next((r for r in _ordered(records) if r["stage"] == "RESULT"), None)
        anchored_on = _anchor_day(res) if res else None
        if anchored_on and anchored_on > row.due:
            add(
                "result_late",
                stage="RESULT",
                detail=f"recorded {row.completed_on} but anchored {anchored_on}, due {row.due}",
                detail_zh=f"记录办结日期 {row.completed_on}，但 {anchored_on} 才上链，到期日 {row.due}",
            )
    return out


_CHAIN_ANOMALY = {
    "writer_inactive": "writer_outside_rights",
    "writer_no_right": "writer_outside_rights",
    "dispute_not_opener": "writer_outside_rights",
    "dispute_ref_invalid": "out_of_order",
}


def outbox_anomalies(entries: Iterable[dict[str, Any]], *, now: float, thresholds: AuditThresholds) -> list[Anomaly]:
    out = []
    for e in entries:
        created = e.get("created_at")
        age = now - float(created) if created is not None else 0.0
        if age > thresholds.outbox_after_s:
            out.append(
                Anomaly(
                    kind="outbox_stale",
                    serial=str(e.get("serial", "")),
                    stage=e.get("stage"),
                    detail=f"outbox entry {e.get('seq')} waiting for {age:.0f} s",
                    detail_zh=f"待上链队列第 {e.get('seq')} 项已等待 {age:.0f} 秒",
                )
            )
    return out


def indexed_records(store: Any, header: dict[str, Any], records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records to compare with the chain's facts now. In Merkle mode those facts are the hall's index, which
    follows the chain a little behind the sender's receipts and the packages it receives: a record anchored in a
    batch the indexer has not applied yet is left out until it has (then the case is in the change journal and
    judged again), instead of being called tampered for an event the index does not hold yet."""
    if header.get("anchor_mode") != "merkle":
        return list(records)
    hall, serial = int(header["accepting_hall"]), str(header["serial"])
    return [
        r
        for r in records
        if (a := r.get("anchor") or {}).get("state") != "anchored" or not awaiting_index(store, hall, serial, a)
    ]


def hall_anomalies(book: CaseBook, *, now: float, thresholds: AuditThresholds) -> list[Anomaly]:
    """What is judged of the hall itself rather than of one case, by the full and the incremental scan alike:
    its two anchoring queues (event mode's ``outbox/``, Merkle mode's ``mbox/``) and the rules other halls'
    batches broke (:func:`merkle_anomalies`)."""
    queued = book.outbox.pending() + [v for _, v in book.store.iter_json(MBOX_PREFIX)]
    return outbox_anomalies(queued, now=now, thresholds=thresholds) + merkle_anomalies(
        book.store, now=now, thresholds=thresholds
    )


def merkle_anomalies(store: Any, *, now: float, thresholds: AuditThresholds) -> list[Anomaly]:
    """What every hall's indexer found in Merkle-mode batches: broken rules (named by batch and leaf; the
    leaf and its proof are served at ``GET /audit/batch-findings``) and manifests no hall produced."""
    out: list[Anomaly] = []
    for _, f in store.iter_json(MFIND_PREFIX):
        out.append(
            Anomaly(
                kind="batch_rule_broken",
                serial="",
                detail=f"hall {f['hall']} batch {f['seq']} (block {f['block']}, tx {f['tx']}) leaf {f['leaf_index']}: "
                f"{f['code']} — {f['detail']}",
                detail_zh=f"大厅 {f['hall']} 第 {f['seq']} 批（区块 {f['block']}，交易 {f['tx']}）"
                f"第 {f['leaf_index']} 片叶子："
                f"{Reason(code=str(f['code'])).text('zh')}",
            )
        )
    for _, w in store.iter_json(MWANT_PREFIX):
        age = now - float(w.get("since") or now)
        if age > thresholds.outbox_after_s:
            out.append(
                Anomaly(
                    kind="manifest_unavailable",
                    serial="",
                    detail=f"hall {w['hall']} batch {w['seq']} (block {w['block']}): no hall produced its manifest "
                    f"for {age:.0f} s ({w.get('attempts', 0)} attempts)",
                    detail_zh=f"大厅 {w['hall']} 第 {w['seq']} 批（区块 {w['block']}）的批次清单"
                    f"已 {age:.0f} 秒无任何大厅提供"
                    f"（已尝试 {w.get('attempts', 0)} 次）",
                )
            )
    return out


def case_rows(book: CaseBook, *, today: date | None = None, near_due_days: int = NEAR_DUE_DAYS) -> list[CaseRow]:
    """Every case this hall holds as an audit row."""
    day = today or datetime.now(CST).date()
    return [
        case_row(h, book.records(h["serial"]), book.catalogue, today=day, near_due_days=near_due_days)
        for _, h in book.store.iter_json(CASE_PREFIX)
    ]


def _recheck_at(
    records: Sequence[dict[str, Any]], facts: ChainFacts | None, *, now: float, t: AuditThresholds
) -> float | None:
    """When this case's anomalies change with time alone (nothing written): the earliest threshold still to pass
    (a pending record, an on-chain event without its record in its grace period), ``0`` when they change at every
    scan (a pending record already reported: its detail says for how long), None when they never do."""
    times: list[float] = []
    local: set[str] = set()
    for r in records:
        a = r.get("anchor") or {}
        state = a.get("state", "pending")
        if state == "refused":
            continue
        local.add(str(r.get("commitment", "")))
        if state == "pending" and r.get("written_at") is not None:
            due = float(r["written_at"]) + t.pending_after_s
            times.append(due if due >= now else 0.0)
    if facts is not None:
        indexed = {
            (r.get("anchor") or {}).get("index")
            for r in records
            if (r.get("anchor") or {}).get("state", "pending") not in ("refused", "pending")
        }
        for e in facts.events:
            if e.index in indexed or e.commitment.lower().removeprefix("0x") in local:
                continue
            if now - e.time <= t.transfer_grace_s:
                times.append(e.time + t.transfer_grace_s)
    return min(times) if times else None


def _state_of(thresholds: AuditThresholds, client: ChainClient) -> dict[str, Any]:
    """What the stored verdicts depend on besides the cases themselves: a change means evaluating every case."""
    dep = client.deployment
    return {
        "version": 1,
        "thresholds": thresholds.model_dump(mode="json"),
        "calendar": calendar_fingerprint(),
        "ledger": dep.ledger.lower() if dep else "",
    }


def _store_verdict(wb: Any, serial: str, anomalies: list[Anomaly] | None, recheck: float | None) -> None:
    """``anomalies`` None: the case is gone."""
    if anomalies is None:
        for prefix in (AUDIT_CASE_PREFIX, AUDIT_ANOMALY_PREFIX, AUDIT_WATCH_PREFIX):
            wb.delete(prefix + serial.encode())
        return
    wb.put_json(AUDIT_CASE_PREFIX + serial.encode(), len(anomalies))
    if anomalies:
        wb.put_json(AUDIT_ANOMALY_PREFIX + serial.encode(), [a.model_dump(mode="json") for a in anomalies])
    else:
        wb.delete(AUDIT_ANOMALY_PREFIX + serial.encode())
    if recheck is not None:
        wb.put_json(AUDIT_WATCH_PREFIX + serial.encode(), recheck)
    else:
        wb.delete(AUDIT_WATCH_PREFIX + serial.encode())


def _journal(store: Any) -> list[tuple[bytes, str]]:
    """The change journal's entries now: (key, serial or ``*``)."""
    return [(k, str(json.loads(v))) for k, v in store.iter_prefix(CHANGE_PREFIX)]


def scan(
    book: CaseBook,
    client: ChainClient,
    *,
    thresholds: AuditThresholds = DEFAULT_THRESHOLDS,
    now: float | None = None,
    today: date | None = None,
) -> ScanResult:
    """Scan every case this hall holds, and its outbox, against the chain (the full scan).

    Reads every case's facts from the chain itself (one bounded pass over the ledger's logs), so it also
    finds what no write through the node would show (a record edited in LevelDB behind the node's back).
    It also stores each case's verdict, from which :func:`scan_incremental` continues.
    """
    t0 = time.monotonic()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    at = time.time() if now is None else now
    day = today or datetime.fromtimestamp(at, CST).date()
    anomalies: list[Anomaly] = []
    errors: list[str] = []
    store = book.store
    journal = _journal(store)  # every change before this point is covered by this scan
    try:
        registry = fetch_registry_log(client)
    except ChainError as exc:
        registry = None
        errors.append(f"registry: {exc}")
    n = 0
    headers = [h for _, h in store.iter_json(CASE_PREFIX)]
    all_facts: dict[tuple[int, str], ChainFacts] = {}
    if registry is not None:
        try:
            cases = [(int(h["accepting_hall"]), str(h["serial"])) for h in headers]
            all_facts = fetch_chain_facts_many(client, cases, registry_log=registry)
        except ChainError as exc:
            errors.append(f"chain: {exc}")
            registry = None
    verdicts: list[tuple[str, list[Anomaly], float | None]] = []
    for h in headers:
        serial = h["serial"]
        recs = book.records(serial)
        facts: ChainFacts | None = all_facts.get((int(h["accepting_hall"]), serial))
        if h.get("anchor_mode") == "merkle" and registry is not None:
            try:  # the events as this hall's indexer checked them against their batches' roots
                facts = merkle_case_facts(
                    book.store, client, accepting_hall=int(h["accepting_hall"]), serial=serial, registry_log=registry
                )
            except ChainError as exc:
                errors.append(f"chain: {exc}")
                facts = None
        row = case_row(h, recs, book.catalogue, today=day, near_due_days=thresholds.near_due_days)
        if facts is None:  # not on chain (or not indexed) yet: not judged, not counted — as the incremental scan
            continue
        n += 1
        found = case_anomalies(h, indexed_records(book.store, h, recs), facts, row, now=at, thresholds=thresholds)
        anomalies += found
        verdicts.append((serial, found, _recheck_at(recs, facts, now=at, t=thresholds)))
    anomalies += hall_anomalies(book, now=at, thresholds=thresholds)
    if registry is not None:  # every case was judged: the incremental scan continues from these verdicts
        with store.write_batch() as wb:
            for prefix in (AUDIT_CASE_PREFIX, AUDIT_ANOMALY_PREFIX, AUDIT_WATCH_PREFIX):
                for k, _ in store.iter_prefix(prefix):
                    wb.delete(k)
            for serial, found, recheck in verdicts:
                _store_verdict(wb, serial, found, recheck)
            for k, _ in journal:
                wb.delete(k)
            wb.put_json(AUDIT_STATE_KEY, {**_state_of(thresholds, client), "cases": n, "at": at})
    return ScanResult(
        started_at=started,
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        duration_s=round(time.monotonic() - t0, 3),
        cases=n,
        anomalies=anomalies,
        errors=errors,
    )


def index_facts(
    store: Any, header: dict[str, Any], deployment: DeploymentFacts, registry: list[RegistryFact]
) -> ChainFacts | None:
    """A case's chain facts from this hall's index (``caseid/``, ``chainev/``: what the indexer read from the chain
    up to its cursor), equal to what :func:`ledger.chain.facts_reader.fetch_chain_facts_many` reads from the logs.
    None if an indexed event lacks a field (indexed by an older release): read that case from the chain instead."""
    hall, serial = int(header["accepting_hall"]), str(header["serial"])
    cid = "0x" + case_id(hall, serial).hex()
    opened = store.get_json(case_id_key(cid))
    if opened is not None and int(opened.get("accepting_hall", -1)) != hall:
        opened = None
    events: list[ChainEventFact] = []
    for _, e in store.iter_json(chain_event_prefix(serial)):
        if "time" not in e or "log_index" not in e:
            return None
        events.append(
            ChainEventFact(
                index=e["index"],
                stage=Stage[e["stage"]],
                writer=e["writer"],
                hall_id=e["hall_id"],
                commitment="0x" + e["commitment"],
                head="0x" + e["head"],
                ref=e["ref"],
                prev_block=e["prev_block"],
                block=e["block"],
                log_index=e["log_index"],
                tx=e["tx"],
                time=e["time"],
            )
        )
    events.sort(key=lambda e: e.index)
    return ChainFacts(
        **case_fields(deployment, hall, serial),
        header=CaseHeader(
            head=events[-1].head if events else "0x" + "00" * 32,
            event_count=len(events),
            phase=Phase.OPENED if opened is not None else Phase.NONE,
            home_district=int(opened["home_district"]) if opened else 0,
            accepting_hall=int(opened["accepting_hall"]) if opened else 0,
            item_code=str(opened["item_code"]) if opened else "",
            last_block=events[-1].block if events else 0,
        ),
        events=events,
        registry_log=registry,
    )


def scan_incremental(
    book: CaseBook,
    client: ChainClient,
    *,
    thresholds: AuditThresholds = DEFAULT_THRESHOLDS,
    now: float | None = None,
    today: date | None = None,
) -> ScanResult:
    """The anomaly scan continued from the last one: cost proportional to what changed, not to history.

    Re-evaluates only the cases the change journal (:mod:`ledger.hall.changes`) names — written through the node
    or indexed from the chain since the last scan — and those whose verdict changes with time alone
    (``audit/watch/``); every other case keeps its stored verdict. A case's chain facts come from the index
    (:func:`index_facts`, up to the indexer's cursor). The answer equals :func:`scan`'s for the same chain
    position, clock and store (``tests/integration/test_audit_incremental.py`` compares them on real chain data);
    what it cannot see is a write behind the node's back (LevelDB edited directly), which only :func:`scan`
    finds: the node runs that one too, less often. Without stored verdicts (first scan, thresholds, calendar or
    deployment changed) it is :func:`scan`.
    """
    t0 = time.monotonic()
    store = book.store
    state = store.get_json(AUDIT_STATE_KEY)
    want = _state_of(thresholds, client)
    at = time.time() if now is None else now
    if state is None or {k: state.get(k) for k in want} != want or at < float(state.get("at", 0)):
        # no verdicts yet, or they were judged on other terms, or at a later time (the clock went back)
        return scan(book, client, thresholds=thresholds, now=now, today=today)
    journal = _journal(store)
    changed = {serial for _, serial in journal}
    if EVERYTHING in changed:
        return scan(book, client, thresholds=thresholds, now=now, today=today)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    day = today or datetime.fromtimestamp(at, CST).date()
    errors: list[str] = []
    dep_facts: DeploymentFacts | None = None
    registry: list[RegistryFact] | None = None
    try:
        registry = fetch_registry_log(client)
        dep_facts = read_deployment(client, deployment_of(client).ledger)
    except ChainError as exc:
        errors.append(f"registry: {exc}")
    cursor = store.get_json(INDEXER_CURSOR_KEY)
    if registry is None or dep_facts is None:  # as the full scan: nothing judged without the chain
        return ScanResult(
            started_at=started,
            finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
            duration_s=round(time.monotonic() - t0, 3),
            cases=int(state.get("cases", 0)),
            anomalies=hall_anomalies(book, now=at, thresholds=thresholds),
            errors=errors,
            mode="incremental",
            as_of_block=cursor,
        )
    due = {k[len(AUDIT_WATCH_PREFIX) :].decode() for k, v in store.iter_json(AUDIT_WATCH_PREFIX) if float(v) <= at}
    todo = sorted(changed | due)
    cases = int(state.get("cases", 0))
    verdicts: list[tuple[str, list[Anomaly] | None, float | None]] = []
    failed: set[str] = set()
    for serial in todo:
        h = store.get_json(case_key(serial))
        known = store.get(AUDIT_CASE_PREFIX + serial.encode()) is not None
        if h is None:
            cases -= 1 if known else 0
            verdicts.append((serial, None, None))
            continue
        recs = book.records(serial)
        if h.get("anchor_mode") == "merkle":  # as the full scan: the events this hall's indexer checked
            try:
                mfacts = merkle_case_facts(
                    store, client, accepting_hall=int(h["accepting_hall"]), serial=serial, registry_log=registry
                )
            except ChainError as exc:
                errors.append(f"chain: {serial}: {exc}")
                mfacts = None
            if mfacts is None:  # not indexed yet (or the chain failed): its journal entries stay
                failed.add(serial)
                continue
            facts: ChainFacts | None = mfacts
        else:
            facts = index_facts(store, h, dep_facts, registry)
        if facts is None:
            try:
                facts = fetch_chain_facts(client, int(h["accepting_hall"]), serial, registry_log=registry)
            except ChainError as exc:
                errors.append(f"chain: {serial}: {exc}")
                failed.add(serial)  # its journal entries stay: judged at the next scan
                continue
        cases += 0 if known else 1
        row = case_row(h, recs, book.catalogue, today=day, near_due_days=thresholds.near_due_days)
        found = case_anomalies(h, indexed_records(store, h, recs), facts, row, now=at, thresholds=thresholds)
        verdicts.append((serial, found, _recheck_at(recs, facts, now=at, t=thresholds)))
    with store.write_batch() as wb:
        for serial, verdict, recheck in verdicts:
            _store_verdict(wb, serial, verdict, recheck)
        for k, serial in journal:
            if serial not in failed:
                wb.delete(k)
        wb.put_json(AUDIT_STATE_KEY, {**state, "cases": cases, "at": at})
    anomalies = [Anomaly.model_validate(a) for _, v in store.iter_json(AUDIT_ANOMALY_PREFIX) for a in v]
    anomalies += hall_anomalies(book, now=at, thresholds=thresholds)
    return ScanResult(
        started_at=started,
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        duration_s=round(time.monotonic() - t0, 3),
        cases=cases,
        anomalies=anomalies,
        errors=errors,
        mode="incremental",
        as_of_block=cursor,
        rescanned=len(todo),
    )


class AnomalyScanner(BackgroundWorker):
    """Runs the anomaly scan every ``interval`` seconds in a background thread; keeps the last result.

    The scheduled scans are incremental (:func:`scan_incremental`), and a full one (:func:`scan`, which also sees
    writes behind the node's back) every ``full_interval`` seconds and at the first scan after a start."""

    def __init__(
        self,
        book: CaseBook,
        client: ChainClient,
        *,
        interval: float,
        thresholds: AuditThresholds = DEFAULT_THRESHOLDS,
        full_interval: float = 24 * 3600.0,
    ) -> None:
        self.book = book
        self.client = client
        self.interval = interval
        self.full_interval = full_interval
        self.thresholds = thresholds
        self.last_full: float | None = None
        super().__init__()
        self._lock = threading.Lock()

    thread_name = "audit-scanner"

    def start(self) -> None:
        if self.interval > 0:  # 0 = scans on demand only
            super().start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                due = self.last_full is None or time.monotonic() - self.last_full >= self.full_interval
                self.run_once(full=due)
            except Exception:  # a scan failure must not kill the node's scheduler
                log.exception("audit: scan failed")

    def run_once(self, *, full: bool = True) -> ScanResult:
        with self._lock:
            if full:
                result = scan(self.book, self.client, thresholds=self.thresholds)
            else:
                result = scan_incremental(self.book, self.client, thresholds=self.thresholds)
            if result.mode == "full" and not result.errors:
                self.last_full = time.monotonic()
            self.book.store.put_json(LAST_SCAN_KEY, result.model_dump(mode="json"))
        if result.anomalies:
            log.warning("audit: %d anomalies in %d cases: %s", len(result.anomalies), result.cases, result.counts())
        return result

    def last(self) -> ScanResult | None:
        raw = self.book.store.get_json(LAST_SCAN_KEY)
        return None if raw is None else ScanResult.model_validate(raw)
