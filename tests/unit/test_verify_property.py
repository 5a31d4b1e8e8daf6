"""Property: any single-field change in a bundle's record is flagged at exactly that event (pure verifier,
synthetic chain facts built the way the contract builds them)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.bundle import BundleEvent, EvidenceBundle
from ledger.core.facts import ChainEventFact, ChainFacts, RegistryFact
from ledger.core.hashchain import case_id, next_head
from ledger.core.records import SaltedRecord
from ledger.core.stages import Stage
from ledger.verify.checks import verify_bundle
from tests.conftest import case_facts

SERIAL = "TB-PROP-1"
A, B = "0x" + "aa" * 20, "0x" + "bb" * 20  # accepting hall 1 (district 350502), home hall 2 (350503)
PLAN: list[tuple[Stage, str, dict[str, Any]]] = [
    (Stage.INTAKE, A, {"item_code": "BDC-TRANSFER", "applicant_name": "王小明"}),
    (Stage.MATERIALS, A, {"materials_root": "00" * 32, "materials_count": 0}),
    (Stage.ACCEPTANCE, B, {"decision": "accepted"}),
    (Stage.PROCESS, B, {"step": "review", "note": "ok"}),
    (Stage.RESULT, B, {"decision": "approved"}),
    (Stage.DELIVERY, A, {"method": "counter"}),
]
RECORDS = [SaltedRecord.new(SERIAL, stage, fields) for stage, _, fields in PLAN]


def _world() -> tuple[EvidenceBundle, ChainFacts]:
    prev, events, bevents = case_id(SERIAL), [], []
    for i, ((stage, writer, _), rec) in enumerate(zip(PLAN, RECORDS, strict=True)):
        head = next_head(prev, stage, rec.commitment, writer)
        prev = head
        hall = 1 if writer == A else 2
        common = {
            "index": i,
            "writer": writer,
            "hall_id": hall,
            "block": 10 + i,
            "time": 1_790_000_000 + i,
            "commitment": "0x" + rec.commitment.hex(),
            "head": "0x" + head.hex(),
            "tx": "0x" + f"{i:064x}",
        }
        events.append(ChainEventFact(stage=stage, log_index=0, **common))
        bevents.append(BundleEvent(stage=stage.name, record=rec.disclose(), **common))
    reg = [
        RegistryFact(kind="registered", hall_id=1, account=A, district=350502, block=1, log_index=0),
        RegistryFact(kind="registered", hall_id=2, account=B, district=350503, block=1, log_index=1),
    ]
    facts = case_facts(SERIAL, events, reg, head="0x" + prev.hex(), ledger="0x" + "11" * 20, registry="0x" + "22" * 20)
    bundle = EvidenceBundle(
        serial=SERIAL, chain_id=1, ledger=facts.ledger, registry=facts.registry, exported_at="", events=bevents
    )
    return bundle, facts


BUNDLE, FACTS = _world()


def test_untouched_synthetic_bundle_verifies() -> None:
    assert verify_bundle(BUNDLE, FACTS).ok


@settings(max_examples=200, deadline=None)
@given(
    event=st.integers(0, len(PLAN) - 1),
    data=st.data(),
    value=st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none()),
)
def test_any_single_field_change_is_flagged_at_that_event(event: int, data: st.DataObject, value: Any) -> None:
    rec = BUNDLE.events[event].record
    assert rec is not None
    name = data.draw(st.sampled_from(sorted(rec.fields)))
    if rec.fields[name] == value:
        return
    tampered = rec.model_copy(update={"fields": {**rec.fields, name: value}})
    events = list(BUNDLE.events)
    events[event] = events[event].model_copy(update={"record": tampered})
    report = verify_bundle(BUNDLE.model_copy(update={"events": events}), FACTS)
    bad = [e.index for e in report.events if e.status != "match"]
    assert bad == [event]
    # a value RFC 8785 cannot canonicalise (an integer beyond 2^53) is named as a malformed record
    assert {"record_mismatch", "record_malformed"} & {r.code for r in report.events[event].reasons}
