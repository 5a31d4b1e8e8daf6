"""The case domain service of one hall: intake, acceptance, process, result, delivery.

No web framework here: the node API calls these methods and maps :class:`LedgerError` to HTTP.
Every state change is one atomic LevelDB batch holding the record (fields + salts), its files' manifests and
its outbox entry, so what staff were told was saved is saved, and anchoring follows
asynchronously. A file's bytes are streamed into the store as sealed chunks *before* that batch, outside the
book's lock (:meth:`ledger.hall.store.Store.stage_blob`: read in pieces from the upload's spooled file, hashed as
they go), and the batch's manifest is what makes them part of the case; a failed write deletes them, and chunks
a crash left behind are deleted at the next start. An intake therefore takes its serial first, in a batch of
its own (the counter only moves forward: a serial whose intake then fails is never given again)::

    book = CaseBook(store, outbox, hall=HallIdentity(hall_id=1, district=350502, account="0x..."))
    view = book.intake(item_code="BDC-TRANSFER", home_district=350503,
                       applicant={"name": "张三", "id_number": "...", "phone": "13800000000"},
                       materials=[Upload("id_card", "id.pdf", data), ...], staff="window-1")

Records are format 2 (:mod:`ledger.core.records`): every record carries ``at`` (when its act
happened) and, after INTAKE, ``intake_commitment`` (the INTAKE record's commitment, kept in the case
header), so no record of one case can be anchored into another. A case is the pair (accepting hall,
serial); the serial names its hall (``TB<yyyymmdd>-<hall:03d>-<n:05d>``,
:func:`ledger.hall.integrity.parse_serial`), so a
hall's store is keyed by serial alone and a case another hall opened under this hall's serial is
never mixed with the real one (the indexer ignores it).

Store keys: ``case/<serial>`` (header), ``rec/<serial>/<seq:06d>`` (records with salts, files and
anchor state), ``meta/serial/<yyyymmdd>`` (serial counter), ``blob/…`` (files in chunks, :mod:`ledger.hall.store`),
``notice/<serial>`` (an open 受理前补正 request, see below).

Applicants (``applicant["type"]``): a natural person (``person``: name, ID document of one of
:data:`ledger.hall.identity.ID_TYPES`, phone) or an organisation (``organisation``: name, unified social
credit code, legal representative); either may come through an agent (代理人: name, ID document, phone),
and then the authorisation letter (:data:`~ledger.hall.catalogue.AUTHORISATION_LETTER`) is a required
material. Every fault of an intake is reported at once (:meth:`ledger.errors.InputError.several`).

Supplements (补正) are asked for after acceptance as a PROCESS record (anchored), and before acceptance
(受理前一次性告知, 《行政许可法》第三十二条) as a *notice*: the contract lets the home district write nothing
before ACCEPTANCE, so the request is kept at the home hall (``notice/<serial>``), read by the accepting
hall through the peer status call (:mod:`ledger.hall.handover`), answered by an anchored supplementary
MATERIALS record, and committed to the chain inside the ACCEPTANCE record (``pre_acceptance_requests``).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from pydantic import MISSING, BaseModel, ConfigDict

from ledger.core.materials import MaterialFile, MaterialSet
from ledger.core.records import PROTECTED_FIELDS, SaltedRecord, new_salt
from ledger.core.stages import Stage
from ledger.core.suites import INTL, Suite
from ledger.core.text import ascii_code, clean_name, clean_text
from ledger.core.timefmt import CST, now_iso
from ledger.errors import CaseHeldError, ConflictError, ForbiddenError, InputError, NotFoundError
from ledger.hall.catalogue import AUTHORISATION_LETTER, Catalogue, load_catalogue
from ledger.hall.identity import ID_TYPES, check_credit_code, check_id, credit_code_region, resident_id_region
from ledger.hall.keys import (
    CASE_PREFIX,
    case_key,
    handover_key,
    held_key,
    notice_key,
    record_key,
    record_prefix,
    serial_counter_key,
)
from ledger.hall.outbox import Outbox
from ledger.hall.package import PackageFile, PackageRecord, TransferPackage
from ledger.hall.store import CHUNK_BYTES, StagedBlob, Store, WriteBatch

__all__ = [
    "ANCHOR_MODES",
    "DELIVERY_METHODS",
    "CaseBook",
    "HallIdentity",
    "SupplementNotice",
    "SupplementRequest",
    "Upload",
    "case_status",
    "check_id_number",
    "check_phone",
    "join_list",
    "split_list",
    "suggest_home_district",
]

DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
PERSONAL_FIELDS = (
    "applicant_name",
    "applicant_id_number",
    "applicant_phone",
    "applicant_address",
    "legal_rep_name",
    "agent_name",
    "agent_id_number",
    "agent_phone",
    "recipient_name",
    "recipient_id_number",
)
DELIVERY_METHODS = ("counter", "post", "electronic")
_TRACKING = re.compile(r"^[A-Z0-9]{8,30}$")
LOOKUP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed from paper
ROOT_FIELDS = {
    Stage.MATERIALS: ("materials_root", "materials_count"),
    Stage.RESULT: ("documents_root", "documents_count"),
}

ANCHOR_MODES = ("event", "merkle")
_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$", re.ASCII)
LIST_SEPARATOR = "、"
"""a list in a record is one string, its items joined by U+3001 (records hold scalars only)"""


def join_list(items: list[str]) -> str:
    """A list committed as one record value (``id_card、contract``)."""
    return LIST_SEPARATOR.join(items)


def split_list(value: str) -> list[str]:
    """The items of a list committed by :func:`join_list`."""
    return [v for v in value.split(LIST_SEPARATOR) if v]


def check_id_number(value: str, field: str = "applicant_id_number") -> str:
    """A mainland resident ID number (GB 11643-1999, 18 characters with its ISO 7064 check digit)."""
    return check_id("resident_id", value, field)


def check_phone(value: str, field: str = "applicant_phone") -> str:
    v = ascii_code(field, value)
    if not _PHONE.fullmatch(v):
        raise InputError(field, "phone_format")
    return v


def suggest_home_district(catalogue: Catalogue, item_code: str, applicant: dict[str, str]) -> int | None:
    """The home district the item's rule points at, from what the counter already has, or ``None``."""
    rule = catalogue.item(item_code).home_rule.suggest
    region: int | None = None
    if rule == "property_district":
        try:
            region = int(applicant.get("property_district") or 0) or None
        except ValueError:
            region = None
    elif rule == "id_region":
        region = resident_id_region(applicant.get("id_type") or "resident_id", applicant.get("id_number") or "")
    elif rule == "credit_code_region":
        region = credit_code_region((applicant.get("credit_code") or "").upper())
    d = catalogue.district_of(region)
    return d.code if d else None


def _name(value: str | None, limit: int, refusal: InputError) -> str:
    """A name typed at the counter (NFKC, no invisible characters: :func:`clean_name`), required, within ``limit``."""
    v = clean_name(refusal.field, value or "", limit=10_000)
    if not v or len(v) > limit:
        raise refusal
    return v


def applicant_fields(applicant: dict[str, str], catalogue: Catalogue, suggest: str | None = None) -> dict[str, Any]:
    """The INTAKE record's applicant fields, checked; every fault at once (:meth:`InputError.several`).

    ``applicant`` keys: ``type`` (``person`` | ``organisation``), ``name``, ``id_type``, ``id_number`` (person),
    ``credit_code``, ``legal_rep_name`` (organisation), ``phone``, ``address``; an agent's ``agent_name``,
    ``agent_id_type``, ``agent_id_number``, ``agent_phone``; ``property_district`` for 不动产 items."""
    problems: list[InputError] = []
    out: dict[str, Any] = {}

    def run(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except InputError as exc:
            problems.append(exc)
            return None

    def id_document(who: str, id_type: str, number: str) -> None:
        """``{who}_id_type`` and ``{who}_id_number`` (``who``: applicant or agent), the number checked by its type."""
        if id_type not in ID_TYPES:
            problems.append(InputError(f"{who}_id_type", "id_type_unknown"))
        else:
            out[f"{who}_id_type"] = id_type
            out[f"{who}_id_number"] = run(lambda: check_id(id_type, number, f"{who}_id_number"))

    kind = (applicant.get("type") or "person").strip()
    if kind not in ("person", "organisation"):
        raise InputError("applicant_type", "applicant_type_unknown")
    out["applicant_type"] = kind
    if kind == "person":
        out["applicant_name"] = run(
            lambda: _name(applicant.get("name"), 64, InputError("applicant_name", "applicant_name_required"))
        )
        id_document("applicant", (applicant.get("id_type") or "resident_id").strip(), applicant.get("id_number") or "")
    else:
        out["applicant_name"] = run(
            lambda: _name(applicant.get("name"), 100, InputError("applicant_name", "organisation_name_required"))
        )
        out["applicant_credit_code"] = run(
            lambda: check_credit_code(applicant.get("credit_code") or "", "applicant_credit_code")
        )
        out["legal_rep_name"] = run(
            lambda: _name(applicant.get("legal_rep_name"), 64, InputError("legal_rep_name", "legal_rep_required"))
        )
    out["applicant_phone"] = run(lambda: check_phone(applicant.get("phone") or "", "applicant_phone"))
    agent = (applicant.get("agent_name") or "").strip()
    if agent or (applicant.get("agent_id_number") or "").strip():
        out["agent_name"] = run(lambda: _name(agent, 64, InputError("agent_name", "agent_name_required")))
        id_document(
            "agent", (applicant.get("agent_id_type") or "resident_id").strip(), applicant.get("agent_id_number") or ""
        )
        if (applicant.get("agent_phone") or "").strip():
            out["agent_phone"] = run(lambda: check_phone(applicant.get("agent_phone") or "", "agent_phone"))
    if (applicant.get("property_district") or "").strip():
        d = run(lambda: catalogue.district(applicant.get("property_district") or "", field="property_district"))
        if d is not None:
            out["property_district"] = d.code
    elif suggest == "property_district" and applicant.get("require_property_district"):
        problems.append(InputError("property_district", "property_district_required"))
    if problems:
        raise InputError.several(problems)
    return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class HallIdentity:
    hall_id: int
    district: int
    account: str = ""
    name: str = ""
    suite: Suite = INTL


class SupplementRequest(BaseModel):
    """One pre-acceptance supplement request (受理前一次性告知) as the home hall made it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    requested_materials: str
    """the material codes asked for, as one string (:func:`join_list`)"""
    note: str
    staff: str
    staff_name: str | MISSING = MISSING
    at: str


class SupplementNotice(SupplementRequest):
    """``notice/<serial>``: the case's open pre-acceptance supplement request (its fields), kept at the home hall
    and, as read through the peer status call (:mod:`ledger.hall.handover`), at the accepting hall; ``open``
    until the supplementary MATERIALS arrive (``answered``, ``answered_at``). ``history`` is every request of
    the case so far, this one last (ACCEPTANCE commits them). A key the store does not hold stays absent when
    dumped."""

    state: str
    serial: str
    hall_id: int
    """the home hall that asks"""
    materials: list[str]
    history: list[SupplementRequest]
    answered_at: str | MISSING = MISSING


@dataclass(frozen=True)
class Upload:
    """One uploaded file: material ``kind`` (catalogue code), original file name, and its bytes: at hand
    (``data``), or in a file read in pieces when it is stored (``source``, e.g. a spooled upload, holding
    ``size`` bytes from its current position)."""

    kind: str
    filename: str
    data: bytes = b""
    source: BinaryIO | None = None
    size: int = 0

    @property
    def length(self) -> int:
        return self.size if self.source is not None else len(self.data)


def case_status(records: list[dict[str, Any]]) -> str:
    """Where the case stands, from the records a hall holds (its own and verified received ones)."""
    status = "submitted"
    for r in records:
        if (r.get("anchor") or {}).get("state") == "refused":
            continue
        st, f = Stage[r["stage"]], r["fields"]
        if st == Stage.ACCEPTANCE:
            status = "accepted" if f.get("decision") == "accepted" else "rejected"
        elif st == Stage.PROCESS and f.get("step") == "supplement_requested":
            status = "supplement_requested"
        elif st == Stage.MATERIALS and f.get("supplement"):
            # answered: back to 已受理 after acceptance, to 待受理 before it (受理前补正)
            status = "submitted" if f.get("before_acceptance") else "accepted"
        elif st == Stage.RESULT:
            status = "decided" if f.get("decision") != "not_accepted" else "rejected"
        elif st == Stage.DELIVERY:
            status = "delivered"
    return status


class CaseBook:
    """One hall's cases. Thread-safe: every change is made under the outbox lock."""

    def __init__(
        self,
        store: Store,
        outbox: Outbox,
        *,
        hall: HallIdentity,
        catalogue: Catalogue | None = None,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        on_write: Any = None,
        receiving_districts: Callable[[], set[int] | None] | None = None,
        anchor_mode: str = "event",
    ) -> None:
        if anchor_mode not in ANCHOR_MODES:
            raise InputError("anchor_mode", "anchor_mode_invalid", mode=anchor_mode)
        self.anchor_mode = anchor_mode
        """how this hall anchors the cases it takes in (a case keeps its mode for life; later events follow it)"""
        self.store = store
        self.outbox = outbox
        self.hall = hall
        self.catalogue = catalogue or load_catalogue()
        self.max_file_bytes = max_file_bytes
        self.on_write = on_write
        # districts with an active hall (from the registry); None: not known, not checked
        self.receiving_districts = receiving_districts
        self.lock: threading.RLock = outbox.lock
        # checks that may refuse new intakes (UnavailableError, 503): the serial check after a restore
        self.intake_gates: list[Callable[[], None]] = []
        # checks that may refuse every staff write (the clock check)
        self.write_gates: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ reads
    def header(self, serial: str) -> dict[str, Any]:
        h = self.store.get_json(case_key(serial))
        if h is None:
            raise NotFoundError("case_not_found", serial=serial)
        return dict(h)

    def notice(self, serial: str) -> SupplementNotice | None:
        """The open 受理前补正 request of ``serial`` (home hall: its own; accepting hall: as read from it)."""
        n = self.store.get_json(notice_key(serial))
        return SupplementNotice.model_validate(n) if n and n.get("state") == "open" else None

    def status(self, serial: str, records: list[dict[str, Any]] | None = None) -> str:
        """:func:`case_status`, or ``supplement_requested`` while a pre-acceptance request is open."""
        recs = self.records(serial) if records is None else records
        st = case_status(recs)
        if st == "submitted" and self.notice(serial) is not None:
            return "supplement_requested"
        return st

    def records(self, serial: str) -> list[dict[str, Any]]:
        return [v for _, v in self.store.iter_json(record_prefix(serial))]

    def has_case(self, serial: str) -> bool:
        return self.store.get(case_key(serial)) is not None

    def list_cases(
        self, *, home_district: int | None = None, accepting_hall: int | None = None
    ) -> list[dict[str, Any]]:
        out = []
        for _, h in self.store.iter_json(CASE_PREFIX):
            if home_district is not None and h["home_district"] != home_district:
                continue
            if accepting_hall is not None and h["accepting_hall"] != accepting_hall:
                continue
            out.append(self.summary(h))
        out.sort(key=lambda h: h.get("created_at", ""), reverse=True)
        return out

    def summary(self, h: dict[str, Any]) -> dict[str, Any]:
        recs = self.records(h["serial"])
        pending = sum(1 for r in recs if (r.get("anchor") or {}).get("state") == "pending")
        return {**h, "status": self.status(h["serial"], recs), "events": len(recs), "pending_anchors": pending}

    def view(self, serial: str) -> dict[str, Any]:
        """The case with its timeline (each event with its anchor state)."""
        h = self.header(serial)
        recs = self.records(serial)

        def order(r: dict[str, Any]) -> tuple[int, int]:
            idx = (r.get("anchor") or {}).get("index")
            return (idx if idx is not None else 10**9, r["seq"])

        timeline = []
        for r in sorted(recs, key=order):
            timeline.append(
                {
                    "seq": r["seq"],
                    "stage": r["stage"],
                    "stage_zh": Stage[r["stage"]].label_zh,
                    "writer_hall": r["writer_hall"],
                    "origin": r["origin"],
                    "commitment": r["commitment"],
                    "fields": {k: v for k, v in r["fields"].items() if k not in ("case_serial", "stage")},
                    "withheld": sorted(r.get("withheld") or {}),
                    "files": [{k: f[k] for k in ("kind", "name", "digest", "size")} for f in r.get("files", [])],
                    "anchor": r.get("anchor") or {"state": "pending"},
                }
            )
        item = self.catalogue.item(h["item_code"])
        held = self.held(serial)
        notice = self.notice(serial)
        return {
            **h,
            "item_name_zh": item.name_zh,
            "item_name_en": item.name_en,
            "status": "held" if held else self.status(serial, recs),
            "held": held,
            "supplement_notice": None if notice is None else notice.model_dump(),
            "timeline": timeline,
        }

    def stages_known(self, serial: str) -> list[tuple[Stage, dict[str, Any]]]:
        return [
            (Stage[r["stage"]], r["fields"])
            for r in self.records(serial)
            if (r.get("anchor") or {}).get("state") != "refused"
        ]

    # ------------------------------------------------------------------ writes
    def _file_problems(self, uploads: list[Upload], field: str) -> list[InputError]:
        out: list[InputError] = []
        for u in uploads:
            f = f"{field}.{u.kind}"
            if not u.length:
                out.append(InputError(f, "material_file_empty", name=u.filename))
            elif u.length > self.max_file_bytes:
                out.append(
                    InputError(
                        f,
                        "material_file_too_large",
                        name=u.filename,
                        size_mb=round(u.length / 1048576, 1),
                        max_mb=round(self.max_file_bytes / 1048576, 1),
                    )
                )
            elif not u.filename or len(u.filename) > 200:
                out.append(InputError(f, "file_name_invalid", max=200))
        return out

    def _files(self, uploads: list[Upload], field: str) -> list[Upload]:
        problems = self._file_problems(uploads, field)
        if problems:
            raise InputError.several(problems)
        return uploads

    def _stage(self, serial: str, uploads: list[Upload]) -> list[tuple[MaterialFile, bytes | StagedBlob]]:
        """Stream each file into the store as chunks of case ``serial`` (outside the lock), with what is committed
        about it (digest and size computed while streaming); on a failure the chunks written are deleted. A file
        of one chunk at most is read (bounded) and written with the record instead, in its batch."""
        out: list[tuple[MaterialFile, bytes | StagedBlob]] = []
        try:
            for u in uploads:
                if u.length <= CHUNK_BYTES:  # one chunk: written with the record, in its batch (no extra write)
                    data = u.data if u.source is None else u.source.read(CHUNK_BYTES + 1)
                    if len(data) <= CHUNK_BYTES:
                        out.append((MaterialFile.of(u.kind, u.filename, data, suite=self.hall.suite), data))
                        continue
                    assert u.source is not None  # larger than it said: stream it after all
                    u.source.seek(-len(data), 1)
                staged = self.store.stage_blob(u.source if u.source is not None else u.data, case=serial)
                m = MaterialFile(digest=staged.digest, kind=u.kind, name=u.filename, salt=new_salt(), size=staged.size)
                out.append((m, staged))
        except BaseException:
            self._discard(out)
            raise
        return out

    def _discard(self, files: list[tuple[MaterialFile, bytes | StagedBlob]] | None) -> None:
        for _, f in files or []:
            if isinstance(f, StagedBlob):
                self.store.discard_staged(f)

    def _put_record(
        self,
        wb: WriteBatch,
        header: dict[str, Any],
        stage: Stage,
        fields: dict[str, Any],
        files: list[tuple[MaterialFile, bytes | StagedBlob]] | None = None,
        *,
        open_case: dict[str, Any] | None = None,
        outbox_seq: int | None = None,
        at: str | None = None,
        resolves: int | None = None,
    ) -> SaltedRecord:
        files = files or []
        suite = self.hall.suite
        if files:
            root_f, count_f = ROOT_FIELDS[stage]
            mset = MaterialSet.new([m for m, _ in files], suite)
            fields = {**fields, root_f: mset.root.hex(), count_f: len(files)}
        rec = SaltedRecord.new(
            header["serial"],
            stage,
            fields,
            at=at or now_iso(),
            intake_commitment=None if stage == Stage.INTAKE else self._intake_commitment(header),
            resolves=resolves,
            suite=suite,
        )
        if stage == Stage.INTAKE:
            header["intake_commitment"] = "0x" + rec.commitment.hex()
        seq = int(header["next_seq"])
        header["next_seq"] = seq + 1
        key = record_key(header["serial"], seq)
        for _, data in files:
            if isinstance(data, StagedBlob):
                wb.put_staged(data)
            else:
                wb.put_blob(data, case=header["serial"])
        wb.put_json(
            key,
            {
                "seq": seq,
                "stage": stage.name,
                "fields": rec.fields,
                "salts": rec.salts,
                "commitment": rec.commitment.hex(),
                "writer_hall": self.hall.hall_id,
                "origin": "local",
                "files": [m.model_dump() for m, _ in files],
                "anchor": {"state": "pending"},
                "written_at": time.time(),
            },
        )
        self.outbox.enqueue(
            wb,
            accepting_hall=int(header["accepting_hall"]),
            serial=header["serial"],
            rec_key=key.decode(),
            stage=stage,
            commitment=rec.commitment,
            ref=resolves or 0,
            open_case=open_case,
            seq=outbox_seq,
            mode=str(header.get("anchor_mode") or "event"),
        )
        return rec

    def _intake_commitment(self, header: dict[str, Any]) -> str:
        """Event 0's commitment, which every later record of the case names."""
        c = header.get("intake_commitment")
        if isinstance(c, str):
            return c
        for r in self.records(header["serial"]):
            if r["stage"] == Stage.INTAKE.name:
                return "0x" + str(r["commitment"])
        raise ConflictError("package_not_received", serial=str(header["serial"]))

    def _next_serial(self, wb: WriteBatch) -> str:
        day = datetime.now(CST).strftime("%Y%m%d")
        key = serial_counter_key(day)
        n = int(self.store.get_json(key) or 0)
        while True:
            n += 1
            # hall id + date + the hall's own counter: unique across halls without coordination
            serial = f"TB{day}-{self.hall.hall_id:03d}-{n:05d}"
            if not self.has_case(serial):  # a header the indexer re-created after a restore: never reuse it
                break
        wb.put_json(key, n)
        return serial

    def _gates(self, gates: list[Callable[[], None]]) -> None:
        for gate in gates:
            gate()

    def held(self, serial: str) -> dict[str, Any] | None:
        """Why the chain refused this case's INTAKE (its later events are held), or None."""
        h: dict[str, Any] | None = self.store.get_json(held_key(serial))
        return h

    def _written(self) -> None:
        if self.on_write is not None:
            self.on_write()

    def intake(
        self,
        *,
        item_code: str,
        home_district: int | str,
        applicant: dict[str, str],
        materials: list[Upload],
        staff: str,
        staff_name: str = "",
    ) -> dict[str, Any]:
        """Validate and store a new case (INTAKE + MATERIALS), queued for anchoring.

        Every fault is reported at once (one :class:`InputError` with ``problems``); nothing is written then.
        """
        self._gates(self.write_gates + self.intake_gates)
        item = self.catalogue.item(item_code)
        problems: list[InputError] = []

        def check(fn: Callable[[], Any]) -> Any:
            try:
                return fn()
            except InputError as exc:
                problems.extend(exc.problems or [exc])
                return None

        district = check(lambda: self.catalogue.district(home_district))
        receiving = self.receiving_districts() if self.receiving_districts is not None else None
        if district is not None and receiving is not None and district.code not in receiving:
            problems.append(
                InputError(
                    "home_district", "district_has_no_hall", district_zh=district.name_zh, district_en=district.name_en
                )
            )
        fields = check(lambda: applicant_fields(applicant, self.catalogue, item.home_rule.suggest))
        address = check(lambda: clean_text("applicant_address", (applicant.get("address") or "").strip())) or ""
        if len(address) > 200:
            problems.append(InputError("applicant_address", "address_too_long"))
        allowed = {*item.material_codes, AUTHORISATION_LETTER}
        for u in materials:
            if u.kind not in allowed:
                problems.append(InputError(f"materials.{u.kind}", "material_not_of_item", kind=u.kind, item=item.code))
        given = {u.kind for u in materials}
        required = list(item.materials)
        if fields and fields.get("agent_name"):
            required.append(self.catalogue.agent_letter)
        for m in required:
            if m.code not in given:
                problems.append(
                    InputError(f"materials.{m.code}", "material_missing", material_zh=m.name_zh, material_en=m.name_en)
                )
        problems += self._file_problems(materials, "materials")
        if problems:
            raise InputError.several(problems)
        assert district is not None and fields is not None
        self._files(materials, "materials")
        with self.lock, self.store.write_batch(sync=False) as wb:
            serial = self._next_serial(wb)  # taken now, in its own batch: never given again, even if this fails
        files = self._stage(serial, materials)
        try:
            self._commit_intake(serial, item, district, fields, address, files, staff, staff_name)
        except BaseException:
            self._discard(files)
            raise
        self.store.sync()  # durable before anyone is told it is saved; concurrent intakes share the fsync
        self._written()
        return self.view(serial)

    def _commit_intake(
        self,
        serial: str,
        item: Any,
        district: Any,
        fields: dict[str, Any],
        address: str,
        files: list[tuple[MaterialFile, bytes | StagedBlob]],
        staff: str,
        staff_name: str,
    ) -> None:
        with self.lock, self.store.write_batch(sync=False) as wb:
            header: dict[str, Any] = {
                "serial": serial,
                "item_code": item.code,
                "home_district": district.code,
                "accepting_hall": self.hall.hall_id,
                "accepting_district": self.hall.district,
                "created_at": now_iso(),
                "next_seq": 0,
                "source": "intake",
                # for the applicant's own look-up (受理回执 → /lookup); never on chain, never in a record
                "lookup_code": "".join(secrets.choice(LOOKUP_ALPHABET) for _ in range(8)),
                "anchor_mode": self.anchor_mode,
            }
            intake_fields = {
                "item_code": item.code,
                "item_name": item.name_zh,
                "home_district": district.code,
                "accepting_hall": self.hall.hall_id,
                "accepting_district": self.hall.district,
                **fields,
                "intake_staff": staff,
                "time_limit_working_days": item.time_limit_working_days,
            }
            if staff_name:
                intake_fields["intake_staff_name"] = staff_name
            if address:
                intake_fields["applicant_address"] = address
            if self.anchor_mode == "merkle":  # the mode is committed with the case (the verifier compares)
                intake_fields["anchor_mode"] = "merkle"
            seq0 = self.outbox.next_seq()
            self._put_record(
                wb,
                header,
                Stage.INTAKE,
                intake_fields,
                open_case={"item_code": item.code, "home_district": district.code},
                outbox_seq=seq0,
                at=header["created_at"],
            )
            self._put_record(
                wb,
                header,
                Stage.MATERIALS,
                {"supplement": False},
                files,
                outbox_seq=seq0 + 1,
                at=header["created_at"],
            )
            wb.put_json(case_key(serial), header)
            if district.code != self.hall.district:  # ask the home district until it confirms (ledger.hall.handover)
                wb.put_json(handover_key(serial), {"serial": serial, "next_at": 0})

    def _append(
        self,
        serial: str,
        stage: Stage,
        fields: dict[str, Any],
        files: list[tuple[MaterialFile, bytes | StagedBlob]] | None = None,
        extra: list[tuple[Stage, dict[str, Any]]] | None = None,
        resolves: int | None = None,
    ) -> dict[str, Any]:
        try:
            self._gates(self.write_gates)
            self._refuse_held(serial)
            with self.lock:
                header = self.header(serial)
                with self.store.write_batch(sync=False) as wb:
                    seq = self.outbox.next_seq()
                    self._put_record(wb, header, stage, fields, files, outbox_seq=seq, resolves=resolves)
                    for i, (st, f) in enumerate(extra or [], start=1):
                        self._put_record(wb, header, st, f, outbox_seq=seq + i)
                    wb.put_json(case_key(serial), header)
        except BaseException:
            self._discard(files)  # staged chunks no record references
            raise
        self.store.sync()
        self._written()
        return self.view(serial)

    def _refuse_held(self, serial: str) -> None:
        if (held := self.held(serial)) is not None:
            raise CaseHeldError(serial, held)

    def _require_home(self, serial: str) -> dict[str, Any]:
        self._refuse_held(serial)
        h = self.header(serial)
        if h["home_district"] != self.hall.district:
            raise ForbiddenError(
                "case_other_district", serial=serial, district=h["home_district"], own=self.hall.district
            )
        return h

    def _require_accepting(self, serial: str) -> dict[str, Any]:
        self._refuse_held(serial)
        h = self.header(serial)
        if h["accepting_hall"] != self.hall.hall_id:
            raise ForbiddenError("case_other_hall", serial=serial, hall=h["accepting_hall"])
        return h

    @staticmethod
    def _staff(staff: str, staff_name: str) -> dict[str, str]:
        return {"staff": staff, **({"staff_name": staff_name} if staff_name else {})}

    def decide_acceptance(
        self, serial: str, *, accepted: bool, reason: str, staff: str, staff_name: str = ""
    ) -> dict[str, Any]:
        """受理 or 不予受理. A rejection is followed by RESULT(decision=not_accepted) (the contract's order).

        The pre-acceptance supplement requests of the case (受理前补正, kept as notices) are committed here,
        in ``pre_acceptance_requests`` (RFC 8785 JSON text of the list)."""
        self._require_home(serial)
        known = [s for s, _ in self.stages_known(serial)]
        if Stage.MATERIALS not in known:
            raise ConflictError("package_not_received", serial=serial)
        if Stage.ACCEPTANCE in known:
            raise ConflictError("acceptance_already_decided", serial=serial)
        if not accepted and not reason.strip():
            raise InputError("reason", "rejection_reason_required")
        if accepted and self.notice(serial) is not None:
            # 受理前一次性告知 is open: accept once the supplement is in (a refusal may come at any time)
            raise ConflictError("acceptance_awaits_supplement", serial=serial)
        fields: dict[str, Any] = {
            "decision": "accepted" if accepted else "rejected",
            "reason": reason.strip(),
            **self._staff(staff, staff_name),
        }
        history = self._notice_history(serial)
        if history:
            fields["pre_acceptance_requests"] = json.dumps(history, ensure_ascii=False, sort_keys=True)
        extra = None
        if not accepted:
            extra = [
                (
                    Stage.RESULT,
                    {
                        "decision": "not_accepted",
                        "note": reason.strip(),
                        **self._staff(staff, staff_name),
                    },
                )
            ]
        out = self._append(serial, Stage.ACCEPTANCE, fields, extra=extra)
        self.store.delete(notice_key(serial))
        return out

    def _notice_history(self, serial: str) -> list[dict[str, Any]]:
        n = self.store.get_json(notice_key(serial)) or {}
        return list(n.get("history") or [])

    def _require_accepted_open(self, serial: str) -> list[tuple[Stage, dict[str, Any]]]:
        known = self.stages_known(serial)
        if any(s == Stage.RESULT for s, _ in known):
            raise ConflictError("case_already_decided", serial=serial)
        acc = [f for s, f in known if s == Stage.ACCEPTANCE]
        if not acc or acc[0].get("decision") != "accepted":
            raise ConflictError("case_not_accepted", serial=serial)
        return known

    def process_step(self, serial: str, *, step: str, note: str, staff: str, staff_name: str = "") -> dict[str, Any]:
        self._require_home(serial)
        self._require_accepted_open(serial)
        step = step.strip()
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", step) or step.startswith("supplement"):
            raise InputError("step", "step_name_invalid")
        return self._append(serial, Stage.PROCESS, {"step": step, "note": note, **self._staff(staff, staff_name)})

    def request_supplement(
        self, serial: str, *, materials: list[str], note: str, staff: str, staff_name: str = ""
    ) -> dict[str, Any]:
        """补正: ask the accepting hall for more or corrected materials, after acceptance (an anchored PROCESS
        record) or before it (受理前一次性告知: a notice the accepting hall reads, see the module docstring)."""
        h = self._require_home(serial)
        known = self.stages_known(serial)
        stages = [s for s, _ in known]
        if Stage.MATERIALS not in stages:
            raise ConflictError("package_not_received", serial=serial)
        item = self.catalogue.item(h["item_code"])
        if not materials:
            raise InputError("materials", "supplement_materials_required")
        allowed = {*item.material_codes, AUTHORISATION_LETTER}
        for m in materials:
            if m not in allowed:
                raise InputError("materials", "material_not_of_item", kind=m, item=item.code)
        if Stage.ACCEPTANCE not in stages:
            with self.lock:
                if self.notice(serial) is not None:
                    raise ConflictError("supplement_already_requested", serial=serial)
                request = {
                    "requested_materials": join_list(materials),
                    "note": note.strip(),
                    **self._staff(staff, staff_name),
                    "at": now_iso(),
                }
                history = [*self._notice_history(serial), request]
                self.store.put_json(
                    notice_key(serial),
                    {"state": "open", "serial": serial, "hall_id": self.hall.hall_id, **request,
                     "materials": materials, "history": history},
                )  # fmt: skip
            self._written()
            return self.view(serial)
        self._require_accepted_open(serial)
        if self.status(serial) == "supplement_requested":
            raise ConflictError("supplement_already_requested", serial=serial)
        fields = {
            "step": "supplement_requested",
            "requested_materials": join_list(materials),
            "note": note,
            **self._staff(staff, staff_name),
        }
        return self._append(serial, Stage.PROCESS, fields)

    def accept_notice(self, serial: str, notice: SupplementNotice | None) -> None:
        """At the accepting hall: keep (or clear) the home hall's open pre-acceptance request as read from it."""
        with self.lock:
            current = self.store.get_json(notice_key(serial))
            if notice is None or notice.state != "open":
                if current is not None:
                    self.store.delete(notice_key(serial))
                    self._written()
                return
            if current is not None and current.get("state") == "answered" and current.get("at") == notice.at:
                return  # answered here; the home hall has not seen the supplement yet
            raw = notice.model_dump()
            if current != raw:
                self.store.put_json(notice_key(serial), raw)
                self._written()

    def supplement(
        self, serial: str, *, materials: list[Upload], note: str, staff: str, staff_name: str = ""
    ) -> dict[str, Any]:
        """The applicant's supplementary files, recorded as MATERIALS at the accepting hall."""
        h = self._require_accepting(serial)
        known = self.stages_known(serial)
        if any(s == Stage.RESULT for s, _ in known):
            raise ConflictError("case_already_decided", serial=serial)
        before = not any(s == Stage.ACCEPTANCE for s, _ in known)
        if self.status(serial) != "supplement_requested":
            raise ConflictError("supplement_not_requested", serial=serial)
        item = self.catalogue.item(h["item_code"])
        if not materials:
            raise InputError("materials", "upload_at_least_one")
        allowed = {*item.material_codes, AUTHORISATION_LETTER}
        for u in materials:
            if u.kind not in allowed:
                raise InputError(f"materials.{u.kind}", "material_not_of_item", kind=u.kind, item=item.code)
        self._gates(self.write_gates)
        files = self._stage(serial, self._files(materials, "materials"))
        fields = {
            "supplement": True,
            **({"before_acceptance": True} if before else {}),
            "note": note,
            **self._staff(staff, staff_name),
        }
        out = self._append(serial, Stage.MATERIALS, fields, files)
        if before:
            n = self.store.get_json(notice_key(serial))
            if n is not None:
                self.store.put_json(notice_key(serial), {**n, "state": "answered", "answered_at": now_iso()})
            out = self.view(serial)
        return out

    def answered_notice(self, serial: str) -> None:
        """At the home hall: the supplementary MATERIALS arrived (verified), so the open request is answered."""
        with self.lock:
            n = self.store.get_json(notice_key(serial))
            if n is not None and n.get("state") == "open":
                self.store.put_json(notice_key(serial), {**n, "state": "answered", "answered_at": now_iso()})

    def decide(
        self,
        serial: str,
        *,
        approved: bool,
        note: str,
        document: Upload | None,
        staff: str,
        staff_name: str = "",
    ) -> dict[str, Any]:
        """办结: RESULT with the result document (certificate, decision letter). A denial (不予许可) needs a
        reason and its decision document."""
        self._require_home(serial)
        self._require_accepted_open(serial)
        if not approved:
            problems = []
            if not note.strip():
                problems.append(InputError("note", "denial_reason_required"))
            if document is None:
                problems.append(InputError("document", "denial_document_required"))
            if problems:
                raise InputError.several(problems)
        self._gates(self.write_gates)
        files = self._stage(serial, self._files([document], "document")) if document else None
        fields = {
            "decision": "approved" if approved else "denied",
            "note": note.strip(),
            **self._staff(staff, staff_name),
        }
        return self._append(serial, Stage.RESULT, fields, files)

    def deliver(
        self,
        serial: str,
        *,
        method: str,
        note: str,
        staff: str,
        staff_name: str = "",
        recipient: dict[str, str] | None = None,
        tracking_number: str = "",
    ) -> dict[str, Any]:
        """结果送达 at the accepting hall, once the result has been received and verified.

        ``recipient``: who received it (``type`` ``applicant`` | ``agent``, ``name``, ``id_type``, ``id_number``);
        by post the tracking number is required instead of a signature at the counter."""
        self._require_accepting(serial)
        known = self.stages_known(serial)
        if not any(s == Stage.RESULT for s, _ in known):
            raise ConflictError("result_not_received", serial=serial)
        if any(s == Stage.DELIVERY for s, _ in known):
            raise ConflictError("already_delivered", serial=serial)
        if method not in DELIVERY_METHODS:
            raise InputError("method", "delivery_method_unknown")
        fields: dict[str, Any] = {
            "method": method,
            "note": note.strip(),
            **self._staff(staff, staff_name),
        }
        problems: list[InputError] = []
        if method == "post":
            t = re.sub(r"\s", "", tracking_number or "").upper()
            if not t:
                problems.append(InputError("tracking_number", "tracking_number_required"))
            elif not _TRACKING.fullmatch(t):
                problems.append(InputError("tracking_number", "tracking_number_format"))
            fields["tracking_number"] = t
        rec = recipient or {}
        if rec.get("name") or method == "counter" and recipient is not None:
            rtype = rec.get("type") or "applicant"
            fields["recipient_type"] = "agent" if rtype == "agent" else "applicant"
            try:
                fields["recipient_name"] = _name(
                    rec.get("name"), 64, InputError("recipient_name", "recipient_name_required")
                )
            except InputError as exc:
                problems.append(exc)
            if (rec.get("id_number") or "").strip():
                id_type = rec.get("id_type") or "resident_id"
                try:
                    fields["recipient_id_type"] = id_type
                    fields["recipient_id_number"] = check_id(id_type, rec.get("id_number") or "", "recipient_id_number")
                except InputError as exc:
                    problems.append(exc)
        if problems:
            raise InputError.several(problems)
        return self._append(serial, Stage.DELIVERY, fields)

    def reissue(self, serial: str, *, staff: str) -> dict[str, Any]:
        """A held case (its INTAKE refused on chain: the serial was someone else's) taken in again under a
        fresh serial: the same applicant data and files in new records (new salts), queued for anchoring.
        The held case stays as it is, pointing at the new one; staff give the applicant a new receipt."""
        held = self.held(serial)
        if held is None:
            raise ConflictError("reissue_not_held", serial=serial)
        if held.get("superseded_by"):
            raise ConflictError("reissue_done", serial=serial, new=str(held["superseded_by"]))
        old = self.header(serial)
        recs = [r for r in self.records(serial) if r.get("origin") == "local"]
        intake = next((r for r in recs if r["stage"] == Stage.INTAKE.name), None)
        if intake is None:
            raise ConflictError("package_not_received", serial=serial)
        drop = PROTECTED_FIELDS | {"materials_root", "materials_count"}
        with self.lock, self.store.write_batch(sync=False) as wb:
            new = self._next_serial(wb)
            header = {
                **{k: old[k] for k in ("item_code", "home_district", "accepting_hall", "accepting_district")},
                "serial": new,
                "created_at": now_iso(),
                "next_seq": 0,
                "source": "intake",
                "reissued_from": serial,
                "anchor_mode": old.get("anchor_mode") or "event",
            }
            seq = self.outbox.next_seq()
            fields = {k: v for k, v in intake["fields"].items() if k not in drop}
            self._put_record(
                wb,
                header,
                Stage.INTAKE,
                {**fields, "reissued_from": serial, "reissued_by": staff},
                open_case={"item_code": old["item_code"], "home_district": old["home_district"]},
                outbox_seq=seq,
                at=intake["fields"].get("at"),  # the act happened when the applicant came, not now
            )
            for i, r in enumerate((r for r in recs if r["stage"] == Stage.MATERIALS.name), start=1):
                files: list[tuple[MaterialFile, bytes | StagedBlob]] = [
                    (MaterialFile.of(f["kind"], f["name"], data, suite=self.hall.suite), data)
                    for f in r.get("files", [])
                    if (data := self.store.get_blob(f["digest"], case=serial))
                ]
                mfields = {k: v for k, v in r["fields"].items() if k not in drop}
                at = r["fields"].get("at")
                self._put_record(wb, header, Stage.MATERIALS, mfields, files, outbox_seq=seq + i, at=at)
            wb.put_json(case_key(new), header)
            wb.put_json(
                held_key(serial), {**held, "superseded_by": new, "reissued_at": time.time(), "reissued_by": staff}
            )
        self.store.sync()
        self._written()
        return self.view(new)

    # ------------------------------------------------------------------ transfer support
    def package(self, serial: str) -> TransferPackage:
        """Every anchored record of the case with salts and file bytes (for a peer hall to verify; a Merkle-mode
        case's records also need their proofs: :func:`ledger.hall.merkle_evidence.merkle_package`)."""
        import base64

        h = self.header(serial)
        out = []
        for r in self.records(serial):
            a = r.get("anchor") or {}
            if a.get("state") != "anchored":
                continue
            files = [
                PackageFile.model_validate(
                    {**f, "data": base64.b64encode(self.store.get_blob(f["digest"], case=serial)).decode()}
                )
                for f in r.get("files", [])
            ]
            out.append(
                PackageRecord(
                    index=a["index"],
                    stage=Stage[r["stage"]],
                    fields=r["fields"],
                    salts=r["salts"],
                    withheld=r.get("withheld") or {},
                    files=files,
                )
            )
        return TransferPackage(
            serial=serial,
            item_code=h["item_code"],
            home_district=h["home_district"],
            accepting_hall=h["accepting_hall"],
            records=out,
        )

    # ------------------------------------------------------------------ disputes (see ledger.hall.disputes)
    def append_dispute(
        self, serial: str, stage: Stage, fields: dict[str, Any], *, resolves: int | None = None
    ) -> dict[str, Any]:
        """Store a DISPUTE_OPENED / DISPUTE_RESOLVED record on a case this hall holds, queued for anchoring.

        Anchored with this hall's own key, which needs the registry's dispute-officer role; a
        DISPUTE_RESOLVED names the index of the DISPUTE_OPENED event it closes (``resolves``, the
        on-chain ``ref``). The rules (an open dispute to resolve, a report to commit to, limits) live in
        :mod:`ledger.hall.disputes`.
        """
        if stage not in (Stage.DISPUTE_OPENED, Stage.DISPUTE_RESOLVED):
            raise InputError("stage", "not_a_dispute_stage", stage=stage.name)
        return self._append(serial, stage, fields, resolves=resolves)
