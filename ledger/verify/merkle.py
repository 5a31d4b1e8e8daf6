"""Stand-alone verification of a Merkle-mode case: an evidence bundle against batch roots on chain (pure).

In Merkle mode nothing per event is on chain: each hall anchors one root per batch (``BatchAnchored``),
and each event of the bundle carries its batch and inclusion proof. The verifier

1. rebuilds each event's leaf from the bundle (:class:`ledger.core.batches.EventLeaf`) and checks its proof
   against the root of the batch log found where the bundle says (a batch not there: ``missing_on_chain``);
2. re-checks the case's chain exactly as in event mode (:func:`ledger.verify.checks.check_chain`: the hash
   chain from the case id, then the contract's rules in the contract's order, at most one rule code per
   event, with each writer's rights at its batch's block), with the home district taken from the INTAKE
   leaf, plus what only Merkle mode has: the leaf's writer and hall are the batch's, its back-link names the
   batch of the previous event (instead of event mode's block back-link), and events are anchored in index
   order (``batch_link_broken``, ``batch_order``); the registry's back-links as read must join up
   (``registry_read_incomplete``, a mismatch);
3. proves completeness only from a **scan**: every batch of every hall from the case's INTAKE batch to a
   block ``B``, each with its manifest checked against its on-chain root. The case's leaves found there
   give its canonical chain (for each index, the first leaf in chain order that extends the chain); the
   bundle must be exactly that chain. Without a scan, or with a manifest no source could produce, the
   verdict is ``incomplete`` (``completeness_unproven``, ``manifest_unavailable``): an event anchored
   later, or another branch at some index, cannot be excluded, and is never assumed away;
4. like event mode, trusts only addresses it was given (``facts.addresses_from == "deployment"``): facts
   read at the bundle's own addresses add ``deployment_untrusted``, and the verdict is at best
   ``incomplete``.

::

    facts = read_merkle_facts(rpc, bundle, manifests=source)      # ledger.verify.rpc
    report = verify_merkle_bundle(bundle, facts)                    # pure
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledger.core.batches import EventLeaf, Manifest, batch_head, verify_leaf
from ledger.core.bundle import BatchProof, BundleEvent, EvidenceBundle
from ledger.core.caserules import RegistryState, Rights, extend
from ledger.core.facts import BatchFact, CaseFacts, CaseHeader, ChainEventFact, ChainFacts, MerkleFacts
from ledger.core.hashchain import address_bytes, case_id
from ledger.core.materials import MaterialProof
from ledger.core.records import DisclosedRecord
from ledger.core.stages import Phase, Stage
from ledger.core.suites import Suite, suite_named
from ledger.errors import InputError, VerificationError
from ledger.verify.checks import (
    DEFAULT_MAX_ANCHOR_LAG_S,
    bundle_report,
    check_chain,
    check_coordinates,
    check_record,
    check_registry_read,
    file_root,
    unique_event_indices,
    verify_document,
)
from ledger.verify.report import EventVerdict, Reason, Status, VerificationReport

__all__ = [
    "CaseLeaf",
    "bundle_leaf",
    "canonical_chain",
    "case_leaves",
    "proven_chain_facts",
    "verify_merkle_bundle",
    "verify_merkle_document",
]

Position = tuple[int, int, int]
"""(block, log index of the batch, leaf index): chain order of Merkle-mode events"""


@dataclass(frozen=True)
class CaseLeaf:
    """A leaf of one case found in a checked manifest, with where it is."""

    leaf: EventLeaf
    raw: bytes
    batch: BatchFact
    position: int

    @property
    def pos(self) -> Position:
        return (self.batch.block, self.batch.log_index, self.position)


def bundle_leaf(bundle: EvidenceBundle, be: BundleEvent) -> EventLeaf:
    """The leaf an event of a Merkle-mode bundle stands for (its bytes are what the proof proves)."""
    bp = be.batch
    if bp is None:
        raise InputError("events", "bundle_merkle_batch_missing")
    return EventLeaf.new(
        accepting_hall=bundle.accepting_hall,
        serial=bundle.serial,
        index=be.index,
        stage=Stage[be.stage],
        commitment=bytes.fromhex(be.commitment[2:]),
        writer_hall=be.hall_id,
        writer=be.writer,
        head=bytes.fromhex(be.head[2:]),
        ref=be.ref,
        prev=(bp.prev_hall, bp.prev_seq),
        home_district=bp.home_district,
        item_code=bp.item_code,
    )


def case_leaves(cid: bytes, scan_batches: list[tuple[BatchFact, Manifest]]) -> list[CaseLeaf]:
    """Every leaf of case ``cid`` in the given checked manifests, in chain order."""
    out: list[CaseLeaf] = []
    for bf, m in scan_batches:
        for i, raw in enumerate(m.leaves):
            if raw[8:40] == cid:
                out.append(CaseLeaf(EventLeaf.decode(raw), raw, bf, i))
    out.sort(key=lambda c: c.pos)
    return out


def canonical_chain(
    cid: bytes, leaves: list[CaseLeaf], rights: Callable[[BatchFact], Rights]
) -> tuple[list[CaseLeaf], list[CaseLeaf]]:
    """(canonical chain, orphans) of a case's leaves in chain order.

    The canonical event at index ``i`` is the first leaf in chain order that extends the chain so far
    (:func:`ledger.core.caserules.extend`: index ``i``, the next head, the back-link, writer = its batch's
    hall and key, and the contract's rules with the writer's rights at its batch's block). Every other leaf
    of the case is an orphan: a second branch at an index (two halls writing at once, the loser re-anchoring
    at the next index; or a hall forking a case), or a leaf that breaks a rule, which therefore never
    becomes part of the case (so another hall cannot squat or block it).
    """
    chain: list[CaseLeaf] = []
    orphans: list[CaseLeaf] = []
    st: dict[str, Any] | None = None
    for c in sorted(leaves, key=lambda x: x.pos):
        new, why = extend(
            st,
            c.leaf,
            batch_hall=c.batch.hall_id,
            batch_seq=c.batch.seq,
            batch_writer=address_bytes(c.batch.writer),
            rights=rights(c.batch),
        )
        if why or new is None:
            orphans.append(c)
        else:
            chain.append(c)
            st = new
    return chain, orphans


def _chain_facts(bundle: EvidenceBundle, facts: MerkleFacts, events: list[ChainEventFact], home: int) -> ChainFacts:
    """The event-mode facts the shared rule checks read: a header as the INTAKE leaf states it, and each
    event's block back-link the previous event's block (Merkle mode's back-link is the batch, checked apart)."""
    linked: list[ChainEventFact] = []
    for e in sorted(events, key=lambda x: x.index):
        before = linked[-1] if linked and linked[-1].index == e.index - 1 else None
        linked.append(e.model_copy(update={"prev_block": 0 if before is None else min(before.block, e.block)}))
    events = linked
    header = CaseHeader(
        head=events[-1].head if events else "0x" + "00" * 32,
        event_count=len(events),
        phase=Phase.OPENED if events else Phase.NONE,
        home_district=home,
        accepting_hall=bundle.accepting_hall if events else 0,
        item_code="",
        last_block=events[-1].block if events else 0,
    )
    return ChainFacts(header=header, events=events, **{k: getattr(facts, k) for k in CaseFacts.model_fields})


def proven_chain_facts(bundle: EvidenceBundle, facts: MerkleFacts, report: VerificationReport) -> ChainFacts:
    """The events of a verified Merkle-mode bundle whose proofs held, as event-mode chain facts (for the
    checks that read those: a single document's proof, the audit)."""
    ok = {e.index for e in report.events if e.status in ("match", "mismatch") and e.block is not None}
    batches = {(b.hall_id, b.seq): b for b in facts.batches}
    events: list[ChainEventFact] = []
    home = 0
    for be in sorted(bundle.events, key=lambda e: e.index):
        bf = batches.get((be.batch.hall_id, be.batch.seq)) if be.batch is not None else None
        if be.index not in ok or bf is None:
            continue
        if any(r.code in ("batch_proof_invalid", "missing_on_chain") for v in report.events if v.index == be.index
               for r in v.reasons):  # fmt: skip
            continue
        if be.index == 0 and be.batch is not None:
            home = be.batch.home_district
        events.append(_event_fact(be, bf))
    return _chain_facts(bundle, facts, events, home)


def _event_fact(be: BundleEvent, bf: BatchFact) -> ChainEventFact:
    """Event ``be`` as the chain states it through its batch ``bf`` (a leaf has no ``prev_block``: 0)."""
    return ChainEventFact(
        index=be.index,
        stage=Stage[be.stage],
        writer=bf.writer,
        hall_id=bf.hall_id,
        commitment=be.commitment.lower(),
        head=be.head.lower(),
        ref=be.ref,
        prev_block=0,
        block=bf.block,
        log_index=bf.log_index,
        tx=bf.tx,
        time=bf.time,
    )


def _coords(bf: BatchFact, be: BundleEvent) -> list[Reason]:
    r: list[Reason] = []
    if be.hall_id != bf.hall_id or (be.batch is not None and be.batch.hall_id != bf.hall_id):
        r.append(Reason(code="hall_mismatch", detail=f"{be.hall_id} ≠ {bf.hall_id}"))
    if address_bytes(be.writer) != address_bytes(bf.writer):
        r.append(Reason(code="writer_mismatch", detail=f"{be.writer} ≠ {bf.writer}"))
    if be.time != bf.time:
        r.append(Reason(code="time_mismatch", detail=f"{be.time} ≠ {bf.time}"))
    if be.tx.lower() != bf.tx.lower():
        r.append(Reason(code="tx_mismatch"))
    return r


def _intake_fields(be: BundleEvent, bundle: EvidenceBundle) -> list[Reason]:
    """An INTAKE record that discloses its routing fields must state what its leaf states."""
    if be.record is None or be.batch is None:
        return []
    f = be.record.fields
    bp = be.batch
    wrong = [
        name
        for name, leaf_value in (
            ("home_district", bp.home_district),
            ("item_code", bp.item_code),
            ("accepting_hall", bundle.accepting_hall),
            ("anchor_mode", "merkle"),
        )
        if name in f and f[name] != leaf_value
    ]
    return [Reason(code="intake_leaf_mismatch", detail=", ".join(wrong))] if wrong else []


def verify_merkle_bundle(
    bundle: EvidenceBundle, facts: MerkleFacts, *, max_anchor_lag_s: int = DEFAULT_MAX_ANCHOR_LAG_S
) -> VerificationReport:
    """Verify a Merkle-mode bundle against ``facts``; pure, raises only on unusable input."""
    if bundle.mode != "merkle":
        raise InputError("mode", "bundle_event_mode")
    unique_event_indices(bundle)
    check_coordinates(bundle, facts)
    suite = suite_named(bundle.suite)
    cid = case_id(bundle.accepting_hall, bundle.serial)
    batches = {(b.hall_id, b.seq): b for b in facts.batches}
    in_bundle: dict[int, BundleEvent] = {be.index: be for be in bundle.events}

    # 1. each event against its batch's on-chain root
    verdict_of: dict[int, EventVerdict] = {}
    proven: dict[int, tuple[ChainEventFact, EventLeaf, Position]] = {}
    reasons_of: dict[int, list[Reason]] = {}
    copies_of: dict[int, list[Reason]] = {}
    """the bundle's copies of the batch's coordinates that differ: reported, but no part of a verified record"""
    for idx in sorted(in_bundle):
        be = in_bundle[idx]
        bp = be.batch
        assert bp is not None  # the bundle model requires it in Merkle mode
        bf = batches.get((bp.hall_id, bp.seq))
        if bf is None or bf.block != be.block:
            verdict_of[idx] = EventVerdict(
                index=idx,
                stage=be.stage,
                status="missing_on_chain",
                reasons=[Reason(code="missing_on_chain", detail=f"batch {bp.hall_id}/{bp.seq} in block {be.block}")],
                writer=be.writer,
                hall_id=be.hall_id,
                block=be.block,
                time=be.time,
                tx=be.tx,
                ref=be.ref,
            )
            continue
        leaf = bundle_leaf(bundle, be)
        copies_of[idx] = _coords(bf, be)
        reasons: list[Reason] = []
        try:
            if bp.tree_size != bf.count:
                raise VerificationError(f"tree of {bp.tree_size} leaves, the batch has {bf.count}")
            verify_leaf(
                leaf.encode(), bp.leaf_index, bp.tree_size, [bytes.fromhex(p) for p in bp.path], _b(bf.root), suite
            )
        except VerificationError as exc:
            reasons.append(Reason(code="batch_proof_invalid", detail=f"batch {bf.hall_id}/{bf.seq}: {exc}"))
        if idx == 0:
            reasons += _intake_fields(be, bundle)
        reasons_of[idx] = reasons
        ce = _event_fact(be, bf)
        if not any(r.code == "batch_proof_invalid" for r in reasons):
            proven[idx] = (ce, leaf, (bf.block, bf.log_index, bp.leaf_index))

    # 2. the case's rules, as in event mode, over the proven events; then Merkle-only order and links
    intake_be = in_bundle.get(0)
    home = intake_be.batch.home_district if intake_be is not None and intake_be.batch is not None and 0 in proven else 0
    events = [proven[i][0] for i in sorted(proven)]
    chain_reasons = {
        i: [r for r in rs if r.code != "chain_link_broken"]  # the batch back-link stands for it (below)
        for i, rs in check_chain(_chain_facts(bundle, facts, events, home)).items()
    }
    for i in sorted(proven):
        _, leaf, pos = proven[i]
        want_prev = (0, 0)
        if i > 0:
            prev = proven.get(i - 1)
            if prev is None:
                continue
            want_prev = (in_bundle[i - 1].batch.hall_id, in_bundle[i - 1].batch.seq)  # type: ignore[union-attr]
            if pos <= prev[2]:
                reasons_of[i].append(Reason(code="batch_order", detail=f"index {i} anchored before index {i - 1}"))
        if (leaf.prev_hall, leaf.prev_seq) != want_prev:
            reasons_of[i].append(
                Reason(
                    code="batch_link_broken",
                    detail=f"names batch {leaf.prev_hall}/{leaf.prev_seq}, expected {want_prev[0]}/{want_prev[1]}",
                )
            )

    # 3. completeness: the canonical chain from a scan of every hall's batches
    read_reasons = check_registry_read(facts.registry_log)
    bundle_reasons: list[Reason] = list(read_reasons)
    findings_of: dict[int, list[Reason]] = {}
    extra: dict[int, EventVerdict] = {}
    complete_as_of: int | None = None
    if facts.event_header.opened:
        bundle_reasons.append(Reason(code="case_in_both_modes", detail=facts.case_id))
    scan = facts.scan
    last_block = max((proven[i][0].block for i in proven), default=None)
    if scan is None:
        bundle_reasons.append(Reason(code="completeness_unproven", detail="no batch manifests were given"))
    elif 0 not in proven or last_block is None:
        bundle_reasons.append(Reason(code="completeness_unproven", detail="the case's INTAKE is not proven"))
    elif scan.from_block > proven[0][0].block or scan.to_block < last_block:
        bundle_reasons.append(
            Reason(
                code="completeness_unproven",
                detail=f"blocks {scan.from_block}-{scan.to_block} scanned, the case spans "
                f"{proven[0][0].block}-{last_block}",
            )
        )
    else:
        checked, problems = _checked_manifests(scan.batches, scan.manifests, suite)
        bundle_reasons += problems
        if not problems:
            complete_as_of = scan.to_block
            registry = sorted(facts.registry_log, key=lambda f: (f.block, f.log_index))

            def rights(bf: BatchFact) -> Rights:
                state = RegistryState.at(registry, bf.block, bf.log_index)
                return Rights.of(state, bf.writer, facts.dispute_role, facts.arbiter_role)

            chain, orphans = canonical_chain(cid, case_leaves(cid, checked), rights)
            for i, c in enumerate(chain):
                if i in in_bundle:
                    if i not in proven or proven[i][1].encode() == c.raw:
                        continue  # a proof that failed is named already
                    reasons_of.setdefault(i, []).append(
                        Reason(code="not_canonical", detail=f"the chain's event {i} is in batch {_where(c)}")
                    )
                else:
                    extra[i] = EventVerdict(
                        index=i,
                        stage=c.leaf.stage.name,
                        status="missing_from_bundle",
                        reasons=[Reason(code="missing_from_bundle", detail=f"batch {_where(c)}")],
                        writer=c.batch.writer,
                        hall_id=c.batch.hall_id,
                        block=c.batch.block,
                        time=c.batch.time,
                        tx=c.batch.tx,
                        ref=c.leaf.ref,
                    )
            for i in in_bundle:
                if i >= len(chain) and i in proven:
                    reasons_of[i].append(Reason(code="not_canonical", detail="no such event in the case's chain"))
            last = max(in_bundle) if in_bundle else None
            for o in orphans:
                at = o.leaf.index if o.leaf.index in in_bundle else last
                if at is not None:
                    findings_of.setdefault(at, []).append(
                        Reason(code="orphan_leaf", detail=f"index {o.leaf.index} in batch {_where(o)}")
                    )

    # 4. per-event verdicts (records, claimed time), gaps, materials
    intake_ce = proven[0][0] if 0 in proven else None
    file_roots: dict[int, tuple[bytes, int | None]] = {}
    verdicts: list[EventVerdict] = []
    top = max([*in_bundle, *extra], default=-1)
    for idx in range(top + 1):
        if idx in verdict_of:
            verdicts.append(verdict_of[idx])
            continue
        if idx in extra:
            verdicts.append(extra[idx])
            continue
        if idx not in in_bundle:  # a later event names it: it exists, but the bundle does not show it
            verdicts.append(
                EventVerdict(
                    index=idx,
                    stage="",
                    status="missing_from_bundle",
                    reasons=[Reason(code="missing_from_bundle", detail="a later event's index counts it")],
                )
            )
            continue
        be = in_bundle[idx]
        bf = batches[(be.batch.hall_id, be.batch.seq)]  # type: ignore[union-attr]
        own = list(reasons_of.get(idx, [])) + list(chain_reasons.get(idx, []))
        reasons = list(copies_of.get(idx, [])) + own
        findings: list[Reason] = list(findings_of.get(idx, []))
        pce = proven[idx][0] if idx in proven else None
        claimed: tuple[str | None, int | None] = (None, None)
        withheld: list[str] = []
        if be.record is None:
            reasons.append(Reason(code="record_absent"))
        elif pce is not None:
            withheld = sorted(be.record.withheld)
            rec_reasons, claimed = check_record(be.record, pce, facts.serial, intake_ce, suite)
            reasons += rec_reasons
            if claimed[1] is not None and pce.time - claimed[1] > max_anchor_lag_s:
                findings.append(Reason(code="anchored_late", detail=f"{pce.time - claimed[1]} s"))
            # a verified record proves files: its leaf is proven and re-checked clean, the record recomputes
            # with a consistent frame; the bundle's own copies of the batch's coordinates play no part
            if not own and not rec_reasons:
                fr = file_root(be.record, pce.stage)
                if fr is not None:
                    file_roots[idx] = fr
        status: Status = "match" if not reasons else "mismatch"
        verdicts.append(
            EventVerdict(
                index=idx,
                stage=be.stage,
                status=status,
                reasons=reasons,
                findings=findings,
                withheld=withheld,
                writer=bf.writer,
                hall_id=bf.hall_id,
                block=bf.block,
                time=bf.time,
                tx=bf.tx,
                ref=be.ref,
                claimed_at=claimed[0],
                claimed_time=claimed[1],
                lag_s=None if claimed[1] is None else bf.time - claimed[1],
            )
        )
    return bundle_report(
        bundle,
        facts,
        verdicts,
        file_roots,
        suite,
        reasons=bundle_reasons,
        read_reasons=read_reasons,
        opened=0 in proven,
        max_anchor_lag_s=max_anchor_lag_s,
        mode="merkle",
        complete_as_of=complete_as_of,
    )


def _msg(exc: Exception) -> str:
    return str(getattr(exc, "message", None) or exc)


def _b(hex0x: str) -> bytes:
    return bytes.fromhex(hex0x[2:])


def _where(c: CaseLeaf) -> str:
    return f"{c.batch.hall_id}/{c.batch.seq}#{c.position}"


def _checked_manifests(
    scan_batches: list[BatchFact], manifests: dict[str, Any], suite: Suite
) -> tuple[list[tuple[BatchFact, Manifest]], list[Reason]]:
    """The scan's manifests that match their batches; a reason per batch that has none, and per hall whose
    batches in the scan do not follow each other (a batch dropped or reordered in what was read)."""
    problems: list[Reason] = []
    ordered = sorted(scan_batches, key=lambda b: (b.block, b.log_index))
    last: dict[int, BatchFact] = {}
    for b in ordered:
        p = last.get(b.hall_id)
        if p is not None and (b.seq != p.seq + 1 or _b(b.head) != batch_head(_b(p.head), b.seq, _b(b.root), b.count)):
            problems.append(
                Reason(code="batch_chain_broken", detail=f"hall {b.hall_id}: batch {b.seq} follows batch {p.seq}")
            )
        last[b.hall_id] = b
    checked: list[tuple[BatchFact, Manifest]] = []
    for b in ordered:
        raw = manifests.get(f"{b.hall_id}/{b.seq}")
        if raw is None:
            problems.append(Reason(code="manifest_unavailable", detail=f"batch {b.hall_id}/{b.seq}"))
            continue
        try:
            m = Manifest.decode(bytes.fromhex(raw))
            m.check(hall=b.hall_id, seq=b.seq, root=_b(b.root), count=b.count, suite=suite)
        except (InputError, VerificationError, ValueError) as exc:
            problems.append(Reason(code="manifest_unavailable", detail=f"batch {b.hall_id}/{b.seq}: {_msg(exc)}"))
            continue
        checked.append((b, m))
    return checked, problems


def verify_merkle_document(
    data: bytes,
    proof: MaterialProof,
    record: DisclosedRecord,
    leaf: bytes,
    where: BatchProof,
    block: int,
    batch: BatchFact | None,
    *,
    event_index: int,
    accepting_hall: int,
    serial: str,
    suite: Suite,
) -> dict[str, Any]:
    """Was this exact file submitted (or issued) in a Merkle-mode case? Pure; raises :class:`VerificationError`.

    The Merkle-mode counterpart of :func:`ledger.verify.checks.verify_document`, from the bottom up: the file's
    proof against the record's ``materials_root`` / ``documents_root`` (and count), the record's commitment
    against its event ``leaf`` (its bytes), the leaf's inclusion proof (``where``: position, tree size, path)
    against the root of ``batch``, the ``BatchAnchored`` log as read from the chain at ``block`` (``None``: no
    such log there); ``event_index`` is the event the proof is said to belong to (the leaf must be it).
    Every answer that does not hold is named by its message code: ``document_batch_not_on_chain`` (the root
    is not on chain where the proof says), ``document_leaf_not_in_batch`` (the leaf is another case's,
    event's, writer's or tree's, or its proof does not lead to the root), ``document_record_not_leaf`` (the
    record is not the one the leaf commits to), ``document_not_committed`` (the file is not the one the
    record commits to).
    """
    coords: dict[str, Any] = {"hall": where.hall_id, "seq": where.seq}
    if batch is None or batch.block != block or (batch.hall_id, batch.seq) != (where.hall_id, where.seq):
        raise VerificationError("document_batch_not_on_chain", where="batch", block=block, **coords)
    try:
        ev = EventLeaf.decode(leaf)
    except InputError as exc:
        raise VerificationError("document_leaf_not_in_batch", where="leaf", detail=_msg(exc), **coords) from exc
    wrong = [
        what
        for what, bad in (
            ("another case", ev.case_id != case_id(accepting_hall, serial)),
            ("another writer hall", ev.writer_hall != batch.hall_id),
            ("another writer", address_bytes(ev.writer_hex) != address_bytes(batch.writer)),
            ("another tree size", where.tree_size != batch.count),
            ("another event", ev.index != event_index),
        )
        if bad
    ]
    if wrong:
        raise VerificationError("document_leaf_not_in_batch", where="leaf", detail=", ".join(wrong), **coords)
    try:
        verify_leaf(leaf, where.leaf_index, where.tree_size, [bytes.fromhex(p) for p in where.path], _b(batch.root),
                    suite)  # fmt: skip
    except (VerificationError, ValueError) as exc:
        raise VerificationError("document_leaf_not_in_batch", where="batch", detail=str(exc), **coords) from exc
    labels = {"stage": ev.stage.name, "stage_zh": ev.stage.label_zh}
    try:
        root = record.root(suite)
    except (VerificationError, InputError) as exc:
        raise VerificationError("document_record_not_leaf", where="record", detail=_msg(exc), **labels) from exc
    if root != ev.commitment:
        raise VerificationError(
            "document_record_not_leaf",
            where="record",
            expected="0x" + ev.commitment.hex(),
            found="0x" + root.hex(),
            **labels,
        )
    event = ChainEventFact(
        index=ev.index,
        stage=ev.stage,
        writer=batch.writer,
        hall_id=batch.hall_id,
        commitment="0x" + ev.commitment.hex(),
        head="0x" + ev.head.hex(),
        ref=ev.ref,
        prev_block=0,
        block=batch.block,
        log_index=batch.log_index,
        tx=batch.tx,
        time=batch.time,
    )
    try:
        found = verify_document(data, proof, record, event, suite)
    except VerificationError as exc:  # the record is the leaf's: what is left is the file against its record
        raise VerificationError(
            "document_not_committed",
            where=exc.where,
            expected=exc.expected,
            found=exc.found,
            detail=str(exc),
            **labels,
        ) from exc
    return {**found, "batch": f"{batch.hall_id}/{batch.seq}", "leaf_index": where.leaf_index}
