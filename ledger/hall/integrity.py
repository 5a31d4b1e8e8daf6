"""A hall's store checked against itself and against the chain before the node serves (issue 13).

Three checks at every start, each refusing with one sentence that names the damage and the way out:

1. **Generation.** Every start counts up ``meta/generation`` in the store and the same number in
   ``<data dir>/store.generation`` beside it. A store whose generation is *behind* that file is an
   older copy of itself (rolled back: a truncated log, a copied directory, a snapshot revert).
2. **Chain.** This hall's own ``CaseOpened`` and ``EventAppended`` logs after the store's watermark
   (the outbox's scan start and the indexer's cursor, whichever is older) must all be known to the
   store: a pending outbox entry or a stored record with that commitment, a case header for every
   serial. An event the store does not know means the store lost acknowledged writes.
   In Merkle mode the same holds for this hall's batches: the chain's batch count for this hall
   (``batchHeader``) must not be past the batches in the store (``mbatch/``).
3. **Serials and own batches.** After a restore (``meta/restored``) or a ``caseledger hall recover``, the
   serial counters are raised past every serial this hall opened on chain since the backup's cursor
   (:class:`SerialCheck`, in the background; intake answers 503 until it is done), so a serial the
   chain already knows is never handed out again. In Merkle mode an INTAKE opens no ``CaseOpened`` log:
   the check also reads back this hall's own batches the store lacks (``BatchAnchored`` logs after the
   cursor, their manifests from the store or any other hall, each checked against its on-chain root), raises
   the counters past their INTAKE leaves' serials, records each batch as anchored (so its number is never
   built again) and marks the store's pending events found in them as anchored (never sent again). The
   Merkle sender waits until the indexer has read those batches too (:meth:`SerialCheck.anchoring_hold`),
   so a case's next event is chained after its last event on chain, never at an index the chain holds.

Bounded reads only: every ``eth_getLogs`` asks at most ``max_range`` blocks, filtered by this hall's
id topic::

    gen = bump_generation(store, data_dir)                    # raises StoreDamagedError if rolled back
    check_against_chain(store, client, hall_id=1)             # raises StoreDamagedError if the chain knows more
    guard = SerialCheck(store, client, hall_id=1); guard.start()
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.chain.client import ChainClient
from ledger.core.batches import EventLeaf, Manifest
from ledger.core.chainlog import block_ranges
from ledger.core.facts import BatchAnchoredEvent
from ledger.core.hashchain import case_id
from ledger.core.stages import Stage
from ledger.core.suites import suite_named
from ledger.errors import InputError, StoreDamagedError, UnavailableError, VerificationError
from ledger.hall.keys import (
    CASE_PREFIX,
    GENERATION_KEY,
    INDEXER_CURSOR_KEY,
    MBATCH_PREFIX,
    MBOX_PREFIX,
    OUTBOX_PREFIX,
    OUTBOX_SCAN_FROM_KEY,
    RESTORED_KEY,
    SERIAL_CHECK_KEY,
    case_id_key,
    case_key,
    manifest_key,
    mbatch_key,
    mbatch_log_key,
    mbox_key,
    mwant_key,
    record_prefix,
    serial_counter_key,
)
from ledger.hall.merkle_outbox import anchored_batch, leaf_anchor
from ledger.hall.store import Store
from ledger.hall.worker import BackgroundWorker

if TYPE_CHECKING:
    from ledger.hall.cases import CaseBook

__all__ = [
    "GENERATION_FILE",
    "ChainCheck",
    "LostOwnEvents",
    "SerialCheck",
    "bump_generation",
    "check_against_chain",
    "known_batches",
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
    own_batches_on_chain: int = 0
    """this hall's Merkle batch count on chain (``batchHeader``)"""
    own_batches_known: int = 0
    """how many of them the store holds (``mbatch/``): fewer only in a store marked for recovery"""


def known_batches(store: Store) -> int:
    """How many of this hall's Merkle batches the store holds (built or anchored): the last ``mbatch/`` seq + 1.

    Batches are built strictly in ``seq`` order and never deleted, so there is no gap below the last."""
    for k, _ in store.iter_prefix(MBATCH_PREFIX, reverse=True):
        return int(k[len(MBATCH_PREFIX) :]) + 1
    return 0


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
    # Merkle mode: the chain's batch count for this hall against the batches the store holds. A restored
    # store may lack the batches anchored after its backup until its serial check has read them back; after
    # that (and in any store not marked for recovery) every batch on chain must be in the store.
    _, count, _ = client.batch_header(hall_id)
    check.own_batches_on_chain, check.own_batches_known = count, known_batches(store)
    if count > check.own_batches_known and tolerate_to != float("inf"):
        lost.append(f"Merkle batch {check.own_batches_known} of {count} on chain")
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
        "start-up check against the chain: blocks %d-%d, %d own event(s), %d own case(s), %d unknown; "
        "%d own Merkle batch(es) on chain, %d in the store",
        start,
        head,
        check.own_events,
        check.own_cases,
        check.unknown_events,
        check.own_batches_on_chain,
        check.own_batches_known,
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


class LostOwnEvents:
    """After a restore from an older backup: is this hall's own event on chain one whose record the store lacks?

    Both indexers ask it of every own event they read, and mark such a case for a pull from the other halls
    of the case; before any restore (no ``meta/restored``) and up to the backup's cursor the answer is no::

        lost = LostOwnEvents(store, book)
        if lost(serial, block, commitment): ...
    """

    def __init__(self, store: Store, book: CaseBook) -> None:
        self.book = book
        restored = store.get_json(RESTORED_KEY)
        self.after: int | None = None
        """the backup's indexer cursor (None: the store was not restored)"""
        if restored is not None:
            c = restored.get("cursor")
            self.after = -1 if c is None else int(c)

    def __call__(self, serial: str, block: int, commitment: str) -> bool:
        if self.after is None or block <= self.after:
            return False
        return all(r.get("commitment") != commitment for r in self.book.records(serial))


# ---------------------------------------------------------------------------------------- serial check
class _Waiting(Exception):
    """Something the check needs is not there yet (a log, a manifest): retried, said in ``last_error``."""


Fetch = Callable[[int, int], bytes | None]
"""a manifest of (hall, seq) from the other halls, or None (:meth:`ledger.hall.merkle_index.MerkleIndex.fetch`)"""


class SerialCheck(BackgroundWorker):
    """After a restore: raise the serial counters past this hall's serials on chain before intake resumes, and
    read back this hall's own Merkle batches the store lacks.

    Scans this hall's ``CaseOpened`` logs from the backup's cursor to the head in ``max_range`` steps
    (retrying while the chain is unreachable); :meth:`gate` answers intake with 503 until done. In Merkle mode
    (the chain's ``batchHeader`` count for this hall past the store's ``mbatch/``) it also reads the missing
    batches' ``BatchAnchored`` logs and their manifests (the store's own copy, else ``fetch``: any other hall;
    each checked against its on-chain root and count, a forged one refused), in ``seq`` order:

    * the serial counters go past every INTAKE leaf's serial of this hall;
    * the batch is recorded as anchored (``mbatch/<seq>``, ``recovered``) with its manifest, so the sender
      never builds that number again and the hall serves the manifest again;
    * a pending event of the store (``mbox/``) whose commitment is in it was anchored after the backup: its
      record gets that anchor and it leaves ``mbox/`` (never sent twice).

    A manifest no hall produces keeps the check (and intake) waiting, retried, said in ``last_error``. The
    result is kept in ``meta/serial_check``, so a later start does not scan again::

        check = SerialCheck(store, client, hall_id=2, fetch=index.fetch, lock=outbox.lock)
        check.start(); book.intake_gates.append(check.gate)
        sender = MerkleSender(..., hold=check.anchoring_hold)  # until the indexer read the batches back
    """

    thread_name = "serial-check"

    def __init__(
        self,
        store: Store,
        client: ChainClient,
        *,
        hall_id: int,
        max_range: int = DEFAULT_MAX_RANGE,
        fetch: Fetch | None = None,
        lock: threading.RLock | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.client = client
        self.hall_id = hall_id
        self.max_range = max_range
        self.fetch = fetch
        self.lock: contextlib.AbstractContextManager[Any] = lock if lock is not None else contextlib.nullcontext()
        self.last_error: str | None = None
        restored = store.get_json(RESTORED_KEY)
        done = store.get_json(SERIAL_CHECK_KEY)
        self.needed = restored is not None and not (done and done.get("restored_at") == restored.get("restored_at"))
        self._restored: dict[str, Any] = restored or {}
        self.done = not self.needed
        self.scanned_to: int | None = None
        own: dict[str, Any] = {} if self.needed or done is None else (done.get("own_batches") or {})
        self.own_batches_on_chain: int | None = own.get("on_chain")
        """this hall's batch count on chain when the check ran (None: not read yet)"""
        self.recovered: list[int] = [int(x) for x in own.get("recovered", [])]
        """this hall's batches read back from the chain and the other halls"""
        self.waiting_for: int | None = None
        """the batch whose manifest no hall has produced yet"""
        self.unindexed: list[int] = []
        """recovered batches the indexer has not read yet (the Merkle sender waits for them)"""
        self._released = False
        self._found: dict[int, BatchAnchoredEvent] = {}

    @property
    def batches(self) -> bool:
        """Whether this check reads back own Merkle batches (the chain held batches the store lacked)."""
        return bool(self.recovered) or self.waiting_for is not None

    def gate(self) -> None:
        """Raise 503 (in staff words) while the serials are not yet checked against the chain."""
        if not self.done and self.batches:
            raise UnavailableError("serial_check_batches", kind="serial_check", retry_after=5)
        if not self.done:
            raise UnavailableError("serial_check", kind="serial_check", retry_after=5)

    def anchoring_hold(self) -> str | None:
        """Why the Merkle sender may not build or send yet (None: it may): the check is not done, or the indexer
        has not read this hall's recovered batches yet (a case's next event would reuse an index on chain)."""
        if not self.done:
            return "the serials and this hall's batches are being checked against the chain after a restore"
        if self._released or not self.recovered:
            return None
        me = self.hall_id
        self.unindexed = [
            s
            for s in self.recovered
            if self.store.get(mbatch_log_key(me, s)) is None or self.store.get(mwant_key(me, s)) is not None
        ]
        if self.unindexed:
            return (
                f"waiting for the indexer to read back this hall's batches {self.unindexed[0]}.."
                f"{self.unindexed[-1]} after the restore"
            )
        self._released = True
        log.info("restore: the indexer has read back this hall's batches; Merkle anchoring resumes")
        return None

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
        self._own_batches(start, head)
        self.store.put_json(
            SERIAL_CHECK_KEY,
            {
                "restored_at": self._restored.get("restored_at"),
                "to_block": head,
                "at": time.time(),
                "own_batches": {"on_chain": self.own_batches_on_chain, "recovered": self.recovered},
            },
        )
        self.done = True
        log.info(
            "serial check after the restore: blocks %d-%d scanned, %d own Merkle batch(es) read back; intake resumes",
            start,
            head,
            len(self.recovered),
        )

    # ------------------------------------------------------------------ own Merkle batches
    def _own_batches(self, start: int, head: int) -> None:
        me = self.hall_id
        _, count, _ = self.client.batch_header(me)
        self.own_batches_on_chain = count
        known = known_batches(self.store)
        if count <= known:
            return
        missing = set(range(known, count))
        if self.waiting_for is None:
            self.waiting_for = known  # said to staff from here on (the gate's message, /health)
        if not missing <= set(self._found):
            for a, b in block_ranges(start, head, self.max_range):
                self._found.update(
                    {x.seq: x for x in self.client.batches_in_range(a, b, hall_id=me) if x.seq in missing}
                )
            if not missing <= set(self._found) and start > 0:  # anchored before the cursor (not in the backup)
                first = self.client.deployment.deployed_block if self.client.deployment is not None else 0
                for a, b in block_ranges(first, start - 1, self.max_range):
                    got = self.client.batches_in_range(a, b, hall_id=me)
                    self._found.update({x.seq: x for x in got if x.seq in missing})
        dep = self.client.deployment
        suite = suite_named(dep.suite if dep is not None else "intl")
        for seq in sorted(missing):
            ev = self._found.get(seq)
            if ev is None:
                raise _Waiting(
                    f"this hall's Merkle batch {seq} is counted on chain but its log was not found up to block {head}"
                )
            self.waiting_for = seq
            manifest = self._manifest(ev, suite)
            if manifest is None:
                raise _Waiting(
                    f"the manifest of this hall's Merkle batch {seq} (block {ev.block_number}) is not obtainable "
                    "from the other halls yet"
                )
            self._recover(ev, manifest)
        self.waiting_for = None

    def _manifest(self, ev: BatchAnchoredEvent, suite: Any) -> tuple[Manifest, bytes] | None:
        sources: list[Callable[[], bytes | None]] = [lambda: self.store.get(manifest_key(ev.hall_id, ev.seq))]
        if self.fetch is not None:
            fetch = self.fetch
            sources.append(lambda: fetch(ev.hall_id, ev.seq))
        for source in sources:
            raw = source()
            if raw is None:
                continue
            try:
                m = Manifest.decode(raw)
                m.check(hall=ev.hall_id, seq=ev.seq, root=ev.root, count=ev.count, suite=suite)
            except (InputError, VerificationError) as exc:
                log.warning("serial check: manifest of own batch %d refused: %s", ev.seq, exc)
                continue
            return m, raw
        return None

    def _recover(self, ev: BatchAnchoredEvent, got: tuple[Manifest, bytes]) -> None:
        """One batch read back: counters, pending events anchored in it, the batch and its manifest (one batch)."""
        manifest, raw = got
        leaves = [EventLeaf.decode(x) for x in manifest.leaves]
        serials = [lf.serial for lf in leaves if lf.stage == Stage.INTAKE and lf.accepting_hall == self.hall_id]
        raised = raise_counters(self.store, serials, hall_id=self.hall_id)
        if raised:
            log.info("serial check: counters raised past the serials of own batch %d: %s", ev.seq, raised)
        by_commitment = {lf.commitment.hex(): (pos, lf) for pos, lf in enumerate(leaves)}
        btime = self.client.block_time(ev.block_number)
        entries: list[dict[str, Any]] = []
        with self.lock, self.store.write_batch() as wb:
            for _, e in self.store.iter_json(MBOX_PREFIX):
                hit = by_commitment.get(str(e["commitment"]))
                if hit is None:
                    continue
                pos, lf = hit
                if lf.case_id != case_id(int(e["accepting_hall"]), str(e["serial"])):
                    continue
                entry = {**e, "index": lf.index, "head": lf.head.hex(), "recovered_leaf": pos}
                entries.append(entry)
                wb.delete(mbox_key(int(e["seq"])))
                rec = self.store.get_json(str(e["rec_key"]).encode())
                if rec is not None:
                    rec["anchor"] = leaf_anchor(
                        ev,
                        block_time=btime,
                        index=lf.index,
                        head=lf.head.hex(),
                        writer=ev.writer,
                        leaf=pos,
                        size=ev.count,
                    )
                    wb.put_json(str(e["rec_key"]).encode(), rec)
            wb.put(manifest_key(ev.hall_id, ev.seq), raw)
            own = {"seq": ev.seq, "root": ev.root.hex(), "count": ev.count, "writer": ev.writer, "recovered": True}
            wb.put_json(
                mbatch_key(ev.seq), anchored_batch({**own, "entries": entries}, ev, block_time=btime, block_hash="")
            )
        self.recovered.append(ev.seq)
        log.warning(
            "restore: this hall's Merkle batch %d (block %d, %d event(s)) was anchored after the backup: read "
            "back from the chain and the other halls; %d pending event(s) of the store were in it (not sent again)",
            ev.seq,
            ev.block_number,
            ev.count,
            len(entries),
        )

    def _loop(self) -> None:
        failures = 0
        while not self.done and not self._stop.is_set():
            try:
                self.run_once()
                self.last_error = None
            except Exception as exc:  # the chain or every peer may be down: keep trying, intake stays closed
                failures += 1
                self.last_error = str(exc)
                log.warning("serial check: %s (retrying)", self.last_error)
                self._stop.wait(min(10.0, 0.5 * 2**failures))

    def start(self) -> None:
        if self.needed:
            super().start()
