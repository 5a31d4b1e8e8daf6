"""Durable pending chain writes (the outbox) and the background sender that anchors them.

An event is written to the outbox in the same LevelDB batch as its record, before the staff's
request is answered, so an acknowledged event is never lost. The sender anchors pending events in
batches (``CaseLedger.anchorBatch``: case openings plus appends, for many cases per transaction)::

    outbox = Outbox(store)
    sender = OutboxSender(outbox, client)
    sender.run_once()            # or sender.start() for the background thread

Exactly once across crashes: after a restart (or any send whose outcome is unknown) the sender
first waits until none of its transactions is still in the chain node's pool, then looks up each
pending case's events on chain; a pending event whose commitment is already there (commitments
are unique thanks to the salts) is marked anchored with that transaction instead of being sent
again. Order within a case is kept: a case's pending events go out in the order they were
written, in the same batch. A contract refusal of one item (a named ``ChainRuleError``) is
isolated: that event is marked refused with the rule's name and every other case keeps going.

Anchors that leave the chain (a reorganisation, a node rolled back to a snapshot) are noticed by
:class:`ledger.hall.anchorwatch.AnchorWatch` (one block lookup per check while nothing changed);
their entries go back to the outbox and are anchored again exactly once, through the same
reconcile. After the chain endpoint changed (:class:`ledger.chain.endpoints.EndpointPool` failed
over or back) the sender reconciles too: nonces and pools differ between nodes.

Store keys: ``outbox/<seq:012d>`` pending entries, ``outbox-refused/<seq:012d>`` refused ones,
``meta/outbox_seq`` the counter; ``outbox-done/``, ``outbox-block/`` (``ledger.hall.anchorwatch``).
The record an entry belongs to (``rec/...``) carries its anchor state: ``pending`` → ``anchored``
(tx, block, time, index) or ``refused`` (rule).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.chain.client import AppendItem, ChainClient, OpenItem
from ledger.core.facts import ChainEvent
from ledger.core.stages import Stage
from ledger.errors import ChainRuleError, ChainUnavailableError
from ledger.hall.anchorwatch import AnchorWatch, LostAnchors
from ledger.hall.keys import (
    HELD_PREFIX,
    OUTBOX_PREFIX,
    OUTBOX_REFUSED_PREFIX,
    OUTBOX_SCAN_FROM_KEY,
    OUTBOX_SEQ_KEY,
    held_key,
    mbox_key,
    outbox_key,
    outbox_refused_key,
)
from ledger.hall.sender import ChainSender, Flight
from ledger.hall.store import Store, WriteBatch

__all__ = ["Outbox", "OutboxSender", "OutboxStats"]

log = logging.getLogger("caseledger.outbox")

MARK_CHUNK = 32
# Refusals that concern the hall itself, not one item: keep everything pending and back off.
HALL_WIDE_RULES = frozenset({"CaseLedgerInactiveHall"})


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    oldest_pending_age: float | None
    refused: int
    last_error: str | None
    last_anchored_at: float | None
    requeued_pending: int = 0
    lost_total: int = 0
    last_loss: dict[str, Any] | None = None
    deployment_lost: str | None = None


class Outbox:
    """The pending-events table. All read-modify-write of records goes through ``lock``."""

    def __init__(self, store: Store, lock: threading.RLock | None = None, *, watch_window: int = 1024) -> None:
        self.store = store
        self.lock = lock or threading.RLock()
        self.watch = AnchorWatch(store, window=watch_window)

    def enqueue(
        self,
        wb: WriteBatch,
        *,
        accepting_hall: int,
        serial: str,
        rec_key: str,
        stage: Stage,
        commitment: bytes,
        ref: int = 0,
        open_case: dict[str, Any] | None = None,
        seq: int | None = None,
        mode: str = "event",
    ) -> int:
        """Add an entry inside the caller's write batch (caller holds ``lock``); returns its seq.

        The case is ``(accepting_hall, serial)`` (its on-chain id is derived from both); ``ref`` names
        the dispute a DISPUTE_RESOLVED closes. ``seq`` lets a caller that enqueues several entries in
        one batch pass the next numbers itself. A Merkle-mode case's entries (``mode="merkle"``) go to
        ``mbox/`` under the same counter, for :class:`ledger.hall.merkle_outbox.MerkleSender`.
        """
        if seq is None:
            seq = self.next_seq()
        wb.put_json(OUTBOX_SEQ_KEY, seq + 1)
        wb.put_json(
            mbox_key(seq) if mode == "merkle" else outbox_key(seq),
            {
                "seq": seq,
                "accepting_hall": accepting_hall,
                "serial": serial,
                "rec_key": rec_key,
                "ref": ref,
                "stage": stage.name,
                "commitment": commitment.hex(),
                "open": open_case,
                "created_at": time.time(),
            },
        )
        return seq

    def next_seq(self) -> int:
        return int(self.store.get_json(OUTBOX_SEQ_KEY) or 0)

    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Pending entries, oldest first (at most ``limit``)."""
        out: list[dict[str, Any]] = []
        for _, v in self.store.iter_json(OUTBOX_PREFIX):
            out.append(v)
            if limit is not None and len(out) >= limit:
                break
        return out

    def refused(self) -> list[dict[str, Any]]:
        return [v for _, v in self.store.iter_json(OUTBOX_REFUSED_PREFIX)]

    def pending_count(self) -> int:
        return self.store.count_prefix(OUTBOX_PREFIX)

    def oldest_age(self) -> float | None:
        for _, v in self.store.iter_json(OUTBOX_PREFIX):
            return max(0.0, time.time() - float(v["created_at"]))
        return None

    # ---------------------------------------------------------------- state changes
    def scan_from(self) -> int | None:
        value = self.store.get_json(OUTBOX_SCAN_FROM_KEY)
        return None if value is None else int(value)

    def mark_anchored_many(
        self,
        done: Sequence[tuple[dict[str, Any], ChainEvent, int | None]],
        *,
        scan_from: int | None = None,
        block_hashes: Mapping[int, str] | None = None,
    ) -> None:
        """Record the anchors of many entries, then the new scan start.

        Written in atomic chunks of ``MARK_CHUNK`` so that the case lock is never held for long (staff
        requests wait on it); each entry is independent, and a crash between chunks is repaired by the
        next reconcile (the scan start moves only with the last chunk). ``block_hashes`` (block → hash of
        the block the events are in) lets the anchor watch notice later that a block left the chain.
        """
        if not done and scan_from is None:
            return
        chunks = [done[i : i + MARK_CHUNK] for i in range(0, len(done), MARK_CHUNK)] or [[]]
        for n, chunk in enumerate(chunks, start=1):
            self._mark_chunk(chunk, scan_from if n == len(chunks) else None, block_hashes or {})
        self.store.sync()  # outside the lock: staff writes are not held up by this fsync

    def _mark_chunk(
        self,
        done: Sequence[tuple[dict[str, Any], ChainEvent, int | None]],
        scan_from: int | None,
        block_hashes: Mapping[int, str],
    ) -> None:
        with self.lock, self.store.write_batch(sync=False) as wb:
            if scan_from is not None:
                wb.put_json(OUTBOX_SCAN_FROM_KEY, scan_from)
            self.watch.record(wb, [(e, ev, block_hashes.get(ev.block_number)) for e, ev, _ in done])
            for entry, ev, block_time in done:
                rec = self.store.get_json(entry["rec_key"].encode())
                if rec is not None:
                    rec["anchor"] = {
                        "state": "anchored",
                        "tx": ev.tx_hash,
                        "block": ev.block_number,
                        "time": block_time,
                        "index": ev.index,
                    }
                    wb.put_json(entry["rec_key"].encode(), rec)
                wb.delete(outbox_key(entry["seq"]))

    def mark_refused(self, entry: dict[str, Any], err: ChainRuleError) -> None:
        """Mark ``entry`` refused. A refused INTAKE holds every other pending event of its case (issue 13):
        without its own INTAKE on chain, the chain's case of that serial is someone else's, and nothing of
        this case may be appended to it. ``held/<serial>`` says why until an administrator reissues it."""
        with self.lock, self.store.write_batch() as wb:
            later = []
            if entry.get("open"):
                later = [e for e in self.pending() if e["serial"] == entry["serial"] and e["seq"] != entry["seq"]]
                wb.put_json(
                    held_key(entry["serial"]),
                    {
                        "serial": entry["serial"],
                        "rule": err.rule,
                        "message": str(err),
                        "at": time.time(),
                        "held_events": len(later),
                    },
                )
            for e, state in [(entry, "refused"), *((x, "held") for x in later)]:
                rec = self.store.get_json(e["rec_key"].encode())
                if rec is not None:
                    rec["anchor"] = {"state": state, "rule": err.rule, "message": str(err)}
                    wb.put_json(e["rec_key"].encode(), rec)
                wb.delete(outbox_key(e["seq"]))
                wb.put_json(
                    outbox_refused_key(e["seq"]),
                    {**e, "rule": err.rule, "message": str(err), **({"held": True} if state == "held" else {})},
                )
            if later:
                log.error(
                    "outbox: the INTAKE of %s was refused (%s); its %d later event(s) are held, never sent "
                    "into the chain's case of that serial",
                    entry["serial"],
                    err.rule,
                    len(later),
                )

    def held_count(self) -> int:
        return self.store.count_prefix(HELD_PREFIX)


def _case(e: dict[str, Any]) -> tuple[int, str]:
    """An entry's case: (accepting hall, serial), as its on-chain id is derived."""
    return int(e["accepting_hall"]), str(e["serial"])


def _items(entries: list[dict[str, Any]]) -> tuple[list[OpenItem], list[AppendItem]]:
    opens: list[OpenItem] = []
    appends: list[AppendItem] = []
    for e in entries:
        c = bytes.fromhex(e["commitment"])
        if e.get("open"):
            o = e["open"]
            opens.append(OpenItem(e["serial"], o["item_code"], int(o["home_district"]), c))
        else:
            appends.append(
                AppendItem(int(e["accepting_hall"]), e["serial"], Stage[e["stage"]], c, int(e.get("ref", 0)))
            )
    return opens, appends


# Starting gas model of one item inside a batch (measured by `caseledger bench`), only to size batches so
# that a few of them fill a block; the sender rescales it from every receipt (actual ÷ modelled gas).
# Each transaction's gas limit itself comes from estimateGas.
GAS_PER_OPEN = 45_000
GAS_PER_APPEND = 14_000


def _model_gas(entries: list[dict[str, Any]]) -> int:
    return sum(GAS_PER_OPEN if e.get("open") else GAS_PER_APPEND for e in entries)


@dataclass
class _InFlight(Flight):
    entries: list[dict[str, Any]]
    gas_limit: int = 0


class OutboxSender(ChainSender[_InFlight]):
    """Anchors the outbox in batches, with up to ``max_in_flight`` transactions pipelined.

    Each batch holds whole runs of a case's pending events in order; a case with a transaction in
    flight is left out of the next batch until that transaction is mined, so every batch can be
    simulated against the latest state and never depends on another unmined batch. The gas limits
    in flight never add up to more than one block's gas limit, so all of them fit in the next block:
    a node that cannot fit a transaction into the block it is building may drop it from its pool
    (anvil does), which would leave a nonce gap behind it.
    """

    thread_name = "outbox-sender"
    log = log
    log_name = "outbox"

    def __init__(
        self,
        outbox: Outbox,
        client: ChainClient,
        *,
        batch_max: int = 50,
        batch_gas: int = 6_000_000,
        max_in_flight: int = 1,
        interval: float = 0.5,
        max_backoff: float = 10.0,
        drain_timeout: float = 30.0,
        receipt_timeout: float = 60.0,
        reorg_check_interval: float = 2.0,
        on_anchored: Callable[[list[dict[str, Any]]], None] | None = None,
        hold: Callable[[], str | None] | None = None,
    ) -> None:
        super().__init__(
            outbox,
            client,
            batch_max=batch_max,
            max_in_flight=max_in_flight,
            interval=interval,
            max_backoff=max_backoff,
            receipt_timeout=receipt_timeout,
            reorg_check_interval=reorg_check_interval,
            on_anchored=on_anchored,
            hold=hold,
        )
        self.batch_gas = batch_gas
        self.drain_timeout = drain_timeout
        self._block_times: dict[int, int] = {}
        self._hall: int | None = None
        self._block_gas_limit: int | None = None
        self._gas_scale = 1.0  # actual ÷ modelled gas, learnt from receipts
        self.last_loss: LostAnchors | None = None
        self._requeued: set[int] = set()

    def stats(self) -> OutboxStats:
        return OutboxStats(
            pending=self.outbox.pending_count(),
            oldest_pending_age=self.outbox.oldest_age(),
            refused=len(self.outbox.refused()),
            last_error=self.last_error,
            last_anchored_at=self.last_anchored_at,
            requeued_pending=len(self._requeued),
            lost_total=self.lost_total,
            last_loss=None if self.last_loss is None else self.last_loss.summary(),
            deployment_lost=self.deployment_lost,
        )

    # ---------------------------------------------------------------- chain changes
    def _endpoint_changed(self, pool: Any) -> None:
        log.warning("outbox: chain endpoint is now %s; reconciling before sending", pool.active_url)

    def watch_chain(self, *, force: bool = False) -> None:
        """Notice a new chain endpoint, anchors that left the chain, or a deployment that is gone.

        Runs at most every ``reorg_check_interval`` seconds unless ``force``; one block lookup while
        nothing changed. Anchors that left are put back in the outbox (:class:`AnchorWatch`) and the
        next round reconciles before sending; a lost deployment stops the sender (raises) until the
        contracts are there again.
        """
        self._watch_endpoint()
        if not self._check_due(force or self.deployment_lost is not None):
            return
        self._still_lost()
        head = self.client.block_number()
        fork = self.outbox.watch.check(head, self._hash_at)
        if fork is None:
            return
        self._stop_if_deployment_lost()
        self._abandon_in_flight()
        lost = self.outbox.watch.put_back(self.outbox, fork, start_block=self._deployed_block())
        self.lost_total += lost.count
        self.last_loss = lost
        self._requeued.update(lost.seqs)
        log.warning(
            "outbox: chain %s: block %d no longer holds what was seen up to block %d (head %d); "
            "%d anchored event(s) left the chain and are queued again",
            fork.kind,
            fork.fork_block,
            fork.seen_head,
            fork.head,
            lost.count,
        )

    def _select(self) -> list[dict[str, Any]]:
        """The next batch: whole runs of cases' pending events, oldest first, within the limits."""
        busy = {_case(e) for f in self._in_flight for e in f.entries}
        in_flight_n = sum(len(f.entries) for f in self._in_flight)
        window = self.outbox.pending(limit=in_flight_n + 4 * self.batch_max)
        by_case: dict[tuple[int, str], list[dict[str, Any]]] = {}
        for e in window:
            if _case(e) in busy:
                continue
            by_case.setdefault(_case(e), []).append(e)
        batch: list[dict[str, Any]] = []
        gas = 0.0
        for run in by_case.values():
            cost = self._gas_scale * _model_gas(run)
            if batch and (len(batch) + len(run) > self.batch_max or gas + cost > self.batch_gas):
                break
            batch.extend(run)
            gas += cost
        batch.sort(key=lambda e: int(e["seq"]))
        return batch

    def _gas_room(self) -> int:
        """Gas limit still free in the next block, counting every transaction in flight."""
        if self._block_gas_limit is None:
            self._block_gas_limit = self.client.block_gas_limit()
        return self._block_gas_limit - sum(f.gas_limit for f in self._in_flight)

    def _send_next(self) -> bool:
        if self._in_flight and self._gas_room() < self.batch_gas + self.batch_gas // 50 + 10_000:
            return False
        batch = self._select()
        if not batch:
            return False
        sendable, gas = self._isolate(batch)
        if self.needs_reconcile:
            return False  # part of it is on chain already: the reconcile records that before anything is sent
        if not sendable:
            return True  # everything in it was refused and marked: that is progress too
        # the estimate is exact for this state and no in-flight batch touches these cases: a small margin
        # keeps gas limits tight, so as many batches as possible fit in each block
        limit = gas + gas // 50 + 10_000
        if self._in_flight and limit > self._gas_room():
            return False  # wait for a receipt; the batch is selected again then
        opens, appends = _items(sendable)
        tx = self.client.send_batch(opens, appends, gas=limit)
        self._in_flight.append(_InFlight(tx=tx, entries=sendable, sent_at=time.monotonic(), gas_limit=limit))
        return True

    def _collect(self) -> int:
        """Record every mined in-flight batch (in send order); returns events anchored."""
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
                log.warning("outbox: batch %s reverted in block %s; reconciling", head.tx, receipt["blockNumber"])
                self.needs_reconcile = True
                continue
            n += self._record(head, receipt)
        return n

    def _record(self, flight: _InFlight, receipt: Any) -> int:
        modelled = _model_gas(flight.entries)
        if modelled and receipt.get("gasUsed"):
            ratio = min(4.0, max(0.25, int(receipt["gasUsed"]) / modelled))
            self._gas_scale = 0.7 * self._gas_scale + 0.3 * ratio
        events = [ev for lg in receipt["logs"] if (ev := self.client.decode_appended_log(lg)) is not None]
        by_commitment = {ev.commitment.hex(): ev for ev in events}
        block = int(receipt["blockNumber"])
        btime = self._block_time(block)
        done = [(e, by_commitment[e["commitment"]], btime) for e in flight.entries if e["commitment"] in by_commitment]
        hashes = {block: str(receipt["blockHash"])} if receipt.get("blockHash") else None
        self.outbox.mark_anchored_many(done, scan_from=block, block_hashes=hashes)
        self._requeued.difference_update(int(e["seq"]) for e, _, _ in done)
        if len(done) != len(flight.entries):
            self.needs_reconcile = True
        if done:
            self._anchored([e for e, _, _ in done])
        return len(done)

    def _block_time(self, block: int) -> int:
        t = self._block_times.get(block)
        if t is None:
            t = self.client.block_time(block)
            if len(self._block_times) > 1024:
                self._block_times.clear()
            self._block_times[block] = t
        return t

    def _estimate(self, entries: list[dict[str, Any]]) -> int:
        opens, appends = _items(entries)
        return self.client.estimate_batch(opens, appends)  # raises ChainRuleError naming the refused item

    def _isolate(self, batch: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
        """The entries of ``batch`` the contract would take (and their gas); refused items are marked refused."""
        try:
            return batch, self._estimate(batch)
        except ChainRuleError as exc:
            if exc.rule in HALL_WIDE_RULES:
                raise
            first_error = exc
        groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
        for e in batch:
            groups.setdefault(_case(e), []).append(e)
        ok: list[dict[str, Any]] = []
        for (_, serial), group in groups.items():
            for k in range(1, len(group) + 1):
                try:
                    self._estimate(group[:k])
                except ChainRuleError as exc:
                    if exc.rule in HALL_WIDE_RULES:
                        raise
                    if self._on_chain(group[k - 1]):
                        # sent before and mined behind the sender's back (a block still on its way from a node
                        # that died; after a reorganisation, another node re-mined it from its own pool): the
                        # reconcile records it, and whatever else of the batch is there, before anything is sent
                        log.warning("outbox: %s %s is already on chain; reconciling", serial, group[k - 1]["stage"])
                        self.needs_reconcile = True
                        return [], 0
                    log.warning("outbox: %s %s refused by the chain: %s", serial, group[k - 1]["stage"], exc)
                    self.outbox.mark_refused(group[k - 1], exc)
                    ok.extend(group[: k - 1])
                    break
            else:
                ok.extend(group)
        if len(ok) == len(batch):  # the batch as a whole failed but no single case does: report it
            raise first_error
        ok.sort(key=lambda e: int(e["seq"]))
        return ok, (self._estimate(ok) if ok else 0)

    def _on_chain(self, entry: dict[str, Any]) -> bool:
        """Whether the entry's commitment is already anchored on chain (commitments are unique)."""
        hall, serial = _case(entry)
        return any(ev.commitment.hex() == entry["commitment"] for ev in self.client.case_events(hall, serial))

    def reconcile(self) -> int:
        """Mark pending events that are already on chain as anchored; returns how many.

        After the pool holds none of this hall's transactions, its ``EventAppended`` logs are scanned
        from the persisted scan start (the block of the last recorded receipt) to the head; a pending
        entry whose commitment is found there was sent by an earlier process and is recorded, not resent.
        """
        self._drain()
        self.client.reset_nonce()
        head = self.client.block_number()
        start = self.outbox.scan_from()
        if start is None:
            start = self._deployed_block()
        pending = {e["commitment"]: e for e in self.outbox.pending()}
        found: list[ChainEvent] = []
        if pending:
            hall = self._hall_id()
            # bounded: the client asks at most its max_logs_range blocks per eth_getLogs
            found = [ev for ev in self.client.hall_events(hall, start, head) if ev.commitment.hex() in pending]
        done = [(pending[ev.commitment.hex()], ev, self._block_time(ev.block_number)) for ev in found]
        hashes = {b: h for b in {ev.block_number for ev in found} if (h := self._hash_at(b)) is not None}
        self.outbox.mark_anchored_many(done, scan_from=head, block_hashes=hashes)
        self._requeued.difference_update(int(e["seq"]) for e, _, _ in done)
        if done:
            log.info("outbox: %d pending event(s) were already on chain; marked anchored", len(done))
            self._anchored([e for e, _, _ in done])
        self.needs_reconcile = False
        return len(done)

    def _hall_id(self) -> int:
        if self._hall is None:
            info = self.client.hall_of(self.client.address)
            self._hall = info.hall_id if info is not None else 0
        return self._hall

    def _drain(self) -> None:
        """Wait until no transaction of this key is still in the node's pool (mined or dropped)."""
        deadline = time.monotonic() + self.drain_timeout
        while True:
            latest, pending = self.client.nonces()
            if pending <= latest:
                return
            if time.monotonic() > deadline:
                raise ChainUnavailableError(f"{pending - latest} transaction(s) of this hall are still not mined")
            time.sleep(0.2)
