"""Text from outside: Unicode normalisation and length limits (pure, stdlib only).

The same person must not get two records because a clerk typed full-width digits (``３５０５…``) or a
name carries an invisible character. So, before anything is stored or compared:

* **Identifiers** (ID numbers, phone numbers, one-time codes) are NFKC-normalised — full-width digits
  and letters become ASCII — and then checked against their ASCII pattern (:func:`ascii_code`).
* **Names** (applicant name, display names) are NFKC-normalised and refused when they hold a control
  character, a format character (zero-width space/joiner, BOM) or a bidirectional override
  (:func:`clean_name`).
* **Free text** (notes, reasons, addresses, conclusions) is NFC-normalised (NFKC would rewrite what
  staff wrote, e.g. ``①`` → ``1``) and refused when it holds control characters other than line
  breaks and tabs, or bidirectional overrides and isolates, which can make text display differently
  from what it says (:func:`clean_text`).

Every text field the API accepts has a limit in :data:`LIMITS` (characters, after normalisation);
``docs/security.md`` lists the same table. A refusal is an :class:`~ledger.errors.InputError` naming the
field, in Chinese and English.
"""

from __future__ import annotations

import unicodedata

from ledger.errors import InputError

__all__ = ["LIMITS", "ascii_code", "check_length", "clean_name", "clean_text", "nfkc"]

# field → maximum characters. Keys are the field names the API reports in its errors.
LIMITS: dict[str, int] = {
    "applicant_name": 100,  # an organisation's name; a person's is at most 64 (ledger.hall.cases)
    "applicant_address": 200,
    "applicant_id_number": 18,
    "applicant_credit_code": 18,
    "applicant_phone": 20,
    "legal_rep_name": 64,
    "agent_name": 64,
    "agent_id_number": 18,
    "agent_phone": 20,
    "username": 32,
    "password": 256,
    "display_name": 64,
    "totp": 12,
    "note": 2000,
    "reason": 2000,
    "step": 40,
    "method": 20,
    "conclusion": 2000,
    "file_name": 200,
}

# Bidirectional embeddings, overrides and isolates (Unicode TR #9): they reorder how text is shown.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_FREE_TEXT_CONTROLS = frozenset("\n\r\t")


def nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value)


def check_length(field: str, value: str, limit: int | None = None) -> str:
    """``value`` unchanged, or an InputError when it is longer than the field's limit."""
    n = LIMITS.get(field, 0) if limit is None else limit
    if n and len(value) > n:
        raise InputError(field, "too_long_given", max=n, given=len(value))
    return value


def ascii_code(field: str, value: str) -> str:
    """An identifier typed in any width: NFKC, spaces removed, upper-cased; the caller checks its pattern."""
    v = nfkc(value).strip().replace(" ", "").upper()
    return check_length(field, v)


def clean_name(field: str, value: str, *, limit: int | None = None) -> str:
    """A person's or account's name: NFKC, trimmed, no control/format/bidi characters, within the limit."""
    v = nfkc(value).strip()
    for c in v:
        if unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") or c in _BIDI:
            raise InputError(field, "text_invisible_character", char=f"U+{ord(c):04X}")
    return check_length(field, v, limit)


def clean_text(field: str, value: str, *, limit: int | None = None) -> str:
    """Free text: NFC, no control characters but line breaks and tabs, no bidi overrides, within the limit."""
    v = unicodedata.normalize("NFC", value)
    for c in v:
        if c in _BIDI or (unicodedata.category(c) in ("Cc", "Cs") and c not in _FREE_TEXT_CONTROLS):
            raise InputError(field, "text_control_character", char=f"U+{ord(c):04X}")
    return check_length(field, v, limit)
