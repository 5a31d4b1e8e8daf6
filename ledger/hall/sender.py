"""The send / reconcile loop both anchoring modes share (event mode's outbox, Merkle mode's batches).

A sender keeps up to ``max_in_flight`` transactions pipelined; every round (:meth:`ChainSender.pump`) it
watches the chain (a new endpoint, anchors that left it), reconciles against the chain when it does not
know what was sent (a fresh process, an unknown outcome, a failover), collects the receipts that are
mined and sends what is next. Any error forgets what was in flight and backs off; the next round
reconciles first. What a mode sends, how it records a receipt and how it reconciles are its own::

    class Sender(ChainSender[Flight]):
        log = logging.getLogger("caseledger.example")
        log_name = "example"

        def watch_chain(self, *, force: bool = False) -> None: ...
        def reconcile(self) -> int: ...
        def _collect(self) -> int: ...
        def _send_next(self) -> bool: ...
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ledger.chain.client import ChainClient
from ledger.errors import ChainError, StorageFullError
from ledger.hall.reorg import block_hash_reader
from ledger.hall.worker import BackgroundWorker

if TYPE_CHECKING:
    from ledger.hall.outbox import Outbox

__all__ = ["ChainSender", "Flight"]


@dataclass
class Flight:
    """A transaction in flight."""

    tx: str
    sent_at: float


F = TypeVar("F", bound=Flight)


class ChainSender(BackgroundWorker, Generic[F]):
    """The loop, the pipeline's round and its bookkeeping; a subclass supplies the mode's steps."""

    log: ClassVar[logging.Logger]
    log_name: ClassVar[str]
    """the prefix of the loop's log lines ("outbox", "merkle")"""
    tx_noun: ClassVar[str] = "transaction"
    """how a timed-out transaction is named in the error"""

    def __init__(
        self,
        outbox: Outbox,
        client: ChainClient,
        *,
        batch_max: int,
        max_in_flight: int,
        interval: float,
        max_backoff: float,
        receipt_timeout: float,
        reorg_check_interval: float,
        on_anchored: Callable[[list[dict[str, Any]]], None] | None,
        hold: Callable[[], str | None] | None,
    ) -> None:
        super().__init__()
        self.outbox = outbox
        self.client = client
        self.batch_max = batch_max
        self.max_in_flight = max_in_flight
        self.interval = interval
        self.max_backoff = max_backoff
        self.receipt_timeout = receipt_timeout
        self.reorg_check_interval = reorg_check_interval
        self.on_anchored = on_anchored
        self.hold = hold  # says why nothing may be sent now (the hall's clock is off), or None
        self.needs_reconcile = True  # a fresh process does not know what the last one sent
        self.last_error: str | None = None
        self.last_anchored_at: float | None = None
        self.anchored_total = 0
        self.lost_total = 0
        self._in_flight: list[F] = []
        self._hash_at = block_hash_reader(client.request)
        self._last_check = 0.0
        self._epoch: int | None = None
        self._checked_block: tuple[int, str] | None = None  # the receipt block last checked against the chain
        self.deployment_lost: str | None = None
        """why nothing is sent: the chain no longer holds this deployment's contracts (None: it does)"""

    # ------------------------------------------------------------------ the mode's steps
    def watch_chain(self, *, force: bool = False) -> None:
        raise NotImplementedError

    def reconcile(self) -> int:
        raise NotImplementedError

    def _collect(self) -> int:
        """Record every mined in-flight transaction (in send order); returns events anchored."""
        raise NotImplementedError

    def _send_next(self) -> bool:
        raise NotImplementedError

    def _quiet(self) -> bool:
        """Whether this round must not send (another sender is waiting for this key's pool to drain)."""
        return False

    def _endpoint_changed(self, pool: Any) -> None:
        """Called when the chain endpoint changed (before what was in flight is abandoned)."""

    # ------------------------------------------------------------------ loop
    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                progressed = self.pump()
                failures = 0
                self.last_error = None
                if not progressed:
                    if self._in_flight:
                        self._stop.wait(0.05)
                    else:
                        self._wake.wait(self.interval)
                        self._wake.clear()
            except ChainError as exc:
                failures += 1
                self._abandon_in_flight()
                self.last_error = str(exc)
                delay = min(self.max_backoff, 0.25 * 2**failures)
                self.log.warning("%s: %s (retrying in %.1fs)", self.log_name, exc, delay)
                self._stop.wait(delay)
            except StorageFullError as exc:  # the disk is full (the store says so once): try again later
                failures += 1
                self._abandon_in_flight()  # a receipt not recorded: the reconcile after the disk is back records it
                self.last_error = str(exc)
                self._stop.wait(min(self.max_backoff, 0.25 * 2**failures))
            except Exception as exc:  # keep the sender alive whatever happens: everything it needs is durable
                failures += 1
                self._abandon_in_flight()
                self.last_error = f"{exc.__class__.__name__}: {exc}"
                self.log.exception("%s: unexpected error", self.log_name)
                self._stop.wait(min(self.max_backoff, 0.25 * 2**failures))

    def _abandon_in_flight(self) -> None:
        """Forget what was in flight: the next round reconciles against the chain first."""
        self._in_flight.clear()
        self.needs_reconcile = True

    def pump(self) -> bool:
        """One non-blocking step: collect receipts, reconcile if needed, send new ones. True if anything happened."""
        if self.hold is not None and (why := self.hold()) is not None:
            self.last_error = why
            return False
        if self._quiet():
            return False
        self.watch_chain()
        progressed = False
        if self.needs_reconcile:
            if self._in_flight:
                self._wait_all()
            progressed = self.reconcile() > 0
        progressed = self._collect() > 0 or progressed
        while len(self._in_flight) < self.max_in_flight:
            if not self._send_next():
                break
            progressed = True
        return progressed

    def run_once(self) -> int:
        """Reconcile if needed, send what is pending (up to ``max_in_flight``) and wait for it.

        Returns how many events got anchored.
        """
        anchored = 0
        self.watch_chain(force=True)
        if self.needs_reconcile:
            anchored += self.reconcile()
        while len(self._in_flight) < self.max_in_flight and self._send_next():
            pass
        anchored += self._wait_all()
        return anchored

    def _wait_all(self) -> int:
        n = 0
        deadline = time.monotonic() + self.receipt_timeout
        while self._in_flight:
            got = self._collect()
            n += got
            if self._in_flight and not got:
                if time.monotonic() > deadline:
                    tx = self._in_flight[0].tx
                    self._abandon_in_flight()
                    raise self._not_mined(tx)
                time.sleep(0.05)
        return n

    # ------------------------------------------------------------------ shared steps
    def _not_mined(self, tx: str) -> ChainError:
        return ChainError(f"{self.tx_noun} {tx} was not mined within {self.receipt_timeout:.0f}s")

    def _receipt(self, flight: F) -> Any:
        """The receipt of ``flight``, or None while it is not mined; raises once it waited too long."""
        receipt = self.client.receipt(flight.tx)
        if receipt is None and time.monotonic() - flight.sent_at > self.receipt_timeout:
            self._abandon_in_flight()
            raise self._not_mined(flight.tx)
        return receipt

    def _watch_endpoint(self) -> None:
        """Abandon what is in flight when the chain endpoint changed (nonces and pools differ between nodes)."""
        pool = getattr(self.client.w3.provider, "pool", None)
        if pool is not None and pool.epoch != self._epoch:
            if self._epoch is not None:
                self._endpoint_changed(pool)
                self._abandon_in_flight()
            self._epoch = pool.epoch

    def _check_due(self, force: bool) -> bool:
        """Whether the chain is to be checked now (every ``reorg_check_interval`` seconds unless ``force``)."""
        now = time.monotonic()
        if not force and now - self._last_check < self.reorg_check_interval:
            return False
        self._last_check = now
        return True

    def _still_lost(self) -> None:
        """While the deployment is lost: raise until its contracts are on chain again (then go on)."""
        if self.deployment_lost is None:
            return
        if not self.client.deployment_alive():
            raise ChainError(self.deployment_lost)
        self.log.warning("%s: the deployment is on chain again; checking what is still anchored", self.log_name)
        self.deployment_lost = None

    def _stop_if_deployment_lost(self) -> None:
        """Called when blocks acted on are gone: if the deployment's contracts are gone too (the chain's state
        was lost, or it is another chain), stop and say so (raise) rather than put anything back or send."""
        if self.client.deployment_alive():
            return
        self.deployment_lost = (
            "the chain no longer holds this deployment's contracts (its state was lost, or it is another "
            "chain): nothing is sent until they are back"
        )
        self._abandon_in_flight()
        raise ChainError(self.deployment_lost)

    def _receipt_block_checked(self, receipt: Any) -> bool:
        """Before a receipt's block becomes the newest checkpoint, the older ones must still hold: a
        reorganisation while the transaction was in flight (Clique, depth 1) would hide behind it for good.
        Once per block (transactions share blocks), and again if the same height shows another hash. False
        when the chain changed (what was in flight is abandoned: the reconcile records what is on chain)."""
        seen = (int(receipt["blockNumber"]), str(receipt.get("blockHash")))
        if seen != self._checked_block:
            self.watch_chain(force=True)
            if not self._in_flight:
                return False
            self._checked_block = seen
        return True

    def _deployed_block(self) -> int:
        """Where a scan of this deployment's logs starts when nothing was recorded yet."""
        dep = self.client.deployment
        return dep.deployed_block if dep is not None else 0

    def _anchored(self, entries: list[dict[str, Any]]) -> None:
        """Count events just recorded as anchored and tell the listener."""
        self.last_anchored_at = time.time()
        self.anchored_total += len(entries)
        if self.on_anchored:
            self.on_anchored(entries)
