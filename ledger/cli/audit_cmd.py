"""``caseledger audit ...``: the regulator's read-only view of a hall node (its /audit API).

caseledger audit cases --hall http://127.0.0.1:8602 --token T --item BDC-TRANSFER --csv
caseledger audit compliance --hall URL --token T
caseledger audit anomalies --hall URL --token T --scan
caseledger audit summary --hall URL --token T --by district
caseledger audit trail TB20261123-001-00001 --hall URL --token T
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import typer

from ledger.cli import app
from ledger.errors import InputError, LedgerError
from ledger.hall.workdays import NEAR_DUE_DAYS

audit_app = typer.Typer(help="监管审计 Regulator audit: trails, time limits, anomalies, summaries (read-only).")
app.add_typer(audit_app, name="audit")

Hall = Annotated[str, typer.Option("--hall", envvar="CASELEDGER_HALL_URL", help="URL of the hall node.")]
Token = Annotated[
    str, typer.Option("--token", envvar="CASELEDGER_SESSION_TOKEN", help="A regulator's session token (Bearer).")
]
Csv = Annotated[bool, typer.Option("--csv", help="CSV instead of JSON.")]


def _get(
    hall: str, token: str, path: str, params: dict[str, Any] | None = None, *, method: str = "GET"
) -> httpx.Response:
    url = hall.rstrip("/") + path
    try:
        r = httpx.request(
            method,
            url,
            params={k: v for k, v in (params or {}).items() if v is not None},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
    except httpx.HTTPError as exc:
        raise InputError("hall", f"the hall node at {hall} does not answer ({exc})") from exc
    if r.status_code >= 400:
        try:
            msg = r.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            msg = r.text[:200]
        raise LedgerError(f"the hall node answered {r.status_code}: {msg}")
    return r


def _out(r: httpx.Response) -> None:
    if r.headers.get("content-type", "").startswith("text/csv"):
        typer.echo(r.text, nl=False)
    else:
        typer.echo(json.dumps(r.json(), ensure_ascii=False, indent=1))


@audit_app.command("cases")
def cases(
    hall: Hall,
    token: Token,
    accepting_hall: Annotated[int | None, typer.Option("--accepting-hall")] = None,
    district: Annotated[int | None, typer.Option("--district", help="Home district code.")] = None,
    item: Annotated[str | None, typer.Option("--item", help="Service item code.")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    compliance: Annotated[str | None, typer.Option("--compliance", help="on_time, near_due, overdue, ...")] = None,
    since: Annotated[str | None, typer.Option("--since", help="YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option("--until", help="YYYY-MM-DD")] = None,
    csv: Csv = False,
) -> None:
    """Cases filtered by accepting hall, home district, item, status, compliance and date range."""
    params = {
        "accepting_hall": accepting_hall,
        "home_district": district,
        "item_code": item,
        "status": status,
        "compliance": compliance,
        "since": since,
        "until": until,
        "format": "csv" if csv else "json",
    }
    _out(_get(hall, token, "/audit/cases", params))


@audit_app.command("trail")
def trail(serial: str, hall: Hall, token: Token) -> None:
    """Every event of one case in chain order, with its anchor (personal fields withheld)."""
    _out(_get(hall, token, f"/audit/cases/{serial}/trail"))


@audit_app.command("compliance")
def compliance(
    hall: Hall,
    token: Token,
    near_due_days: Annotated[int, typer.Option("--near-due-days")] = NEAR_DUE_DAYS,
    csv: Csv = False,
) -> None:
    """Working-day time limits: overdue, near-due and completed-late cases."""
    _out(_get(hall, token, "/audit/compliance", {"near_due_days": near_due_days, "format": "csv" if csv else "json"}))


@audit_app.command("summary")
def summary(
    hall: Hall,
    token: Token,
    by: Annotated[str, typer.Option("--by", help="hall, district or item")] = "hall",
    csv: Csv = False,
) -> None:
    """Summary figures per accepting hall, home district or service item."""
    _out(_get(hall, token, "/audit/summary", {"by": by, "format": "csv" if csv else "json"}))


@audit_app.command("anomalies")
def anomalies(
    hall: Hall,
    token: Token,
    scan: Annotated[bool, typer.Option("--scan", help="Run a scan now.")] = False,
    csv: Csv = False,
) -> None:
    """The last anomaly scan (or a fresh one with --scan). Exit 1 when there are anomalies."""
    if scan:
        _get(hall, token, "/audit/anomalies/scan", method="POST")
    r = _get(hall, token, "/audit/anomalies", {"format": "csv" if csv else "json"})
    _out(r)
    found = bool(r.text.strip().count("\n")) if csv else bool((r.json().get("scan") or {}).get("anomalies"))
    raise typer.Exit(1 if found else 0)
