"""ID documents and organisation codes, each by its own published rule (ledger/hall/identity.py, issue 18)."""

from __future__ import annotations

import pytest

from ledger.dev.demo import demo_id_number
from ledger.errors import InputError
from ledger.hall.identity import (
    _mrz_check_digit,
    check_credit_code,
    check_id,
    credit_code_region,
    mask_id,
    resident_id_region,
)
from ledger.hall.idnumber import id_check_character


def _code(kind: str, value: str) -> str:
    with pytest.raises(InputError) as e:
        check_id(kind, value, "applicant_id_number")
    assert e.value.field == "applicant_id_number" and e.value.message("zh")
    return e.value.message_code


def test_resident_id_check_character_birth_date_and_width() -> None:
    assert check_id("resident_id", "11010519491231002x") == "11010519491231002X"  # GB 11643's own example
    assert check_id("resident_id", "１１０１０５１９４９１２３１００２Ｘ") == "11010519491231002X"  # full width
    assert _code("resident_id", "110105194912310021") == "id_check_character"
    assert _code("resident_id", "1101051949123100") == "id_resident_format"
    bad_date = "35050219900230" + "123"  # 30 February
    assert _code("resident_id", bad_date + id_check_character(bad_date)) == "id_birth_date"
    assert _code("resident_id", "  ") == "id_number_required"


def test_residence_permit_is_a_gb11643_number_of_hong_kong_macao_or_taiwan() -> None:
    for region in ("810000", "820000", "830000"):
        n = demo_id_number(region + "19940823002")
        assert check_id("residence_permit", n) == n
    assert _code("residence_permit", demo_id_number("35050219940823002")) == "id_residence_permit_region"
    assert _code("residence_permit", "810000199408230022") == "id_check_character"


def test_icao_check_digit_matches_the_specimen_of_doc_9303() -> None:
    # ICAO Doc 9303 part 3 specimen: document number L898902C3 → 6, birth 740812 → 2, expiry 120415 → 9
    assert _mrz_check_digit("L898902C3") == "6"
    assert _mrz_check_digit("740812") == "2"
    assert _mrz_check_digit("120415") == "9"


def test_foreigner_permanent_residence_id_old_and_2023_cards() -> None:
    old = "USA3100" + "850612" + "1"  # nationality, issuing region, birth YYMMDD, sequence
    old += _mrz_check_digit(old)
    assert check_id("foreign_permanent", old.lower()) == old
    assert _code("foreign_permanent", old[:-1] + str((int(old[-1]) + 1) % 10)) == "id_foreigner_check"
    new = "9" + "35" + "840" + "19850612" + "001"  # 2023 card: province, ISO numeric nationality, birth, sequence
    new += id_check_character(new)
    assert check_id("foreign_permanent", new) == new
    assert _code("foreign_permanent", new[:-1] + ("0" if new[-1] != "0" else "1")) == "id_foreigner_check"
    assert _code("foreign_permanent", "USA31008506121") == "id_foreigner_format"  # 14 characters


def test_passports_and_home_return_permits() -> None:
    assert check_id("passport", "E12345678") == "E12345678"
    assert check_id("passport", "EA1234567") == "EA1234567"  # since 2017
    assert check_id("passport", "G12345678") == "G12345678"
    assert check_id("passport", "X1234567") == "X1234567"  # another country's number
    assert _code("passport", "EI1234567") == "id_passport_format"  # no I in a Chinese passport's letters
    assert _code("passport", "E-123") == "id_passport_format"
    assert check_id("hk_macao_permit", "H12345678") == "H12345678"
    assert check_id("hk_macao_permit", "M1234567801") == "M1234567801"  # with the issue count
    assert _code("hk_macao_permit", "X1234567") == "id_hk_macao_permit_format"


@pytest.mark.parametrize(
    "code",
    # published codes of four large companies (business licences): independent of our implementation
    ["914403001922038216", "91330100799655058B", "9144030071526726XG", "91110000100017643K"],
)
def test_unified_social_credit_codes_of_real_companies_pass(code: str) -> None:
    assert check_credit_code(code.lower()) == code


def test_credit_code_refusals_and_region() -> None:
    with pytest.raises(InputError) as e:
        check_credit_code("914403001922038217")
    assert e.value.message_code == "credit_code_check" and e.value.field == "applicant_credit_code"
    with pytest.raises(InputError) as e:
        check_credit_code("91440300192203821I")  # I is not in the code's alphabet
    assert e.value.message_code == "credit_code_format"
    assert credit_code_region("914403001922038216") == 440300
    assert resident_id_region("resident_id", "350502199003071234") == 350502
    assert resident_id_region("passport", "E12345678") is None


def test_unknown_id_type_names_the_type_field() -> None:
    with pytest.raises(InputError) as e:
        check_id("library_card", "123", "agent_id_number")
    assert e.value.field == "agent_id_type"


def test_masking_shows_only_the_ends() -> None:
    assert mask_id("350502199003071234") == "350502********1234"
    assert mask_id("H12345678") == "H1*****78"
    assert mask_id("123") == "***"
