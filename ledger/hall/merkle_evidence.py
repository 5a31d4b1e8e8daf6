"""Merkle-mode proofs in what a hall hands out: transfer packages and evidence bundles.

A Merkle-mode record's anchor says where its leaf is (``batch``: hall, seq, leaf position, tree size). The
leaf's bytes and inclusion path come from the batch's manifest, which the hall holds (its own batches, and
every batch its indexer checked); a record received from another hall keeps the leaf and path it came
with. They travel with the record::

    proof = record_proof(manifests, record)        # LeafProof(leaf=hex, path=[hex…]) or None
    events = verify_package_proofs(client, suite, accepting_hall, serial, package)   # receiver: against the chain

and the receiver checks every proof against the batch's on-chain root before it uses the record, so a
package can be verified without any manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.chain.client import ChainClient
from ledger.core.batches import EventLeaf, verify_leaf
from ledger.core.bundle import BatchProof
from ledger.core.facts import BatchAnchoredEvent, ChainEvent
from ledger.core.hashchain import case_id
from ledger.core.suites import Suite
from ledger.errors import InputError, VerificationError
from ledger.hall.cases import CaseBook
from ledger.hall.merkle_index import ManifestStore
from ledger.hall.package import BatchRef, MerkleAnchor, TransferPackage

__all__ = [
    "LeafProof",
    "batch_proof",
    "is_merkle",
    "merkle_event",
    "merkle_package",
    "record_proof",
    "verify_package_proofs",
]


def is_merkle(record: dict[str, Any]) -> bool:
    a = record.get("anchor") or {}
    return a.get("mode") == "merkle" and a.get("state") == "anchored"


@dataclass(frozen=True)
class LeafProof:
    """A Merkle-mode record's leaf (its bytes, hex) and inclusion path (hex, leaf to root) in its batch's tree."""

    leaf: str
    path: list[str]


def record_proof(manifests: ManifestStore, record: dict[str, Any]) -> LeafProof | None:
    """The leaf and inclusion path of an anchored Merkle-mode record, or None if this hall lacks them."""
    a = record.get("anchor") or {}
    b = a.get("batch") or {}
    if a.get("leaf") and a.get("path") is not None:
        return LeafProof(leaf=str(a["leaf"]), path=[str(p) for p in a["path"]])
    got = manifests.leaf_proof(int(b.get("hall", 0)), int(b.get("seq", -1)), int(b.get("leaf", -1)))
    if got is None:
        return None
    return LeafProof(leaf=got[0].hex(), path=[p.hex() for p in got[1]])


def merkle_package(book: CaseBook, manifests: ManifestStore, serial: str) -> TransferPackage:
    """A Merkle-mode case's transfer package: :meth:`ledger.hall.cases.CaseBook.package` plus, per record, its
    anchor with the leaf and inclusion path (records whose proof this hall lacks are left out)."""
    package = book.package(serial)
    by_index = {int(r["anchor"]["index"]): r for r in book.records(serial) if is_merkle(r)}
    out = []
    for rec in package.records:
        r = by_index.get(rec.index)
        proof = None if r is None else record_proof(manifests, r)
        if r is None or proof is None:
            continue
        a, b = r["anchor"], r["anchor"]["batch"]
        anchor = MerkleAnchor(
            mode="merkle",
            block=a["block"],
            tx=a["tx"],
            time=a.get("time"),
            batch=BatchRef(hall=b["hall"], seq=b["seq"], leaf=b["leaf"], size=b["size"]),
            leaf=proof.leaf,
            path=proof.path,
        )
        out.append(rec.model_copy(update={"anchor": anchor}))
    return package.model_copy(update={"anchor_mode": "merkle", "records": out})


def merkle_event(record: dict[str, Any], leaf: EventLeaf) -> ChainEvent:
    """The event a Merkle-mode record's anchor and leaf stand for (block, tx and log index: the batch's)."""
    a = record["anchor"]
    b = a["batch"]
    return ChainEvent(
        case_id="0x" + leaf.case_id.hex(),
        hall_id=int(b["hall"]),
        stage=leaf.stage,
        writer=str(a.get("writer") or leaf.writer_hex),
        index=leaf.index,
        commitment=leaf.commitment,
        head=leaf.head,
        ref=leaf.ref,
        prev_block=0,
        block_number=int(a["block"]),
        tx_hash=str(a["tx"]),
        log_index=int(b.get("log_index", 0)),
    )


def batch_proof(record: dict[str, Any], proof: LeafProof) -> tuple[EventLeaf, BatchProof]:
    """The bundle's :class:`BatchProof` of a record from its anchor and proof."""
    leaf = EventLeaf.decode(bytes.fromhex(proof.leaf))
    b = record["anchor"]["batch"]
    return leaf, BatchProof(
        hall_id=int(b["hall"]),
        seq=int(b["seq"]),
        leaf_index=int(b["leaf"]),
        tree_size=int(b["size"]),
        path=list(proof.path),
        prev_hall=leaf.prev_hall,
        prev_seq=leaf.prev_seq,
        home_district=leaf.home_district,
        item_code=leaf.item_code,
    )


def verify_package_proofs(
    client: ChainClient, suite: Suite, accepting_hall: int, serial: str, package: TransferPackage
) -> list[tuple[ChainEvent, dict[str, Any]]]:
    """Every Merkle-mode record of a package against its batch's on-chain root: (event, anchor to store).

    Raises :class:`VerificationError` naming the record at the first proof that does not hold."""
    cid = case_id(accepting_hall, serial)
    out: list[tuple[ChainEvent, dict[str, Any]]] = []
    logs: dict[tuple[int, int], BatchAnchoredEvent | None] = {}
    for r in package.records:
        a = r.anchor
        where = f"record {r.index} ({r.stage.name})"
        if a is None:
            raise VerificationError(f"{where} of a Merkle-mode case carries no batch proof", where=where)
        b = a.batch
        hall, seq, pos, size, block = b.hall, b.seq, b.leaf, b.size, a.block
        try:
            leaf_raw = bytes.fromhex(a.leaf)
            path = [bytes.fromhex(p) for p in a.path]
            leaf = EventLeaf.decode(leaf_raw)
        except (ValueError, InputError) as exc:
            raise VerificationError(f"{where} has a malformed batch proof ({exc})", where=where) from exc
        if leaf.case_id != cid or leaf.index != r.index:
            raise VerificationError(f"{where}: its leaf is another case's or another index", where=where)
        if (hall, seq) not in logs:
            logs[(hall, seq)] = client.batch_at(hall, seq, block)
        ev = logs[(hall, seq)]
        if ev is None:
            raise VerificationError(f"{where}: batch {hall}/{seq} is not on chain in block {block}", where=where)
        if leaf.writer_hall != ev.hall_id or leaf.writer_hex.lower() != ev.writer.lower() or size != ev.count:
            raise VerificationError(
                f"{where}: its leaf names another writer or tree than batch {hall}/{seq}", where=where
            )
        verify_leaf(leaf_raw, pos, size, path, ev.root, suite)
        event = ChainEvent(
            case_id="0x" + cid.hex(),
            hall_id=ev.hall_id,
            stage=leaf.stage,
            writer=ev.writer,
            index=leaf.index,
            commitment=leaf.commitment,
            head=leaf.head,
            ref=leaf.ref,
            prev_block=0,
            block_number=ev.block_number,
            tx_hash=ev.tx_hash,
            log_index=ev.log_index,
        )
        anchor = {
            "state": "anchored",
            "mode": "merkle",
            "tx": ev.tx_hash,
            "block": ev.block_number,
            "time": a.time,
            "index": leaf.index,
            "head": leaf.head.hex(),
            "writer": ev.writer,
            "batch": {"hall": hall, "seq": seq, "leaf": pos, "size": size, "log_index": ev.log_index},
            "leaf": leaf_raw.hex(),
            "path": [p.hex() for p in path],
        }
        out.append((event, anchor))
    return out
