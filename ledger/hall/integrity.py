"""A hall's store checked against itself and against the chain before the node serves (issue 13).

Three checks at every start, each refusing with one sentence that names the damage and the way out:

1. **Generation.** Every start counts up ``meta/generation`` in the store and the same number in
   ``<data dir>/store.generation`` beside it. A store whose generation is *behind* that file is an
   older copy of itself (rolled back: a truncated log, a copied directory, a snapshot revert).
2. **Chain.** This hall's own ``CaseOpened`` and ``EventAppended`` logs after the store's watermark
   (the outbox's scan start and the indexer's cursor, whichever is older) must all be known to the
   store: a pending outbox entry or a stored record with that commitment, a case header for every
   serial. An event the store does not know means the store lost acknowledged writes.
3. **Serials.** After a restore (``meta/restored``) or a ``caseledger hall recover``, the serial
   counters are raised past every serial this hall opened on chain since the backup's cursor
   (:class:`SerialCheck`, in the background; intake answers 503 until it is done), so a serial the
   chain already knows is never handed out again.

Bounded reads only: every ``eth_getLogs`` asks at most ``max_range`` blocks, filtered by this hall's
id topic::

    gen = bump_generation(store, data_dir)                    # raises StoreDamagedError if rolled back
    check_against_chain(store, client, hall_id=1)             # raises StoreDamagedError if the chain knows more
    guard = SerialCheck(store, client, hall_id=1); guard.start()
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.chain.client import ChainClient
from ledger.core.chainlog import block_ranges
from ledger.core.hashchain import case_id
from ledger.errors import StoreDamagedError, UnavailableError
from ledger.hall.keys import (
    CASE_PREFIX,
    GENERATION_KEY,
    INDEXER_CURSOR_KEY,
    OUTBOX_PREFIX,
    OUTBOX_SCAN_FROM_KEY,
    RESTORED_KEY,
    SERIAL_CHECK_KEY,
    case_id_key,
    case_key,
    record_prefix,
    serial_counter_key,
)
from ledger.hall.store import Store
from ledger.hall.worker import BackgroundWorker

__all__ = [
    "GENERATION_FILE",
    "ChainCheck",
    "SerialCheck",
    "bump_generation",
    "check_against_chain",
    "mark_for_recovery",
    "parse_serial",
    "raise_counters",
    "write_generation_file",
]

log = logging.getLogger("caseledger.integrity")

GENERATION_FILE = "store.generation"
DEFAULT_MAX_RANGE = 1000
_SERIAL = re.compile(r"^TB(\d{8})-(\d{3,})-(\d{5,})$")
WAY_OUT = (
    "restore the latest backup (caseledger restore --hall-dir … --from …), or let the node re-fetch what it lost "
    "from the peer halls (caseledger hall recover --hall-dir …), then start it again"
)
SERIAL_CHECK_ZH = "本厅正在与链上记录核对办件编号，请稍候"


def parse_serial(serial: str) -> tuple[str, int, int] | None:
    """(day ``yyyymmdd``, hall id, counter) of a serial this software hands out, else None."""
    m = _SERIAL.match(serial)
    return None if m is None else (m.group(1), int(m.group(2)), int(m.group(3)))


# ---------------------------------------------------------------------------------------- generation
def _read_generation_file(data_dir: Path) -> int:
    try:
        return int((data_dir / GENERATION_FILE).read_text().strip() or 0)
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as exc:
        raise StoreDamagedError(f"{data_dir / GENERATION_FILE} is unreadable ({exc}); {WAY_OUT}") from exc


def write_generation_file(data_dir: Path, generation: int) -> None:
    """Atomically (write, fsync, rename, fsync the directory)."""
    tmp = data_dir / (GENERATION_FILE + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, f"{generation}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, data_dir / GENERATION_FILE)
    dfd = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def bump_generation(store: Store, data_dir: Path) -> int:
    """Count this start in the store and beside it; refuse a store older than the last start."""
    in_store = int(store.get_json(GENERATION_KEY) or 0)
    on_disk = _read_generation_file(data_dir)
    if in_store < on_disk:
        raise StoreDamagedError(
            f"the store at {store.path} is older than the last run of this node (start {in_store} of {on_disk}): "
            f"it was rolled back or lost its latest writes; {WAY_OUT}"
        )
    gen = max(in_store, on_disk) + 1
    store.put_json(GENERATION_KEY, gen)
    write_generation_file(data_dir, gen)
    return gen


# ---------------------------------------------------------------------------------------- chain check
@dataclass
class ChainCheck:
    """What the start-up check compared: blocks ``[start, head]``, own events seen, what the store lacks."""

    start: int
    head: int
    own_events: int = 0
    own_cases: int = 0
    unknown_cases: list[str] = field(default_factory=list)
    unknown_events: int = 0
    counters_raised: dict[str, int] = field(default_factory=dict)


def _watermark(store: Store, client: ChainClient) -> int:
    dep = client.deployment
    deployed = dep.deployed_block if dep is not None else 0
    marks = []
    scan_from = store.get_json(OUTBOX_SCAN_FROM_KEY)
    if scan_from is not None:
        marks.append(int(scan_from))
    cursor = store.get_json(INDEXER_CURSOR_KEY)
    if cursor is not None:
        marks.append(int(cursor) + 1)
    restored = store.get_json(RESTORED_KEY)
    done = store.get_json(SERIAL_CHECK_KEY)
    checked = restored is not None and done is not None and done.get("restored_at") == restored.get("restored_at")
    if restored is not None and restored.get("cursor") is not None and not checked:
        marks.append(int(restored["cursor"]) + 1)  # until the serial check of this restore is done
    return max(deployed, min(marks)) if marks else deployed


def raise_counters(store: Store, serials: list[str], *, hall_id: int) -> dict[str, int]:
    """Raise ``meta/serial/<day>`` to at least every counter in ``serials`` (this hall's); returns the new values."""
    best: dict[str, int] = {}
    for s in serials:
        p = parse_serial(s)
        if p is not None and p[1] == hall_id:
            best[p[0]] = max(best.get(p[0], 0), p[2])
    raised: dict[str, int] = {}
    for day, n in best.items():
        key = serial_counter_key(day)
        if int(store.get_json(key) or 0) < n:
            store.put_json(key, n)
            raised[day] = n
    return raised


def check_against_chain(
    store: Store, client: ChainClient, *, hall_id: int, max_range: int = DEFAULT_MAX_RANGE
) -> ChainCheck:
    """Compare this hall's own logs after the store's watermark with the store (see the module docstring).

    In a store marked for recovery (restored from a backup, or ``caseledger hall recover``) a gap is
    expected: it is counted, the serial counters are raised, and the indexer and transfers fill it.
    Otherwise a gap raises :class:`StoreDamagedError`."""
    head = client.block_number()
    start = _watermark(store, client)
    check = ChainCheck(start=start, head=head)
    pending = {str(v["commitment"]) for _, v in store.iter_json(OUTBOX_PREFIX)}
    by_case: dict[str, str] = {}

    def serial_of(cid: str) -> str | None:
        info = store.get_json(case_id_key(cid))
        if info is not None:
            return str(info["serial"])
        if not by_case:  # built once, only when a case id is not in the indexer's map
            for _, h in store.iter_json(CASE_PREFIX):  # a case's id binds its accepting hall
                by_case["0x" + case_id(int(h["accepting_hall"]), str(h["serial"])).hex()] = str(h["serial"])
        return by_case.get(cid)

    # A restored (or recovering) store may lack this hall's events up to the head its serial check reached
    # (they are being pulled back from the peers); anything the restored node wrote after that it must know.
    restored = store.get_json(RESTORED_KEY)
    tolerate_to: float = -1
    if restored is not None:
        done = store.get_json(SERIAL_CHECK_KEY)
        same = done is not None and done.get("restored_at") == restored.get("restored_at")
        tolerate_to = float(done["to_block"]) if same else float("inf")
    opened: list[str] = []
    lost: list[str] = []
    for lo, hi in block_ranges(start, head, max_range):
        for o in client.hall_opened(hall_id, lo, hi):
            check.own_cases += 1
            opened.append(o.serial)
            if store.get(case_key(o.serial)) is None:
                check.unknown_cases.append(o.serial)
                if o.block_number > tolerate_to:
                    lost.append(f"case {o.serial}")
        for ev in client.hall_events(hall_id, lo, hi):
            check.own_events += 1
            c = ev.commitment.hex()
            if c in pending:
                continue
            serial = serial_of(ev.case_id)
            if serial is None or all(r.get("commitment") != c for _, r in store.iter_json(record_prefix(serial))):
                check.unknown_events += 1
                if ev.block_number > tolerate_to:
                    lost.append(f"{ev.stage.name} #{ev.index} of {serial or ev.case_id} (block {ev.block_number})")
    if lost:
        log.error(
            "start-up check: the chain holds %d anchor(s) of this hall the store lacks, e.g. %s",
            len(lost),
            "; ".join(lost[:5]),
        )
        raise StoreDamagedError(
            f"the store at {store.path} lacks {len(lost)} of this hall's anchors on chain after block {start} "
            f"(e.g. {lost[0]}): it lost acknowledged writes; {WAY_OUT}"
        )
    # counters past every serial seen (also when nothing is missing: a lost counter key alone)
    check.counters_raised = raise_counters(store, opened, hall_id=hall_id)
    log.info(
        "start-up check against the chain: blocks %d-%d, %d own event(s), %d own case(s), %d unknown",
        start,
        head,
        check.own_events,
        check.own_cases,
        check.unknown_events,
    )
    return check


def mark_for_recovery(store: Store, data_dir: Path, *, reason: str) -> dict[str, Any]:
    """``caseledger hall recover``: treat the store like a restored one from its watermark on, so the node
    re-checks serials and re-fetches this hall's own records after it from the peer halls."""
    cursor = store.get_json(INDEXER_CURSOR_KEY)
    scan_from = store.get_json(OUTBOX_SCAN_FROM_KEY)
    marks = [int(cursor)] if cursor is not None else []
    if scan_from is not None:
        marks.append(int(scan_from) - 1)
    mark = {"cursor": min(marks) if marks else None, "restored_at": time.time(), "reason": reason}
    store.put_json(RESTORED_KEY, mark)
    if mark["cursor"] is not None:
        store.put_json(INDEXER_CURSOR_KEY, mark["cursor"])
    store.delete(SERIAL_CHECK_KEY)
    write_generation_file(data_dir, int(store.get_json(GENERATION_KEY) or 0))
    return mark


# ---------------------------------------------------------------------------------------- serial check
class SerialCheck(BackgroundWorker):
    """After a restore: raise the serial counters past this hall's serials on chain before intake resumes.

    Scans this hall's ``CaseOpened`` logs from the backup's cursor to the head in ``max_range`` steps
    (retrying while the chain is unreachable); :meth:`gate` answers intake with 503 until done. The
    result is kept in ``meta/serial_check``, so a later start does not scan again."""

    thread_name = "serial-check"

    def __init__(self, store: Store, client: ChainClient, *, hall_id: int, max_range: int = DEFAULT_MAX_RANGE) -> None:
        super().__init__()
        self.store = store
        self.client = client
        self.hall_id = hall_id
        self.max_range = max_range
        self.last_error: str | None = None
        restored = store.get_json(RESTORED_KEY)
        done = store.get_json(SERIAL_CHECK_KEY)
        self.needed = restored is not None and not (done and done.get("restored_at") == restored.get("restored_at"))
        self._restored: dict[str, Any] = restored or {}
        self.done = not self.needed
        self.scanned_to: int | None = None

    def gate(self) -> None:
        """Raise 503 (in staff words) while the serials are not yet checked against the chain."""
        if not self.done:
            raise UnavailableError("serial_check", kind="serial_check", retry_after=5)

    def run_once(self) -> None:
        dep = self.client.deployment
        cursor = self._restored.get("cursor")
        start = (int(cursor) + 1) if cursor is not None else (dep.deployed_block if dep is not None else 0)
        lo = start if self.scanned_to is None else self.scanned_to + 1
        head = self.client.block_number()
        for a, b in block_ranges(lo, head, self.max_range):
            serials = [o.serial for o in self.client.hall_opened(self.hall_id, a, b)]
            raised = raise_counters(self.store, serials, hall_id=self.hall_id)
            if raised:
                log.info("serial check: counters raised past the chain's serials %s", raised)
            self.scanned_to = b
        self.store.put_json(
            SERIAL_CHECK_KEY, {"restored_at": self._restored.get("restored_at"), "to_block": head, "at": time.time()}
        )
        self.done = True
        log.info("serial check after the restore: blocks %d-%d scanned; intake resumes", start, head)

    def _loop(self) -> None:
        failures = 0
        while not self.done and not self._stop.is_set():
            try:
                self.run_once()
                self.last_error = None
            except Exception as exc:  # the chain may be down: keep trying, intake stays closed
                failures += 1
                self.last_error = str(exc)
                log.warning("serial check: %s (retrying)", exc)
                self._stop.wait(min(10.0, 0.5 * 2**failures))

    def start(self) -> None:
        if self.needed:
            super().start()
