"""The check character of a mainland resident ID number (GB 11643-1999, ISO 7064 MOD 11-2).

The one definition of the rule: :func:`ledger.hall.cases.check_id_number` validates intake with it and
the demo makes valid fictitious numbers with it; the intake page's inline hint
(node_api/static/js/intake.js) mirrors it in JavaScript. Standard library only, so the load generator
(:mod:`ledger.dev.loadgen`) stays light.
"""

from __future__ import annotations

__all__ = ["id_check_character"]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_check_character(base17: str) -> str:
    """``0``-``9`` or ``X``: the check character of the first 17 digits of an ID number."""
    return _CHECK[sum(int(c) * w for c, w in zip(base17, _WEIGHTS, strict=True)) % 11]
