"""Follows the CaseLedger contract's logs into the hall's local index, and drives transfers.

From a persisted cursor (``meta/indexer_cursor``, the last block indexed) up to
``head - confirmations``, in chunks of at most the client's ``max_logs_range`` blocks (one bounded
``eth_getLogs`` each)::

    idx = Indexer(store, client, book, confirmations=1)
    idx.run_once()           # or idx.start() for the background thread

* ``caseid/<0x..>`` → the case's serial, home district and accepting hall (every case on chain);
* a case opened for this hall's district elsewhere gets a local case header (``source: chain``) —
  only when its serial names the hall that opened it (:func:`ledger.hall.integrity.parse_serial`), so a
  hall that opens another hall's serial (serial squatting) creates nothing here, and the real case
  still arrives; an event is kept only for the case whose (accepting hall, serial) the local header holds;
* ``chainev/<serial>/<index:06d>`` → each on-chain event of a case this hall is party to, with its block's
  time and log index (all the verifier's facts of the event; the audit's incremental scan reads them);
* an event written by another hall whose record this hall does not hold marks the case for a
  pull (``xfer/<serial>``), which :class:`ledger.hall.transfer.TransferWorker` carries out.

Reorganisations and rollbacks: the indexer records the hash of the last block of every chunk it
indexed (``idxblk/<block:012d>``, :class:`ledger.hall.reorg.Checkpoints`) and checks, every round,
that the newest one is still on chain. When the head went below it or its hash changed, the index is
rewound to the newest block that is still the same (the fork point): ``chainev/`` and ``caseid/``
entries of later blocks are removed and the cursor moves back, so the next rounds index the chain as
it is now (events that vanished are indexed again when their halls re-anchor them; cases opened
after a rollback are not skipped). A chain that no longer holds the deployment at all is not
indexed: the indexer stops and says so (``deployment_lost``) until the contracts are back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ledger.chain.client import ChainClient
from ledger.core.chainlog import block_times
from ledger.errors import ChainError, StorageFullError, StoreError
from ledger.hall.cases import CaseBook
from ledger.hall.integrity import LostOwnEvents, parse_serial
from ledger.hall.keys import (
    CASE_ID_PREFIX,
    CHAIN_EVENT_PREFIX,
    INDEXER_BLOCKS_PREFIX,
    INDEXER_CURSOR_KEY,
    case_id_key,
    case_key,
    chain_event_key,
    xfer_key,
)
from ledger.hall.merkle_index import MerkleIndex
from ledger.hall.reorg import Checkpoints, Fork, block_hash_reader
from ledger.hall.worker import BackgroundWorker

__all__ = ["Indexer"]

log = logging.getLogger("caseledger.indexer")


class Indexer(BackgroundWorker):
    thread_name = "indexer"

    def __init__(
        self,
        store: Any,
        client: ChainClient,
        book: CaseBook,
        *,
        confirmations: int = 0,
        interval: float = 1.0,
        chunk: int | None = None,
        on_transfer_needed: Callable[[], None] | None = None,
        merkle: MerkleIndex | None = None,
    ) -> None:
        super().__init__()
        self.merkle = merkle
        """Merkle mode: every hall's batches and their manifests (:mod:`ledger.hall.merkle_index`)"""
        self.store = store
        self.client = client
        self.book = book
        self.confirmations = confirmations
        self.interval = interval
        self.chunk = min(chunk or client.max_logs_range, client.max_logs_range)
        self.squatted = 0
        """cases seen whose serial does not name the hall that opened them (ignored)"""
        self.on_transfer_needed = on_transfer_needed
        self.head: int | None = None
        self.last_error: str | None = None
        self.marks = Checkpoints(store, INDEXER_BLOCKS_PREFIX, keep=256)
        self._hash_at = block_hash_reader(client.request)
        self.last_fork: Fork | None = None
        self.last_fork_at: float | None = None
        self.forks_total = 0
        self.deployment_lost: str | None = None
        # after a restore from backup (ledger.hall.backup): this hall's own events after the backup's cursor
        # may have records the restored store lacks; those cases are marked for a pull from the peers
        self._own_lost = LostOwnEvents(store, book)

    @property
    def cursor(self) -> int:
        c = self.store.get_json(INDEXER_CURSOR_KEY)
        if c is None:
            dep = self.client.deployment
            return (dep.deployed_block - 1) if dep else -1
        return int(c)

    def lag(self) -> int | None:
        return None if self.head is None else max(0, self.head - self.cursor)

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                more = self.run_once()
                failures = 0
                self.last_error = None
                if not more:
                    self._stop.wait(self.interval)
            except (ChainError, StorageFullError) as exc:  # the chain or the disk: said once; try again later
                failures += 1
                self.last_error = str(exc)
                self._stop.wait(min(10.0, 0.25 * 2**failures))
            except Exception as exc:
                failures += 1
                self.last_error = f"{exc.__class__.__name__}: {exc}"
                log.exception("indexer: unexpected error")
                self._stop.wait(min(10.0, 0.25 * 2**failures))

    def run_once(self) -> bool:
        """Index one chunk; True if there is more to do right away."""
        self.head = self.client.block_number()
        fork = self.marks.check(self.head, self._hash_at)
        if fork is not None:
            self._rewind(fork)
        elif self.deployment_lost is not None:
            self.deployment_lost = None
        safe = self.head - self.confirmations
        start = self.cursor + 1
        if safe < start:
            if self.merkle is not None and self.merkle.wanted():
                self.process_merkle()
                if self.merkle.need_pull and self.on_transfer_needed:
                    self.merkle.need_pull = False
                    self.on_transfer_needed()
            return False
        end = min(safe, start + self.chunk - 1)
        end_hash = self._hash_at(end)
        opened, appended = self.client.events_in_range(start, end)
        batches = self.client.batches_in_range(start, end) if self.merkle is not None else []
        if end_hash is None or self._hash_at(end) != end_hash:
            return True  # the chain changed while we read it: read again
        hall = self.book.hall
        need_pull = False
        # block times of the events this chunk may keep (one batch request): an indexed event carries every
        # field of the verifier's ChainEventFact, so the audit's incremental scan builds a case's facts from
        # the index (ledger.hall.audit.index_facts)
        times = block_times(self.client, {e.block_number for e in appended}) if appended else {}
        with self.book.lock, self.store.write_batch() as wb:
            cases: dict[str, dict[str, Any]] = {}
            for o in opened:
                info = {
                    "serial": o.serial,
                    "home_district": o.home_district,
                    "accepting_hall": o.accepting_hall,
                    "item_code": o.item_code,
                    "block": o.block_number,
                }
                named = parse_serial(o.serial)
                if named is None or named[1] != o.accepting_hall:
                    # another hall opened a serial that is not its own: never a case of ours
                    self.squatted += 1
                    log.warning(
                        "indexer: case %s was opened by hall %d, but its serial names another hall; ignored",
                        o.serial,
                        o.accepting_hall,
                    )
                    continue
                cases[o.case_id] = info
                wb.put_json(case_id_key(o.case_id), info)
                party = o.home_district == hall.district or o.accepting_hall == hall.hall_id
                if party and not self.book.has_case(o.serial):
                    wb.put_json(
                        case_key(o.serial),
                        {
                            "serial": o.serial,
                            "item_code": o.item_code,
                            "home_district": o.home_district,
                            "accepting_hall": o.accepting_hall,
                            "accepting_district": None,
                            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                            "next_seq": 0,
                            "source": "chain",
                        },
                    )
                    cases[o.case_id]["new"] = True
            for e in appended:
                info = cases.get(e.case_id) or self.store.get_json(case_id_key(e.case_id))
                if info is None:
                    continue
                serial = str(info["serial"])
                if not (info.get("new") or self.book.has_case(serial)):
                    continue
                held_by = int(self.book.header(serial)["accepting_hall"]) if not info.get("new") else None
                if held_by is not None and held_by != int(str(info["accepting_hall"])):
                    continue  # same serial, another hall's case: not the one this hall holds
                wb.put_json(
                    chain_event_key(serial, e.index),
                    {
                        "index": e.index,
                        "stage": e.stage.name,
                        "hall_id": e.hall_id,
                        "writer": e.writer,
                        "commitment": e.commitment.hex(),
                        "head": e.head.hex(),
                        "ref": e.ref,
                        "prev_block": e.prev_block,
                        "block": e.block_number,
                        "log_index": e.log_index,
                        "time": times[e.block_number],
                        "tx": e.tx_hash,
                    },
                )
                if e.hall_id != hall.hall_id or self._own_lost(serial, e.block_number, e.commitment.hex()):
                    wb.put_json(xfer_key(serial), {"serial": serial, "since": time.time()})
                    need_pull = True
            if self.merkle is not None:
                self.merkle.record_batches(wb, batches)
            self.marks.record(wb, end, end_hash)
            wb.put_json(INDEXER_CURSOR_KEY, end)
        if self.merkle is not None:
            self.process_merkle()
            need_pull = need_pull or self.merkle.need_pull
            self.merkle.need_pull = False
        if need_pull and self.on_transfer_needed:
            self.on_transfer_needed()
        return end < safe

    def process_merkle(self) -> int:
        """Fetch and check the manifests of the batches read so far (failures wait for the next round)."""
        if self.merkle is None:
            return 0
        try:
            return self.merkle.process()
        except (ChainError, StoreError) as exc:
            log.warning("indexer: Merkle manifests not processed this round: %s", exc)
            return 0

    def _rewind(self, fork: Fork) -> None:
        """Undo what was indexed after the fork point, or stop if the deployment itself is gone."""
        dep = self.client.deployment
        first = dep.deployed_block if dep is not None else 0
        if (fork.fork_block < first or self.head is None or self.head < first) and not self.client.deployment_alive():
            self.deployment_lost = (
                "the chain no longer holds this deployment's contracts (its state was lost, or it is another "
                "chain): nothing is indexed until they are back"
            )
            raise ChainError(self.deployment_lost)
        self.deployment_lost = None
        back_to = max(fork.fork_block, first - 1)
        removed = 0
        with self.book.lock, self.store.write_batch() as wb:
            for prefix in (CHAIN_EVENT_PREFIX, CASE_ID_PREFIX):
                for k, v in self.store.iter_json(prefix):
                    if int(v.get("block") or 0) > back_to:
                        wb.delete(k)
                        removed += 1
            if self.merkle is not None:
                removed += self.merkle.rewind(wb, back_to)
            self.marks.drop_after(wb, back_to)
            wb.put_json(INDEXER_CURSOR_KEY, back_to)
        self.last_fork, self.last_fork_at = fork, time.time()
        self.forks_total += 1
        log.warning(
            "indexer: chain %s: indexed up to block %d, head now %d, still the same up to block %d; "
            "rewound the index (%d entries) to re-read from there",
            fork.kind,
            fork.seen_head,
            fork.head,
            back_to,
            removed,
        )
