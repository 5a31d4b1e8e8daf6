"""Follows the CaseLedger contract's logs into the hall's local index, and drives transfers.

From a persisted cursor (``meta/indexer_cursor``, the last block indexed) up to
``head - confirmations``, in chunks::

    idx = Indexer(store, client, book, confirmations=1)
    idx.run_once()           # or idx.start() for the background thread

* ``caseid/<0x..>`` → the case's serial, home district and accepting hall (every case on chain);
* a case opened for this hall's district elsewhere gets a local case header (``source: chain``);
* ``chainev/<serial>/<index:06d>`` → each on-chain event of a case this hall is party to;
* an event written by another hall whose record this hall does not hold marks the case for a
  pull (``xfer/<serial>``), which :class:`ledger.hall.transfer.TransferWorker` carries out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ledger.chain.client import ChainClient
from ledger.errors import ChainError
from ledger.hall.cases import CaseBook
from ledger.hall.keys import (
    INDEXER_CURSOR_KEY,
    RESTORED_KEY,
    case_id_key,
    case_key,
    chain_event_key,
    xfer_key,
)
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
        chunk: int = 2000,
        on_transfer_needed: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.client = client
        self.book = book
        self.confirmations = confirmations
        self.interval = interval
        self.chunk = chunk
        self.on_transfer_needed = on_transfer_needed
        self.head: int | None = None
        self.last_error: str | None = None
        # after a restore from backup (ledger.hall.backup): this hall's own events after the backup's cursor
        # may have records the restored store lacks; those cases are marked for a pull from the peers
        restored = store.get_json(RESTORED_KEY)
        self.restored_after: int | None = None
        if restored is not None:
            c = restored.get("cursor")
            self.restored_after = -1 if c is None else int(c)

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
            except ChainError as exc:
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
        safe = self.head - self.confirmations
        start = self.cursor + 1
        if safe < start:
            return False
        end = min(safe, start + self.chunk - 1)
        opened, appended = self.client.events_in_range(start, end)
        hall = self.book.hall
        need_pull = False
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
                wb.put_json(
                    chain_event_key(serial, e.index),
                    {
                        "index": e.index,
                        "stage": e.stage.name,
                        "hall_id": e.hall_id,
                        "writer": e.writer,
                        "commitment": e.commitment.hex(),
                        "head": e.head.hex(),
                        "block": e.block_number,
                        "tx": e.tx_hash,
                    },
                )
                if e.hall_id != hall.hall_id or self._own_lost(serial, e.block_number, e.commitment.hex()):
                    wb.put_json(xfer_key(serial), {"serial": serial, "since": time.time()})
                    need_pull = True
            wb.put_json(INDEXER_CURSOR_KEY, end)
        if need_pull and self.on_transfer_needed:
            self.on_transfer_needed()
        return end < safe

    def _own_lost(self, serial: str, block: int, commitment: str) -> bool:
        """This hall's own event whose record is not in a store restored from an older backup."""
        if self.restored_after is None or block <= self.restored_after:
            return False
        return all(r.get("commitment") != commitment for r in self.book.records(serial))
