"""A Merkle-mode case anchored on a real chain straight from the test, leaf by leaf as a hall's sender builds
it (no hall node): per event the next head and the back-link to the previous event's batch; one
``anchorRootAt`` per run of one writer's events; each batch's manifest written as ``<hall>-<seq>.manifest``
(the verifier's ``--manifests DIR``). Used by test_verify's chain cases and the auditor's install test."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ledger.chain.client import ChainClient
from ledger.core.batches import BatchTree, EventLeaf, Manifest
from ledger.core.bundle import BatchProof, EvidenceBundle, ExportedBy, HeldEvent, build_bundle
from ledger.core.facts import ChainEvent
from ledger.core.hashchain import case_id, next_head
from ledger.core.materials import MaterialSet
from ledger.core.records import SaltedRecord
from ledger.core.stages import Stage
from ledger.core.suites import suite_named

__all__ = ["anchor_merkle_case"]


def anchor_merkle_case(
    admin: ChainClient,
    *,
    accepting_hall: int,
    serial: str,
    records: Sequence[SaltedRecord],
    writers: Sequence[ChainClient],
    home_district: int,
    item_code: str,
    materials: MaterialSet,
    contents: Sequence[bytes],
    manifests: Path,
) -> EvidenceBundle:
    """Anchor ``records`` (event ``i`` written by ``writers[i]``, a registered hall's key) and return the case's
    bundle with the MATERIALS event's files embedded; ``manifests``: a new directory for the batches' manifests."""
    dep = admin.deployment
    assert dep is not None
    suite = suite_named(dep.suite)
    halls: dict[str, int] = {}
    for w in writers:
        info = admin.hall_of(w.address)
        assert info is not None
        halls[w.address] = info.hall_id
    runs: list[tuple[ChainClient, list[int]]] = []
    for i, w in enumerate(writers):
        if runs and runs[-1][0] is w:
            runs[-1][1].append(i)
        else:
            runs.append((w, [i]))
    head, prev = case_id(accepting_hall, serial), (0, 0)
    seqs: dict[str, int] = {}
    manifests.mkdir()
    held: list[HeldEvent] = []
    for w, idxs in runs:
        seq = seqs.get(w.address, 0)
        seqs[w.address] = seq + 1
        wh = halls[w.address]
        leaves: list[EventLeaf] = []
        for i in idxs:
            rec = records[i]
            head = next_head(head, rec.stage, rec.commitment, w.address)
            leaves.append(
                EventLeaf.new(
                    accepting_hall=accepting_hall,
                    serial=serial,
                    index=i,
                    stage=rec.stage,
                    commitment=rec.commitment,
                    writer_hall=wh,
                    writer=w.address,
                    head=head,
                    ref=int(rec.fields.get("resolves", 0)) if rec.stage == Stage.DISPUTE_RESOLVED else 0,
                    prev=prev,
                    home_district=home_district,
                    item_code=item_code,
                )
            )
            prev = (wh, seq)
        raw = [lf.encode() for lf in leaves]
        tree = BatchTree.of(raw, suite)
        receipt = w.wait(w.send_root(seq, tree.root, len(raw)))
        log = admin.batch_at(wh, seq, receipt.block_number)
        assert log is not None
        (manifests / f"{wh}-{seq}.manifest").write_bytes(Manifest(suite, wh, seq, tuple(raw)).encode())
        for pos, (i, lf) in enumerate(zip(idxs, leaves, strict=True)):
            event = ChainEvent(
                case_id="0x" + lf.case_id.hex(),
                hall_id=wh,
                stage=lf.stage,
                writer=log.writer,
                index=i,
                commitment=lf.commitment,
                head=lf.head,
                ref=lf.ref,
                prev_block=0,
                block_number=log.block_number,
                tx_hash=log.tx_hash,
                log_index=log.log_index,
            )
            proof = BatchProof(
                hall_id=wh,
                seq=seq,
                leaf_index=pos,
                tree_size=len(raw),
                path=[p.hex() for p in tree.proof(pos)],
                prev_hall=lf.prev_hall,
                prev_seq=lf.prev_seq,
                home_district=lf.home_district,
                item_code=lf.item_code,
            )
            files = lf.stage == Stage.MATERIALS
            held.append(
                HeldEvent(
                    record=records[i],
                    event=event,
                    time=admin.block_time(log.block_number),
                    materials=materials if files else None,
                    contents=list(contents) if files else None,
                    batch=proof,
                )
            )
    return build_bundle(
        serial=serial,
        accepting_hall=accepting_hall,
        suite=dep.suite,
        chain_id=dep.chain_id,
        ledger=dep.ledger,
        registry=dep.registry,
        exported_at="2026-11-23T10:00:00Z",
        exported_by=ExportedBy(hall_id=accepting_hall),
        held=held,
        include_files=True,
        mode="merkle",
    )
