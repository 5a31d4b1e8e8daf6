"""The city-wide regulator view (全市监管), computed from the chain alone — no hall's database.

The chain holds every case header and every event of every hall: ``CaseOpened`` (serial, item, home district,
accepting hall) and ``EventAppended`` (stage, writing hall, block). For a Merkle-mode case it holds its
batches' roots; its INTAKE leaf and event leaves come from the manifests every hall's indexer fetched and
checked against those roots (same facts, the batch's block as the event's). With the registry (each hall's district and
name) and block times that is enough for, over all halls at once: case counts by hall, district, item and
stage; stage durations (intake → acceptance → result → delivery); working-day time-limit compliance; disputes
open and resolved. A hall's records are used only where the regulator drills into one case.

What the chain does *not* say, and how the view is approximate (the page says so too):

* **supplement pauses** (补正): a PROCESS event's step is in its record, not on chain, so the clock is not
  paused; a case with PROCESS events is flagged ``approximate`` (its due date may be later in truth);
* **不予受理**: an ACCEPTANCE event does not say accepted or refused; a refused case (ACCEPTANCE followed by
  RESULT) counts as completed when its RESULT is anchored;
* **times** are block times (proven: the act happened no later), so a day boundary may fall differently
  from a record's own ``at``.

::

    view = city_view(reader, catalogue, today=date(2026, 12, 2))
    rows = city_filter(view.cases, district=350503)
    figures = city_summary(rows)
    data = to_xlsx(rows, view, catalogue, lang="zh")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from ledger.chain.client import ChainClient
from ledger.core.facts import CaseOpenedEvent, ChainEvent
from ledger.core.stages import Stage
from ledger.core.timefmt import CST
from ledger.errors import ConfigError, InputError
from ledger.hall.catalogue import Catalogue
from ledger.hall.exports import COMPLIANCE_WORDS, Table, day
from ledger.hall.exports import to_csv as table_csv
from ledger.hall.exports import to_xlsx as table_xlsx
from ledger.hall.workdays import NEAR_DUE_DAYS, compliance_report

__all__ = [
    "CityCase",
    "CityHall",
    "COMPLIANCE_WORDS",
    "CitySummary",
    "CityView",
    "city_filter",
    "city_table",
    "city_summary",
    "city_view",
    "to_csv",
    "to_xlsx",
]

STAGES = ("submitted", "accepted", "decided", "delivered")
"""where a case stands as the chain tells it: no ACCEPTANCE yet, accepted (or refused), RESULT, DELIVERY"""


class CityHall(BaseModel):
    hall_id: int
    name: str
    district: int
    status: str


class CityCase(BaseModel):
    """One case as the chain tells it (no personal data: there is none on chain)."""

    serial: str
    item_code: str
    accepting_hall: int
    accepting_district: int | None
    home_district: int
    stage: str
    created_on: date
    accepted_on: date | None = None
    completed_on: date | None = None
    delivered_on: date | None = None
    due: date | None = None
    compliance: str
    working_days_used: int | None = None
    approximate: bool = False
    """PROCESS events on chain: a supplement pause may have stopped the clock, which the chain cannot tell"""
    events: int
    disputes: int = 0
    disputes_open: int = 0
    hours_to_acceptance: float | None = None
    hours_to_result: float | None = None
    hours_to_delivery: float | None = None


class CityView(BaseModel):
    head_block: int
    from_block: int
    computed_s: float
    halls: list[CityHall]
    cases: list[CityCase]


class CitySummary(BaseModel):
    total: int
    by_hall: dict[int, int]
    by_district: dict[int, int]
    by_item: dict[str, int]
    by_stage: dict[str, int]
    by_compliance: dict[str, int]
    approximate: int
    disputes_open: int
    avg_hours_to_acceptance: float | None
    avg_hours_to_result: float | None
    avg_hours_to_delivery: float | None


def _day(ts: int) -> date:
    return datetime.fromtimestamp(ts, CST).date()


def city_view(
    client: ChainClient,
    catalogue: Catalogue,
    *,
    today: date,
    to_block: int | None = None,
    near_due_days: int = NEAR_DUE_DAYS,
    merkle: Callable[[int], Iterable[tuple[CaseOpenedEvent, list[ChainEvent]]]] | None = None,
) -> CityView:
    """Every case of every hall, read from the chain's logs (bounded queries) and block times.

    ``merkle``: the Merkle-mode cases up to a block, as this hall's indexer checked them against the batches'
    on-chain roots (:func:`ledger.hall.merkle_index.checked_cases`); the chain's logs hold only their roots."""
    t0 = time.perf_counter()
    dep = client.deployment
    if dep is None:
        raise ConfigError("no_deployment")
    head = client.block_number() if to_block is None else to_block
    first = dep.deployed_block
    opened, appended = client.events_in_range(first, head) if head >= first else ([], [])
    if merkle is not None:
        for o, evs in merkle(head):
            opened.append(o)
            appended += evs
    halls = [CityHall(hall_id=h.hall_id, name=h.name, district=h.district, status=h.status) for h in client.halls()]
    district_of = {h.hall_id: h.district for h in halls}
    times: dict[int, int] = {}
    for n in sorted({e.block_number for e in appended}):
        times[n] = client.block_time(n)
    events: dict[str, list[Any]] = {}
    for e in appended:
        events.setdefault(e.case_id, []).append(e)
    limits: dict[str, int | None] = {}
    for item in catalogue.items:
        limits[item.code] = item.time_limit_working_days
    cases = []
    for o in opened:
        evs = sorted(events.get(o.case_id, []), key=lambda e: e.index)
        cases.append(_case(o, evs, times, district_of, limits, today, near_due_days))
    cases.sort(key=lambda c: (c.created_on, c.serial))
    return CityView(
        head_block=head, from_block=first, computed_s=round(time.perf_counter() - t0, 3), halls=halls, cases=cases
    )


def _case(
    o: Any,
    evs: Sequence[Any],
    times: dict[int, int],
    district_of: dict[int, int],
    limits: dict[str, int | None],
    today: date,
    near_due_days: int,
) -> CityCase:
    first: dict[Stage, int] = {}
    process = disputes = resolved = 0
    for e in evs:
        first.setdefault(e.stage, times[e.block_number])
        process += e.stage == Stage.PROCESS
        disputes += e.stage == Stage.DISPUTE_OPENED
        resolved += e.stage == Stage.DISPUTE_RESOLVED
    intake = first.get(Stage.INTAKE, times.get(o.block_number) or min(times.values(), default=0))
    acc, res, dlv = first.get(Stage.ACCEPTANCE), first.get(Stage.RESULT), first.get(Stage.DELIVERY)
    stage = "delivered" if dlv else "decided" if res else "accepted" if acc else "submitted"

    def hours(a: int | None, b: int | None) -> float | None:
        return None if a is None or b is None else round((b - a) / 3600, 2)

    row: dict[str, Any] = {
        "serial": o.serial,
        "item_code": o.item_code,
        "accepting_hall": o.accepting_hall,
        "accepting_district": district_of.get(o.accepting_hall),
        "home_district": o.home_district,
        "stage": stage,
        "created_on": _day(intake),
        "accepted_on": _day(acc) if acc else None,
        "completed_on": _day(res) if res else None,
        "delivered_on": _day(dlv) if dlv else None,
        "events": len(evs),
        "disputes": disputes,
        "disputes_open": max(0, disputes - resolved),
        "hours_to_acceptance": hours(intake, acc),
        "hours_to_result": hours(acc, res),
        "hours_to_delivery": hours(res, dlv),
        "approximate": process > 0,
    }
    limit = limits.get(o.item_code)
    if acc is None:
        return CityCase(**row, compliance="awaiting_acceptance")
    if limit is None:
        return CityCase(**row, compliance="no_limit")
    accepted, completed = _day(acc), (_day(res) if res else None)
    try:
        rep = compliance_report(
            accepted, limit, [], completed, max(today, completed or today, accepted), near_due_days, fallback=True
        )
    except ValueError:
        return CityCase(**row, compliance="invalid")
    row["approximate"] = row["approximate"] or rep.approximate
    return CityCase(**row, due=rep.due, compliance=rep.status.value, working_days_used=rep.working_days_used)


def city_filter(
    cases: Iterable[CityCase],
    *,
    since: date | None = None,
    until: date | None = None,
    district: int | None = None,
    hall: int | None = None,
    item: str | None = None,
) -> list[CityCase]:
    """Cases created in [since, until] (by their INTAKE block), of a home district, accepting hall, item."""
    if since and until and until < since:
        raise InputError("until", "date_range_reversed")
    out = []
    for c in cases:
        if since and c.created_on < since or until and c.created_on > until:
            continue
        if district is not None and c.home_district != district:
            continue
        if hall is not None and c.accepting_hall != hall:
            continue
        if item and c.item_code != item:
            continue
        out.append(c)
    return out


def _count(values: Iterable[Any]) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items()))


def _avg(values: Iterable[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return round(sum(got) / len(got), 2) if got else None


def city_summary(cases: Sequence[CityCase]) -> CitySummary:
    """The figures of the city-wide dashboard over ``cases``."""
    return CitySummary(
        total=len(cases),
        by_hall=_count(c.accepting_hall for c in cases),
        by_district=_count(c.home_district for c in cases),
        by_item=_count(c.item_code for c in cases),
        by_stage={s: sum(1 for c in cases if c.stage == s) for s in STAGES},
        by_compliance=_count(c.compliance for c in cases),
        approximate=sum(1 for c in cases if c.approximate),
        disputes_open=sum(c.disputes_open for c in cases),
        avg_hours_to_acceptance=_avg(c.hours_to_acceptance for c in cases),
        avg_hours_to_result=_avg(c.hours_to_result for c in cases),
        avg_hours_to_delivery=_avg(c.hours_to_delivery for c in cases),
    )


# ------------------------------------------------------------------------------------------ exports
_COLUMNS: list[tuple[str, str, str]] = [
    ("serial", "办件编号", "Case serial"),
    ("item", "办理事项", "Service item"),
    ("item_code", "事项编码", "Item code"),
    ("accepting_hall", "受理大厅", "Accepting hall"),
    ("accepting_district", "受理地区县", "Accepting district"),
    ("home_district", "属地（承办区县）", "Home district"),
    ("stage", "办理环节", "Stage reached"),
    ("created_on", "受理登记日期", "Taken in on"),
    ("accepted_on", "受理日期", "Accepted on"),
    ("completed_on", "办结日期", "Completed on"),
    ("delivered_on", "送达日期", "Delivered on"),
    ("due", "到期日", "Due"),
    ("compliance", "时限情况", "Time limit"),
    ("working_days_used", "已用工作日", "Working days used"),
    ("approximate", "是否估算", "Approximate"),
    ("disputes_open", "未结争议", "Open disputes"),
]
_STAGE_WORDS = {
    "submitted": ("待受理", "awaiting acceptance"),
    "accepted": ("已受理（办理中）", "accepted (in progress)"),
    "decided": ("已办结", "decided"),
    "delivered": ("已送达", "delivered"),
}


def _rows(cases: Sequence[CityCase], view: CityView, catalogue: Catalogue, lang: str) -> list[list[Any]]:
    zh = lang != "en"
    i = 0 if zh else 1
    halls = {h.hall_id: h.name for h in view.halls}
    districts = {d.code: (d.name_zh if zh else d.name_en) for d in catalogue.districts}
    items: dict[str, str] = {}
    for it in catalogue.items:
        items[it.code] = it.name_zh if zh else it.name_en
    out: list[list[Any]] = [[c[1 + i] for c in _COLUMNS]]
    yes, no = ("是", "否") if zh else ("yes", "no")
    for c in cases:
        ad = c.accepting_district
        out.append(
            [
                c.serial,
                items.get(c.item_code, c.item_code),
                c.item_code,
                halls.get(c.accepting_hall, str(c.accepting_hall)),
                districts.get(ad, str(ad)) if ad is not None else "",
                districts.get(c.home_district, str(c.home_district)),
                _STAGE_WORDS[c.stage][i],
                day(c.created_on),
                day(c.accepted_on),
                day(c.completed_on),
                day(c.delivered_on),
                day(c.due),
                COMPLIANCE_WORDS.get(c.compliance, (c.compliance, c.compliance))[i],
                c.working_days_used if c.working_days_used is not None else "",
                yes if c.approximate else no,
                c.disputes_open,
            ]
        )
    return out


def city_table(cases: Sequence[CityCase], view: CityView, catalogue: Catalogue, *, lang: str = "zh") -> Table:
    """The regulator's city-wide export (:mod:`ledger.hall.exports`): one row per case, in the staff's words."""
    rows = _rows(cases, view, catalogue, lang)
    return Table(sheet="全市办件" if lang != "en" else "Cases", header=rows[0], rows=rows[1:])


def to_csv(cases: Sequence[CityCase], view: CityView, catalogue: Catalogue, *, lang: str = "zh") -> bytes:
    """CSV for Excel: UTF-8 with a byte-order mark, Chinese headers and values (English with ``lang="en"``)."""
    return table_csv(city_table(cases, view, catalogue, lang=lang))


def to_xlsx(cases: Sequence[CityCase], view: CityView, catalogue: Catalogue, *, lang: str = "zh") -> bytes:
    """The same table as an Excel workbook (openpyxl): one sheet, bold frozen header, widths to fit."""
    return table_xlsx(city_table(cases, view, catalogue, lang=lang))
