"""Privacy by default: who sees the applicant's personal fields, and what a bundle export discloses.

* **Case views.** Staff who handle the applicant (clerks, officers, dispute officers) see the personal
  fields; a regulator reads cases with them withheld (only their names are listed), like the audit
  trail shows them (:func:`withhold_personal`).
* **Evidence bundles** (:func:`bundle_plan`). The personal fields (:data:`PERSONAL_FIELDS`) are withheld
  — replaced by their salted leaf hashes, so the bundle still verifies — unless the caller names them in
  ``disclose`` with a ``reason``; the disclosure and the reason go to the access trail. A name in
  ``withhold`` must be a field the case's records carry and not one the verifier needs
  (:data:`PROTECTED_FIELDS`), else the request is refused (422), never silently ignored. With
  ``include_files`` the files' contents are embedded except identity documents
  (:data:`IDENTITY_DOCUMENTS`), which come only when named in ``identity_files`` (with a reason).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ledger.core.text import clean_text
from ledger.errors import InputError
from ledger.hall.cases import PERSONAL_FIELDS, ROOT_FIELDS

__all__ = [
    "IDENTITY_DOCUMENTS",
    "PERSONAL_FIELDS",
    "PERSONAL_READERS",
    "PROTECTED_FIELDS",
    "BundlePlan",
    "bundle_plan",
    "sees_personal_data",
    "withhold_personal",
]

PERSONAL_READERS = frozenset({"clerk", "officer", "dispute_officer"})
# material kinds (catalogue codes) that identify a person: left out of bundles unless asked for by name
IDENTITY_DOCUMENTS = frozenset(
    {
        "id_card",
        "parents_id_cards",
        "household_register",
        "photo",
        "bank_card",
        "driving_licence",
        "marriage_certificate",
        "birth_record",
    }
)
# fields the verifier needs to recompute and place a record: never withheld
PROTECTED_FIELDS = frozenset(
    {"case_serial", "stage", "at", "intake_commitment", "resolves"} | {f for pair in ROOT_FIELDS.values() for f in pair}
)


def sees_personal_data(roles: Iterable[str]) -> bool:
    return bool(set(roles) & PERSONAL_READERS)


def withhold_personal(view: dict[str, Any]) -> dict[str, Any]:
    """A case view (:meth:`CaseBook.view`) with the personal fields taken out of every event."""
    timeline = []
    for e in view.get("timeline", []):
        fields = dict(e.get("fields") or {})
        hidden = [f for f in PERSONAL_FIELDS if f in fields]
        for f in hidden:
            fields.pop(f)
        timeline.append({**e, "fields": fields, "withheld": sorted(set(e.get("withheld") or []) | set(hidden))})
    return {**view, "timeline": timeline}


@dataclass(frozen=True)
class BundlePlan:
    withhold: frozenset[str]
    disclosed: tuple[str, ...]
    leave_out_kinds: frozenset[str]
    identity_files: tuple[str, ...]
    reason: str

    def trail_note(self, include_files: bool) -> str:
        parts = []
        if self.disclosed:
            parts.append("disclosed " + ",".join(self.disclosed))
        if self.identity_files:
            parts.append("identity files " + ",".join(self.identity_files))
        if include_files:
            parts.append("with files")
        if self.reason:
            parts.append(f"reason: {self.reason}")
        return "; ".join(parts)


def bundle_plan(
    records: list[dict[str, Any]],
    *,
    withhold: Iterable[str] = (),
    disclose: Iterable[str] = (),
    identity_files: Iterable[str] = (),
    reason: str = "",
) -> BundlePlan:
    """What a bundle of a case with ``records`` withholds and embeds; :class:`InputError` for a bad request."""
    carried = {name for r in records for name in (r.get("fields") or {})} | {
        name for r in records for name in (r.get("withheld") or {})
    }
    asked_withhold, asked_disclose, asked_files = list(withhold), list(disclose), list(identity_files)
    for name in asked_withhold:
        if name in PROTECTED_FIELDS:
            raise InputError("withhold", "withhold_protected", name=name)
        if name not in carried:
            raise InputError("withhold", "withhold_unknown_field", name=name)
    for name in asked_disclose:
        if name not in PERSONAL_FIELDS:
            raise InputError("disclose", "disclose_not_personal", name=name, fields=", ".join(PERSONAL_FIELDS))
        if name in asked_withhold:
            raise InputError("disclose", "disclose_and_withhold", name=name)
    for kind in asked_files:
        if kind not in IDENTITY_DOCUMENTS:
            raise InputError(
                "identity_files", "not_identity_document", kind=kind, kinds=", ".join(sorted(IDENTITY_DOCUMENTS))
            )
    why = clean_text("reason", reason or "").strip()
    if (asked_disclose or asked_files) and not why:
        raise InputError("reason", "disclose_reason_required")
    hidden = (set(PERSONAL_FIELDS) - set(asked_disclose)) | set(asked_withhold)
    return BundlePlan(
        withhold=frozenset(hidden),
        disclosed=tuple(sorted(set(asked_disclose))),
        leave_out_kinds=frozenset(IDENTITY_DOCUMENTS - set(asked_files)),
        identity_files=tuple(sorted(set(asked_files))),
        reason=why,
    )
