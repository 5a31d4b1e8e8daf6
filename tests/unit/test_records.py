"""Salted record commitments and selective disclosure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.core.records import DisclosedRecord, SaltedRecord, field_leaf, verify_disclosure
from ledger.core.stages import Stage
from ledger.errors import InputError, VerificationError

APPLICANT = {
    "item_code": "FW-001",
    "applicant_name": "张三",
    "applicant_id_number": "350502199001011234",
    "applicant_phone": "13800000000",
}


def test_commitment_binds_serial_and_stage() -> None:
    r = SaltedRecord.new("TB-1", Stage.INTAKE, APPLICANT)
    assert r.fields["case_serial"] == "TB-1" and r.fields["stage"] == "INTAKE"
    assert len(r.commitment) == 32


def test_same_fields_fresh_salts_give_different_commitments() -> None:
    a = SaltedRecord.new("TB-1", Stage.INTAKE, APPLICANT)
    b = SaltedRecord.new("TB-1", Stage.INTAKE, APPLICANT)
    assert a.commitment != b.commitment
    assert all(len(s) == 64 for s in a.salts.values())
    assert set(a.salts.values()).isdisjoint(b.salts.values())


def test_full_and_redacted_disclosures_verify() -> None:
    r = SaltedRecord.new("TB-1", Stage.INTAKE, APPLICANT)
    verify_disclosure(r.disclose(), r.commitment)
    shown = r.disclose(withhold={"applicant_id_number", "applicant_phone"})
    assert "applicant_id_number" not in shown.fields and "applicant_id_number" not in shown.salts
    assert set(shown.withheld) == {"applicant_id_number", "applicant_phone"}
    assert "350502199001011234" not in shown.model_dump_json()
    verify_disclosure(shown, r.commitment)


def test_case_serial_and_stage_cannot_be_withheld() -> None:
    r = SaltedRecord.new("TB-1", Stage.INTAKE, APPLICANT)
    assert set(r.disclose(withhold={"case_serial", "stage"}).withheld) == set()


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
    r = SaltedRecord.new("TB-1", Stage.INTAKE, APPLICANT)
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
        SaltedRecord.new("TB-1", Stage.INTAKE, {"Bad Name": 1})
    assert err.value.field == "Bad Name"


def test_leaf_depends_on_name_value_and_salt() -> None:
    base = field_leaf("a", "x", "00" * 32)
    assert base != field_leaf("b", "x", "00" * 32)
    assert base != field_leaf("a", "y", "00" * 32)
    assert base != field_leaf("a", "x", "01" * 32)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
field_names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(lambda n: n not in {"case_serial", "stage"})


@given(st.dictionaries(field_names, json_values, min_size=1, max_size=8), st.data())
def test_any_redaction_still_verifies(fields: dict[str, object], data: st.DataObject) -> None:
    r = SaltedRecord.new("TB-X", Stage.PROCESS, fields)
    hidden = data.draw(st.sets(st.sampled_from(sorted(fields))))
    verify_disclosure(r.disclose(withhold=hidden), r.commitment)


@given(st.dictionaries(field_names, st.text(max_size=10), min_size=1, max_size=6), st.data())
def test_any_value_change_breaks_it(fields: dict[str, str], data: st.DataObject) -> None:
    r = SaltedRecord.new("TB-X", Stage.PROCESS, fields)
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
