"""全市监管: the regulator's city-wide dashboard, computed from the chain alone (:mod:`ledger.hall.citywide`).

    /ui/audit/city?since=&until=&district=&hall=&item=

Filters by date range (intake), home district, accepting hall and item; charts by hall, district, item (one
row per item, legible with 20), stage reached and time-limit standing; the per-hall table; exports (CSV for
Excel, .xlsx) of exactly what is filtered; what the chain cannot tell is said on the page. A case's serial
links to the case at this hall when this hall holds it (its records are used only there).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ledger.errors import InputError
from ledger.hall.citywide import COMPLIANCE_WORDS, STAGES, city_summary
from node_api.api.routes.city import CityFilter, city_cases
from node_api.pages.guard import RegulatorPage

__all__ = ["router"]

router = APIRouter(tags=["pages"])

STAGE_KEYS = {"submitted": "cw_st_submitted", "accepted": "cw_st_accepted", "decided": "cw_st_decided"}


def _filter(request: Request) -> CityFilter:
    qp = request.query_params

    def day(name: str) -> date | None:
        v = qp.get(name, "").strip()
        if not v:
            return None
        try:
            return date.fromisoformat(v)
        except ValueError:
            raise InputError(name, "date_invalid") from None

    def number(name: str) -> int | None:
        v = qp.get(name, "").strip()
        return int(v) if v.isdigit() else None

    return CityFilter(
        since=day("since"),
        until=day("until"),
        district=number("district"),
        hall=number("hall"),
        item=qp.get("item", "").strip()[:32] or None,
    )


@router.get("/ui/audit/city", operation_id="page_audit_city", response_class=HTMLResponse)
def city_page(request: Request, staff: RegulatorPage) -> HTMLResponse:
    """全市监管 (see the module docstring)."""
    from node_api.pages.routes import _lang, _node, render

    node = _node(request)
    lang = _lang(request)
    i = 0 if lang == "zh" else 1
    f = _filter(request)
    view, rows = city_cases(node, f)
    s = city_summary(rows)
    cat = node.book.catalogue
    districts = {d.code: (d.name_zh if lang == "zh" else d.name_en) for d in cat.districts}
    items = {it.code: (it.name_zh if lang == "zh" else it.name_en) for it in cat.items}
    halls = {h.hall_id: h for h in view.halls}
    per_hall = []
    for h in view.halls:
        mine = [c for c in rows if c.accepting_hall == h.hall_id]
        per_hall.append(
            {
                "hall": h,
                "district": districts.get(h.district, str(h.district)),
                "cases": len(mine),
                **{st: sum(1 for c in mine if c.stage == st) for st in STAGES},
                "overdue": sum(1 for c in mine if c.compliance in ("overdue", "completed_late")),
            }
        )
    stage_words = {
        "submitted": ("待受理", "Awaiting acceptance"),
        "accepted": ("已受理（办理中）", "Accepted (in progress)"),
        "decided": ("已办结", "Decided"),
        "delivered": ("已送达", "Delivered"),
    }
    charts = {
        "hall": [{"name": halls[k].name if k in halls else str(k), "value": v} for k, v in s.by_hall.items()],
        "district": [{"name": districts.get(k, str(k)), "value": v} for k, v in s.by_district.items()],
        "item": [{"name": items.get(k, k), "value": v} for k, v in sorted(s.by_item.items(), key=lambda kv: -kv[1])],
        "stage": [{"name": stage_words[k][i], "value": v} for k, v in s.by_stage.items()],
        "compliance": [
            {"name": COMPLIANCE_WORDS.get(k, (k, k))[i], "value": v, "key": k} for k, v in s.by_compliance.items()
        ],
    }
    query = urlencode({k: v for k, v in request.query_params.items() if k in CityFilter.model_fields and v})
    late = [c for c in rows if c.compliance in ("overdue", "near_due", "completed_late")][:200]
    ctx: dict[str, Any] = {
        "f": f,
        "view": view,
        "rows": rows,
        "s": s,
        "per_hall": per_hall,
        "district_names": districts,
        "item_names": items,
        "hall_map": halls,
        "charts_json": json.dumps(charts, ensure_ascii=False),
        "item_chart_height": max(220, 28 * len(charts["item"]) + 60),
        "query": query,
        "late": late,
        "held": {c.serial for c in late if node.book.has_case(c.serial)},
        "cp_words": {k: v[i] for k, v in COMPLIANCE_WORDS.items()},
        "stage_words": {k: v[i] for k, v in stage_words.items()},
    }
    return render(request, "city.html", ctx, staff=staff)
