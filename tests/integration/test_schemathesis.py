"""Schemathesis against the node's own OpenAPI spec: in-process over ASGI, and against a live hall process
over real HTTP (real chain, real LevelDB in both).

Bounded: 20 examples per operation. Each operation is called with a session that may use it (the role
table of tests/integration/test_role_matrix.py), so the fuzzer gets past the role checks into the
handlers. Every answer must be below 500 and, where the spec documents the status, conform to the
response schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from ledger.dev.demo import HallClient
from ledger.dev.devchain import free_port
from ledger.dev.localnet import LocalNet
from ledger.hall.accounts import CASE_ROLES
from tests.integration.conftest import FAST_NODE_ENV, InProcHall
from tests.integration.test_role_matrix import RULES

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _who(operation_id: str) -> str:
    """Which session to fuzz an operation with: the case worker (every case role) or the one administrator."""
    rule = RULES.get(operation_id)
    if not isinstance(rule, set) or rule & CASE_ROLES:
        return "case"
    return next(r for r in ("sys_admin", "security_admin", "auditor") if r in rule)


def _runner(
    op: Any, headers: dict[str, str], call: Callable[[Any, dict[str, str]], Any], statuses: dict[int, int]
) -> Callable[[], None]:
    @given(case=op.as_strategy())
    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        r = call(case, headers)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    return run  # type: ignore[no-any-return]


def _fuzz(schema: Any, auth: dict[str, dict[str, str]], call: Callable[[Any, dict[str, str]], Any]) -> None:
    failures: list[str] = []
    ran = 0
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        op_id = str(op.definition.raw.get("operationId"))
        if op_id == "logout":  # would end the fuzzer's own session
            continue
        run = _runner(op, auth[_who(op_id)], call, statuses)
        try:
            run()
        except Exception as exc:  # collect every failing operation, not just the first
            failures.append(f"{op.label}: {str(exc)[:600]}")
        ran += 1
    assert ran >= 30, failures
    # the fuzzer got past authentication and into the handlers, not just 401s
    assert statuses.get(200, 0) + statuses.get(201, 0) > 20 and statuses.get(422, 0) > 20, (statuses, failures[:3])
    assert not failures, "\n\n".join(failures)


def _checks(case: Any, headers: dict[str, str], **kw: Any) -> Any:
    return case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance], **kw)


def test_no_server_errors_and_schema_conformance(inproc_hall: InProcHall) -> None:
    h = inproc_hall
    auth = {
        "case": {"Authorization": f"Bearer {h.sign_in('fuzz.case', tuple(sorted(CASE_ROLES)))}"},
        "sys_admin": {"Authorization": f"Bearer {h.sign_in('fuzz.sys', ('sys_admin',))}"},
        "security_admin": {"Authorization": f"Bearer {h.sign_in('fuzz.sec', ('security_admin',))}"},
        "auditor": {"Authorization": f"Bearer {h.sign_in('fuzz.aud', ('auditor',))}"},
    }
    _fuzz(schemathesis.openapi.from_asgi("/openapi.json", h.app), auth, _checks)


@pytest.fixture(scope="module")
def live_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    net = LocalNet(
        Path(tmp_path_factory.mktemp("fuzz")),
        halls=1,
        chain_port=free_port(),
        hall_ports=[free_port()],
        node_env=FAST_NODE_ENV,
    )
    try:
        net.up(timeout=60)
        yield net
    finally:
        net.down()


def test_live_node_over_http_no_server_errors_and_schema_conformance(live_hall: LocalNet) -> None:
    """The same probe against a running hall process (uvicorn, httptools, the real middleware stack)."""
    h = live_hall.halls[0]
    users = {"case": "demo", "sys_admin": "admin", "security_admin": "secadmin", "auditor": "auditor"}
    auth = {k: {"Authorization": f"Bearer {HallClient.demo(h['dir'], h['url'], u).token}"} for k, u in users.items()}
    schema = schemathesis.openapi.from_url(h["url"] + "/openapi.json")
    _fuzz(schema, auth, lambda case, headers: _checks(case, headers, base_url=h["url"]))
    assert HallClient.demo(h["dir"], h["url"], "demo").health()["status"] in ("ok", "degraded")  # still up
