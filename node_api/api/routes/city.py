"""The city-wide regulator view (全市监管) from the chain alone (:mod:`ledger.hall.citywide`): every hall's cases,
no hall's database. JSON, CSV for Excel (UTF-8 with BOM, Chinese headers and values; ``?lang=en``) and .xlsx.
Filters: ``since`` / ``until`` (dates of intake), ``district`` (home district), ``hall`` (accepting hall), ``item``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from ledger.core.timefmt import CST
from ledger.hall.citywide import (
    CityCase,
    CityHall,
    CitySummary,
    CityView,
    city_filter,
    city_summary,
    city_view,
    to_csv,
    to_xlsx,
)
from ledger.hall.merkle_index import checked_cases
from node_api.api.deps import NodeDep, Regulator, needs
from node_api.core.node import HallNode

router = APIRouter(prefix="/audit/city", tags=["audit"])

Lang = Annotated[Literal["zh", "en"], Query()]


class CityFilter(BaseModel):
    since: date | None = None
    until: date | None = None
    district: int | None = None
    hall: int | None = None
    item: str | None = None


class CityPublic(BaseModel):
    head_block: int
    computed_s: float
    halls: list[CityHall]
    summary: CitySummary
    data: list[CityCase]
    count: int


def city_cases(node: HallNode, f: CityFilter) -> tuple[CityView, list[CityCase]]:
    view = city_view(
        node.reader,
        node.book.catalogue,
        today=datetime.now(CST).date(),
        merkle=lambda head: checked_cases(node.store, to_block=head),
    )
    rows = city_filter(view.cases, since=f.since, until=f.until, district=f.district, hall=f.hall, item=f.item or None)
    return view, rows


Filter = Annotated[CityFilter, Query()]


@router.get("", operation_id="audit_city", response_model=CityPublic, dependencies=[needs(Regulator)])
def city(node: NodeDep, f: Filter) -> CityPublic:
    """Every hall's cases and the city-wide figures, from the chain alone."""
    view, rows = city_cases(node, f)
    return CityPublic(
        head_block=view.head_block,
        computed_s=view.computed_s,
        halls=view.halls,
        summary=city_summary(rows),
        data=rows,
        count=len(rows),
    )


@router.get("/export.csv", operation_id="audit_city_csv", response_class=Response, dependencies=[needs(Regulator)])
def city_csv(node: NodeDep, f: Filter, lang: Lang = "zh") -> Response:
    """CSV for Excel: UTF-8 with BOM, Chinese column headers and values (``?lang=en``: English)."""
    view, rows = city_cases(node, f)
    return Response(
        to_csv(rows, view, node.book.catalogue, lang=lang),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="city-cases.csv"'},
    )


@router.get("/export.xlsx", operation_id="audit_city_xlsx", response_class=Response, dependencies=[needs(Regulator)])
def city_xlsx(node: NodeDep, f: Filter, lang: Lang = "zh") -> Response:
    """The same table as an Excel workbook (.xlsx)."""
    view, rows = city_cases(node, f)
    return Response(
        to_xlsx(rows, view, node.book.catalogue, lang=lang),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="city-cases.xlsx"'},
    )
