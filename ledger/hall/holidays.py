"""Official holiday arrangements an administrator loaded for years the calendar library does not cover yet.

Each load is validated (:class:`ledger.hall.workdays.Arrangement`), kept in the hall's store under
``calendar/<year>/<version>`` (so it is in every backup) and used from then on; loading a changed file
for the same year makes a new version, the old ones stay for the record. Compliance rows name the
version they were counted with::

    info = add_arrangement(store, json.loads(Path("holidays-2027.json").read_text()), staff="admin")
    info.label       # "2027 v1 (sha256 1a2b3c4d)"
    install_all(store)   # at start: the latest version of every year
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ledger.errors import InputError
from ledger.hall.keys import CALENDAR_PREFIX, calendar_key
from ledger.hall.store import Store
from ledger.hall.workdays import Arrangement, install_arrangement

__all__ = ["LoadedArrangement", "add_arrangement", "arrangements", "install_all"]


class LoadedArrangement(BaseModel):
    """One loaded version of a year's arrangement: what it is and who loaded it (without the dates themselves,
    which stay in the store's ``arrangement``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    year: int
    version: int
    label: str
    """as compliance rows name it: ``2027 v1 (sha256 1a2b3c4d)``"""
    digest: str
    source: str
    loaded_by: str
    loaded_at: float
    holidays: int
    """how many holiday dates"""
    workdays: int
    """how many make-up working days"""


def arrangements(store: Store) -> list[LoadedArrangement]:
    """Every loaded version, oldest first."""
    return [LoadedArrangement.model_validate(rec) for _, rec in store.iter_json(CALENDAR_PREFIX)]


def _latest(store: Store) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for _, rec in store.iter_json(CALENDAR_PREFIX):
        out[int(rec["year"])] = rec  # keys sort by year, then version
    return out


def install_all(store: Store) -> list[str]:
    """Use the latest loaded version of every year; returns their labels."""
    return [
        install_arrangement(Arrangement.model_validate(rec["arrangement"]), int(rec["version"]))
        for rec in _latest(store).values()
    ]


def add_arrangement(store: Store, raw: Any, *, staff: str) -> LoadedArrangement:
    """Validate and keep one year's arrangement (a new version unless it equals the latest), then use it."""
    try:
        arr = Arrangement.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "arrangement"
        raise InputError(where, "holidays_invalid", reason=str(first.get("msg"))) from None
    prev = _latest(store).get(arr.year)
    if prev is not None and prev["digest"] == arr.digest():
        return LoadedArrangement.model_validate(prev)
    version = 1 if prev is None else int(prev["version"]) + 1
    label = install_arrangement(arr, version)
    rec = {
        "year": arr.year,
        "version": version,
        "label": label,
        "digest": arr.digest(),
        "source": arr.source,
        "loaded_by": staff,
        "loaded_at": time.time(),
        "holidays": sum(len(p.dates) for p in arr.holidays),
        "workdays": len(arr.workdays),
        "arrangement": arr.model_dump(mode="json", by_alias=True),
    }
    store.put_json(calendar_key(arr.year, version), rec)
    return LoadedArrangement.model_validate(rec)
