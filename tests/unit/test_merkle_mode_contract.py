"""Merkle mode under main's verifier contract: strict reading, trusted addresses, the contract's order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.core.bundle import parse_bundle
from ledger.core.caserules import RULE_CODE, case_state, next_state
from ledger.core.stages import Stage
from ledger.dev.scenario import vector_answer
from ledger.errors import InputError
from tests.conftest import VECTORS

HAPPY = VECTORS / "bundles" / "merkle_happy_intl.json"


def _happy() -> dict[str, Any]:
    v: dict[str, Any] = json.loads(HAPPY.read_text(encoding="utf-8"))
    return v


def test_merkle_bundle_without_a_batch_names_the_event() -> None:
    b = _happy()["bundle"]
    b["events"][2].pop("batch")
    with pytest.raises(InputError) as exc:
        parse_bundle(b)
    assert exc.value.field == "events.2.batch"
    assert "batch" in str(exc.value) and "bundle_value_form" not in str(exc.value)


def test_event_bundle_carrying_a_batch_is_unusable_input() -> None:
    b = _happy()["bundle"]
    b["mode"] = "event"
    with pytest.raises(InputError) as exc:
        parse_bundle(b)
    assert exc.value.field == "events.0.batch"


def test_merkle_duplicate_index_names_the_array_position() -> None:
    v = _happy()
    v["bundle"]["events"].append(json.loads(json.dumps(v["bundle"]["events"][1])))
    got = vector_answer(v)
    assert got == {"verdict": "unusable", "unusable_field": f"events.{len(v['bundle']['events']) - 1}"}


def test_merkle_facts_at_the_bundles_own_addresses_are_at_best_incomplete() -> None:
    v = _happy()
    assert vector_answer(v)["verdict"] == "match"
    v["chain"]["addresses_from"] = "bundle"
    got = vector_answer(v)
    assert got["verdict"] == "incomplete" and got["bundle"] == ["deployment_untrusted"]


def test_merkle_registry_read_that_does_not_join_up_is_a_mismatch() -> None:
    v = _happy()
    reg = v["chain"]["registry_log"]
    assert len(reg) >= 2
    reg[-1]["prev_change_block"] = reg[-1]["block"] + 1  # names no earlier change: a change was left out
    got = vector_answer(v)
    assert got["verdict"] == "mismatch" and "registry_read_incomplete" in got["bundle"]


def _state_after_intake() -> dict[str, Any]:
    st = case_state(1, "TB-1", 350503)
    st, err = next_state(
        st,
        stage=Stage.INTAKE,
        commitment=b"\x01" * 32,
        writer=b"\x02" * 20,
        writer_hall=1,
        writer_district=350503,
        ref=0,
        officer=False,
        arbiter=False,
        batch=(1, 1),
    )
    assert err is None
    return st


def test_merkle_dispute_rules_follow_the_contracts_order() -> None:
    """CaseLedger._append checks a DISPUTE_OPENED's ref before its writer: a non-officer naming a ref is
    refused for the ref (before the fix the leaf rules named the writer first)."""
    _, err = next_state(
        _state_after_intake(),
        stage=Stage.DISPUTE_OPENED,
        commitment=b"\x03" * 32,
        writer=b"\x04" * 20,
        writer_hall=2,
        writer_district=350503,
        ref=1,
        officer=False,
        arbiter=False,
        batch=(2, 1),
    )
    assert err is not None and err.rule == "CaseLedgerRefNotAllowed"
    assert RULE_CODE[err.rule] == "ref_not_allowed"


def test_merkle_rule_codes_are_the_event_mode_re_checks() -> None:
    assert RULE_CODE["CaseLedgerRefNotAllowed"] == "ref_not_allowed"
    assert RULE_CODE["CaseLedgerTooManyDisputes"] == "too_many_disputes"
    assert RULE_CODE["CaseLedgerNoOpenDispute"] == "dispute_ref_invalid"
