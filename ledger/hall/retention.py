"""Retention (个人信息保护): erase a case's personal data once the item's retention period is over.

The applicant's name, ID number, phone and address are removed from every record of the case in
this hall's store; each erased field keeps only its salted *leaf hash* (``withheld``, in the deployment's
suite), so the record still recomputes to its on-chain commitment and exported evidence bundles still
verify, with those fields shown as withheld. Then the case's **data key is destroyed**
(:meth:`ledger.hall.atrest.AtRest.shred`): the file list and every material and result file of the case,
sealed under it, are gone too — in this store and in every backup, taken before or after, since no copy of
the key is left (the data-key store is never in a backup). The erasure is logged in the access trail
(anchored with the next trail anchor) and the store is compacted so the old versions leave the LevelDB
files::

    due = cases_due(book, now=datetime.now(UTC))
    erase_personal_data(book, trail, serial, actor="staff:admin", now=datetime.now(UTC))

The retention period runs from the case's completion (RESULT; or intake if never decided), for
``retention_years`` of the catalogue item. ``now`` is always passed in, so tests move the clock.
Each hall that holds a case applies the same catalogue, so the peer hall erases its copy on its
own schedule (there is no cross-hall erasure request).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.core.records import field_leaf
from ledger.core.stages import Stage
from ledger.errors import ConflictError
from ledger.hall.access import AccessTrail
from ledger.hall.cases import PERSONAL_FIELDS, CaseBook
from ledger.hall.keys import CASE_PREFIX, case_key, record_prefix

__all__ = ["Erasure", "cases_due", "erase_personal_data", "retention_ends"]


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _add_years(dt: datetime, years: int) -> datetime:
    try:
        return dt.replace(year=dt.year + years)
    except ValueError:  # 29 February
        return dt.replace(year=dt.year + years, day=28)


def retention_ends(book: CaseBook, serial: str) -> datetime:
    """When the case's personal data may be erased: completion (or intake) + the item's retention years."""
    h = book.header(serial)
    start = _parse(h.get("created_at"))
    for st, f in book.stages_known(serial):
        if st == Stage.RESULT:
            start = _parse(f.get("at")) or start
    if start is None:
        start = datetime.now(UTC)
    return _add_years(start, book.catalogue.item(h["item_code"]).retention_years)


def cases_due(book: CaseBook, *, now: datetime) -> list[str]:
    """Serials whose retention period is over and whose personal fields are still held."""
    out = []
    for _, h in book.store.iter_json(CASE_PREFIX):
        if h.get("personal_data_erased_at"):
            continue
        if retention_ends(book, h["serial"]) <= now:
            out.append(h["serial"])
    return out


@dataclass(frozen=True)
class Erasure:
    """What :func:`erase_personal_data` did to one case."""

    serial: str
    erased_fields: list[str]
    erased_at: str
    """ISO time (seconds), also in the case header as ``personal_data_erased_at``"""
    data_keys_destroyed: int
    """the case's data keys destroyed (crypto-shredding); 0 in a store without sealing"""


def erase_personal_data(book: CaseBook, trail: AccessTrail, serial: str, *, actor: str, now: datetime) -> Erasure:
    """Replace the personal fields of every record of ``serial`` by their leaf hashes; compact the store."""
    ends = retention_ends(book, serial)
    if now < ends:
        raise ConflictError("retention_running", serial=serial, until=ends.date().isoformat())
    erased: set[str] = set()
    with book.lock:
        header = book.header(serial)
        with book.store.write_batch() as wb:
            for key, r in book.store.iter_json(record_prefix(serial)):
                fields, salts = dict(r["fields"]), dict(r["salts"])
                withheld = dict(r.get("withheld") or {})
                for name in PERSONAL_FIELDS:
                    if name in fields:
                        withheld[name] = field_leaf(name, fields.pop(name), salts.pop(name), book.hall.suite).hex()
                        erased.add(name)
                wb.put_json(key, {**r, "fields": fields, "salts": salts, "withheld": withheld})
            header["personal_data_erased_at"] = now.isoformat(timespec="seconds")
            wb.put_json(case_key(serial), header)
        shred = getattr(book.store.codec, "shred", None)
        keys = shred(serial) if shred is not None else []  # crypto-shredding: the case's data key is destroyed
        what = ",".join(sorted(erased)) + (f"; data key destroyed, files erased ({len(keys)} key)" if keys else "")
        trail.record(actor=actor, action="erase_personal_data", serial=serial, what=what)
    book.store.compact()
    return Erasure(
        serial=serial,
        erased_fields=sorted(erased),
        erased_at=str(header["personal_data_erased_at"]),
        data_keys_destroyed=len(keys),
    )
