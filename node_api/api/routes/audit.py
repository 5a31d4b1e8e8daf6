"""Regulator audit endpoints (监管/督查), read-only: trails, case filters, time limits, anomalies, summaries.

Lists answer JSON by default; ``?format=csv`` (UTF-8 with BOM, for Excel) and ``?format=xlsx`` give the
regulator's export (:mod:`ledger.hall.exports`): Chinese column headers and values (``?lang=en``: English),
dates ``YYYY-MM-DD``, lists joined readably, no JSON in a cell. The anomaly scan runs on the node's
schedule (``CASELEDGER_AUDIT_SCAN_INTERVAL``) and on demand (``POST /audit/anomalies/scan``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from ledger.errors import ConfigError
from ledger.hall.audit import (
    AnomalyScanner,
    AuditThresholds,
    CaseRow,
    ScanResult,
    SummaryRow,
    TrailEntry,
    anomalies_table,
    case_rows,
    cases_table,
    compliance_lists,
    filter_rows,
    summarize,
    summary_table,
    trail,
)
from ledger.hall.exports import XLSX_MEDIA_TYPE, Table, to_csv, to_xlsx
from ledger.hall.workdays import NEAR_DUE_DAYS
from node_api.api.deps import NodeDep, Regulator, needs
from node_api.core.node import HallNode

router = APIRouter(prefix="/audit", tags=["audit"])

Format = Annotated[Literal["json", "csv", "xlsx"], Query()]
Lang = Annotated[Literal["zh", "en"], Query()]


def start_scanner(node: HallNode) -> AnomalyScanner:
    """The node's scheduled anomaly scan (``CASELEDGER_AUDIT_SCAN_INTERVAL`` seconds; 0 = on demand only): incremental,
    with a full scan every ``CASELEDGER_AUDIT_FULL_SCAN_INTERVAL`` seconds."""
    s = node.settings
    thresholds = AuditThresholds(
        pending_after_s=s.audit_pending_after,
        outbox_after_s=s.audit_outbox_after,
        transfer_grace_s=s.audit_pending_after,
    )
    scanner = AnomalyScanner(
        node.book,
        node.reader,
        interval=s.audit_scan_interval,
        thresholds=thresholds,
        full_interval=s.audit_full_scan_interval,
    )
    scanner.start()
    return scanner


def get_scanner(request: Request) -> AnomalyScanner:
    scanner: AnomalyScanner | None = getattr(request.app.state, "audit", None)
    if scanner is None:
        raise ConfigError("audit_scanner_off")
    return scanner


ScannerDep = Annotated[AnomalyScanner, Depends(get_scanner)]


class CaseRowsPublic(BaseModel):
    data: list[CaseRow]
    count: int


class CompliancePublic(BaseModel):
    overdue: list[CaseRow]
    near_due: list[CaseRow]
    completed_late: list[CaseRow]


class SummaryPublic(BaseModel):
    by: str
    data: list[SummaryRow]


class TrailPublic(BaseModel):
    serial: str
    events: list[TrailEntry]


class BatchFinding(BaseModel):
    """A rule a Merkle-mode batch breaks, with what proves it: the leaf, its inclusion path and the batch's
    on-chain coordinates (anyone can check the leaf against ``root`` in ``tx``'s ``BatchAnchored`` log)."""

    code: str
    detail: str
    hall: int
    seq: int
    block: int
    tx: str
    writer: str
    root: str
    tree_size: int
    leaf_index: int
    leaf: str
    proof: list[str]
    case_id: str
    found_at: float


class BatchFindingsPublic(BaseModel):
    data: list[BatchFinding]
    count: int
    manifests_unavailable: list[dict[str, Any]]


class LastScanPublic(BaseModel):
    scan: ScanResult | None
    counts: dict[str, int]


def _export(table: Table, name: str, format: str) -> Response:
    """The regulator's export of one list: CSV for Excel (UTF-8 with BOM) or an .xlsx workbook."""
    if format == "xlsx":
        body, media = to_xlsx(table), XLSX_MEDIA_TYPE
    else:
        body, media = to_csv(table), "text/csv; charset=utf-8"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{format}"'})


class CaseFilters(BaseModel):
    """The query of ``GET /audit/cases``: every filter optional; an unknown parameter is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    accepting_hall: int | None = Field(default=None, ge=1, le=2**32 - 1)
    home_district: int | None = Field(default=None, ge=100000, le=999999)
    item_code: str | None = Field(default=None, max_length=64)
    status: str | None = Field(default=None, max_length=32)
    compliance: str | None = Field(default=None, max_length=32)
    since: date | None = None
    until: date | None = None
    near_due_days: int = Field(default=NEAR_DUE_DAYS, ge=0, le=30)
    format: Literal["json", "csv", "xlsx"] = "json"
    lang: Literal["zh", "en"] = "zh"


@router.get("/cases", operation_id="audit_cases", response_model=CaseRowsPublic, dependencies=[needs(Regulator)])
def cases(node: NodeDep, q: Annotated[CaseFilters, Query()]) -> Any:
    """Cases by accepting hall, home district, item, status or compliance, created within [since, until]."""
    rows = filter_rows(
        case_rows(node.book, near_due_days=q.near_due_days),
        **q.model_dump(exclude={"near_due_days", "format", "lang"}),
    )
    if q.format != "json":
        return _export(
            cases_table(rows, node.book.catalogue, hall_names=node.hall_names(), lang=q.lang), "cases", q.format
        )
    return {"data": rows, "count": len(rows)}


@router.get(
    "/cases/{serial}/trail", operation_id="audit_trail", response_model=TrailPublic, dependencies=[needs(Regulator)]
)
def case_trail(serial: str, node: NodeDep) -> dict[str, Any]:
    """Every event of the case in chain order with its anchor; personal fields withheld."""
    node.book.header(serial)
    return {"serial": serial, "events": trail(node.book.records(serial))}


@router.get(
    "/compliance", operation_id="audit_compliance", response_model=CompliancePublic, dependencies=[needs(Regulator)]
)
def compliance(
    node: NodeDep,
    near_due_days: Annotated[int, Query(ge=0, le=30)] = NEAR_DUE_DAYS,
    format: Format = "json",
    lang: Lang = "zh",
) -> Any:
    """Working-day time limits: overdue, near-due and completed-late cases."""
    lists = compliance_lists(case_rows(node.book, near_due_days=near_due_days))
    if format != "json":
        rows = lists["overdue"] + lists["near_due"] + lists["completed_late"]
        names = node.hall_names()
        table = cases_table(rows, node.book.catalogue, hall_names=names, lang=lang, sheet=("时限合规", "Time limits"))
        return _export(table, "compliance", format)
    return lists


@router.get("/summary", operation_id="audit_summary", response_model=SummaryPublic, dependencies=[needs(Regulator)])
def summary(
    node: NodeDep,
    by: Annotated[Literal["hall", "district", "item"], Query()] = "hall",
    format: Format = "json",
    lang: Lang = "zh",
) -> Any:
    """Summary figures per accepting hall, home district or service item."""
    data = summarize(case_rows(node.book), by)
    if format != "json":
        table = summary_table(data, by, node.book.catalogue, hall_names=node.hall_names(), lang=lang)
        return _export(table, f"summary-{by}", format)
    return {"by": by, "data": data}


@router.get(
    "/anomalies", operation_id="audit_anomalies", response_model=LastScanPublic, dependencies=[needs(Regulator)]
)
def anomalies(scanner: ScannerDep, format: Format = "json", lang: Lang = "zh") -> Any:
    """The last anomaly scan (scheduled or on demand)."""
    last = scanner.last()
    if format != "json":
        return _export(anomalies_table(last.anomalies if last else [], lang=lang), "anomalies", format)
    return {"scan": last, "counts": last.counts() if last else {}}


@router.post(
    "/anomalies/scan", operation_id="audit_scan", response_model=LastScanPublic, dependencies=[needs(Regulator)]
)
def run_scan(scanner: ScannerDep, mode: Annotated[Literal["full", "incremental"], Query()] = "full") -> dict[str, Any]:
    """Scan now: every case this hall holds and its outbox, against the chain (``mode=incremental``: only the
    cases changed since the last scan, as the schedule does)."""
    result = scanner.run_once(full=mode == "full")
    return {"scan": result, "counts": result.counts()}


@router.get(
    "/batch-findings",
    operation_id="audit_batch_findings",
    response_model=BatchFindingsPublic,
    dependencies=[needs(Regulator)],
)
def batch_findings(node: NodeDep) -> dict[str, Any]:
    """Merkle mode: every rule this hall's indexer found broken in any hall's batch, each with its proof, and the
    batches whose manifest no hall has produced."""
    data = node.merkle_index.findings()
    missing = [{"hall": w["hall"], "seq": w["seq"], "block": w["block"]} for w in node.merkle_index.wanted()]
    return {"data": data, "count": len(data), "manifests_unavailable": missing}
