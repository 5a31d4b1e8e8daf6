"""The case domain service of one hall: intake, acceptance, process, result, delivery.

No web framework here: the node API calls these methods and maps :class:`LedgerError` to HTTP.
Every state change is one atomic LevelDB batch holding the record (fields + salts), its files and
its outbox entry, so what staff were told was saved is saved, and anchoring follows
asynchronously::

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
anchor state), ``meta/serial/<yyyymmdd>`` (serial counter), ``blob/<digest>`` (files, by the suite's digest).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.core.materials import MaterialFile, MaterialSet
from ledger.core.records import PROTECTED_FIELDS, SaltedRecord
from ledger.core.stages import Stage
from ledger.core.suites import INTL, Suite
from ledger.core.text import ascii_code, clean_name, clean_text
from ledger.core.timefmt import CST, now_iso
from ledger.errors import CaseHeldError, InputError, NotFoundError
from ledger.hall.catalogue import Catalogue, load_catalogue
from ledger.hall.idnumber import id_check_character
from ledger.hall.keys import CASE_PREFIX, case_key, held_key, record_key, record_prefix, serial_counter_key
from ledger.hall.outbox import Outbox
from ledger.hall.store import Store, WriteBatch

__all__ = [
    "CaseBook",
    "HallIdentity",
    "Upload",
    "case_status",
    "check_id_number",
    "check_phone",
    "join_list",
    "split_list",
]

DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
PERSONAL_FIELDS = ("applicant_name", "applicant_id_number", "applicant_phone", "applicant_address")
ROOT_FIELDS = {
    Stage.MATERIALS: ("materials_root", "materials_count"),
    Stage.RESULT: ("documents_root", "documents_count"),
}

_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$", re.ASCII)
LIST_SEPARATOR = "、"
"""a list in a record is one string, its items joined by U+3001 (records hold scalars only)"""


def join_list(items: list[str]) -> str:
    """A list committed as one record value (``id_card、contract``)."""
    return LIST_SEPARATOR.join(items)


def split_list(value: str) -> list[str]:
    """The items of a list committed by :func:`join_list`."""
    return [v for v in value.split(LIST_SEPARATOR) if v]


def check_id_number(value: str, field: str = "applicant.id_number") -> str:
    """A mainland resident ID number (GB 11643-1999, 18 characters with its ISO 7064 check digit).

    Typed in any width: NFKC first (full-width ``３５０…`` and ``ｘ`` are the same number), then ASCII only."""
    v = ascii_code(field, value)
    if not re.fullmatch(r"[0-9]{17}[0-9X]", v):
        raise InputError(
            field,
            "a resident ID number has 17 digits and a check character (digit or X)",
            zh="身份证号码由 17 位数字和 1 位校验码（数字或 X）组成",
        )
    if id_check_character(v[:17]) != v[17]:
        raise InputError(field, "the check character does not match: please re-check the ID number")
    try:
        datetime.strptime(v[6:14], "%Y%m%d")
    except ValueError:
        raise InputError(field, "the birth date inside the ID number is not a real date") from None
    return v


def check_phone(value: str, field: str = "applicant.phone") -> str:
    v = ascii_code(field, value)
    if not _PHONE.fullmatch(v):
        raise InputError(
            field,
            "a phone number is an 11-digit mobile number or an area code and number",
            zh="电话号码为 11 位手机号码，或区号加号码",
        )
    return v


@dataclass(frozen=True)
class HallIdentity:
    hall_id: int
    district: int
    account: str = ""
    name: str = ""
    suite: Suite = INTL


@dataclass(frozen=True)
class Upload:
    """One uploaded file: material ``kind`` (catalogue code), original file name, bytes."""

    kind: str
    filename: str
    data: bytes


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
            status = "accepted"
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
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.hall = hall
        self.catalogue = catalogue or load_catalogue()
        self.max_file_bytes = max_file_bytes
        self.on_write = on_write
        self.lock: threading.RLock = outbox.lock
        # checks that may refuse new intakes (UnavailableError, 503): the serial check after a restore
        self.intake_gates: list[Callable[[], None]] = []
        # checks that may refuse every staff write (the clock check)
        self.write_gates: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ reads
    def header(self, serial: str) -> dict[str, Any]:
        h = self.store.get_json(case_key(serial))
        if h is None:
            raise NotFoundError(f"no case {serial} at this hall")
        return dict(h)

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
        return {**h, "status": case_status(recs), "events": len(recs), "pending_anchors": pending}

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
        return {
            **h,
            "item_name_zh": item.name_zh,
            "item_name_en": item.name_en,
            "status": "held" if held else case_status(recs),
            "held": held,
            "timeline": timeline,
        }

    def stages_known(self, serial: str) -> list[tuple[Stage, dict[str, Any]]]:
        return [
            (Stage[r["stage"]], r["fields"])
            for r in self.records(serial)
            if (r.get("anchor") or {}).get("state") != "refused"
        ]

    # ------------------------------------------------------------------ writes
    def _files(self, uploads: list[Upload], field: str) -> list[tuple[MaterialFile, bytes]]:
        out = []
        for u in uploads:
            f = f"{field}.{u.kind}"
            if not u.data:
                raise InputError(f, f"file {u.filename!r} is empty")
            if len(u.data) > self.max_file_bytes:
                raise InputError(f, f"file {u.filename!r} is {len(u.data)} bytes; the limit is {self.max_file_bytes}")
            if not u.filename or len(u.filename) > 200:
                raise InputError(f, "every file needs a name of at most 200 characters")
            out.append((MaterialFile.of(u.kind, u.filename, u.data, suite=self.hall.suite), u.data))
        return out

    def _put_record(
        self,
        wb: WriteBatch,
        header: dict[str, Any],
        stage: Stage,
        fields: dict[str, Any],
        files: list[tuple[MaterialFile, bytes]] | None = None,
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
            wb.put_blob(data)
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
        raise InputError("serial", f"case {header['serial']} has no intake record at this hall yet")

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
    ) -> dict[str, Any]:
        """Validate and store a new case (INTAKE + MATERIALS), queued for anchoring."""
        self._gates(self.write_gates + self.intake_gates)
        item = self.catalogue.item(item_code)
        district = self.catalogue.district(home_district)
        name = clean_name("applicant.name", applicant.get("name") or "")
        if not name:
            raise InputError(
                "applicant.name",
                "the applicant's name is required (at most 64 characters)",
                zh="申请人姓名必须填写（最多 64 个字符）",
            )
        id_number = check_id_number(applicant.get("id_number") or "")
        phone = check_phone(applicant.get("phone") or "")
        address = clean_text("applicant.address", (applicant.get("address") or "").strip())
        allowed = set(item.material_codes)
        for u in materials:
            if u.kind not in allowed:
                raise InputError(f"materials.{u.kind}", f"{u.kind!r} is not a material of {item.code} ({item.name_zh})")
        given = {u.kind for u in materials}
        for m in item.materials:
            if m.code not in given:
                raise InputError(f"materials.{m.code}", f"required material missing: {m.name_zh} ({m.name_en})")
        files = self._files(materials, "materials")

        with self.lock, self.store.write_batch(sync=False) as wb:
            serial = self._next_serial(wb)
            header: dict[str, Any] = {
                "serial": serial,
                "item_code": item.code,
                "home_district": district.code,
                "accepting_hall": self.hall.hall_id,
                "accepting_district": self.hall.district,
                "created_at": now_iso(),
                "next_seq": 0,
                "source": "intake",
            }
            intake_fields = {
                "item_code": item.code,
                "item_name": item.name_zh,
                "home_district": district.code,
                "accepting_hall": self.hall.hall_id,
                "accepting_district": self.hall.district,
                "applicant_name": name,
                "applicant_id_number": id_number,
                "applicant_phone": phone,
                "intake_staff": staff,
                "time_limit_working_days": item.time_limit_working_days,
            }
            if address:
                intake_fields["applicant_address"] = address
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
        self.store.sync()  # durable before anyone is told it is saved; concurrent intakes share the fsync
        self._written()
        return self.view(serial)

    def _append(
        self,
        serial: str,
        stage: Stage,
        fields: dict[str, Any],
        files: list[tuple[MaterialFile, bytes]] | None = None,
        extra: list[tuple[Stage, dict[str, Any]]] | None = None,
        resolves: int | None = None,
    ) -> dict[str, Any]:
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
            raise InputError("serial", f"case {serial} belongs to district {h['home_district']}, not this hall's")
        return h

    def _require_accepting(self, serial: str) -> dict[str, Any]:
        self._refuse_held(serial)
        h = self.header(serial)
        if h["accepting_hall"] != self.hall.hall_id:
            raise InputError("serial", f"case {serial} was accepted at hall {h['accepting_hall']}, not here")
        return h

    def decide_acceptance(self, serial: str, *, accepted: bool, reason: str, staff: str) -> dict[str, Any]:
        """受理 or 不予受理. A rejection is followed by RESULT(decision=not_accepted) (the contract's order)."""
        self._require_home(serial)
        known = [s for s, _ in self.stages_known(serial)]
        if Stage.MATERIALS not in known:
            raise InputError("serial", "the case's package has not been received and verified yet")
        if Stage.ACCEPTANCE in known:
            raise InputError("decision", "acceptance has already been decided for this case")
        if not accepted and not reason.strip():
            raise InputError("reason", "a rejection needs a reason")
        fields = {"decision": "accepted" if accepted else "rejected", "reason": reason, "staff": staff}
        extra = None
        if not accepted:
            extra = [(Stage.RESULT, {"decision": "not_accepted", "note": reason, "staff": staff})]
        return self._append(serial, Stage.ACCEPTANCE, fields, extra=extra)

    def _require_accepted_open(self, serial: str) -> list[tuple[Stage, dict[str, Any]]]:
        known = self.stages_known(serial)
        acc = [f for s, f in known if s == Stage.ACCEPTANCE]
        if not acc or acc[0].get("decision") != "accepted":
            raise InputError("serial", "the case has not been accepted")
        if any(s == Stage.RESULT for s, _ in known):
            raise InputError("serial", "the case has already been decided")
        return known

    def process_step(self, serial: str, *, step: str, note: str, staff: str) -> dict[str, Any]:
        self._require_home(serial)
        self._require_accepted_open(serial)
        step = step.strip()
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", step) or step.startswith("supplement"):
            raise InputError("step", "a step is a short lowercase name such as 'review' or 'site_inspection'")
        return self._append(serial, Stage.PROCESS, {"step": step, "note": note, "staff": staff})

    def request_supplement(self, serial: str, *, materials: list[str], note: str, staff: str) -> dict[str, Any]:
        """补正: ask the accepting hall for more or corrected materials."""
        h = self._require_home(serial)
        self._require_accepted_open(serial)
        item = self.catalogue.item(h["item_code"])
        if not materials:
            raise InputError("materials", "name at least one material to supplement")
        for m in materials:
            if m not in item.material_codes:
                raise InputError("materials", f"{m!r} is not a material of {item.code}")
        fields = {
            "step": "supplement_requested",
            "requested_materials": join_list(materials),
            "note": note,
            "staff": staff,
        }
        return self._append(serial, Stage.PROCESS, fields)

    def supplement(self, serial: str, *, materials: list[Upload], note: str, staff: str) -> dict[str, Any]:
        """The applicant's supplementary files, recorded as MATERIALS at the accepting hall."""
        h = self._require_accepting(serial)
        known = self._require_accepted_open(serial)
        requested = sum(1 for s, f in known if s == Stage.PROCESS and f.get("step") == "supplement_requested")
        filed = sum(1 for s, f in known if s == Stage.MATERIALS and f.get("supplement"))
        if not requested:
            raise InputError("serial", "no supplement has been requested for this case", zh="该办件没有补正要求")
        if filed >= requested:  # one supplement answers one request
            raise InputError(
                "serial",
                "the requested supplement has already been filed; wait for the next request",
                zh="本次补正材料已提交，请等待承办部门的新补正要求",
            )
        item = self.catalogue.item(h["item_code"])
        if not materials:
            raise InputError("materials", "upload at least one file")
        for u in materials:
            if u.kind not in item.material_codes:
                raise InputError(f"materials.{u.kind}", f"{u.kind!r} is not a material of {item.code}")
        files = self._files(materials, "materials")
        fields = {"supplement": True, "note": note, "staff": staff}
        return self._append(serial, Stage.MATERIALS, fields, files)

    def decide(self, serial: str, *, approved: bool, note: str, document: Upload | None, staff: str) -> dict[str, Any]:
        """办结: RESULT with the result document (certificate, decision letter)."""
        self._require_home(serial)
        self._require_accepted_open(serial)
        files = self._files([document], "document") if document else None
        fields = {"decision": "approved" if approved else "denied", "note": note, "staff": staff}
        return self._append(serial, Stage.RESULT, fields, files)

    def deliver(self, serial: str, *, method: str, note: str, staff: str) -> dict[str, Any]:
        """结果送达 at the accepting hall, once the result has been received and verified."""
        self._require_accepting(serial)
        known = self.stages_known(serial)
        if not any(s == Stage.RESULT for s, _ in known):
            raise InputError("serial", "the result has not been received and verified at this hall yet")
        if any(s == Stage.DELIVERY for s, _ in known):
            raise InputError("serial", "the result has already been delivered")
        if method not in ("counter", "post", "electronic"):
            raise InputError("method", "delivery method is one of counter, post, electronic")
        return self._append(serial, Stage.DELIVERY, {"method": method, "note": note, "staff": staff})

    def reissue(self, serial: str, *, staff: str) -> dict[str, Any]:
        """A held case (its INTAKE refused on chain: the serial was someone else's) taken in again under a
        fresh serial: the same applicant data and files in new records (new salts), queued for anchoring.
        The held case stays as it is, pointing at the new one; staff give the applicant a new receipt."""
        held = self.held(serial)
        if held is None:
            raise InputError("serial", f"case {serial} is not held; only a case whose INTAKE was refused is reissued")
        if held.get("superseded_by"):
            raise InputError("serial", f"case {serial} was already reissued as {held['superseded_by']}")
        old = self.header(serial)
        recs = [r for r in self.records(serial) if r.get("origin") == "local"]
        intake = next((r for r in recs if r["stage"] == Stage.INTAKE.name), None)
        if intake is None:
            raise InputError("serial", f"case {serial} has no INTAKE record at this hall")
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
                files = [
                    (MaterialFile.of(f["kind"], f["name"], data, suite=self.hall.suite), data)
                    for f in r.get("files", [])
                    if (data := self.store.get_blob(f["digest"]))
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
    def package(self, serial: str) -> dict[str, Any]:
        """Every anchored record of the case with salts and file bytes (for a peer hall to verify)."""
        import base64

        h = self.header(serial)
        out = []
        for r in self.records(serial):
            a = r.get("anchor") or {}
            if a.get("state") != "anchored":
                continue
            files = []
            for f in r.get("files", []):
                files.append({**f, "data": base64.b64encode(self.store.get_blob(f["digest"])).decode()})
            out.append(
                {
                    "index": a["index"],
                    "stage": r["stage"],
                    "fields": r["fields"],
                    "salts": r["salts"],
                    "withheld": r.get("withheld") or {},
                    "files": files,
                }
            )
        return {
            "serial": serial,
            "item_code": h["item_code"],
            "home_district": h["home_district"],
            "accepting_hall": h["accepting_hall"],
            "records": out,
        }

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
            raise InputError("stage", f"{stage.name} is not a dispute stage")
        return self._append(serial, stage, fields, resolves=resolves)
