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

Store keys: ``outbox/<seq:012d>`` pending entries, ``outbox-refused/<seq:012d>`` refused ones,
``meta/outbox_seq`` the counter. The record an entry belongs to (``rec/...``) carries its anchor
state: ``pending`` → ``anchored`` (tx, block, time, index) or ``refused`` (rule).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledger.chain import AppendItem, ChainClient, ChainEvent, OpenItem
from ledger.errors import ChainError, ChainRuleError, ChainUnavailableError
from ledger.stages import Stage
from ledger.store import Store, WriteBatch

__all__ = ["Outbox", "OutboxSender", "OutboxStats"]

log = logging.getLogger("caseledger.outbox")

PREFIX = b"outbox/"
REFUSED = b"outbox-refused/"
SEQ_KEY = b"meta/outbox_seq"
# Refusals that concern the hall itself, not one item: keep everything pending and back off.
HALL_WIDE_RULES = frozenset({"CaseLedgerInactiveHall"})


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    oldest_pending_age: float | None
    refused: int
    last_error: str | None
    last_anchored_at: float | None


class Outbox:
    """The pending-events table. All read-modify-write of records goes through ``lock``."""

    def __init__(self, store: Store, lock: threading.RLock | None = None) -> None:
        self.store = store
        self.lock = lock or threading.RLock()

    def enqueue(
        self,
        wb: WriteBatch,
        *,
        serial: str,
        rec_key: str,
        stage: Stage,
        commitment: bytes,
        open_case: dict[str, Any] | None = None,
        seq: int | None = None,
    ) -> int:
        """Add an entry inside the caller's write batch (caller holds ``lock``); returns its seq.

        ``seq`` lets a caller that enqueues several entries in one batch pass the next numbers itself.
        """
        if seq is None:
            seq = self.next_seq()
        wb.put_json(SEQ_KEY, seq + 1)
        wb.put_json(
            PREFIX + f"{seq:012d}".encode(),
            {
                "seq": seq,
                "serial": serial,
                "rec_key": rec_key,
                "stage": stage.name,
                "commitment": commitment.hex(),
                "open": open_case,
                "created_at": time.time(),
            },
        )
        return seq

    def next_seq(self) -> int:
        return int(self.store.get_json(SEQ_KEY) or 0)

    def pending(self) -> list[dict[str, Any]]:
        return [v for _, v in self.store.iter_json(PREFIX)]

    def refused(self) -> list[dict[str, Any]]:
        return [v for _, v in self.store.iter_json(REFUSED)]

    def pending_count(self) -> int:
        return self.store.count_prefix(PREFIX)

    def oldest_age(self) -> float | None:
        for _, v in self.store.iter_json(PREFIX):
            return max(0.0, time.time() - float(v["created_at"]))
        return None

    # ---------------------------------------------------------------- state changes
    def mark_anchored(self, entry: dict[str, Any], ev: ChainEvent, block_time: int | None) -> None:
        with self.lock, self.store.write_batch() as wb:
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
            wb.delete(PREFIX + f"{entry['seq']:012d}".encode())

    def mark_refused(self, entry: dict[str, Any], err: ChainRuleError) -> None:
        with self.lock, self.store.write_batch() as wb:
            rec = self.store.get_json(entry["rec_key"].encode())
            if rec is not None:
                rec["anchor"] = {"state": "refused", "rule": err.rule, "message": str(err)}
                wb.put_json(entry["rec_key"].encode(), rec)
            wb.delete(PREFIX + f"{entry['seq']:012d}".encode())
            wb.put_json(REFUSED + f"{entry['seq']:012d}".encode(), {**entry, "rule": err.rule, "message": str(err)})


def _items(entries: list[dict[str, Any]]) -> tuple[list[OpenItem], list[AppendItem]]:
    opens: list[OpenItem] = []
    appends: list[AppendItem] = []
    for e in entries:
        c = bytes.fromhex(e["commitment"])
        if e.get("open"):
            o = e["open"]
            opens.append(OpenItem(e["serial"], o["item_code"], int(o["home_district"]), c))
        else:
            appends.append(AppendItem(e["serial"], Stage[e["stage"]], c))
    return opens, appends


class OutboxSender:
    """Anchors the outbox in batches; one transaction in flight at a time."""

    def __init__(
        self,
        outbox: Outbox,
        client: ChainClient,
        *,
        batch_max: int = 50,
        interval: float = 0.5,
        max_backoff: float = 10.0,
        drain_timeout: float = 30.0,
        on_anchored: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.client = client
        self.batch_max = batch_max
        self.interval = interval
        self.max_backoff = max_backoff
        self.drain_timeout = drain_timeout
        self.on_anchored = on_anchored
        self.needs_reconcile = True  # a fresh process does not know what the last one sent
        self.last_error: str | None = None
        self.last_anchored_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    # ---------------------------------------------------------------- thread
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="outbox-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Look at the outbox now (called after a new event is written)."""
        self._wake.set()

    def stats(self) -> OutboxStats:
        return OutboxStats(
            pending=self.outbox.pending_count(),
            oldest_pending_age=self.outbox.oldest_age(),
            refused=len(self.outbox.refused()),
            last_error=self.last_error,
            last_anchored_at=self.last_anchored_at,
        )

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                n = self.run_once()
                failures = 0
                self.last_error = None
                if n == 0 and self.outbox.pending_count() == 0:
                    self._wake.wait(self.interval)
                    self._wake.clear()
            except ChainError as exc:
                failures += 1
                self.needs_reconcile = True
                self.last_error = str(exc)
                delay = min(self.max_backoff, 0.25 * 2**failures)
                log.warning("outbox: %s (retrying in %.1fs)", exc, delay)
                self._stop.wait(delay)
            except Exception as exc:  # keep the sender alive whatever happens; the outbox is durable
                failures += 1
                self.needs_reconcile = True
                self.last_error = f"{exc.__class__.__name__}: {exc}"
                log.exception("outbox: unexpected error")
                self._stop.wait(min(self.max_backoff, 0.25 * 2**failures))

    # ---------------------------------------------------------------- one round
    def run_once(self) -> int:
        """Reconcile if needed, then send one batch; returns how many events got anchored."""
        anchored = 0
        if self.needs_reconcile:
            anchored += self.reconcile()
        entries = self.outbox.pending()
        if not entries:
            return anchored
        batch = entries[: self.batch_max]
        # never split a case's events across the batch boundary in the middle of its order:
        # whatever is cut off simply waits for the next round, after this batch is mined.
        sendable = self._isolate(batch)
        if not sendable:
            return anchored
        opens, appends = _items(sendable)
        self.needs_reconcile = True  # from here on, the outcome is unknown until the receipt is in
        tx = self.client.send_batch(opens, appends)
        receipt = self.client.wait(tx)
        _, appended = self.client.events_in_range(receipt.block_number, receipt.block_number)
        by_commitment = {e.commitment.hex(): e for e in appended if e.tx_hash == tx}
        btime = self.client.block_time(receipt.block_number)
        done = []
        for e in sendable:
            ev = by_commitment.get(e["commitment"])
            if ev is not None:
                self.outbox.mark_anchored(e, ev, btime)
                done.append(e)
        self.needs_reconcile = len(done) != len(sendable)
        if done:
            self.last_anchored_at = time.time()
            if self.on_anchored:
                self.on_anchored(done)
        return anchored + len(done)

    def _simulate(self, entries: list[dict[str, Any]]) -> None:
        opens, appends = _items(entries)
        data = self.client.batch_calldata(opens, appends)
        tx = {"from": self.client.address, "to": self.client.ledger.address, "data": data}
        self.client._rpc(lambda: self.client.w3.eth.estimate_gas(tx))  # type: ignore[arg-type]  # raises ChainRuleError

    def _isolate(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The entries of ``batch`` the contract would take; refused items are marked refused."""
        try:
            self._simulate(batch)
            return batch
        except ChainRuleError as exc:
            if exc.rule in HALL_WIDE_RULES:
                raise
            first_error = exc
        groups: dict[str, list[dict[str, Any]]] = {}
        for e in batch:
            groups.setdefault(e["serial"], []).append(e)
        ok: list[dict[str, Any]] = []
        for serial, group in groups.items():
            for k in range(1, len(group) + 1):
                try:
                    self._simulate(group[:k])
                except ChainRuleError as exc:
                    if exc.rule in HALL_WIDE_RULES:
                        raise
                    log.warning("outbox: %s %s refused by the chain: %s", serial, group[k - 1]["stage"], exc)
                    self.outbox.mark_refused(group[k - 1], exc)
                    ok.extend(group[: k - 1])
                    break
            else:
                ok.extend(group)
        if len(ok) == len(batch):  # the batch as a whole failed but no single case does: report it
            raise first_error
        ok.sort(key=lambda e: int(e["seq"]))
        return ok

    def reconcile(self) -> int:
        """Mark pending events that are already on chain as anchored; returns how many."""
        self._drain()
        self.client.reset_nonce()
        entries = self.outbox.pending()
        serials = list(dict.fromkeys(e["serial"] for e in entries))
        n = 0
        times: dict[int, int] = {}
        for serial in serials:
            events = {ev.commitment.hex(): ev for ev in self.client.case_events(serial)}
            for e in entries:
                if e["serial"] != serial:
                    continue
                ev = events.get(e["commitment"])
                if ev is None:
                    continue
                if ev.block_number not in times:
                    times[ev.block_number] = self.client.block_time(ev.block_number)
                self.outbox.mark_anchored(e, ev, times[ev.block_number])
                n += 1
        if n:
            log.info("outbox: %d pending event(s) were already on chain; marked anchored", n)
            self.last_anchored_at = time.time()
        self.needs_reconcile = False
        return n

    def _drain(self) -> None:
        """Wait until no transaction of this key is still in the node's pool (mined or dropped)."""
        addr: Any = self.client.address
        eth = self.client.w3.eth
        deadline = time.monotonic() + self.drain_timeout
        while True:
            pending = int(self.client._rpc(lambda: eth.get_transaction_count(addr, "pending")))
            latest = int(self.client._rpc(lambda: eth.get_transaction_count(addr, "latest")))
            if pending <= latest:
                return
            if time.monotonic() > deadline:
                raise ChainUnavailableError(f"{pending - latest} transaction(s) of this hall are still not mined")
            time.sleep(0.2)
