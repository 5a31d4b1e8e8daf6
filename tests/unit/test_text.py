"""Normalisation and limits of text from outside (ledger/core/text.py) and the intake checks that use them."""

from __future__ import annotations

import pytest

from ledger.core.text import LIMITS, check_length, clean_name, clean_text
from ledger.dev.demo import demo_id_number
from ledger.errors import InputError
from ledger.hall.cases import check_id_number, check_phone

FULL = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def test_full_width_id_and_phone_are_the_same_person_regression() -> None:
    """Regression (issue 12 item 5): full-width digits were stored as typed, so one person had two IDs."""
    idn = demo_id_number("35058219851120004")
    assert check_id_number(idn.translate(FULL)) == idn
    assert check_id_number(" " + idn.lower() + " ") == idn
    assert check_phone("１３８ ０５９５ ００００") == "13805950000"
    for bad in ("١٣٨٠٥٩٥٠٠٠٠", "१३८०५९५००००"):  # Arabic-Indic or Devanagari digits are not digits here
        with pytest.raises(InputError):
            check_phone(bad)
    with pytest.raises(InputError) as e:
        check_id_number("٣" * 18)
    assert e.value.field == "applicant_id_number" and e.value.message("zh")


@pytest.mark.parametrize("name", ["林\u200b小梅", "林小梅\u202e", "\ufeff林小梅", "林\u2066小梅", "林\x00梅"])
def test_invisible_and_direction_characters_in_names_are_refused_regression(name: str) -> None:
    with pytest.raises(InputError) as e:
        clean_name("applicant_name", name)
    assert "U+" in e.value.text and e.value.message("zh")


def test_names_are_nfkc_and_keep_their_middle_dot() -> None:
    assert clean_name("applicant_name", "  买买提·艾力 ") == "买买提·艾力"
    assert clean_name("applicant_name", "ＬＩＮ Ｘｉａｏ") == "LIN Xiao"


def test_free_text_keeps_line_breaks_refuses_controls_and_bidi() -> None:
    assert clean_text("note", "第一行\n第二行\t①") == "第一行\n第二行\t①"  # NFC only: ① stays ①
    for bad in ("a\x07b", "看\u202e材料", "x\u2067y"):
        with pytest.raises(InputError):
            clean_text("note", bad)


def test_every_limit_is_enforced_with_a_field_and_both_languages() -> None:
    for field, n in LIMITS.items():
        assert check_length(field, "x" * n) == "x" * n
        with pytest.raises(InputError) as e:
            check_length(field, "x" * (n + 1))
        assert (
            e.value.field == field and f"at most {n}" in e.value.text.lower() and f"最多 {n}" in e.value.message("zh")
        )
