"""Stand-alone verification of a case: an evidence bundle against the chain.

Verification is a pure function over explicit inputs::

    facts = fetch_chain_facts(client, bundle.serial)     # everything read from the chain
    report = verify_bundle(bundle, facts)                 # pure: no I/O
    report.ok                                             # all events match

For every event the report says ``match``, ``mismatch`` (with reasons), ``missing_on_chain`` (in the
bundle, not on chain) or ``missing_from_bundle`` (on chain, not in the bundle), with writer, block
and time. Independently of the bundle it re-checks the chain itself: the hash chain, the stage order,
and that each writer's key was an active hall with the right to write that stage at that block
(key history from the registry's events), so a rotated-out or suspended key's events verify when
written inside the key's validity window and are flagged outside it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from pydantic import BaseModel, ConfigDict

from ledger.chain.client import CaseOpenedEvent, ChainClient, ChainEvent
from ledger.core.bundle import BundleEvent, EvidenceBundle
from ledger.core.hashchain import case_id, next_head
from ledger.core.materials import MaterialProof, verify_material
from ledger.core.records import DisclosedRecord, canonical_bytes
from ledger.core.stages import Stage
from ledger.errors import InputError, VerificationError

__all__ = [
    "ChainEventFact",
    "ChainFacts",
    "EventVerdict",
    "MaterialVerdict",
    "Reason",
    "RegistryFact",
    "VerificationReport",
    "check_chain",
    "fetch_chain_facts",
    "fetch_registry_log",
    "report_sha256",
    "verify_bundle",
    "verify_document",
]

Status = Literal["match", "mismatch", "missing_on_chain", "missing_from_bundle"]

# zh-CN first, English second.
MESSAGES: dict[str, tuple[str, str]] = {
    "record_mismatch": ("记录内容与链上承诺不符", "record content does not match the on-chain commitment"),
    "record_malformed": ("记录格式错误", "record is malformed"),
    "record_absent": ("证据包未提供该记录内容", "the bundle does not include this record's content"),
    "serial_mismatch": ("记录所属办件编号不符", "record belongs to another case"),
    "stage_mismatch": ("记录环节与链上环节不符", "record stage differs from the on-chain stage"),
    "writer_mismatch": ("写入方与链上记录不符", "writer differs from the chain"),
    "hall_mismatch": ("大厅编号与链上记录不符", "hall id differs from the chain"),
    "block_mismatch": ("区块号与链上记录不符", "block number differs from the chain"),
    "time_mismatch": ("时间与链上区块时间不符（疑似倒签）", "time differs from the block time (back-dated?)"),
    "tx_mismatch": ("交易哈希与链上记录不符", "transaction hash differs from the chain"),
    "commitment_mismatch": ("承诺值与链上记录不符", "commitment differs from the chain"),
    "head_mismatch": ("哈希链头与链上记录不符", "hash-chain head differs from the chain"),
    "chain_head_broken": ("链上哈希链无法复算", "the on-chain hash chain does not recompute"),
    "writer_inactive": ("写入时该密钥不是有效大厅密钥", "writer key was not an active hall key at that block"),
    "writer_no_right": ("写入方无权写入该环节", "writer had no right to write this stage"),
    "out_of_order": ("环节顺序不符合办件流程", "stage out of lifecycle order"),
    "recorded_after_anchor": ("记录时间晚于上链时间", "record time is later than its anchoring block"),
    "missing_on_chain": ("链上无此事件", "event not found on chain"),
    "missing_from_bundle": ("证据包缺少链上已有的事件", "event on chain is missing from the bundle"),
    "material_mismatch": ("材料证明不成立", "material proof does not hold"),
    "material_content_mismatch": ("材料文件内容与登记不符", "material file differs from what was committed"),
    "material_event_invalid": (
        "材料所指的事件不是已核验的材料记录或结果记录",
        "material refers to no verified MATERIALS or RESULT record",
    ),
}

TIME_TOLERANCE_S = 120


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    detail: str = ""

    def text(self, lang: str = "zh") -> str:
        zh, en = MESSAGES.get(self.code, (self.code, self.code))
        base = zh if lang == "zh" else en
        return (
            f"{base}（{self.detail}）"
            if self.detail and lang == "zh"
            else f"{base} ({self.detail})"
            if self.detail
            else base
        )


class EventVerdict(BaseModel):
    index: int
    stage: str
    status: Status
    reasons: list[Reason] = []
    writer: str | None = None
    hall_id: int | None = None
    block: int | None = None
    time: int | None = None
    tx: str | None = None
    withheld: list[str] = []


class MaterialVerdict(BaseModel):
    event_index: int
    kind: str
    name: str
    status: Literal["match", "mismatch"]
    reasons: list[Reason] = []
    content_checked: bool = False


class VerificationReport(BaseModel):
    serial: str
    chain_id: int
    ledger: str
    events: list[EventVerdict]
    materials: list[MaterialVerdict] = []
    withheld_fields: dict[int, list[str]] = {}

    @property
    def ok(self) -> bool:
        return all(e.status == "match" for e in self.events) and all(m.status == "match" for m in self.materials)

    @property
    def verdict(self) -> str:
        return "match" if self.ok else "mismatch"


class ChainEventFact(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int
    stage: Stage
    writer: str
    hall_id: int
    commitment: str
    head: str
    block: int
    log_index: int
    tx: str
    time: int


class RegistryFact(BaseModel):
    """One registry event: ``kind`` is registered | suspended | reactivated | rotated | role_granted | role_revoked."""

    model_config = ConfigDict(frozen=True)

    kind: str
    block: int
    log_index: int
    hall_id: int = 0
    account: str = ""
    new_account: str = ""
    district: int = 0
    role: str = ""


class ChainFacts(BaseModel):
    """Everything the verifier needs from the chain for one case (explicit input of the pure check)."""

    model_config = ConfigDict(frozen=True)

    serial: str
    chain_id: int
    ledger: str
    registry: str
    opened: bool
    accepting_hall: int
    home_district: int
    item_code: str
    head: str
    event_count: int
    events: list[ChainEventFact]
    registry_log: list[RegistryFact]
    dispute_role: str


# ---------------------------------------------------------------------------------------- fetching
def _event_fact(e: ChainEvent, times: dict[int, int]) -> ChainEventFact:
    return ChainEventFact(
        index=e.index,
        stage=e.stage,
        writer=e.writer,
        hall_id=e.hall_id,
        commitment="0x" + e.commitment.hex(),
        head="0x" + e.head.hex(),
        block=e.block_number,
        log_index=e.log_index,
        tx=e.tx_hash,
        time=times[e.block_number],
    )


def _block_times(client: ChainClient, events: Iterable[ChainEvent]) -> dict[int, int]:
    times: dict[int, int] = {}
    for e in events:
        if e.block_number not in times:
            times[e.block_number] = client.block_time(e.block_number)
    return times


def fetch_chain_facts(
    client: ChainClient, serial: str, *, registry_log: list[RegistryFact] | None = None
) -> ChainFacts:
    """Read the case's events, block times and the registry's history from the chain.

    ``registry_log`` (from :func:`fetch_registry_log`) saves re-reading the registry when many
    cases are checked in a row (the audit's anomaly scan).
    """
    dep = client.deployment
    if dep is None:
        raise InputError("deployment", "no contract addresses to read from")
    header = client.case_header(serial)
    events = client.case_events(serial)
    times = _block_times(client, events)
    dispute_role = DISPUTE_OFFICER_ROLE
    return ChainFacts(
        serial=serial,
        chain_id=client.chain_id(),
        ledger=dep.ledger,
        registry=dep.registry,
        opened=header["phase"] != 0,
        accepting_hall=header["accepting_hall"],
        home_district=header["home_district"],
        item_code=header["item_code"],
        head="0x" + header["head"].hex(),
        event_count=header["event_count"],
        events=[_event_fact(e, times) for e in events],
        registry_log=registry_log if registry_log is not None else fetch_registry_log(client),
        dispute_role=dispute_role,
    )


def fetch_chain_facts_many(
    client: ChainClient, serials: Iterable[str], *, registry_log: list[RegistryFact] | None = None, chunk: int = 10_000
) -> dict[str, ChainFacts]:
    """Chain facts for many cases at once (the audit's scan): one pass over the ledger's logs.

    Equivalent to :func:`fetch_chain_facts` per case, but the header (accepting hall, home district,
    item, head, event count) is taken from the case's ``CaseOpened`` and ``EventAppended`` logs
    instead of one ``caseHeader`` call per case. Cases with nothing on chain get ``opened=False``.
    """
    dep = client.deployment
    if dep is None:
        raise InputError("deployment", "no contract addresses to read from")
    wanted = {"0x" + case_id(s).hex(): s for s in serials}
    opened: dict[str, CaseOpenedEvent] = {}
    appended: dict[str, list[ChainEvent]] = {}
    head_block = client.block_number()
    for lo in range(dep.deployed_block, head_block + 1, chunk):
        ops, apps = client.events_in_range(lo, min(head_block, lo + chunk - 1))
        for op in ops:
            if op.case_id in wanted:
                opened[op.case_id] = op
        for a in apps:
            if a.case_id in wanted:
                appended.setdefault(a.case_id, []).append(a)
    times = _block_times(client, (e for evs in appended.values() for e in evs))
    registry = registry_log if registry_log is not None else fetch_registry_log(client)
    dispute_role = DISPUTE_OFFICER_ROLE
    chain_id = client.chain_id()
    out: dict[str, ChainFacts] = {}
    for cid, serial in wanted.items():
        evs = sorted(appended.get(cid, []), key=lambda e: e.index)
        o = opened.get(cid)
        out[serial] = ChainFacts(
            serial=serial,
            chain_id=chain_id,
            ledger=dep.ledger,
            registry=dep.registry,
            opened=o is not None,
            accepting_hall=o.accepting_hall if o else 0,
            home_district=o.home_district if o else 0,
            item_code=o.item_code if o else "",
            head="0x" + (evs[-1].head.hex() if evs else "00" * 32),
            event_count=len(evs),
            events=[_event_fact(e, times) for e in evs],
            registry_log=registry,
            dispute_role=dispute_role,
        )
    return out


_REGISTRY_TOPICS: dict[bytes, str] = {
    keccak(text=sig): kind
    for sig, kind in (
        ("HallRegistered(uint32,address,uint32,string,string)", "registered"),
        ("HallSuspended(uint32,address)", "suspended"),
        ("HallReactivated(uint32,address)", "reactivated"),
        ("HallKeyRotated(uint32,address,address)", "rotated"),
        ("RoleGranted(bytes32,address,address)", "role_granted"),
        ("RoleRevoked(bytes32,address,address)", "role_revoked"),
    )
}
DISPUTE_OFFICER_ROLE = "0x" + keccak(text="DISPUTE_OFFICER_ROLE").hex()


def fetch_registry_log(client: ChainClient) -> list[RegistryFact]:
    """The registry's membership and role history, in chain order."""
    dep = client.deployment
    if dep is None:
        raise InputError("deployment", "no contract addresses to read from")
    out: list[RegistryFact] = []
    for lg in client.registry_raw_logs(dep.deployed_block):
        t = lg["topics"]
        kind = _REGISTRY_TOPICS.get(t[0])
        if kind is None:
            continue
        pos = {"block": lg["blockNumber"], "log_index": lg["logIndex"]}
        if kind in ("registered", "suspended", "reactivated", "rotated"):
            hall_id = int.from_bytes(t[1], "big")
            account = to_checksum_address(t[2][12:])
            if kind == "registered":
                out.append(RegistryFact(kind=kind, hall_id=hall_id, account=account,
                                        district=int.from_bytes(t[3], "big"), **pos))  # fmt: skip
            elif kind == "rotated":
                out.append(RegistryFact(kind=kind, hall_id=hall_id, account=account,
                                        new_account=to_checksum_address(t[3][12:]), **pos))  # fmt: skip
            else:
                out.append(RegistryFact(kind=kind, hall_id=hall_id, account=account, **pos))
        else:  # RoleGranted / RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender)
            out.append(RegistryFact(kind=kind, role="0x" + t[1].hex(), account=to_checksum_address(t[2][12:]), **pos))
    out.sort(key=lambda f: (f.block, f.log_index))
    return out


# ---------------------------------------------------------------------------------------- pure checks
@dataclass
class _RegistryState:
    key_of_account: dict[str, int] = field(default_factory=dict)
    district: dict[int, int] = field(default_factory=dict)
    active: dict[int, bool] = field(default_factory=dict)
    roles: set[tuple[str, str]] = field(default_factory=set)

    def apply(self, f: RegistryFact) -> None:
        acct = f.account.lower()
        if f.kind == "registered":
            self.key_of_account[acct] = f.hall_id
            self.district[f.hall_id] = f.district
            self.active[f.hall_id] = True
        elif f.kind == "suspended":
            self.active[f.hall_id] = False
        elif f.kind == "reactivated":
            self.active[f.hall_id] = True
        elif f.kind == "rotated":
            self.key_of_account.pop(acct, None)
            self.key_of_account[f.new_account.lower()] = f.hall_id
            for role, who in list(self.roles):
                if who == acct:
                    self.roles.discard((role, who))
                    self.roles.add((role, f.new_account.lower()))
        elif f.kind == "role_granted":
            self.roles.add((f.role, acct))
        elif f.kind == "role_revoked":
            self.roles.discard((f.role, acct))


_NEXT_PHASE: dict[tuple[Stage, int], int] = {
    (Stage.MATERIALS, 1): 2,
    (Stage.MATERIALS, 2): 2,
    (Stage.MATERIALS, 3): 3,
    (Stage.ACCEPTANCE, 2): 3,
    (Stage.PROCESS, 3): 3,
    (Stage.RESULT, 3): 4,
    (Stage.DELIVERY, 4): 5,
}


def check_chain(facts: ChainFacts) -> dict[int, list[Reason]]:
    """Re-check the chain's own events: heads, order, writer rights at each block (pure).

    Shared by :func:`verify_bundle` and the audit's anomaly scan: the reasons per event index are
    ``chain_head_broken``, ``out_of_order``, ``writer_inactive`` and ``writer_no_right``.
    """
    out: dict[int, list[Reason]] = {e.index: [] for e in facts.events}
    state = _RegistryState()
    reg = iter(facts.registry_log)
    pending = next(reg, None)
    prev = case_id(facts.serial)
    phase = 0
    disputes = 0
    for e in sorted(facts.events, key=lambda x: x.index):
        while pending is not None and (pending.block, pending.log_index) < (e.block, e.log_index):
            state.apply(pending)
            pending = next(reg, None)
        reasons = out[e.index]
        head = next_head(prev, e.stage, bytes.fromhex(e.commitment[2:]), e.writer)
        if "0x" + head.hex() != e.head.lower():
            reasons.append(Reason(code="chain_head_broken", detail=f"index {e.index}"))
        prev = bytes.fromhex(e.head[2:])
        writer = e.writer.lower()
        hall = state.key_of_account.get(writer)
        is_officer = (facts.dispute_role, writer) in state.roles
        if e.stage in (Stage.DISPUTE_OPENED, Stage.DISPUTE_RESOLVED):
            if hall is not None and not state.active.get(hall, False):
                reasons.append(Reason(code="writer_inactive", detail=e.writer))
            if not is_officer:
                reasons.append(Reason(code="writer_no_right", detail="dispute officer role"))
            if e.stage == Stage.DISPUTE_OPENED:
                disputes += 1
            elif disputes == 0:
                reasons.append(Reason(code="out_of_order", detail="no open dispute"))
            else:
                disputes -= 1
            continue
        if hall is None or not state.active.get(hall, False):
            reasons.append(Reason(code="writer_inactive", detail=e.writer))
        elif e.stage in (Stage.INTAKE, Stage.MATERIALS, Stage.DELIVERY):
            if e.stage != Stage.INTAKE and hall != facts.accepting_hall:
                reasons.append(Reason(code="writer_no_right", detail="not the accepting hall"))
        elif state.district.get(hall) != facts.home_district:
            reasons.append(Reason(code="writer_no_right", detail="not a hall of the home district"))
        if e.stage == Stage.INTAKE:
            if e.index != 0:
                reasons.append(Reason(code="out_of_order", detail="INTAKE after index 0"))
            phase = 1
        else:
            nxt = _NEXT_PHASE.get((e.stage, phase))
            if nxt is None:
                reasons.append(Reason(code="out_of_order", detail=f"{e.stage.name} in phase {phase}"))
            else:
                phase = nxt
    return out


def verify_bundle(bundle: EvidenceBundle, facts: ChainFacts) -> VerificationReport:
    """Compare every event of ``bundle`` with ``facts``; pure, raises only on unusable input."""
    if bundle.serial != facts.serial:
        raise InputError("serial", f"bundle is for {bundle.serial}, chain facts for {facts.serial}")
    if bundle.chain_id != facts.chain_id:
        raise InputError("chain_id", f"bundle is for chain {bundle.chain_id}, the endpoint serves {facts.chain_id}")
    if bundle.ledger.lower() != facts.ledger.lower():
        raise InputError("ledger", f"bundle names contract {bundle.ledger}, not {facts.ledger}")
    chain_reasons = check_chain(facts)
    on_chain = {e.index: e for e in facts.events}
    in_bundle: dict[int, BundleEvent] = {}
    verdicts: list[EventVerdict] = []
    for be in bundle.events:
        if be.index in in_bundle:
            raise InputError(f"events.{be.index}", "the same event index appears twice")
        in_bundle[be.index] = be
    verified_materials: dict[int, bytes] = {}
    for idx in sorted(set(on_chain) | set(in_bundle)):
        ce, maybe_be = on_chain.get(idx), in_bundle.get(idx)
        if ce is None:
            be = in_bundle[idx]
            verdicts.append(
                EventVerdict(
                    index=idx,
                    stage=be.stage,
                    status="missing_on_chain",
                    reasons=[Reason(code="missing_on_chain")],
                    writer=be.writer,
                    block=be.block,
                    time=be.time,
                    tx=be.tx,
                )  # fmt: skip
            )
            continue
        coords: dict[str, Any] = {
            "writer": ce.writer, "hall_id": ce.hall_id, "block": ce.block, "time": ce.time, "tx": ce.tx,
        }  # fmt: skip
        if maybe_be is None:
            verdicts.append(
                EventVerdict(
                    index=idx,
                    stage=ce.stage.name,
                    status="missing_from_bundle",
                    reasons=[Reason(code="missing_from_bundle"), *chain_reasons[idx]],
                    **coords,
                )  # fmt: skip
            )
            continue
        be = maybe_be
        reasons = list(chain_reasons[idx])
        reasons += _compare_event(be, ce)
        withheld: list[str] = []
        if be.record is None:
            reasons.append(Reason(code="record_absent"))
        else:
            withheld = sorted(be.record.withheld)
            reasons += _check_record(be.record, ce, facts.serial)
            root_field = _FILE_ROOT_FIELD.get(ce.stage)
            if not reasons and root_field is not None:
                root = be.record.fields.get(root_field)
                if isinstance(root, str):
                    verified_materials[idx] = bytes.fromhex(root.removeprefix("0x"))
        status: Status = "match" if not reasons else "mismatch"
        verdicts.append(
            EventVerdict(index=idx, stage=ce.stage.name, status=status, reasons=reasons, withheld=withheld, **coords)
        )
    materials = [_check_material(m.event_index, m.proof, m.content(), verified_materials) for m in bundle.materials]
    return VerificationReport(
        serial=facts.serial,
        chain_id=facts.chain_id,
        ledger=facts.ledger,
        events=verdicts,
        materials=materials,
        withheld_fields=bundle.withheld_fields(),
    )


# Records that commit to files: MATERIALS (the applicant's materials) and RESULT (the result document).
_FILE_ROOT_FIELD: dict[Stage, str] = {Stage.MATERIALS: "materials_root", Stage.RESULT: "documents_root"}


def report_sha256(report: VerificationReport) -> str:
    """SHA-256 (hex) of the report's RFC 8785 canonical JSON: what a DISPUTE_RESOLVED record commits to."""
    return hashlib.sha256(canonical_bytes(json.loads(report.model_dump_json()))).hexdigest()


def _compare_event(be: BundleEvent, ce: ChainEventFact) -> list[Reason]:
    r: list[Reason] = []
    if be.stage != ce.stage.name:
        r.append(Reason(code="stage_mismatch", detail=f"{be.stage} ≠ {ce.stage.name}"))
    if _addr(be.writer) != _addr(ce.writer):
        r.append(Reason(code="writer_mismatch", detail=f"{be.writer} ≠ {ce.writer}"))
    if be.hall_id != ce.hall_id:
        r.append(Reason(code="hall_mismatch", detail=f"{be.hall_id} ≠ {ce.hall_id}"))
    if be.block != ce.block:
        r.append(Reason(code="block_mismatch", detail=f"{be.block} ≠ {ce.block}"))
    if be.time != ce.time:
        r.append(Reason(code="time_mismatch", detail=f"{be.time} ≠ {ce.time}"))
    if be.tx.lower() != ce.tx.lower():
        r.append(Reason(code="tx_mismatch"))
    if be.commitment.lower() != ce.commitment.lower():
        r.append(Reason(code="commitment_mismatch"))
    if be.head.lower() != ce.head.lower():
        r.append(Reason(code="head_mismatch"))
    return r


def _check_record(rec: DisclosedRecord, ce: ChainEventFact, serial: str) -> list[Reason]:
    r: list[Reason] = []
    try:
        root = rec.root()
    except (VerificationError, InputError) as exc:  # InputError: a value JCS cannot canonicalise (e.g. int > 2^53)
        return [Reason(code="record_malformed", detail=str(exc))]
    if "0x" + root.hex() != ce.commitment.lower():
        r.append(Reason(code="record_mismatch"))
    if rec.fields.get("case_serial") != serial:
        r.append(Reason(code="serial_mismatch", detail=str(rec.fields.get("case_serial"))))
    if rec.fields.get("stage") != ce.stage.name:
        r.append(Reason(code="stage_mismatch", detail=f"{rec.fields.get('stage')} ≠ {ce.stage.name}"))
    recorded = rec.fields.get("recorded_at_unix")
    if isinstance(recorded, int) and recorded > ce.time + TIME_TOLERANCE_S:
        r.append(Reason(code="recorded_after_anchor", detail=f"{recorded} > {ce.time}"))
    return r


def _check_material(
    event_index: int, proof: MaterialProof, content: bytes | None, roots: dict[int, bytes]
) -> MaterialVerdict:
    def verdict(reasons: list[Reason], checked: bool = False) -> MaterialVerdict:
        return MaterialVerdict(
            event_index=event_index,
            kind=proof.file.kind,
            name=proof.file.name,
            status="mismatch" if reasons else "match",
            reasons=reasons,
            content_checked=checked,
        )

    root = roots.get(event_index)
    if root is None:
        return verdict([Reason(code="material_event_invalid")])
    try:
        verify_material(content, proof, root)
    except VerificationError as exc:
        code = "material_content_mismatch" if exc.expected == proof.file.sha256 else "material_mismatch"
        return verdict([Reason(code=code, detail=proof.file.name)], content is not None)
    return verdict([], content is not None)


def verify_document(
    data: bytes, proof: MaterialProof, materials_record: DisclosedRecord, event: ChainEventFact
) -> dict[str, Any]:
    """Was this exact file submitted (or issued) in this case? Raises :class:`VerificationError` if not.

    Needs only the file, its proof, the record committing to it — MATERIALS (``materials_root``) for
    the applicant's materials, RESULT (``documents_root``) for the result document; it shows the root
    and count, nothing about other files — and that record's on-chain event.
    """
    root_field = _FILE_ROOT_FIELD.get(event.stage)
    if root_field is None:
        raise VerificationError("the event given is neither a MATERIALS nor a RESULT event", where="event")
    root = materials_record.root()
    if "0x" + root.hex() != event.commitment.lower():
        raise VerificationError(
            f"the {event.stage.name} record does not match its on-chain commitment",
            expected=event.commitment,
            found="0x" + root.hex(),
            where="record",
        )
    mroot = materials_record.fields.get(root_field)
    if not isinstance(mroot, str):
        raise VerificationError(f"the {event.stage.name} record shows no {root_field}", where="record")
    verify_material(data, proof, bytes.fromhex(mroot.removeprefix("0x")))
    return {
        "file": proof.file.name,
        "kind": proof.file.kind,
        "sha256": hashlib.sha256(data).hexdigest(),
        "stage": event.stage.name,
        "event_index": event.index,
        "writer": event.writer,
        "hall_id": event.hall_id,
        "block": event.block,
        "time": event.time,
        "tx": event.tx,
    }


def _addr(a: str) -> str:
    try:
        return to_checksum_address(a)
    except ValueError:
        return a


def events_of(report: VerificationReport, statuses: Iterable[str]) -> list[EventVerdict]:
    wanted = set(statuses)
    return [e for e in report.events if e.status in wanted]
