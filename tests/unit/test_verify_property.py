"""Property: any single-field change in a bundle's record is flagged at exactly that event (pure verifier,
synthetic chain facts built the way the contracts build them, in both hash suites)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.suites import GM, INTL
from ledger.dev.scenario import Scenario
from ledger.verify.checks import verify_bundle

WORLDS = {s.name: Scenario.standard(suite=s).build() for s in (INTL, GM)}


@pytest.mark.parametrize("suite", sorted(WORLDS))
def test_untouched_synthetic_bundle_verifies(suite: str) -> None:
    bundle, facts = WORLDS[suite]
    assert verify_bundle(bundle, facts).verdict == "match"


@settings(max_examples=200, deadline=None)
@given(
    suite=st.sampled_from(sorted(WORLDS)),
    event=st.integers(0, 7),
    data=st.data(),
    value=st.one_of(st.text(max_size=8), st.integers(-(2**53 - 1), 2**53 - 1), st.booleans(), st.none()),
)
def test_any_single_field_change_is_flagged_at_that_event(
    suite: str, event: int, data: st.DataObject, value: Any
) -> None:
    bundle, facts = WORLDS[suite]
    rec = bundle.events[event].record
    assert rec is not None
    name = data.draw(st.sampled_from(sorted(rec.fields)))
    if rec.fields[name] == value:
        return
    tampered = rec.model_copy(update={"fields": {**rec.fields, name: value}})
    events = [e.model_copy(update={"record": tampered}) if e.index == event else e for e in bundle.events]
    report = verify_bundle(bundle.model_copy(update={"events": events}), facts)
    assert report.verdict == "mismatch"
    bad = [e.index for e in report.events if e.status != "match"]
    assert bad == [event]
    codes = {r.code for r in report.events[event].reasons}
    assert "record_mismatch" in codes
