"""Regression tests for the holes of issue 11 (items 1–6) and 13.4 in the pure verifier: each case is built
the way the contracts build one (ledger.dev.scenario), then checked with ledger.verify alone."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from ledger.core.bundle import EvidenceBundle, parse_bundle, parse_bundle_bytes
from ledger.core.facts import ChainFacts
from ledger.core.jsonsafe import json_depth
from ledger.core.suites import GM
from ledger.dev.scenario import Scenario, _iso, block_time
from ledger.errors import InputError, VerificationError
from ledger.hall.report_html import render_check_html
from ledger.verify.checks import TIME_TOLERANCE_S, verify_bundle, verify_document
from ledger.verify.cli import render_text
from ledger.verify.report import VerificationReport

STD = Scenario.standard()


def _codes(report: VerificationReport) -> dict[int, list[str]]:
    return {e.index: [r.code for r in e.reasons] for e in report.events if e.reasons}


def _json(bundle: EvidenceBundle) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(bundle.dump())
    return out


# ------------------------------------------------------------------------------------------ 1: serial squatting
def test_serial_squatting_intake_written_by_another_hall_is_no_right() -> None:
    bundle, facts = STD.replace_step(0, writer="hall_c").build()
    report = verify_bundle(bundle, facts)
    assert report.verdict == "mismatch" and _codes(report) == {0: ["writer_no_right"]}


def test_serial_squatting_bundle_of_another_halls_case_is_incomplete() -> None:
    """Hall 3 opened hall 1's serial: the case (1, serial) is not on chain, so hall 3's bundle cannot pass as it."""
    squat = replace(STD, accepting_hall=3)
    for i in (0, 1, 7):
        squat = squat.replace_step(i, writer="hall_c")
    bundle, _ = squat.build()
    _, unknown = replace(STD, steps=[]).build()
    claimed = bundle.model_copy(update={"accepting_hall": 1})
    report = verify_bundle(claimed, unknown)
    assert report.verdict == "incomplete" and [r.code for r in report.reasons] == ["case_unknown"]
    assert unknown.case_id != squat.build()[1].case_id


# ------------------------------------------------------------------------------------------ 2: disputes
def test_dispute_resolved_by_non_opener_is_a_mismatch() -> None:
    report = verify_bundle(*STD.replace_step(6, writer="officer2").build())
    assert report.verdict == "mismatch" and _codes(report) == {6: ["dispute_not_opener"]}


def test_dispute_resolved_by_arbiter_matches() -> None:
    assert verify_bundle(*STD.replace_step(6, writer="arbiter").build()).verdict == "match"


def test_dispute_resolution_naming_no_open_dispute_is_a_mismatch() -> None:
    assert _codes(verify_bundle(*STD.replace_step(6, ref=3).build())) == {6: ["dispute_ref_invalid"]}
    assert _codes(verify_bundle(*STD.replace_step(6, resolves=2).build())) == {6: ["resolves_mismatch"]}


# ------------------------------------------------------------------------------------------ 3: back-dating
def test_backdated_acceptance_is_reported_with_claimed_time_block_time_and_lag() -> None:
    bundle, facts = STD.replace_step(2, at="2020-01-02T09:00:00+08:00").build()
    report = verify_bundle(bundle, facts)
    assert report.verdict == "match"  # the chain proves only "no later than": a finding, not a mismatch
    e = report.events[2]
    assert e.claimed_at == "2020-01-02T09:00:00+08:00" and e.time == block_time(14)
    assert e.claimed_time is not None and e.lag_s == block_time(14) - e.claimed_time > 6 * 3600
    assert [f.code for f in e.findings] == ["anchored_late"]
    assert all(not x.findings for x in report.events if x.index != 2)
    zh, en = render_text(report, "zh"), render_text(report, "en")
    assert "办理时间仅能证明不晚于上链时间" in zh and "2020-01-02T09:00:00+08:00" in zh
    assert "only proven to be no later than" in en


def test_backdated_acceptance_is_printed_plainly_in_the_html_report() -> None:
    from ledger.hall.disputes import StoredCheck

    bundle, facts = STD.replace_step(2, at="2020-01-02T09:00:00+08:00").build()
    report = verify_bundle(bundle, facts)
    check = StoredCheck(
        kind="bundle",
        serial=STD.serial,
        sha256="00" * 32,
        verdict=report.verdict,
        checked_at="",
        staff="d",
        hall_id=1,
        report=json.loads(report.model_dump_json()),
    )
    for lang, text in (("zh", "办理时间仅能证明不晚于上链时间"), ("en", "only proven to be no later than")):
        assert text in render_check_html(check, lang=lang)


def test_backdated_acceptance_bound_is_configurable() -> None:
    bundle, facts = STD.replace_step(2, at=_iso(block_time(14) - 2 * 3600)).build()
    assert not verify_bundle(bundle, facts).findings
    assert [f.code for _, f in verify_bundle(bundle, facts, max_anchor_lag_s=3600).findings] == ["anchored_late"]


@pytest.mark.parametrize(("after", "codes"), [(TIME_TOLERANCE_S, []), (TIME_TOLERANCE_S + 1, ["time_after_anchor"])])
def test_claimed_time_after_its_block_beyond_the_tolerance_is_a_mismatch(after: int, codes: list[str]) -> None:
    report = verify_bundle(*STD.replace_step(2, at=_iso(block_time(14) + after)).build())
    assert _codes(report).get(2, []) == codes


def test_record_without_claimed_time_is_a_mismatch() -> None:
    report = verify_bundle(*replace(STD, omit_at=frozenset({3})).build())
    assert _codes(report) == {3: ["claimed_time_missing"]}


def test_record_of_another_intake_is_a_mismatch() -> None:
    report = verify_bundle(*STD.replace_step(1, intake_commitment="0x" + "ab" * 32).build())
    assert _codes(report) == {1: ["intake_commitment_mismatch"]}


# ------------------------------------------------------------------------------------------ 4: coordinates
@pytest.mark.parametrize(
    ("field", "value"),
    [("chain_id", 1), ("ledger", "0x" + "12" * 20), ("registry", "0x" + "34" * 20), ("suite", "gm")],
)
def test_bundle_wrong_chain_id_is_unusable(field: str, value: Any) -> None:
    """(and the ledger, registry and suite): unusable input naming the field and both values."""
    bundle, facts = STD.build()
    with pytest.raises(InputError) as err:
        verify_bundle(bundle.model_copy(update={field: value}), facts)
    assert err.value.field == field
    assert str(value) in err.value.text and str(getattr(bundle, field)).lower() in err.value.text.lower()


# ------------------------------------------------------------------------------------------ 5: material proofs
def test_material_proof_tree_size_other_than_committed_is_refused() -> None:
    bundle, facts = STD.build()
    b = _json(bundle)
    b["materials"][0]["proof"]["tree_size"] = 4
    report = verify_bundle(parse_bundle(b), facts)
    assert report.verdict == "mismatch"
    assert [r.code for r in report.materials[0].reasons] == ["material_tree_size_mismatch"]


def test_material_proof_tree_size_other_than_committed_is_refused_by_verify_document() -> None:
    bundle, facts = STD.build()
    m = bundle.materials[0]
    record = bundle.events[1].record
    assert record is not None
    content = m.content()
    assert content is not None
    verify_document(content, m.proof, record, facts.events[1], STD.suite)  # genuine: passes
    forged = m.proof.model_copy(update={"tree_size": 4})
    with pytest.raises(VerificationError, match="commits to 3"):
        verify_document(content, forged, record, facts.events[1], STD.suite)


# ------------------------------------------------------------------------------------------ 6: malformed input
@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["events"][0].update(block=str(b["events"][0]["block"])), "events.0.block"),
        (lambda b: b["materials"][0].update(content_b64="@@@"), "materials.0.content_b64"),
        (
            lambda b: b["events"][2]["record"]["fields"].update(decision={"nested": True}),
            "events.2.record.fields.decision",
        ),
        (lambda b: b["events"][2]["record"]["fields"].update(Decision="x"), "events.2.record.fields.Decision"),
        (lambda b: b["events"][2].update(index=1), "events.2"),
        (lambda b: b.update(format="caseledger-evidence/1"), "format"),
    ],
    ids=["integer_as_string", "bad_base64", "nested_value", "field_name", "duplicate_index", "format_1"],
)
def test_malformed_bundle_is_unusable_input(mutate: Any, field: str) -> None:
    bundle, facts = STD.build()
    b = _json(bundle)
    mutate(b)
    with pytest.raises(InputError) as err:
        verify_bundle(parse_bundle_bytes(json.dumps(b).encode()), facts)
    assert err.value.field == field


def test_malformed_bundle_deeply_nested_is_refused_before_parsing() -> None:
    raw = b"[" * 100_000
    with pytest.raises(InputError, match="nests 100000 levels deep; at most 32"):
        parse_bundle_bytes(raw)
    assert json_depth(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"[", "b": [1, [2]]}') == 3


def test_format_1_bundle_names_the_release_that_checks_it() -> None:
    with pytest.raises(InputError, match="0.1.x"):
        parse_bundle({"format": "caseledger-evidence/1", "events": []})


# ------------------------------------------------------------------------------------------ 13.4: incomplete
def test_empty_bundle_is_incomplete() -> None:
    bundle, facts = STD.build()
    report = verify_bundle(bundle.model_copy(update={"events": [], "materials": []}), facts)
    assert report.verdict == "incomplete" and report.exit_code == 1
    assert [r.code for r in report.reasons] == ["bundle_empty"]


def test_partial_bundle_with_unanchored_records_is_incomplete() -> None:
    bundle, facts = STD.build()
    report = verify_bundle(bundle.model_copy(update={"pending_records": 1}), facts)
    assert report.verdict == "incomplete" and [r.code for r in report.reasons] == ["records_not_anchored"]


def test_bundle_of_a_case_the_chain_does_not_know_is_incomplete() -> None:
    bundle, _ = STD.build()
    _, unknown = replace(STD, steps=[]).build()
    report = verify_bundle(bundle, unknown)
    assert report.verdict == "incomplete" and [r.code for r in report.reasons] == ["case_unknown"]


def test_gm_suite_bundle_verifies_and_a_gm_digest_is_not_a_sha256() -> None:
    gm = Scenario.standard(suite=GM)
    bundle, facts = gm.build()
    assert verify_bundle(bundle, facts).verdict == "match"
    assert bundle.materials[0].proof.file.digest != STD.build()[0].materials[0].proof.file.digest
    assert isinstance(facts, ChainFacts) and facts.suite == "gm"


def test_back_link_walk_that_cannot_finish_is_a_chain_error_not_a_verdict() -> None:
    """docs/verification.md §4.7: a back-link to a block holding none of the case's events (or no registry
    change) ends the read with a ChainError (the CLI's exit 2), never with a partial list taken as complete."""
    from ledger.core.chainlog import walk_case, walk_registry
    from ledger.errors import ChainError

    with pytest.raises(ChainError, match="block 7 holds none"):
        walk_case(7, lambda b: [])
    with pytest.raises(ChainError, match="block 9 holds no registry change"):
        walk_registry(9, lambda b: [])
    assert walk_case(0, lambda b: []) == [] and walk_registry(0, lambda b: []) == []


def test_untrusted_addresses_make_a_clean_bundle_incomplete_regression() -> None:
    """A bundle's own ledger address proves nothing: read there, a bundle that matches in every event is
    incomplete (deployment_untrusted), exit 1 — it was a plain match."""
    bundle, facts = replace(Scenario.standard(), trusted=False).build()
    report = verify_bundle(bundle, facts)
    assert report.verdict == "incomplete" and report.exit_code == 1
    assert [r.code for r in report.reasons] == ["deployment_untrusted"] and report.addresses_from == "bundle"
    assert all(e.status == "match" for e in report.events)
    assert "未对照联盟公布的部署信息" in render_text(report, "zh")
