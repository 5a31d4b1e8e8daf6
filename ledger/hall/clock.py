"""How far this hall's clock is from the chain's block times and from its peers' ``Date`` (issue 13).

A hall whose clock is off cannot transfer (peers refuse its signed requests), its TOTP codes fail and
its due dates and record times are wrong. :class:`ClockWatch` measures the offset and, beyond
``max_skew`` seconds, closes the hall for writes and anchoring (a record stamped with a wrong time is
bad evidence), until the clock is right again:

* **chain** — each time a new block is first seen, ``local time - block timestamp``. A block is never
  from the future, and it is seen within a poll interval of being made, so this is the offset to within
  the block period plus the poll interval. A halted chain keeps its last sample (it does not grow);
* **peers** — every ``peer_interval`` seconds, the ``Date`` header of each active peer hall's
  ``/health``, against the midpoint of the request (1-second resolution).

The chain sample decides when there is a recent one; otherwise the median of the peers::

    watch = ClockWatch(client, hall_id=1, max_skew=120); watch.start()
    watch.skew()          # seconds (+ = this hall is ahead), or None before the first sample
    watch.gate()          # raises UnavailableError(code="clock_skew") beyond the bound
"""

from __future__ import annotations

import logging
import statistics
import time
from email.utils import parsedate_to_datetime

import httpx

from ledger.chain.client import ChainClient
from ledger.errors import UnavailableError
from ledger.hall.health import ClockReport
from ledger.hall.worker import BackgroundWorker

__all__ = ["ClockWatch"]

log = logging.getLogger("caseledger.clock")


class ClockWatch(BackgroundWorker):
    thread_name = "clock-watch"

    def __init__(
        self,
        client: ChainClient,
        *,
        hall_id: int,
        max_skew: float = 120.0,
        interval: float = 1.0,
        peer_interval: float = 60.0,
        chain_sample_max_age: float = 600.0,
    ) -> None:
        super().__init__()
        self.client = client
        self.hall_id = hall_id
        self.max_skew = max_skew
        self.interval = interval
        self.peer_interval = peer_interval
        self.chain_sample_max_age = chain_sample_max_age
        self.chain_skew: float | None = None
        self.chain_sampled_at: float | None = None  # monotonic
        self.peer_skews: dict[int, float] = {}
        self._last_block: int | None = None
        self._next_peers = 0.0
        self.last_error: str | None = None

    # ------------------------------------------------------------------ measuring
    def sample_chain(self) -> None:
        blk = self.client.request("eth_getBlockByNumber", ["latest", False])
        number, ts = int(blk["number"], 16), int(blk["timestamp"], 16)
        now = time.time()
        if self._last_block is not None and number != self._last_block:
            self.chain_skew = now - ts
            self.chain_sampled_at = time.monotonic()
        self._last_block = number

    def sample_peers(self) -> None:
        out: dict[int, float] = {}
        for info in self.client.halls():
            if info.hall_id == self.hall_id or info.status != "active" or not info.endpoint.startswith("http"):
                continue
            try:
                t0 = time.time()
                r = httpx.get(info.endpoint.rstrip("/") + "/health", timeout=3)
                t1 = time.time()
                date = r.headers.get("date")
                if date:
                    out[info.hall_id] = (t0 + t1) / 2 - parsedate_to_datetime(date).timestamp()
            except (httpx.HTTPError, ValueError, TypeError):
                continue
        self.peer_skews = out

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample_chain()
                if time.monotonic() >= self._next_peers:
                    self._next_peers = time.monotonic() + self.peer_interval
                    self.sample_peers()
                self.last_error = None
            except Exception as exc:  # the chain may be down: keep the last samples
                self.last_error = str(exc)
            self._stop.wait(self.interval)

    # ------------------------------------------------------------------ judging
    def skew(self) -> float | None:
        fresh = (
            self.chain_sampled_at is not None and time.monotonic() - self.chain_sampled_at < self.chain_sample_max_age
        )
        if self.chain_skew is not None and (fresh or not self.peer_skews):
            return self.chain_skew
        if self.peer_skews:
            return float(statistics.median(self.peer_skews.values()))
        return None

    def too_far(self) -> float | None:
        """The skew when it exceeds the bound, else None."""
        s = self.skew()
        return s if s is not None and abs(s) > self.max_skew else None

    def reason(self) -> str | None:
        """Why anchoring is held (for the outbox sender), or None. Also held until the first measurement
        (a block or two after the start), so nothing is anchored before the clock has been compared."""
        if self.skew() is None:
            return "anchoring waits for the first comparison of this hall's clock with the chain"
        s = self.too_far()
        if s is None:
            return None
        return f"this hall's clock is {s:+.0f}s off the chain (bound {self.max_skew:.0f}s): anchoring is held"

    def gate(self) -> None:
        s = self.too_far()
        if s is not None:
            raise UnavailableError(
                "clock_skew_hold", kind="clock_skew", retry_after=30, skew=round(abs(s)), bound=round(self.max_skew)
            )

    def report(self) -> ClockReport:
        s = self.skew()
        return ClockReport(
            skew_seconds=None if s is None else round(s, 1),
            chain_skew_seconds=None if self.chain_skew is None else round(self.chain_skew, 1),
            peer_skew_seconds={str(k): round(v, 1) for k, v in self.peer_skews.items()},
            max_skew_seconds=self.max_skew,
            held=self.too_far() is not None,
            last_error=self.last_error,
        )
