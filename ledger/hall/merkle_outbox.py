"""Merkle-mode anchoring: the hall's pending events of Merkle-mode cases, anchored as one root per batch.

A Merkle-mode case's events wait in ``mbox/`` (written by :meth:`ledger.hall.outbox.Outbox.enqueue` in the
same LevelDB batch as their records, like event mode). The sender takes them in order and builds a batch::

    sender = MerkleSender(outbox, client, hall=hall)
    sender.run_once()            # or sender.start() for the background thread

1. **Build** (under the case lock): each event gets its case's next index, the next hash-chain head
   (``keccak256(head ‖ stage ‖ commitment ‖ writer)``, as in event mode, ``writer`` being this hall's key)
   and a back-link to the batch of the case's previous event (``mhead/<serial>``, which the indexer also
   moves forward for events other halls anchor). The rules the contract checks per event in event mode
   are checked here first (writer rights, stage order, one INTAKE per case, disputes): a breaking event is
   refused locally with the contract's rule name and never anchored. The batch — its entries, its manifest
   (:class:`ledger.core.batches.Manifest`) and the cases' new heads — is written in **one synced LevelDB
   batch before anything is sent**, under the hall's next batch number ``seq``.
2. **Send** ``anchorRootAt(seq, root, count)``: the contract anchors it only as the hall's next batch, so
   a batch sent twice (an unknown outcome, resent) or overtaken is refused, never anchored twice or under
   another number. Several batches may be in flight, always in ``seq`` order.
3. **Record**: from the receipt's ``BatchAnchored`` log, every record of the batch gets its anchor
   (``mode: merkle``, index, head, batch, leaf), in chunks, and the block's hash is kept as a checkpoint.

Exactly once across crashes: after a restart or any unknown outcome the sender reads ``batchHeader(hall)``;
every built batch below the chain's batch count is looked up by ``seq`` (a bounded scan of this hall's
``BatchAnchored`` logs from the block of the last recorded receipt) and recorded if its root is there;
the others are sent again, in order. Reorganisations and rollbacks: when a checkpoint block left the
chain, the batches anchored after the fork point go back to ``built`` (their records to ``pending``) and
the next reconcile records those the chain re-included and resends the rest.

Key rotation: a batch's leaves and its cases' heads name the key it was built for (``writer``), and readers
accept a leaf only from the key that sent its batch. Before a built batch is sent its writer is compared with
the sender's key; when they differ (the hall's key rotated between build and send) that batch and every later
built one are undone in one synced write batch — entries back to ``mbox/`` under their own numbers, each
case's ``mhead/`` back to the state kept in the batch (``before``) unless the indexer moved it since — and
built again under the same number for the new key. A batch number the chain's count or the indexer's
``mbatchlog/`` already holds is never undone: it is reconciled (recorded as the old key anchored it).

Store keys (``ledger.hall.keys``): ``mbox/``, ``mbatch/<seq>``, ``mbuilt/<seq>`` (built, not anchored yet),
``manifest/<hall>/<seq>``, ``mhead/<serial>``,
``mblock/<block>``, ``meta/mbatch_scan_from``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from ledger.chain.client import ChainClient
from ledger.core.batches import MAX_LEAVES, BatchTree, EventLeaf, Manifest
from ledger.core.caserules import case_state, next_state
from ledger.core.facts import BatchAnchoredEvent
from ledger.core.hashchain import address_bytes, case_id
from ledger.core.stages import DISPUTE_STAGES, Stage
from ledger.errors import ChainError, ChainRuleError
from ledger.hall.cases import HallIdentity
from ledger.hall.keys import (
    MBATCH_PREFIX,
    MBATCH_SCAN_FROM_KEY,
    MBLOCK_PREFIX,
    MBOX_PREFIX,
    MBUILT_PREFIX,
    OUTBOX_REFUSED_PREFIX,
    held_key,
    manifest_key,
    mbatch_key,
    mbatch_log_key,
    mbox_key,
    mbuilt_key,
    mcase_key,
    mhead_key,
    outbox_refused_key,
    record_prefix,
)
from ledger.hall.outbox import Outbox
from ledger.hall.reorg import Checkpoints
from ledger.hall.sender import ChainSender, Flight

__all__ = ["MerkleSender", "MerkleStats", "anchored_batch", "leaf_anchor"]


def leaf_anchor(
    ev: BatchAnchoredEvent, *, block_time: int | None, index: int, head: str, writer: str, leaf: int, size: int
) -> dict[str, Any]:
    """A record's anchor once its event is leaf ``leaf`` of the mined batch ``ev`` (of ``size`` leaves)."""
    return {
        "state": "anchored",
        "mode": "merkle",
        "tx": ev.tx_hash,
        "block": ev.block_number,
        "time": block_time,
        "index": index,
        "head": head,
        "writer": writer,
        "batch": {"hall": ev.hall_id, "seq": ev.seq, "leaf": leaf, "size": size, "log_index": ev.log_index},
    }


def anchored_batch(
    batch: dict[str, Any], ev: BatchAnchoredEvent, *, block_time: int | None, block_hash: str
) -> dict[str, Any]:
    """The store's record of ``batch`` (``mbatch/<seq>``) once the chain holds it as ``ev``."""
    return {
        **batch,
        "state": "anchored",
        "tx": ev.tx_hash,
        "block": ev.block_number,
        "block_hash": block_hash,
        "log_index": ev.log_index,
        "time": block_time,
        "batch_head": ev.head.hex(),
        "prev_block": ev.prev_block,
    }


log = logging.getLogger("caseledger.merkle")

MARK_CHUNK = 512
ROOT_GAS = 120_000
"""gas limit of one anchorRootAt (a hall's first batch uses about 79k, later ones about 45k)"""


@dataclass(frozen=True)
class MerkleStats:
    pending: int
    """events waiting in mbox/ plus those in built batches not anchored yet"""
    batches_unanchored: int
    refused: int
    last_error: str | None
    last_anchored_at: float | None
    anchored_total: int
    next_seq: int | None
    lost_total: int
    deployment_lost: str | None = None


@dataclass
class _Flight(Flight):
    seq: int


class MerkleSender(ChainSender[_Flight]):
    """Anchors Merkle-mode cases' events, one root per batch, up to ``max_in_flight`` batches pipelined."""

    thread_name = "merkle-sender"
    log = log
    log_name = "merkle"
    tx_noun = "Merkle batch transaction"

    def __init__(
        self,
        outbox: Outbox,
        client: ChainClient,
        *,
        hall: HallIdentity,
        batch_max: int = 20_000,
        max_in_flight: int = 2,
        linger: float = 0.0,
        interval: float = 0.5,
        max_backoff: float = 10.0,
        receipt_timeout: float = 60.0,
        reorg_check_interval: float = 2.0,
        role_refresh: float = 5.0,
        on_anchored: Callable[[list[dict[str, Any]]], None] | None = None,
        hold: Callable[[], str | None] | None = None,
        quiet: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(
            outbox,
            client,
            batch_max=min(batch_max, MAX_LEAVES),
            max_in_flight=max_in_flight,
            interval=interval,
            max_backoff=max_backoff,
            receipt_timeout=receipt_timeout,
            reorg_check_interval=reorg_check_interval,
            on_anchored=on_anchored,
            hold=hold,
        )
        self.store = outbox.store
        self.hall = hall
        self.linger = linger
        self.role_refresh = role_refresh
        self.quiet = quiet
        self._next_seq: int | None = None
        self._roles: tuple[float, bool, bool] | None = None
        self.rebuilt_total = 0
        """events of built batches built again for this sender's key (after a hall key rotation)"""
        self.marks = Checkpoints(self.store, MBLOCK_PREFIX, keep=256)

    # ------------------------------------------------------------------ reads
    def batches(self, *, state: str | None = None) -> Iterator[dict[str, Any]]:
        """This hall's batches in seq order (``state="built"``: only those not anchored yet, from their index)."""
        if state == "built":
            for k, _ in self.store.iter_prefix(MBUILT_PREFIX):
                b = self.store.get_json(mbatch_key(int(k[len(MBUILT_PREFIX) :])))
                if b is not None and b["state"] == "built":
                    yield b
            return
        for _, b in self.store.iter_json(MBATCH_PREFIX):
            if state is None or b["state"] == state:
                yield b

    def pending_count(self) -> int:
        return self.store.count_prefix(MBOX_PREFIX) + sum(int(v) for _, v in self.store.iter_json(MBUILT_PREFIX))

    def oldest_age(self) -> float | None:
        """Seconds the oldest event not anchored yet has waited (in mbox/ or in a built batch)."""
        times = [float(v["created_at"]) for _, v in islice(self.store.iter_json(MBOX_PREFIX), 1)]
        for b in self.batches(state="built"):
            times += [float(e["created_at"]) for e in b["entries"][:1]]
        return max(0.0, time.time() - min(times)) if times else None

    def stats(self) -> MerkleStats:
        built = [int(v) for _, v in self.store.iter_json(MBUILT_PREFIX)]
        return MerkleStats(
            pending=self.store.count_prefix(MBOX_PREFIX) + sum(built),
            batches_unanchored=len(built),
            refused=sum(1 for _, v in self.store.iter_json(OUTBOX_REFUSED_PREFIX) if v.get("mode") == "merkle"),
            last_error=self.last_error,
            last_anchored_at=self.last_anchored_at,
            anchored_total=self.anchored_total,
            next_seq=self._next_seq,
            lost_total=self.lost_total,
            deployment_lost=self.deployment_lost,
        )

    def _quiet(self) -> bool:
        return self.quiet is not None and self.quiet()  # the event-mode sender is waiting for this key's pool to drain

    # ------------------------------------------------------------------ build
    def _roles_now(self) -> tuple[bool, bool]:
        now = time.monotonic()
        if self._roles is None or now - self._roles[0] > self.role_refresh:
            officer = self.client.has_role("DISPUTE_OFFICER_ROLE", self.client.address)
            arbiter = self.client.has_role("DISPUTE_ARBITER_ROLE", self.client.address)
            self._roles = (now, officer, arbiter)
        return self._roles[1], self._roles[2]

    def _seq(self) -> int:
        if self._next_seq is None:
            last = None
            for k, _ in self.store.iter_prefix(MBATCH_PREFIX, reverse=True):
                last = int(k[len(MBATCH_PREFIX) :])
                break
            _, count, _ = self.client.batch_header(self.hall.hall_id)
            self._next_seq = max(count, (last + 1) if last is not None else 0)
        return self._next_seq

    def build(self) -> dict[str, Any] | None:
        """Build the next batch from the oldest pending events and write it durably; None if nothing to build."""
        officer, arbiter = (False, False)
        if any(True for _ in self._pending_dispute_probe()):
            officer, arbiter = self._roles_now()
        writer = self.client.address
        writer_b = address_bytes(writer)
        me, district = self.hall.hall_id, self.hall.district
        with self.outbox.lock:
            entries = [v for _, v in islice(self.store.iter_json(MBOX_PREFIX), self.batch_max)]
            if not entries:
                return None
            if self.linger and time.time() - float(entries[0]["created_at"]) < self.linger:
                if len(entries) < self.batch_max:
                    return None
            seq = self._seq()
            states: dict[str, dict[str, Any]] = {}
            before: dict[str, dict[str, Any] | None] = {}
            blocked: set[str] = set()
            leaves: list[bytes] = []
            taken: list[dict[str, Any]] = []
            refused: list[tuple[dict[str, Any], ChainRuleError]] = []
            for e in entries:
                serial = str(e["serial"])
                if serial in blocked:
                    continue
                stage = Stage[e["stage"]]
                st = states.get(serial)
                if st is None:
                    st = self.store.get_json(mhead_key(serial))
                    before.setdefault(serial, st)  # what mhead/ said before this batch: a rebuild puts it back
                if st is None:
                    if stage != Stage.INTAKE:
                        blocked.add(serial)  # its earlier events are not known here yet: wait for the indexer
                        continue
                    opened = e.get("open") or {}
                    st = case_state(int(e["accepting_hall"]), serial, int(opened.get("home_district") or 0))
                elif serial not in states and self._index_behind(serial, int(st["index"])):
                    blocked.add(serial)  # it received later events of the case than the index knows: wait for it
                    continue
                commitment = bytes.fromhex(e["commitment"])
                ref = int(e.get("ref") or 0)
                new, err = next_state(
                    st,
                    stage=stage,
                    commitment=commitment,
                    writer=writer_b,
                    writer_hall=me,
                    writer_district=district,
                    ref=ref,
                    officer=officer,
                    arbiter=arbiter,
                    batch=(me, seq),
                )
                if err is not None:
                    refused.append((e, err))
                    if stage == Stage.INTAKE:
                        blocked.add(serial)  # a refused INTAKE holds the case's later events (below, _refuse)
                    continue
                opened = e.get("open") or {}
                leaf = EventLeaf.new(
                    accepting_hall=int(e["accepting_hall"]),
                    serial=serial,
                    index=int(new["index"]),
                    stage=stage,
                    commitment=commitment,
                    writer_hall=me,
                    writer=writer_b,
                    head=bytes.fromhex(new["head"]),
                    ref=ref,
                    prev=(int(st["hall"]), int(st["seq"])),
                    home_district=int(opened.get("home_district") or 0),
                    item_code=str(opened.get("item_code") or ""),
                )
                states[serial] = new
                taken.append(
                    {
                        "seq": e["seq"],
                        "serial": serial,
                        "accepting_hall": int(e["accepting_hall"]),
                        "rec_key": e["rec_key"],
                        "stage": e["stage"],
                        "commitment": e["commitment"],
                        "ref": ref,
                        "index": int(new["index"]),
                        "head": new["head"],
                        "open": e.get("open"),
                        "created_at": e["created_at"],
                    }
                )
                leaves.append(leaf.encode())
            if refused:
                self._refuse(refused)
            if not leaves:
                return None
            tree = BatchTree.of(leaves, self.hall.suite)
            batch = {
                "seq": seq,
                "root": tree.root.hex(),
                "count": len(leaves),
                "writer": writer,
                "state": "built",
                "built_at": time.time(),
                "entries": taken,
                "before": {serial: before[serial] for serial in states},
            }
            manifest = Manifest(suite=self.hall.suite, hall=me, seq=seq, leaves=tuple(leaves))
            with self.store.write_batch(sync=True) as wb:
                wb.put_json(mbatch_key(seq), batch)
                wb.put_json(mbuilt_key(seq), len(leaves))
                wb.put(manifest_key(me, seq), manifest.encode())
                for serial, st in states.items():
                    wb.put_json(mhead_key(serial), st)
                for e in taken:
                    wb.delete(mbox_key(int(e["seq"])))
            self._next_seq = seq + 1
        return batch

    def rebuild(self, seq: int) -> bool:
        """Undo the built, unsent batches from ``seq`` on (their writer is not this sender's key): their entries
        go back to ``mbox/`` under their own numbers, their cases' ``mhead/`` back to what it was before them,
        and the batch number ``seq`` is built again. One synced write batch, under the case lock.

        Never a batch the chain may hold: if the chain's batch count, or the indexer's log of this hall's
        batches, has reached ``seq``, nothing is undone and the next round reconciles (the batch is recorded,
        never built twice). Returns whether the batches were undone.
        """
        me = self.hall.hall_id
        _, count, _ = self.client.batch_header(me)
        with self.outbox.lock:
            undo = sorted((b for b in self.batches(state="built") if int(b["seq"]) >= seq), key=lambda b: int(b["seq"]))
            if not undo:
                return False
            if count > seq or any(self.store.get(mbatch_log_key(me, int(b["seq"]))) is not None for b in undo):
                self.needs_reconcile = True
                log.warning("merkle: batch %d is on chain (count %d); it is recorded, not built again", seq, count)
                return False
            heads: dict[str, dict[str, Any] | None] = {}
            last: dict[str, str] = {}
            for b in undo:
                for e in b["entries"]:
                    serial = str(e["serial"])
                    if serial not in heads:
                        heads[serial] = self._head_before(b, e)
                    last[serial] = str(e["head"])
            with self.store.write_batch(sync=True) as wb:
                for b in undo:
                    n = int(b["seq"])
                    wb.delete(mbatch_key(n))
                    wb.delete(mbuilt_key(n))
                    wb.delete(manifest_key(me, n))
                    for e in b["entries"]:
                        wb.put_json(
                            mbox_key(int(e["seq"])),
                            {k: e[k] for k in ("seq", "accepting_hall", "serial", "rec_key", "ref", "stage",
                                               "commitment", "open", "created_at")},
                        )  # fmt: skip
                for serial, st in heads.items():
                    cur = self.store.get_json(mhead_key(serial))
                    if cur is None or str(cur.get("head")) != last[serial]:
                        continue  # moved since by the indexer (the canonical chain of another hall's leaves): kept
                    if st is None:
                        wb.delete(mhead_key(serial))
                    else:
                        wb.put_json(mhead_key(serial), st)
            self._next_seq = seq
        self.rebuilt_total += sum(int(b["count"]) for b in undo)
        log.warning(
            "merkle: %d built batch(es) from %d were built for key %s, this sender's key is %s: built again",
            len(undo),
            seq,
            undo[0]["writer"],
            self.client.address,
        )
        return True

    def _head_before(self, b: dict[str, Any], e: dict[str, Any]) -> dict[str, Any] | None:
        """The case's ``mhead/`` state before entry ``e``, its first in the undone batches (None: no event yet)."""
        before = b.get("before")
        if before is not None:
            st = before.get(str(e["serial"]))
            return None if st is None else dict(st)
        # a batch built before the state was kept in it: the indexer's checked state, once it has every earlier event
        if int(e["index"]) == 0:
            return None
        st = self.store.get_json(mcase_key(case_id(int(e["accepting_hall"]), str(e["serial"]))))
        if st is None or len(st["events"]) != int(e["index"]):
            raise ChainError(
                f"Merkle batch {b['seq']} is to be built again for this hall's new key, but the indexer has not "
                f"read every earlier event of case {e['serial']} yet; retrying"
            )
        return {k: v for k, v in st.items() if k != "events"}

    def _index_behind(self, serial: str, index: int) -> bool:
        """Whether this hall holds an event of the case, anchored by another hall, past ``index`` (``mhead/``).

        Another hall's events reach this hall by transfer as soon as their batch is anchored, and ``mhead/``
        moves past them only when the indexer has read that batch's manifest: an event built on the older
        state would break the stage order and be refused for good, although it is merely early.
        """
        for _, r in self.store.iter_json(record_prefix(serial)):
            a = r.get("anchor") or {}
            if r.get("origin") == "received" and a.get("state") == "anchored" and int(a.get("index", -1)) > index:
                return True
        return False

    def _pending_dispute_probe(self) -> Iterator[None]:
        """Whether the next batch may hold a dispute event (the roles are read from the chain only then)."""
        for _, v in islice(self.store.iter_json(MBOX_PREFIX), self.batch_max):
            if Stage[v["stage"]] in DISPUTE_STAGES:
                yield None
                return

    def _refuse(self, refused: list[tuple[dict[str, Any], ChainRuleError]]) -> None:
        """Refused locally, as the contract would refuse it in event mode: never anchored (caller holds the lock).

        A refused INTAKE holds every other pending event of its case, as in event mode
        (:meth:`ledger.hall.outbox.Outbox.mark_refused`, issue 13): the case of that serial known to the chain
        is someone else's, and nothing of this case may be built into it. ``held/<serial>`` says why until an
        administrator reissues it."""
        with self.store.write_batch() as wb:
            for e, err in refused:
                log.warning("merkle: %s %s refused: %s", e["serial"], e["stage"], err)
                later: list[dict[str, Any]] = []
                if Stage[e["stage"]] == Stage.INTAKE:  # also one queued again after losing its index (no "open")
                    later = [
                        v
                        for _, v in self.store.iter_json(MBOX_PREFIX)
                        if v["serial"] == e["serial"] and int(v["seq"]) != int(e["seq"])
                    ]
                    wb.put_json(
                        held_key(str(e["serial"])),
                        {
                            "serial": e["serial"],
                            "rule": err.rule,
                            "message": str(err),
                            "at": time.time(),
                            "held_events": len(later),
                        },
                    )
                for x, state in [(e, "refused"), *((v, "held") for v in later)]:
                    rec = self.store.get_json(x["rec_key"].encode())
                    if rec is not None:
                        rec["anchor"] = {"state": state, "mode": "merkle", "rule": err.rule, "message": str(err)}
                        wb.put_json(x["rec_key"].encode(), rec)
                    wb.delete(mbox_key(int(x["seq"])))
                    wb.put_json(
                        outbox_refused_key(int(x["seq"])),
                        {
                            **x,
                            "mode": "merkle",
                            "rule": err.rule,
                            "message": str(err),
                            **({"held": True} if state == "held" else {}),
                        },
                    )
                if later:
                    log.error(
                        "merkle: the INTAKE of %s was refused (%s); its %d later event(s) are held, never built into "
                        "the chain's case of that serial",
                        e["serial"],
                        err.rule,
                        len(later),
                    )

    # ------------------------------------------------------------------ send and record
    def _send_next(self) -> bool:
        sent = {f.seq for f in self._in_flight}
        nxt = next((b for b in self.batches(state="built") if int(b["seq"]) not in sent), None)
        if nxt is None:
            nxt = self.build()
            if nxt is None:
                return False
        if str(nxt["writer"]).lower() != str(self.client.address).lower():
            # built for a key this hall no longer sends with (rotated): its leaves and heads name that key, and
            # every reader would refuse them under the new one (writer_mismatch). Built again, then sent.
            if self._in_flight or not self.rebuild(int(nxt["seq"])):
                return False
            nxt = self.build()
            if nxt is None:
                return False
        if self._in_flight and int(nxt["seq"]) != self._in_flight[-1].seq + 1:
            return False  # batches go out in sequence order only
        tx = self.client.send_root(int(nxt["seq"]), bytes.fromhex(nxt["root"]), int(nxt["count"]), gas=ROOT_GAS)
        self._in_flight.append(_Flight(seq=int(nxt["seq"]), tx=tx, sent_at=time.monotonic()))
        return True

    def _collect(self) -> int:
        n = 0
        while self._in_flight:
            head = self._in_flight[0]
            receipt = self._receipt(head)
            if receipt is None:
                break
            if not self._receipt_block_checked(receipt):
                break  # a fork (or a new endpoint): the reconcile records what is on chain
            self._in_flight.pop(0)
            if int(receipt["status"]) != 1:
                log.warning(
                    "merkle: batch %d (tx %s) reverted in block %s; reconciling",
                    head.seq,
                    head.tx,
                    receipt["blockNumber"],
                )
                self._abandon_in_flight()
                break
            logs = [b for lg in receipt["logs"] if (b := self.client.decode_batch_log(lg)) is not None]
            ours = next((b for b in logs if b.hall_id == self.hall.hall_id and b.seq == head.seq), None)
            batch = self.store.get_json(mbatch_key(head.seq))
            if ours is None or batch is None or ours.root.hex() != batch["root"]:
                self._abandon_in_flight()
                break
            n += self._mark_anchored(batch, ours, str(receipt.get("blockHash") or ""))
        return n

    def _mark_anchored(self, batch: dict[str, Any], ev: BatchAnchoredEvent, block_hash: str) -> int:
        """Record a mined batch: every record's anchor, in chunks; the batch and its block's checkpoint last."""
        block = ev.block_number
        btime = self.client.block_time(block)
        entries = batch["entries"]
        size = int(batch["count"])
        for lo in range(0, len(entries), MARK_CHUNK):
            with self.outbox.lock, self.store.write_batch(sync=False) as wb:
                for pos in range(lo, min(lo + MARK_CHUNK, len(entries))):
                    e = entries[pos]
                    key = e["rec_key"].encode()
                    rec = self.store.get_json(key)
                    if rec is None:
                        continue
                    rec["anchor"] = leaf_anchor(
                        ev,
                        block_time=btime,
                        index=int(e["index"]),
                        head=e["head"],
                        writer=batch["writer"],
                        leaf=pos,
                        size=size,
                    )
                    wb.put_json(key, rec)
        with self.outbox.lock, self.store.write_batch(sync=False) as wb:
            wb.put_json(
                mbatch_key(int(batch["seq"])), anchored_batch(batch, ev, block_time=btime, block_hash=block_hash)
            )
            wb.delete(mbuilt_key(int(batch["seq"])))
            wb.put_json(MBATCH_SCAN_FROM_KEY, block)
            if block_hash:
                self.marks.record(wb, block, block_hash)
        self.store.sync()
        self._anchored(entries)
        return len(entries)

    # ------------------------------------------------------------------ reconcile, chain changes
    def reconcile(self) -> int:
        """Record built batches the chain already holds (by seq and root); the rest are sent again, in order."""
        self.client.reset_nonce()
        me = self.hall.hall_id
        _, count, _ = self.client.batch_header(me)
        built = sorted(self.batches(state="built"), key=lambda b: int(b["seq"]))
        n = 0
        on_chain = [b for b in built if int(b["seq"]) < count]
        if on_chain:
            start = self.store.get_json(MBATCH_SCAN_FROM_KEY)
            if start is None:
                start = self._deployed_block()
            head = self.client.block_number()
            logs = {b.seq: b for b in self.client.batches_in_range(int(start), head, hall_id=me)}
            for b in on_chain:
                ev = logs.get(int(b["seq"]))
                if ev is None or ev.root.hex() != b["root"]:
                    raise ChainError(
                        f"the chain holds this hall's Merkle batch {b['seq']} with another root than the one built "
                        "here (is another node running with this hall's key?); nothing more is sent"
                    )
                n += self._mark_anchored(b, ev, self._hash_at(ev.block_number) or "")
        last_built = int(built[-1]["seq"]) if built else None
        self._next_seq = max(count, (last_built + 1) if last_built is not None else count)
        rest = [b for b in built if int(b["seq"]) >= count]
        if rest and int(rest[0]["seq"]) != count:
            raise ChainError(
                f"this hall's next Merkle batch on chain is {count}, the next one built here is {rest[0]['seq']}: "
                "batches in between are missing from the store"
            )
        self.needs_reconcile = False
        if n:
            log.info("merkle: %d event(s) of batches already on chain recorded", n)
        return n

    def watch_chain(self, *, force: bool = False) -> None:
        """Notice a new endpoint, batches that left the chain (they are anchored again, in order), or a
        deployment that is gone (the sender stops, raising, until its contracts are back; nothing is rewritten)."""
        self._watch_endpoint()
        if not self._check_due(force or self.deployment_lost is not None):
            return
        self._still_lost()
        head = self.client.block_number()
        fork = self.marks.check(head, self._hash_at)
        if fork is None:
            return
        self._stop_if_deployment_lost()
        self._abandon_in_flight()
        lost = 0
        with self.outbox.lock, self.store.write_batch() as wb:
            for b in self.batches(state="anchored"):
                if int(b["block"]) <= fork.fork_block:
                    continue
                lost += len(b["entries"])
                kept = {k: v for k, v in b.items() if k not in ("tx", "block", "block_hash", "log_index", "time")}
                wb.put_json(mbatch_key(int(b["seq"])), {**kept, "state": "built", "lost": fork.kind})
                wb.put_json(mbuilt_key(int(b["seq"])), int(b["count"]))
                for e in b["entries"]:
                    rec = self.store.get_json(e["rec_key"].encode())
                    if rec is not None and (rec.get("anchor") or {}).get("tx") == b["tx"]:
                        rec["anchor"] = {"state": "pending", "lost": {**rec["anchor"], "kind": fork.kind}}
                        wb.put_json(e["rec_key"].encode(), rec)
            self.marks.drop_after(wb, max(fork.fork_block, 0))
            wb.put_json(MBATCH_SCAN_FROM_KEY, max(fork.fork_block, 0))
        self.lost_total += lost
        log.warning(
            "merkle: chain %s at block %d: %d anchored event(s) left the chain; their batches are anchored again",
            fork.kind,
            fork.fork_block,
            lost,
        )
