"""Salted record commitments and selective disclosure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ledger.core.records import PROTECTED_FIELDS, DisclosedRecord, SaltedRecord, field_leaf, verify_disclosure
from ledger.core.stages import Stage
from ledger.core.suites import GM
from ledger.errors import InputError, VerificationError

AT = "2026-12-01T10:11:32+08:00"
IC = "0x" + "ab" * 32


def _new(serial: str, stage: Stage, fields: dict[str, object], **kw: object) -> SaltedRecord:
    frame: dict[str, object] = {"at": AT}
    if stage != Stage.INTAKE:
        frame["intake_commitment"] = IC
    if stage == Stage.DISPUTE_RESOLVED:
        frame["resolves"] = 4
    return SaltedRecord.new(serial, stage, fields, **{**frame, **kw})  # type: ignore[arg-type]


APPLICANT = {
    "item_code": "FW-001",
    "applicant_name": "张三",
    "applicant_id_number": "350502199001011234",
    "applicant_phone": "13800000000",
}


def test_commitment_binds_serial_stage_and_time() -> None:
    r = _new("TB-1", Stage.INTAKE, APPLICANT)
    assert r.fields["case_serial"] == "TB-1" and r.fields["stage"] == "INTAKE" and r.fields["at"] == AT
    assert "intake_commitment" not in r.fields
    assert len(r.commitment) == 32


def test_every_stage_after_intake_names_the_intake() -> None:
    r = _new("TB-1", Stage.MATERIALS, {"supplement": False})
    assert r.fields["intake_commitment"] == IC
    for bad in (None, "ab" * 32, "0x" + "AB" * 32, "0x12"):
        with pytest.raises(InputError) as err:
            SaltedRecord.new("TB-1", Stage.MATERIALS, {}, at=AT, intake_commitment=bad)
        assert err.value.field == "intake_commitment"
    with pytest.raises(InputError):
        SaltedRecord.new("TB-1", Stage.INTAKE, {}, at=AT, intake_commitment=IC)


def test_dispute_resolved_and_only_it_names_the_dispute() -> None:
    r = _new("TB-1", Stage.DISPUTE_RESOLVED, {"verdict": "match"})
    assert r.fields["resolves"] == 4
    with pytest.raises(InputError):
        SaltedRecord.new("TB-1", Stage.DISPUTE_RESOLVED, {}, at=AT, intake_commitment=IC)
    with pytest.raises(InputError):
        SaltedRecord.new("TB-1", Stage.PROCESS, {}, at=AT, intake_commitment=IC, resolves=4)
    with pytest.raises(InputError):
        SaltedRecord.new("TB-1", Stage.DISPUTE_RESOLVED, {}, at=AT, intake_commitment=IC, resolves=0)


@pytest.mark.parametrize("at", ["2026-12-01T10:11:32", "2026-12-01 10:11:32+08:00", "2026-12-01T10:11:32.5+08:00", ""])
def test_at_is_rfc3339_with_offset_and_whole_seconds(at: str) -> None:
    with pytest.raises(InputError) as err:
        SaltedRecord.new("TB-1", Stage.INTAKE, {}, at=at)
    assert err.value.field == "at"
    SaltedRecord.new("TB-1", Stage.INTAKE, {}, at="2026-12-01T02:11:32Z")


@pytest.mark.parametrize("value", [1.5, [1, 2], {"a": 1}, 2**53, -(2**53), ("x",)])
def test_record_values_are_scalars_only(value: object) -> None:
    with pytest.raises(InputError) as err:
        _new("TB-1", Stage.PROCESS, {"v": value})
    assert err.value.field == "v"


def test_frame_fields_are_not_passed_as_fields() -> None:
    for name in PROTECTED_FIELDS:
        with pytest.raises(InputError) as err:
            _new("TB-1", Stage.PROCESS, {name: "x"})
        assert err.value.field == name


def test_disclosed_record_types_are_strict() -> None:
    for bad in (
        {"fields": {"a": 1.5}, "salts": {"a": "00" * 32}},
        {"fields": {"a": [1]}, "salts": {"a": "00" * 32}},
        {"fields": {"A": 1}, "salts": {"A": "00" * 32}},
        {"fields": {"a": 1}, "salts": {"a": "0X" + "00" * 31}},
        {"fields": {"a": 1}, "salts": {"a": "00" * 32}, "extra": 1},
    ):
        with pytest.raises(ValidationError):
            DisclosedRecord.model_validate(bad)


def test_gm_commitments_differ_from_intl_and_verify_under_gm_only() -> None:
    salts = dict.fromkeys(("item_code", "case_serial", "stage", "at"), "11" * 32)
    a = SaltedRecord.new("TB-1", Stage.INTAKE, {"item_code": "FW-001"}, at=AT, salts=salts)
    b = SaltedRecord.new("TB-1", Stage.INTAKE, {"item_code": "FW-001"}, at=AT, salts=salts, suite=GM)
    assert a.commitment != b.commitment
    verify_disclosure(b.disclose(), b.commitment, GM)
    with pytest.raises(VerificationError):
        verify_disclosure(b.disclose(), b.commitment)


def test_same_fields_fresh_salts_give_different_commitments() -> None:
    a = _new("TB-1", Stage.INTAKE, APPLICANT)
    b = _new("TB-1", Stage.INTAKE, APPLICANT)
    assert a.commitment != b.commitment
    assert all(len(s) == 64 for s in a.salts.values())
    assert set(a.salts.values()).isdisjoint(b.salts.values())


def test_full_and_redacted_disclosures_verify() -> None:
    r = _new("TB-1", Stage.INTAKE, APPLICANT)
    verify_disclosure(r.disclose(), r.commitment)
    shown = r.disclose(withhold={"applicant_id_number", "applicant_phone"})
    assert "applicant_id_number" not in shown.fields and "applicant_id_number" not in shown.salts
    assert set(shown.withheld) == {"applicant_id_number", "applicant_phone"}
    assert "350502199001011234" not in shown.model_dump_json()
    verify_disclosure(shown, r.commitment)


def test_frame_fields_cannot_be_withheld() -> None:
    r = _new("TB-1", Stage.DISPUTE_RESOLVED, APPLICANT)
    assert set(r.disclose(withhold=set(PROTECTED_FIELDS)).withheld) == set()


@pytest.mark.parametrize(
    ("desc", "change"),
    [
        ("changed value", lambda d: d.model_copy(update={"fields": {**d.fields, "applicant_name": "李四"}})),
        ("changed salt", lambda d: d.model_copy(update={"salts": {**d.salts, "item_code": "00" * 32}})),
        ("dropped field", lambda d: d.model_copy(update={"fields": _drop(d.fields), "salts": _drop(d.salts)})),
        ("forged withheld leaf", lambda d: d.model_copy(update={"withheld": {"applicant_phone": "11" * 32}})),
        ("moved to another case", lambda d: d.model_copy(update={"fields": {**d.fields, "case_serial": "TB-2"}})),
    ],
)
def test_tampering_is_detected(desc: str, change) -> None:  # type: ignore[no-untyped-def]
    r = _new("TB-1", Stage.INTAKE, APPLICANT)
    shown = r.disclose(withhold={"applicant_phone"})
    with pytest.raises(VerificationError) as err:
        verify_disclosure(change(shown), r.commitment)
    assert err.value.expected == r.commitment.hex() or err.value.where


def _drop(d: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in d.items() if k != "applicant_name"}


def test_unpaired_salts_are_refused() -> None:
    bad = DisclosedRecord(fields={"a": 1}, salts={})
    with pytest.raises(VerificationError, match="pair up"):
        bad.root()


def test_bad_field_names_are_refused_with_the_field() -> None:
    with pytest.raises(InputError) as err:
        _new("TB-1", Stage.INTAKE, {"Bad Name": 1})
    assert err.value.field == "Bad Name"


def test_leaf_depends_on_name_value_and_salt() -> None:
    base = field_leaf("a", "x", "00" * 32)
    assert base != field_leaf("b", "x", "00" * 32)
    assert base != field_leaf("a", "y", "00" * 32)
    assert base != field_leaf("a", "x", "01" * 32)


json_values = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20)
field_names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(lambda n: n not in PROTECTED_FIELDS)


@given(st.dictionaries(field_names, json_values, min_size=1, max_size=8), st.data())
def test_any_redaction_still_verifies(fields: dict[str, object], data: st.DataObject) -> None:
    r = _new("TB-X", Stage.PROCESS, fields)
    hidden = data.draw(st.sets(st.sampled_from(sorted(fields))))
    verify_disclosure(r.disclose(withhold=hidden), r.commitment)


@given(st.dictionaries(field_names, st.text(max_size=10), min_size=1, max_size=6), st.data())
def test_any_value_change_breaks_it(fields: dict[str, str], data: st.DataObject) -> None:
    r = _new("TB-X", Stage.PROCESS, fields)
    name = data.draw(st.sampled_from(sorted(fields)))
    shown = r.disclose()
    forged = shown.model_copy(update={"fields": {**shown.fields, name: fields[name] + "!"}})
    with pytest.raises(VerificationError):
        verify_disclosure(forged, r.commitment)


simple_values = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text()
ascii_keys = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=12)


@given(st.dictionaries(ascii_keys, simple_values, max_size=6))
def test_fast_canonical_path_equals_rfc8785(obj: dict[str, object]) -> None:
    import rfc8785

    from ledger.core.records import canonical_bytes

    assert canonical_bytes(obj) == rfc8785.dumps(obj)


def test_fast_path_covers_escapes_and_non_ascii() -> None:
    import rfc8785

    from ledger.core.records import canonical_bytes

    obj = {"v": 'a"b\\c\n\t\x01\x1f\u2028é泉州😀', "n": -(2**53) + 1, "z": None, "b": True}
    assert canonical_bytes(obj) == rfc8785.dumps(obj)
