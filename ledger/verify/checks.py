"""Stand-alone verification of a case: an evidence bundle against the chain (format 2).

Verification is a pure function over explicit inputs::

    facts = read_chain_facts(rpc, ledger=…, registry=…, accepting_hall=…, serial=…)   # ledger.verify.rpc
    report = verify_bundle(bundle, facts)                                              # pure: no I/O
    report.verdict                                                                     # match | mismatch | incomplete

For every event the report says ``match``, ``mismatch`` (with reasons), ``missing_on_chain`` (in the
bundle, not on chain) or ``missing_from_bundle`` (on chain, not in the bundle), with writer, block,
block time, the record's claimed time and the lag between them. Independently of the bundle it
re-checks the chain itself: the hash chain from ``caseId = keccak256(uint32 acceptingHall ‖ serial)``,
the stage order, each writer's rights at its block (the registry's history replayed), and that every
DISPUTE_RESOLVED closes an open dispute and comes from its opener or an arbiter.

Coordinates that do not fit the endpoint (chain id, ledger, registry, suite, format) are unusable
input: :class:`ledger.errors.InputError`, never a verdict.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ledger.core.bundle import BundleEvent, EvidenceBundle
from ledger.core.caserules import MAX_OPEN_DISPUTES, NEXT_PHASE, RegistryState
from ledger.core.facts import ChainEventFact, ChainFacts, DeploymentFacts, MerkleFacts, RegistryFact
from ledger.core.hashchain import address_bytes, case_id, next_head
from ledger.core.materials import MaterialProof, verify_material
from ledger.core.records import AT_PATTERN, DisclosedRecord, canonical_bytes
from ledger.core.stages import DISPUTE_STAGES, Phase, Stage
from ledger.core.suites import Suite, suite_named
from ledger.errors import InputError, VerificationError
from ledger.verify.report import BundleVerdict, EventVerdict, MaterialVerdict, Reason, Status, VerificationReport

__all__ = [
    "DEFAULT_MAX_ANCHOR_LAG_S",
    "TIME_TOLERANCE_S",
    "MAX_OPEN_DISPUTES",
    "bundle_report",
    "check_chain",
    "check_coordinates",
    "check_material",
    "check_read",
    "check_registry_read",
    "check_record",
    "claimed_time",
    "file_root",
    "report_sha256",
    "unique_event_indices",
    "verify_bundle",
    "verify_document",
]

TIME_TOLERANCE_S = 120
"""a record's ``at`` may be this much later than its block (clock skew) before it is a mismatch"""
DEFAULT_MAX_ANCHOR_LAG_S = 6 * 3600
"""a claimed time more than this before its block is reported as ``anchored_late``"""

# Records that commit to files: MATERIALS (the applicant's materials) and RESULT (the result document).
FILE_FIELDS: dict[Stage, tuple[str, str]] = {
    Stage.MATERIALS: ("materials_root", "materials_count"),
    Stage.RESULT: ("documents_root", "documents_count"),
}


_RegistryState = RegistryState
_NEXT_PHASE = NEXT_PHASE


def check_chain(facts: ChainFacts) -> dict[int, list[Reason]]:
    """Re-check the chain's own events: heads, back-links, hall ids, order, rights, disputes (pure).

    Each event is checked against the state the events before it left, replaying the contract: registry
    changes apply before an event when they come earlier by (block, log index); the event's rule codes are
    those of the *first* check the contract would have refused it with, in the contract's order
    (docs/verification.md §4.5). Every event takes effect as far as its stage allows, whoever wrote it:
    a stage out of order leaves the phase as it was, a resolution naming no open dispute closes nothing;
    a rights failure does not undo the effect, so one broken event is reported once, not again on each
    event after it. Shared by :func:`verify_bundle` and the audit's anomaly scan.
    """
    out: dict[int, list[Reason]] = {e.index: [] for e in facts.events}
    by_index = {e.index: e for e in facts.events}
    state = _RegistryState()
    reg = iter(sorted(facts.registry_log, key=lambda f: (f.block, f.log_index)))
    pending = next(reg, None)
    phase = Phase.NONE
    disputes = _Disputes()
    for e in sorted(facts.events, key=lambda x: x.index):
        while pending is not None and (pending.block, pending.log_index) < (e.block, e.log_index):
            state.apply(pending)
            pending = next(reg, None)
        reasons = out[e.index]
        # the reading: the head follows from the previous event's head as the chain states it, the back-link
        # names the previous event's block, the log's hall id is the writer's hall in the registry then
        before = by_index.get(e.index - 1)
        prev_head = case_id(facts.accepting_hall, facts.serial) if e.index == 0 else None
        if before is not None:
            prev_head = bytes.fromhex(before.head[2:])
        if (
            prev_head is None
            or "0x" + next_head(prev_head, e.stage, bytes.fromhex(e.commitment[2:]), e.writer).hex() != e.head.lower()
        ):
            reasons.append(Reason(code="chain_head_broken", detail=f"index {e.index}"))
        link = 0 if e.index == 0 else (before.block if before is not None else None)
        if e.prev_block != link or e.prev_block > e.block:
            reasons.append(Reason(code="chain_link_broken", detail=f"prevBlock {e.prev_block}"))
        writer = e.writer.lower()
        hall = state.hall_of_account.get(writer)
        if e.hall_id != (hall or 0):
            reasons.append(Reason(code="log_hall_mismatch", detail=f"{e.hall_id} ≠ {hall or 0}"))
        rule: Reason | None
        if e.stage in DISPUTE_STAGES:
            rule = _dispute_rule(e, state, writer, hall, facts, phase, disputes)
        else:
            rule, phase = _stage_rule(e, state, hall, facts, phase)
        if rule is not None:
            reasons.append(rule)
    return out


def _stage_rule(
    e: ChainEventFact, state: _RegistryState, hall: int | None, facts: ChainFacts, phase: Phase
) -> tuple[Reason | None, Phase]:
    """INTAKE … DELIVERY: the first refusal in the contract's order, and the phase after the event."""
    h = facts.header
    accepting = h.accepting_hall if h.opened else facts.accepting_hall
    if e.stage == Stage.INTAKE:
        if e.index != 0 or phase != Phase.NONE:
            return Reason(code="out_of_order", detail="INTAKE after index 0"), phase
        nxt: Phase | None = Phase.OPENED
    else:
        if phase == Phase.NONE:
            return Reason(code="out_of_order", detail=f"{e.stage.name} before INTAKE"), phase
        nxt = _NEXT_PHASE.get((e.stage, phase))
    after = nxt if nxt is not None else phase
    if hall is None or not state.active.get(hall, False):
        return Reason(code="writer_inactive", detail=e.writer), after
    if e.stage in (Stage.INTAKE, Stage.MATERIALS, Stage.DELIVERY):
        if hall != accepting:
            return Reason(code="writer_no_right", detail="not the accepting hall"), after
    elif state.district.get(hall) != h.home_district:
        return Reason(code="writer_no_right", detail="not a hall of the home district"), after
    if e.ref != 0:
        return Reason(code="ref_not_allowed", detail=f"ref {e.ref} on {e.stage.name}"), after
    if nxt is None:
        return Reason(code="out_of_order", detail=f"{e.stage.name} in phase {phase.name}"), after
    return None, after


@dataclass
class _Disputes:
    opened: dict[int, tuple[int, str]] = field(default_factory=dict)
    """open DISPUTE_OPENED index -> (opener hall, opener account)"""
    per_opener: dict[tuple[int, str], int] = field(default_factory=dict)

    @staticmethod
    def key(hall: int, account: str) -> tuple[int, str]:
        return (hall, "") if hall else (0, account)  # a hall (whichever of its keys), or a non-hall account

    def open(self, index: int, hall: int, account: str) -> None:
        self.opened[index] = (hall, account)
        k = self.key(hall, account)
        self.per_opener[k] = self.per_opener.get(k, 0) + 1

    def close(self, index: int) -> tuple[int, str] | None:
        opener = self.opened.pop(index, None)
        if opener is not None:
            self.per_opener[self.key(*opener)] -= 1
        return opener


def _dispute_rule(
    e: ChainEventFact,
    state: _RegistryState,
    writer: str,
    hall: int | None,
    facts: ChainFacts,
    phase: Phase,
    disputes: _Disputes,
) -> Reason | None:
    """DISPUTE_OPENED / DISPUTE_RESOLVED: the first refusal in the contract's order; opens or closes the dispute."""
    officer = (facts.dispute_role, writer) in state.roles
    arbiter = (facts.arbiter_role, writer) in state.roles
    inactive = hall is not None and not state.active.get(hall, False)  # a hall key's hall must be active
    if e.stage == Stage.DISPUTE_OPENED:
        full = disputes.per_opener.get(disputes.key(hall or 0, writer), 0) >= MAX_OPEN_DISPUTES
        if phase != Phase.NONE:
            disputes.open(e.index, hall or 0, writer)
        if phase == Phase.NONE:
            return Reason(code="out_of_order", detail="DISPUTE_OPENED before INTAKE")
        if e.ref != 0:
            return Reason(code="ref_not_allowed", detail=f"ref {e.ref} on DISPUTE_OPENED")
        if not officer:
            return Reason(code="writer_no_right", detail="dispute officer role")
        if inactive:
            return Reason(code="writer_inactive", detail=e.writer)
        if full:
            return Reason(code="too_many_disputes", detail=f"{MAX_OPEN_DISPUTES} already open by this opener")
        return None
    opener = disputes.close(e.ref) if phase != Phase.NONE else None
    if phase == Phase.NONE:
        return Reason(code="out_of_order", detail="DISPUTE_RESOLVED before INTAKE")
    if not officer and not arbiter:
        return Reason(code="writer_no_right", detail="dispute officer or arbiter role")
    if inactive:
        return Reason(code="writer_inactive", detail=e.writer)
    if opener is None:
        return Reason(code="dispute_ref_invalid", detail=f"ref {e.ref}")
    opener_hall, opener_account = opener
    by_opener = officer and ((hall or 0) == opener_hall if opener_hall else writer == opener_account)
    if not by_opener and not arbiter:
        return Reason(code="dispute_not_opener", detail=f"dispute {e.ref}")
    return None


def check_read(facts: ChainFacts) -> list[Reason]:
    """What the endpoint answered, checked against itself (pure): the case's header against the events
    read by back-links, and the registry's back-links. A node that leaves something out, or a walk that
    ended early (a back-link to a block with no event, a link that does not point back), shows here."""
    out: list[Reason] = []
    h = facts.header
    if h.opened:
        indices = sorted(e.index for e in facts.events)
        if h.event_count != len(indices) or indices != list(range(len(indices))):
            out.append(
                Reason(
                    code="chain_read_incomplete",
                    detail=f"the header counts {h.event_count} events, the endpoint returned {len(indices)}",
                )
            )
        last = max(facts.events, key=lambda e: e.index, default=None)
        if h.accepting_hall != facts.accepting_hall:
            out.append(Reason(code="chain_header_mismatch", detail=f"accepting hall {h.accepting_hall}"))
        elif last is not None and last.head.lower() != h.head.lower():
            out.append(Reason(code="chain_header_mismatch", detail=f"head {h.head} ≠ event {last.index}"))
        elif last is not None and last.block != h.last_block:
            out.append(Reason(code="chain_header_mismatch", detail=f"lastBlock {h.last_block} ≠ {last.block}"))
    return out + check_registry_read(facts.registry_log)


def check_registry_read(registry_log: list[RegistryFact]) -> list[Reason]:
    """The registry's back-links as read join up (pure): ``registry_read_incomplete`` otherwise. Part of
    :func:`check_read`; Merkle mode, which has no case header, checks this alone."""
    out: list[Reason] = []
    prev = 0
    for f in sorted(registry_log, key=lambda f: (f.block, f.log_index)):
        if f.prev_change_block != prev:
            out.append(
                Reason(
                    code="registry_read_incomplete",
                    detail=f"block {f.block}: prevChangeBlock {f.prev_change_block}, the change before is in {prev}",
                )
            )
            break
        prev = f.block
    return out


def claimed_time(at: Any) -> int | None:
    """Unix seconds of a record's ``at`` (RFC 3339 with offset, whole seconds), ``None`` if it is not one."""
    if not isinstance(at, str) or not AT_PATTERN.fullmatch(at):
        return None
    try:
        return int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def check_coordinates(bundle: EvidenceBundle, facts: ChainFacts | MerkleFacts | DeploymentFacts) -> None:
    """Unusable input unless the bundle's coordinates are what the endpoint serves (one sentence, both values).

    Checked in this order, on the deployment alone (so a reader can stop before reading any case):
    ``format``, ``chain_id``, ``ledger``, ``registry``, ``suite``. The case itself (``accepting_hall``,
    ``serial``) is not a coordinate: the facts are read for the bundle's case, and a case the chain does
    not know makes the bundle incomplete (``case_unknown``), not unusable.
    """
    if facts.format_version != 2:
        raise InputError("format", "ledger_format", ledger=facts.ledger, version=facts.format_version)
    pairs: list[tuple[str, Any, Any]] = [
        ("chain_id", bundle.chain_id, facts.chain_id),
        ("ledger", bundle.ledger.lower(), facts.ledger.lower()),
        ("registry", bundle.registry.lower(), facts.registry.lower()),
        ("suite", bundle.suite, facts.suite),
    ]
    trusted = getattr(facts, "addresses_from", "bundle") == "deployment"
    for name, ours, theirs in pairs:
        if ours != theirs:
            raise InputError(
                name,
                "bundle_other_deployment" if trusted else "bundle_other_coordinates",
                bundle=str(ours),
                chain=str(theirs),
            )
    if isinstance(facts, ChainFacts) and (facts.serial, facts.accepting_hall) != (bundle.serial, bundle.accepting_hall):
        raise InputError("serial", "bundle_other_case", found=facts.serial, serial=bundle.serial)  # a caller's slip


def unique_event_indices(bundle: EvidenceBundle) -> None:
    """Unusable input when two events carry the same ``index``: the field names the second one's array position."""
    seen: dict[int, int] = {}
    for pos, be in enumerate(bundle.events):
        if be.index in seen:
            raise InputError(
                f"events.{pos}", "bundle_duplicate_event", index=be.index, first=f"events.{seen[be.index]}"
            )
        seen[be.index] = pos


def file_root(record: DisclosedRecord, stage: Stage) -> tuple[bytes, int | None] | None:
    """The file tree a verified MATERIALS / RESULT record commits to: (root, count), or None."""
    fields = FILE_FIELDS.get(stage)
    if fields is None:
        return None
    root, count = record.fields.get(fields[0]), record.fields.get(fields[1])
    if not isinstance(root, str):
        return None
    return bytes.fromhex(root.removeprefix("0x")), count if isinstance(count, int) else None


def verify_bundle(
    bundle: EvidenceBundle, facts: ChainFacts, *, max_anchor_lag_s: int = DEFAULT_MAX_ANCHOR_LAG_S
) -> VerificationReport:
    """Compare every event of ``bundle`` with ``facts``; pure, raises only on unusable input."""
    if bundle.mode != "event":
        raise InputError("mode", "bundle_merkle_mode")
    unique_event_indices(bundle)
    check_coordinates(bundle, facts)
    suite = suite_named(bundle.suite)
    chain_reasons = check_chain(facts)
    on_chain = {e.index: e for e in facts.events}
    in_bundle = {be.index: be for be in bundle.events}
    intake = on_chain.get(0)
    verdicts: list[EventVerdict] = []
    file_roots: dict[int, tuple[bytes, int | None]] = {}
    for idx in sorted(set(on_chain) | set(in_bundle)):
        ce, maybe_be = on_chain.get(idx), in_bundle.get(idx)
        if ce is None:
            be = in_bundle[idx]
            verdicts.append(
                EventVerdict(
                    index=idx,
                    stage=be.stage,
                    status="missing_on_chain",
                    reasons=[
                        Reason(
                            code="missing_on_chain",
                            detail="counted by the case header, not returned by the endpoint"
                            if facts.header.opened and idx < facts.header.event_count
                            else "",
                        )
                    ],
                    writer=be.writer,
                    block=be.block,
                    time=be.time,
                    tx=be.tx,
                    ref=be.ref,
                )
            )
            continue
        coords: dict[str, Any] = {
            "writer": ce.writer,
            "hall_id": ce.hall_id,
            "block": ce.block,
            "time": ce.time,
            "tx": ce.tx,
            "ref": ce.ref,
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
        reasons = list(chain_reasons[idx]) + _compare_event(be, ce)
        findings: list[Reason] = []
        withheld: list[str] = []
        claimed: tuple[str | None, int | None] = (None, None)
        if be.record is None:
            reasons.append(Reason(code="record_absent"))
        else:
            withheld = sorted(be.record.withheld)
            rec_reasons, claimed = check_record(be.record, ce, facts.serial, intake, suite)
            reasons += rec_reasons
            if claimed[1] is not None and ce.time - claimed[1] > max_anchor_lag_s:
                findings.append(Reason(code="anchored_late", detail=f"{ce.time - claimed[1]} s"))
            # a *verified record* proves files: its event passed the chain's re-check and the record itself
            # recomputes with a consistent frame; the bundle's own copy of the coordinates plays no part
            if not chain_reasons[idx] and not rec_reasons:
                fr = file_root(be.record, ce.stage)
                if fr is not None:
                    file_roots[idx] = fr
        status: Status = "match" if not reasons else "mismatch"
        verdicts.append(
            EventVerdict(
                index=idx,
                stage=ce.stage.name,
                status=status,
                reasons=reasons,
                findings=findings,
                withheld=withheld,
                claimed_at=claimed[0],
                claimed_time=claimed[1],
                lag_s=None if claimed[1] is None else ce.time - claimed[1],
                **coords,
            )
        )
    read_reasons = check_read(facts)
    return bundle_report(
        bundle,
        facts,
        verdicts,
        file_roots,
        suite,
        reasons=list(read_reasons),
        read_reasons=read_reasons,
        opened=facts.header.opened,
        max_anchor_lag_s=max_anchor_lag_s,
    )


def bundle_report(
    bundle: EvidenceBundle,
    facts: ChainFacts | MerkleFacts,
    verdicts: list[EventVerdict],
    file_roots: dict[int, tuple[bytes, int | None]],
    suite: Suite,
    *,
    reasons: list[Reason],
    read_reasons: list[Reason],
    opened: bool,
    max_anchor_lag_s: int,
    mode: Literal["event", "merkle"] = "event",
    complete_as_of: int | None = None,
) -> VerificationReport:
    """The report of both modes from the events' verdicts: the materials checked, the bundle's reasons, the verdict.

    ``reasons`` are the bundle's reasons found so far (the chain's answers first; ``read_reasons`` are
    those that show the chain's answers disagreeing with themselves); ``opened``: the case's opening is
    proven on chain.
    """
    materials = [check_material(m.event_index, m.proof, m.content(), file_roots, suite) for m in bundle.materials]
    if not bundle.events:
        reasons.append(Reason(code="bundle_empty"))
    if not opened:
        reasons.append(Reason(code="case_unknown", detail=f"{bundle.accepting_hall}/{bundle.serial}"))
    if bundle.pending_records:
        reasons.append(Reason(code="records_not_anchored", detail=str(bundle.pending_records)))
    if facts.addresses_from != "deployment":
        reasons.append(Reason(code="deployment_untrusted", detail=facts.ledger))
    mismatch = (
        any(v.status != "match" for v in verdicts)
        or any(m.status != "match" for m in materials)
        or any(r.code == "case_in_both_modes" for r in reasons)
    )
    # precedence: nothing to compare → incomplete; then any mismatch (an event, a file, the chain's answers
    # disagreeing with themselves, a case in both modes) → mismatch; then anything unproven → incomplete;
    # else match
    verdict: BundleVerdict
    if not opened or not bundle.events:
        verdict = "incomplete"
    elif mismatch or read_reasons:
        verdict = "mismatch"
    else:
        verdict = "incomplete" if reasons else "match"
    return VerificationReport(
        serial=facts.serial,
        accepting_hall=facts.accepting_hall,
        chain_id=facts.chain_id,
        ledger=facts.ledger,
        suite=bundle.suite,
        max_anchor_lag_s=max_anchor_lag_s,
        addresses_from=facts.addresses_from,
        verdict=verdict,
        reasons=reasons,
        events=verdicts,
        materials=materials,
        withheld_fields=bundle.withheld_fields(),
        mode=mode,
        complete_as_of=complete_as_of,
    )


def report_sha256(report: VerificationReport) -> str:
    """SHA-256 (hex) of the report's RFC 8785 canonical JSON: what a DISPUTE_RESOLVED record commits to."""
    # an event-mode report is hashed without the Merkle-mode fields, so its digest is what it always was
    exclude = {"mode", "complete_as_of"} if report.mode == "event" else None
    return hashlib.sha256(canonical_bytes(json.loads(report.model_dump_json(exclude=exclude)))).hexdigest()


def _compare_event(be: BundleEvent, ce: ChainEventFact) -> list[Reason]:
    r: list[Reason] = []
    if be.stage != ce.stage.name:
        r.append(Reason(code="stage_mismatch", detail=f"{be.stage} ≠ {ce.stage.name}"))
    if address_bytes(be.writer) != address_bytes(ce.writer):
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
    if be.ref != ce.ref:
        r.append(Reason(code="ref_mismatch", detail=f"{be.ref} ≠ {ce.ref}"))
    return r


def check_record(
    rec: DisclosedRecord, ce: ChainEventFact, serial: str, intake: ChainEventFact | None, suite: Suite
) -> tuple[list[Reason], tuple[str | None, int | None]]:
    r: list[Reason] = []
    frame = {"case_serial", "stage", "at"}
    if ce.stage != Stage.INTAKE:
        frame.add("intake_commitment")
    if ce.stage == Stage.DISPUTE_RESOLVED:
        frame.add("resolves")
    hidden = sorted(frame & set(rec.withheld))
    if hidden:  # the frame is never withheld: without it the record cannot be placed in its case
        return [Reason(code="record_malformed", detail=f"frame field withheld: {', '.join(hidden)}")], (None, None)
    try:
        root = rec.root(suite)
    except (VerificationError, InputError) as exc:
        return [Reason(code="record_malformed", detail=str(exc))], (None, None)
    if "0x" + root.hex() != ce.commitment.lower():
        r.append(Reason(code="record_mismatch"))
    f = rec.fields
    if f.get("case_serial") != serial:
        r.append(Reason(code="serial_mismatch", detail=str(f.get("case_serial"))))
    if f.get("stage") != ce.stage.name:
        r.append(Reason(code="stage_mismatch", detail=f"{f.get('stage')} ≠ {ce.stage.name}"))
    at = f.get("at")
    when = claimed_time(at)
    if when is None:
        r.append(Reason(code="claimed_time_missing", detail=str(at) if at is not None else ""))
    elif when > ce.time + TIME_TOLERANCE_S:
        r.append(Reason(code="time_after_anchor", detail=f"{at} > block {ce.block}"))
    if ce.stage != Stage.INTAKE:
        bound = f.get("intake_commitment")
        if intake is None or not isinstance(bound, str) or bound.lower() != intake.commitment.lower():
            r.append(Reason(code="intake_commitment_mismatch", detail=str(bound) if bound is not None else "missing"))
    if ce.stage == Stage.DISPUTE_RESOLVED and f.get("resolves") != ce.ref:
        r.append(Reason(code="resolves_mismatch", detail=f"{f.get('resolves')} ≠ {ce.ref}"))
    return r, (at if isinstance(at, str) else None, when)


def check_material(
    event_index: int,
    proof: MaterialProof,
    content: bytes | None,
    roots: dict[int, tuple[bytes, int | None]],
    suite: Suite,
) -> MaterialVerdict:
    def verdict(reasons: list[Reason], checked: bool | None = None) -> MaterialVerdict:
        return MaterialVerdict(
            event_index=event_index,
            kind=proof.file.kind,
            name=proof.file.name,
            status="mismatch" if reasons else "match",
            reasons=reasons,
            content_checked=bool(checked),
            checked="nothing" if checked is None else "proof_and_content" if checked else "proof_only",
        )

    entry = roots.get(event_index)
    if entry is None:
        return verdict([Reason(code="material_event_invalid")])
    root, count = entry
    if count != proof.tree_size:
        return verdict([Reason(code="material_tree_size_mismatch", detail=f"{proof.tree_size} ≠ {count}")])
    try:
        verify_material(content, proof, root, suite)
    except VerificationError as exc:
        code = "material_content_mismatch" if exc.expected == proof.file.digest else "material_mismatch"
        return verdict([Reason(code=code, detail=proof.file.name)], content is not None)
    return verdict([], content is not None)


def verify_document(
    data: bytes, proof: MaterialProof, record: DisclosedRecord, event: ChainEventFact, suite: Suite
) -> dict[str, Any]:
    """Was this exact file submitted (or issued) in this case? Raises :class:`VerificationError` if not.

    Needs only the file, its proof, the record committing to it — MATERIALS (``materials_root``,
    ``materials_count``) for the applicant's materials, RESULT (``documents_root``, ``documents_count``)
    for the result document — and that record's on-chain event. The proof's ``tree_size`` must equal
    the committed count.
    """
    fields = FILE_FIELDS.get(event.stage)
    if fields is None:
        raise VerificationError("the event given is neither a MATERIALS nor a RESULT event", where="event")
    root = record.root(suite)
    if "0x" + root.hex() != event.commitment.lower():
        raise VerificationError(
            f"the {event.stage.name} record does not match its on-chain commitment",
            expected=event.commitment,
            found="0x" + root.hex(),
            where="record",
        )
    mroot, count = record.fields.get(fields[0]), record.fields.get(fields[1])
    if not isinstance(mroot, str):
        raise VerificationError(f"the {event.stage.name} record shows no {fields[0]}", where="record")
    if count != proof.tree_size:
        raise VerificationError(
            f"the proof claims {proof.tree_size} files, the record commits to {count}",
            expected=str(count),
            found=str(proof.tree_size),
            where="tree_size",
        )
    verify_material(data, proof, bytes.fromhex(mroot.removeprefix("0x")), suite)
    return {
        "file": proof.file.name,
        "kind": proof.file.kind,
        "digest": suite.hexdigest(data),
        "suite": suite.name,
        "stage": event.stage.name,
        "event_index": event.index,
        "writer": event.writer,
        "hall_id": event.hall_id,
        "block": event.block,
        "time": event.time,
        "tx": event.tx,
    }
