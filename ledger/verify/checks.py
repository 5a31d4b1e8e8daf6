"""Stand-alone verification of a case: an evidence bundle against the chain.

Verification is a pure function over explicit inputs::

    facts = fetch_chain_facts(client, bundle.serial)     # everything read from the chain (ledger.chain.facts_reader)
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
from dataclasses import dataclass, field
from typing import Any

from ledger.core.bundle import BundleEvent, EvidenceBundle
from ledger.core.facts import ChainEventFact, ChainFacts, RegistryFact
from ledger.core.hashchain import address_bytes, case_id, next_head
from ledger.core.materials import MaterialProof, verify_material
from ledger.core.records import DisclosedRecord, canonical_bytes
from ledger.core.stages import Phase, Stage
from ledger.errors import InputError, VerificationError
from ledger.verify.report import EventVerdict, MaterialVerdict, Reason, Status, VerificationReport

__all__ = ["TIME_TOLERANCE_S", "check_chain", "report_sha256", "verify_bundle", "verify_document"]

TIME_TOLERANCE_S = 120


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


# The contract's phase transitions (CaseLedger.appendEvent); DISPUTE_* events leave the phase alone.
_NEXT_PHASE: dict[tuple[Stage, Phase], Phase] = {
    (Stage.MATERIALS, Phase.OPENED): Phase.MATERIALS_RECORDED,
    (Stage.MATERIALS, Phase.MATERIALS_RECORDED): Phase.MATERIALS_RECORDED,
    (Stage.MATERIALS, Phase.ACCEPTED): Phase.ACCEPTED,
    (Stage.ACCEPTANCE, Phase.MATERIALS_RECORDED): Phase.ACCEPTED,
    (Stage.PROCESS, Phase.ACCEPTED): Phase.ACCEPTED,
    (Stage.RESULT, Phase.ACCEPTED): Phase.DECIDED,
    (Stage.DELIVERY, Phase.DECIDED): Phase.DELIVERED,
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
    phase = Phase.NONE
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
            phase = Phase.OPENED
        else:
            nxt = _NEXT_PHASE.get((e.stage, phase))
            if nxt is None:
                reasons.append(Reason(code="out_of_order", detail=f"{e.stage.name} in phase {int(phase)}"))
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
                )
            )
            continue
        coords: dict[str, Any] = {
            "writer": ce.writer,
            "hall_id": ce.hall_id,
            "block": ce.block,
            "time": ce.time,
            "tx": ce.tx,
        }
        if maybe_be is None:
            verdicts.append(
                EventVerdict(
                    index=idx,
                    stage=ce.stage.name,
                    status="missing_from_bundle",
                    reasons=[Reason(code="missing_from_bundle"), *chain_reasons[idx]],
                    **coords,
                )
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


def _addr(a: str) -> bytes | str:
    """An address's 20 bytes for comparison; a string that is not an address compares as itself."""
    try:
        return address_bytes(a)
    except ValueError:
        return a
