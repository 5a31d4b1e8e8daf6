"""The outbox's memory of what it anchored recently, to notice anchors that left the chain.

A chain may replace its latest blocks (a reorganisation) and a node restored from a snapshot comes
back behind (a rollback): events the outbox recorded as anchored are then no longer on chain. The
outbox keeps, for ``window`` blocks, every entry it marked anchored and the hash of each block it
saw an anchor in (:class:`ledger.hall.reorg.Checkpoints`)::

    watch = AnchorWatch(store)
    watch.record(wb, entry, event, block_hash)     # inside the write batch that marks it anchored
    fork = watch.check(head, hash_at)              # one block lookup while nothing changed
    if fork:
        watch.put_back(outbox, fork)               # those entries are pending again

:meth:`put_back` returns every entry anchored after the fork point to the outbox under its original
sequence number (so a case's events keep their order), sets its record's anchor state back to
``pending`` (keeping the lost anchor under ``lost``), and moves the outbox's scan start back to the
fork point. The sender then reconciles before sending anything: it waits until its node's pool holds
none of its transactions, looks the entries up on chain by commitment, and records those the chain
re-included by itself (a geth node puts reorganised transactions back into its pool); only the others
are sent again. Each is therefore anchored again exactly once.

Store keys: ``outbox-done/<block:012d>/<seq:012d>`` → the entry as it was pending plus ``tx``;
``outbox-block/<block:012d>`` → that block's hash.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ledger.core.facts import ChainEvent
from ledger.hall.keys import (
    OUTBOX_BLOCKS_PREFIX,
    OUTBOX_DONE_PREFIX,
    OUTBOX_SCAN_FROM_KEY,
    outbox_done_key,
    outbox_key,
)
from ledger.hall.reorg import Checkpoints, Fork
from ledger.hall.store import Store, WriteBatch

if TYPE_CHECKING:
    from ledger.hall.outbox import Outbox

__all__ = ["AnchorWatch", "LostAnchors"]

DONE = OUTBOX_DONE_PREFIX


class LostAnchors:
    """What one :meth:`AnchorWatch.put_back` did (for logs, ``/health`` and the metrics)."""

    def __init__(self, fork: Fork, seqs: list[int]) -> None:
        self.fork = fork
        self.seqs = seqs
        self.at = time.time()

    @property
    def count(self) -> int:
        return len(self.seqs)

    def summary(self) -> dict[str, Any]:
        f = self.fork
        return {
            "at": self.at,
            "events": self.count,
            "kind": f.kind,
            "fork_block": f.fork_block,
            "seen_head": f.seen_head,
            "head": f.head,
        }


class AnchorWatch:
    def __init__(self, store: Store, *, window: int = 1024) -> None:
        self.store = store
        self.window = window
        self.marks = Checkpoints(store, OUTBOX_BLOCKS_PREFIX, keep=window)

    def record(self, wb: WriteBatch, done: list[tuple[dict[str, Any], ChainEvent, str | None]]) -> None:
        """Remember anchored entries with their events and block hashes (in the caller's write batch)."""
        blocks: dict[int, str] = {}
        for entry, ev, block_hash in done:
            wb.put_json(
                outbox_done_key(ev.block_number, int(entry["seq"])), {**entry, "tx": ev.tx_hash, "index": ev.index}
            )
            if block_hash:
                blocks[ev.block_number] = block_hash
        for block, h in sorted(blocks.items()):
            self.marks.record(wb, block, h)

    def check(self, head: int, hash_at: Callable[[int], str | None]) -> Fork | None:
        """The fork if a block holding a recorded anchor is gone or changed, else ``None`` (and prune)."""
        fork = self.marks.check(head, hash_at)
        if fork is None:
            self._prune(head - self.window)
        return fork

    def remembered(self) -> int:
        return self.store.count_prefix(DONE)

    def _prune(self, below: int) -> None:
        stale = []
        for k, _ in self.store.iter_prefix(DONE):
            if int(k[len(DONE) : len(DONE) + 12]) >= below:
                break
            stale.append(k)
        if stale:
            with self.store.write_batch(sync=False) as wb:
                for k in stale:
                    wb.delete(k)

    def put_back(self, outbox: Outbox, fork: Fork, *, start_block: int) -> LostAnchors:
        """Return every entry anchored after ``fork.fork_block`` to the outbox (see the module notes).

        When the fork point is unknown (below every checkpoint kept), every remembered entry is put back
        and the scan starts at the oldest of them (never before ``start_block``, the deployment).
        """
        seqs: list[int] = []
        scan_from = start_block if fork.fork_block < 0 else fork.fork_block + 1
        with outbox.lock, self.store.write_batch() as wb:
            for k, v in self.store.iter_json(DONE):
                block = int(k[len(DONE) : len(DONE) + 12])
                if block <= fork.fork_block:
                    continue
                if fork.fork_block < 0 and not seqs:  # below every checkpoint: from the oldest anchor kept
                    scan_from = max(start_block, block - 1)
                entry = {key: val for key, val in v.items() if key not in ("tx", "index")}
                lost = {"tx": v["tx"], "block": block, "index": v.get("index"), "kind": fork.kind}
                entry["requeued"] = lost
                wb.put_json(outbox_key(int(entry["seq"])), entry)
                rec_key = str(entry["rec_key"]).encode()
                rec = self.store.get_json(rec_key)
                if rec is not None and (rec.get("anchor") or {}).get("tx") == v["tx"]:
                    rec["anchor"] = {"state": "pending", "lost": {**rec["anchor"], "kind": fork.kind}}
                    wb.put_json(rec_key, rec)
                wb.delete(k)
                seqs.append(int(entry["seq"]))
            self.marks.drop_after(wb, fork.fork_block)
            current = self.store.get_json(OUTBOX_SCAN_FROM_KEY)
            wb.put_json(OUTBOX_SCAN_FROM_KEY, scan_from if current is None else min(int(current), scan_from))
        return LostAnchors(fork, seqs)
