"""Applicants' identity documents and organisation codes, each checked by its own published rule.

    >>> check_id("resident_id", "11010519491231002X")
    '11010519491231002X'
    >>> check_credit_code("91350100M000100Y43")
    '91350100M000100Y43'

Every refusal is an :class:`~ledger.errors.InputError` naming the field, with a sentence for the counter
(see :mod:`ledger.messages`). The rules, with their sources:

* ``resident_id`` 居民身份证 — GB 11643-1999 《公民身份号码》: 6-digit address code, 8-digit birth date,
  3-digit sequence, check character by ISO 7064:1983 MOD 11-2 (:func:`ledger.hall.idnumber.id_check_character`).
* ``residence_permit`` 港澳台居民居住证 — 《港澳台居民居住证申领发放办法》(国办发〔2018〕81号) 第六条: the
  permit carries a 公民身份号码 built by GB 11643-1999 whose address code is 810000 (Hong Kong), 820000
  (Macao) or 830000 (Taiwan); so the same check character and birth date rules apply.
* ``foreign_permanent`` 外国人永久居留身份证 — two formats in circulation:
  the 2004/2017 card, 15 characters: 3-letter nationality code (GB/T 2659, = ISO 3166-1 alpha-3),
  4-digit code of the issuing authority's region, birth date YYMMDD, 1 sequence digit and a check digit
  computed as in ICAO Doc 9303 part 3 §4.9 (weights 7, 3, 1; letters A=10 … Z=35; sum mod 10);
  the card issued since 1 December 2023 (国家移民管理局公告, 新版外国人永久居留身份证), 18 characters
  starting with ``9``: 2-digit province code, 3-digit nationality code (ISO 3166-1 numeric), birth date
  YYYYMMDD, 3-digit sequence and a GB 11643-1999 (MOD 11-2) check character.
* ``passport`` 护照 — ICAO Doc 9303 allows up to 9 characters in the machine-readable zone and longer
  numbers in the visual zone; we take 5–17 letters or digits. A Chinese ordinary passport (《中华人民共和国
  护照法》; numbers ``E`` + 8 digits, ``E`` + letter + 7 digits since 2017, ``G`` + 8 digits for the older
  book) is checked for that shape when it starts with E or G and has 9 characters.
* ``hk_macao_permit`` 港澳居民来往内地通行证 — the 2013 card (公安部出入境管理局): ``H`` (Hong Kong) or
  ``M`` (Macao) and 8 digits, optionally followed by the 2-digit issue count printed after it.
* 统一社会信用代码 — GB 32100-2015 《法人和其他组织统一社会信用代码编码规则》: 18 characters from
  ``0-9 A-H J-N P-R T U W-Y`` (no I, O, Z, S, V); the check character is ``31 - (Σ cᵢ·wᵢ mod 31)`` with
  ``wᵢ = 3^(i-1) mod 31`` (31 counts as 0); characters 3–8 are the registering authority's region code.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from ledger.core.text import nfkc
from ledger.errors import InputError
from ledger.hall.idnumber import id_check_character

__all__ = [
    "ID_TYPES",
    "check_credit_code",
    "check_id",
    "credit_code_region",
    "mask_id",
    "resident_id_region",
]

#: ID document types accepted at the counter (code → Chinese name, English name)
ID_TYPES: dict[str, tuple[str, str]] = {
    "resident_id": ("居民身份证", "Resident ID card"),
    "residence_permit": ("港澳台居民居住证", "Residence permit for HK, Macao and Taiwan residents"),
    "foreign_permanent": ("外国人永久居留身份证", "Foreigner's permanent residence ID card"),
    "passport": ("护照", "Passport"),
    "hk_macao_permit": ("港澳居民来往内地通行证", "Mainland travel permit for HK and Macao residents"),
}

_PERMIT_REGIONS = ("810000", "820000", "830000")
_CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def _birth_ok(yyyymmdd: str) -> bool:
    try:
        born = datetime.strptime(yyyymmdd, "%Y%m%d").date()
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def _gb11643(v: str, field: str) -> str:
    if not re.fullmatch(r"\d{17}[\dX]", v):
        raise InputError(field, "id_resident_format")
    if id_check_character(v[:17]) != v[17]:
        raise InputError(field, "id_check_character")
    if not _birth_ok(v[6:14]):
        raise InputError(field, "id_birth_date")
    return v


def _mrz_check_digit(chars: str) -> str:
    """ICAO 9303 check digit: digits as themselves, A=10 … Z=35, weights 7, 3, 1 repeating, mod 10."""
    total = 0
    for i, c in enumerate(chars):
        value = int(c) if c.isdigit() else ord(c) - ord("A") + 10
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


def _foreign_permanent(v: str, field: str) -> str:
    if re.fullmatch(r"[A-Z]{3}\d{12}", v):  # 2004/2017 card
        if not _birth_ok(("19" if v[7:9] > date.today().strftime("%y") else "20") + v[7:13]):
            raise InputError(field, "id_birth_date")
        if _mrz_check_digit(v[:14]) != v[14]:
            raise InputError(field, "id_foreigner_check")
        return v
    if re.fullmatch(r"9\d{16}[\dX]", v):  # card issued since 2023-12-01
        if id_check_character(v[:17]) != v[17]:
            raise InputError(field, "id_foreigner_check")
        if not _birth_ok(v[6:14]):
            raise InputError(field, "id_birth_date")
        return v
    raise InputError(field, "id_foreigner_format")


def check_id(id_type: str, value: str, field: str = "applicant_id_number") -> str:
    """The ID number normalised (NFKC: full-width digits typed in any width, upper case, no spaces), or
    :class:`InputError` naming ``field``."""
    v = re.sub(r"\s", "", nfkc(value or "")).upper()
    if not v:
        raise InputError(field, "id_number_required")
    if id_type == "resident_id":
        return _gb11643(v, field)
    if id_type == "residence_permit":
        if re.fullmatch(r"\d{17}[\dX]", v) and not v.startswith(_PERMIT_REGIONS):
            raise InputError(field, "id_residence_permit_region")
        return _gb11643(v, field)
    if id_type == "foreign_permanent":
        return _foreign_permanent(v, field)
    if id_type == "passport":
        if not re.fullmatch(r"[A-Z0-9]{5,17}", v):
            raise InputError(field, "id_passport_format")
        if len(v) == 9 and v[0] in "EG" and not re.fullmatch(r"(E\d{8}|E[A-HJ-NP-Z]\d{7}|G\d{8})", v):
            raise InputError(field, "id_passport_format")
        return v
    if id_type == "hk_macao_permit":
        if not re.fullmatch(r"[HM]\d{8}(\d{2})?", v):
            raise InputError(field, "id_hk_macao_permit_format")
        return v
    raise InputError(field.removesuffix("_number") + "_type", "id_type_unknown")  # agent_id_number → agent_id_type


def check_credit_code(value: str, field: str = "applicant_credit_code") -> str:
    """A unified social credit code (GB 32100-2015) with its check character, normalised (NFKC, upper case)."""
    v = re.sub(r"\s", "", nfkc(value or "")).upper()
    if len(v) != 18 or any(c not in _CREDIT_CHARS for c in v):
        raise InputError(field, "credit_code_format")
    total = sum(_CREDIT_CHARS.index(c) * w for c, w in zip(v[:17], _CREDIT_WEIGHTS, strict=True))
    if _CREDIT_CHARS[(31 - total % 31) % 31] != v[17]:
        raise InputError(field, "credit_code_check")
    return v


def credit_code_region(code: str) -> int | None:
    """The registering authority's region code inside a credit code (characters 3–8), if numeric."""
    part = code[2:8]
    return int(part) if part.isdigit() else None


def resident_id_region(id_type: str, number: str) -> int | None:
    """The address code of a resident ID number (where the household was registered at issue)."""
    if id_type == "resident_id" and re.fullmatch(r"\d{6}.*", number):
        return int(number[:6])
    return None


def mask_id(number: str) -> str:
    """``350502********1234``-style: the first 6 and the last 4 characters shown (fewer for short numbers)."""
    n = len(number)
    if n <= 4:
        return "*" * n
    if n <= 10:
        return number[:2] + "*" * (n - 4) + number[-2:]
    return number[:6] + "*" * (n - 10) + number[-4:]
