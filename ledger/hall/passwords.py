"""Password policy for staff accounts.

A password is accepted when it

* has 12 to 256 characters;
* does not contain the username (nor the display name), compared without case and without the
  separators ``.``, ``_``, ``-`` and spaces;
* is not common or guessable: zxcvbn (the maintained Python port of Dropbox's estimator, PyPI
  ``zxcvbn``) rates it at least :data:`MIN_SCORE` of 4. Its dictionaries include the 30,000 most
  common passwords of leaked-password lists plus names and words, and it also catches keyboard
  walks (``qwertyuiop``), sequences (``123456789012``), repeats (``passw0rdpassw0rd``) and dates.

Refusals are :class:`~ledger.errors.InputError` on ``password``, said in Chinese and English.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

from ledger.errors import InputError

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "MIN_SCORE", "check_password"]

MIN_PASSWORD = 12
MAX_PASSWORD = 256
MIN_SCORE = 3
_SCORED_PREFIX = 72  # zxcvbn refuses longer input (its cost grows with length)


def _bare(s: str) -> str:
    return "".join(c for c in s.casefold() if c not in "._- ")


def check_password(password: str, *, username: str, display_name: str = "", field: str = "password") -> None:
    """:class:`InputError` naming ``field`` when ``password`` is too short, too long, contains the account's
    names, or is too easy to guess."""
    if len(password) < MIN_PASSWORD:
        raise InputError(field, "password_too_short", min=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        raise InputError(field, "password_too_long", max=MAX_PASSWORD)
    bare = _bare(password)
    for what, value in (("username", username), ("display name", display_name)):
        v = _bare(value)
        if len(v) >= 3 and v in bare:
            raise InputError(
                field, "password_contains_username" if what == "username" else "password_contains_display_name"
            )
    result = zxcvbn(password[:_SCORED_PREFIX], user_inputs=[username, display_name, "caseledger", "通办存证链"])
    if int(result["score"]) < MIN_SCORE:
        hint = str(result.get("feedback", {}).get("warning") or "").strip()
        raise InputError(field, "password_weak", hint=f": {hint}" if hint else "")
