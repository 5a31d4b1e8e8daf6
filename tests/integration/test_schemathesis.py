"""Schemathesis against the node's own OpenAPI spec, in-process over ASGI (real chain, real LevelDB).

Bounded: 20 examples per operation. Every answer must be below 500 and, where the spec documents
the status, conform to the response schema.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.integration.conftest import InProcHall

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ALL_ROLES = ("clerk", "officer", "dispute_officer", "regulator", "hall_admin")


def test_no_server_errors_and_schema_conformance(inproc_hall: InProcHall) -> None:
    auth = {"Authorization": f"Bearer {inproc_hall.sign_in('fuzz.all', ALL_ROLES)}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", inproc_hall.app)
    failures: list[str] = []
    ran = 0
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        if op.definition.raw.get("operationId") == "logout":  # would end the fuzzer's own session
            continue

        @given(case=op.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            r = case.call_and_validate(headers=auth, checks=[not_a_server_error, response_schema_conformance])
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        try:
            run()
        except Exception as exc:  # collect every failing operation, not just the first
            failures.append(f"{op.label}: {str(exc)[:600]}")
        ran += 1
    assert ran >= 30
    # the fuzzer got past authentication and into the handlers, not just 401s
    assert statuses.get(200, 0) + statuses.get(201, 0) > 20 and statuses.get(422, 0) > 20, statuses
    assert not failures, "\n\n".join(failures)
