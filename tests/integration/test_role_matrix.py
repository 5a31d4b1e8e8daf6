"""The full role × endpoint matrix, walked from the app's own routes.

Every route of the app must have a rule in ``RULES`` (keyed by operation id): a new route without one
fails :func:`test_every_route_has_a_rule`. Each cell (anonymous, or an account holding exactly one role)
is then requested against a real in-process node (real chain, real LevelDB) and must be refused
(401 anonymous / 403 wrong role) or let through (anything but 401/403) as designed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from ledger.hall.accounts import ROLES
from tests.integration.conftest import InProcHall, intake_form

pytestmark = pytest.mark.integration

PUBLIC, PEER = "public", "peer"
READERS = {"clerk", "officer", "dispute_officer", "regulator"}
ANY_STAFF = set(ROLES)

# operation id → who may call it. The design, in one table (docs/security.md has the prose).
RULES: dict[str, str | set[str]] = {
    "health": PUBLIC,
    "metrics": PUBLIC,  # counts, ages and block numbers only; firewall it to the monitoring network
    "catalogue": PUBLIC,
    "catalogue_item": PUBLIC,
    "login": PUBLIC,
    "logout": ANY_STAFF,
    "whoami": ANY_STAFF,
    # cases: the counter (clerk) takes in and hands out; the home district's officers decide
    "intake_case": {"clerk"},
    "check_intake": {"clerk"},  # the pre-upload check of an intake form
    "reveal_applicant": READERS,  # the unmasked applicant, with a reason, in the access trail
    "list_cases": READERS,
    "get_case": READERS,
    "decide_acceptance": {"officer"},
    "process_step": {"officer"},
    "request_supplement": {"officer"},
    "submit_supplement": {"clerk"},
    "decide_result": {"officer"},
    "deliver_result": {"clerk"},
    "export_bundle": {"officer", "dispute_officer", "regulator"},
    "get_case_file": READERS,
    "inbox": READERS,  # 待办: the counter follows its cases too (supplements to collect, results to deliver)
    # hall to hall: EIP-191 signed requests only (no staff session counts)
    "peer_case_package": PEER,
    "peer_case_status": PEER,  # 对方已接收: the home hall tells the accepting hall
    "lookup_case": PUBLIC,  # the applicant's look-up: serial + look-up code from the receipt
    # Merkle mode: a batch's manifest is public (leaves carry commitments only), mirrored by every hall
    "public_batch_manifest": PUBLIC,
    "audit_batch_findings": {"regulator"},  # rule-breaking batches named by this hall's indexer
    # separated duties (三员分立): the security administrator manages accounts and sign-in locks ...
    "list_accounts": {"security_admin"},
    "create_account": {"security_admin"},
    "set_roles": {"security_admin"},
    "disable_account": {"security_admin"},
    "enable_account": {"security_admin"},
    "reset_totp": {"security_admin"},
    "list_lockouts": {"security_admin"},
    "clear_lockout": {"security_admin"},
    "kek_status": {"security_admin"},  # key management (or the node's local admin token)
    "rotate_kek": {"security_admin"},
    # ... the system administrator runs the node (no case data, no accounts) ...
    "retention_due": {"sys_admin"},
    "erase_personal_data": {"sys_admin"},
    "anchor_access_trail": {"sys_admin"},
    "backup_store": {"sys_admin"},  # or the node's local admin token (caseledger backup)
    # ... and the auditor reads the access trail, with the regulators
    "access_trail": {"regulator", "auditor"},
    "verify_access_trail": {"regulator", "auditor"},
    "reissue_held_case": {"clerk"},  # an intake again: the counter's act, never an administrator's
    "load_holiday_arrangement": {"sys_admin"},
    "list_holiday_arrangements": {"sys_admin"},
    # disputes (ledger/hall/disputes.py): dispute officers act, regulators read
    "open_dispute": {"dispute_officer"},
    "list_disputes": {"dispute_officer", "regulator"},
    "resolve_dispute": {"dispute_officer"},
    "run_verification": {"dispute_officer"},
    "list_verifications": {"dispute_officer", "regulator"},
    "get_verification": {"dispute_officer", "regulator"},
    "print_verification": {"dispute_officer", "regulator"},
    "verify_case_by_serial": {"dispute_officer"},  # this hall's records of the case against the chain (issue 19)
    "get_document_proof": PUBLIC,  # one file's inclusion proof; every personal field withheld
    # audit (ledger/hall/audit.py): regulators
    "audit_cases": {"regulator"},
    "audit_trail": {"regulator"},
    "audit_compliance": {"regulator"},
    "audit_summary": {"regulator"},
    "audit_anomalies": {"regulator"},
    "audit_scan": {"regulator"},
    # the city-wide view from the chain alone (ledger/hall/citywide.py): regulators
    "audit_city": {"regulator"},
    "audit_city_csv": {"regulator"},
    "audit_city_xlsx": {"regulator"},
    "change_password": ANY_STAFF,  # one's own password
    # staff pages (node_api/pages): signed-in staff only; anonymous gets the sign-in form with 401
    "page_login": PUBLIC,
    "page_home": ANY_STAFF,
    "page_lookup": PUBLIC,
    "page_case_document": READERS,  # printed documents of a case
    "page_incomplete_notice": {"clerk"},  # 一次性告知单 before a case exists
    "page_intake": {"clerk"},
    "page_cases": READERS,
    "page_case": READERS,
    "page_verify": {"dispute_officer"},
    "page_audit": {"regulator"},
    "page_health": {"sys_admin"},
    "page_case_disputes": {"dispute_officer", "regulator"},
    "page_dispute_record": {"dispute_officer", "regulator"},
    "page_audit_city": {"regulator"},
    "page_admin_accounts": {"security_admin"},
    "page_own_account": ANY_STAFF,
}

OFFICER_ACTIONS = ["decide_acceptance", "process_step", "request_supplement", "decide_result"]


@dataclass(frozen=True)
class Route:
    path: str
    methods: frozenset[str]
    operation_id: str
    params: tuple[str, ...]


def app_routes(app: FastAPI) -> list[Route]:
    """Every API route of the app (FastAPI ≥ 0.16x wraps included routers; walk through them)."""
    out: list[Route] = []

    def add(r: Any) -> None:
        if r.operation_id is None:
            raise AssertionError(f"route {r.path} has no operation_id")
        out.append(Route(r.path, frozenset(r.methods), r.operation_id, tuple(r.param_convertors)))

    for r in app.routes:
        if isinstance(r, APIRoute):
            add(r)
        elif hasattr(r, "effective_candidates"):
            for ctx in r.effective_candidates():
                add(ctx)
    return out


def _routes(hall: InProcHall) -> list[Route]:
    out = app_routes(hall.app)
    # logout ends the caller's session: walk it last
    return sorted(out, key=lambda r: (r.operation_id == "logout", r.path))


def test_route_walk_matches_the_openapi_spec(inproc_hall: InProcHall) -> None:
    spec = inproc_hall.app.openapi()
    ops = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
    assert ops == {r.operation_id for r in _routes(inproc_hall)}


def test_every_route_has_a_rule(inproc_hall: InProcHall) -> None:
    missing = [
        f"{sorted(r.methods)} {r.path} ({r.operation_id})" for r in _routes(inproc_hall) if r.operation_id not in RULES
    ]
    assert not missing, f"routes without an access rule in RULES: {missing}"


@pytest.fixture(scope="module")
def world(inproc_hall: InProcHall) -> dict[str, Any]:
    h = inproc_hall
    tokens = {role: h.sign_in(f"m.{role.replace('_', '-')}", (role,)) for role in sorted(ROLES)}
    h.node.accounts.create("m.target", "correct horse battery staple", roles=("officer",))
    clerk = {"Authorization": f"Bearer {tokens['clerk']}"}
    data, files = intake_form(h.node.hall.district)
    own = h.client.post("/cases", data=data, files=files, headers=clerk)
    assert own.status_code == 201, own.text
    data, files = intake_form(350503)
    other = h.client.post("/cases", data=data, files=files, headers=clerk)
    assert other.status_code == 201, other.text
    sha = own.json()["timeline"][1]["files"][0]["digest"]
    return {"tokens": tokens, "own": own.json()["serial"], "other": other.json()["serial"], "sha": sha}


def _call(hall: InProcHall, route: Route, headers: dict[str, str], params: dict[str, str]) -> int:
    path = route.path.format(**{k: params[k] for k in route.params})
    method = sorted(route.methods - {"HEAD"})[0]
    kwargs: dict[str, Any] = {"headers": headers}
    if route.operation_id == "get_document_proof":
        kwargs["params"] = {"digest": params["digest"]}
    if method in ("POST", "PUT", "PATCH") and route.operation_id not in (
        "intake_case",
        "submit_supplement",
        "decide_result",
        "run_verification",
    ):
        kwargs["json"] = {}
    return hall.client.request(method, path, **kwargs).status_code


def _params(world: dict[str, Any], serial: str) -> dict[str, str]:
    return {
        "serial": serial,
        "sha256": world["sha"],
        "digest": world["sha"],
        "username": "m.target",
        "seq": "0",
        "index": "1",
        "code": "HJ-MIGRATE",
        "doc": "receipt",
        "hall_id": "1",
    }


def test_role_matrix(inproc_hall: InProcHall, world: dict[str, Any]) -> None:
    wrong: list[str] = []
    cells = 0
    for route in _routes(inproc_hall):
        rule = RULES[route.operation_id]  # test_every_route_has_a_rule names any missing one
        params = _params(world, world["own"])
        for who in ["anonymous", *sorted(ROLES)]:
            headers = {} if who == "anonymous" else {"Authorization": f"Bearer {world['tokens'][who]}"}
            status = _call(inproc_hall, route, headers, params)
            cells += 1
            if rule == PUBLIC:
                ok = status not in (401, 403)
                want = "allowed"
            elif rule == PEER:
                ok = status == 401
                want = "401 (hall signature required)"
            elif who == "anonymous":
                ok, want = status == 401, "401"
            elif who in rule:
                ok, want = status not in (401, 403), "allowed"
            else:
                ok, want = status == 403, "403"
            if not ok:
                wrong.append(f"{route.operation_id} as {who}: got {status}, want {want}")
    assert not wrong, "\n".join(wrong)
    assert cells >= 8 * 30


@pytest.mark.parametrize("operation", OFFICER_ACTIONS)
def test_officer_cannot_act_on_another_districts_case(
    inproc_hall: InProcHall, world: dict[str, Any], operation: str
) -> None:
    route = next(r for r in _routes(inproc_hall) if r.operation_id == operation)
    token = inproc_hall.sign_in(f"o.{operation.replace('_', '-')}", ("officer",))
    headers = {"Authorization": f"Bearer {token}"}
    status = _call(inproc_hall, route, headers, _params(world, world["other"]))
    assert status == 403
    # the same officer on a case of this hall's own district is let through to the case rules
    assert _call(inproc_hall, route, headers, _params(world, world["own"])) not in (401, 403)


def test_regulator_reads_but_cannot_change(inproc_hall: InProcHall, world: dict[str, Any]) -> None:
    reg = {"Authorization": f"Bearer {inproc_hall.sign_in('r.reader', ('regulator',))}"}
    assert inproc_hall.client.get(f"/cases/{world['own']}", headers=reg).status_code == 200
    r = inproc_hall.client.post(f"/cases/{world['own']}/acceptance", json={"accepted": True}, headers=reg)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_page_guard_answers_pages_and_the_api_answers_json(inproc_hall: InProcHall) -> None:
    """The page guard (a dependency + exception handlers): the sign-in form, a refusal page, an error page on a
    guarded page; the same LedgerError outside a page stays the API's JSON error."""
    c = inproc_hall.client
    anon = c.get("/ui/cases")
    assert anon.status_code == 401 and anon.headers["content-type"].startswith("text/html")
    assert 'data-next="/ui/cases"' in anon.text  # the form brings the staff member back here
    clerk = {"Authorization": f"Bearer {inproc_hall.sign_in('p.clerk', ('clerk',))}"}  # the walk logs out its own
    refused = c.get("/ui/health", headers=clerk)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    assert "没有使用此页面的权限" in refused.text
    missing = c.get("/ui/cases/TB-NO-SUCH-CASE", headers=clerk)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "Traceback" not in missing.text and "<html" in missing.text
    api = c.get("/cases/TB-NO-SUCH-CASE", headers=clerk)
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
