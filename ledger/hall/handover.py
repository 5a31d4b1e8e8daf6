"""已送达承办区县 / 对方已接收: how the accepting hall learns that the home district has the package.

The chain says nothing between MATERIALS and ACCEPTANCE (the home district may write nothing before it
accepts), and the home hall's verification of the package is off chain. So the accepting hall asks::

    GET /peer/cases/<serial>/status        signed with the asking hall's key (as package pulls are)
    → {"received": true, "verified_at": 1764600000.0, "hall_id": 2, "hall_name": "丰泽区行政服务中心",
       "notice": {...open 受理前补正 request...} | null}

``received`` is true once the home hall holds the case's INTAKE and MATERIALS records verified against the
chain (:func:`ledger.hall.transfer.receive_package` stored them). The accepting hall keeps a
``handover/<serial>`` key for each case whose home district is another one, from intake until the chain
shows the home district's ACCEPTANCE; :class:`HandoverWatcher` asks the active halls of that district
(from the registry) for each such case, with backoff, and writes what it learns into the case header
(``handover``: ``{"state": "received", "hall_id", "hall_name", "at"}``) and the home hall's open
pre-acceptance request into ``notice/<serial>`` (:meth:`ledger.hall.cases.CaseBook.accept_notice`).

Failure modes: the home hall down or not yet verified → the case shows 已提交，等待承办区县接收 and the
watcher retries (at most every ``max_backoff`` seconds); the answer is only as trustworthy as the home
hall's signature on nothing — it is a courtesy signal for the counter, not evidence; the evidence of
receipt is the home district's ACCEPTANCE on chain.
"""

from __future__ import annotations

import logging
import time

import httpx
from eth_account.signers.local import LocalAccount
from pydantic import BaseModel, ConfigDict, ValidationError

from ledger.chain.client import ChainClient
from ledger.core.stages import Stage
from ledger.errors import ChainError, LedgerError, StorageFullError
from ledger.hall.cases import CaseBook, SupplementNotice
from ledger.hall.keys import HANDOVER_PREFIX, case_key, chain_event_prefix, handover_key
from ledger.hall.transfer import sign_request
from ledger.hall.worker import BackgroundWorker

__all__ = ["HandoverWatcher", "PeerStatus", "peer_status"]

log = logging.getLogger("caseledger.handover")


class PeerStatus(BaseModel):
    """The answer of ``GET /peer/cases/<serial>/status`` (see the module docstring): made by the home hall
    (:func:`peer_status`), parsed by the accepting hall (an answer of another shape is no answer)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    serial: str
    received: bool
    """the home hall holds the case's INTAKE and MATERIALS, verified against the chain"""
    verified_at: float | None
    hall_id: int
    hall_name: str
    notice: SupplementNotice | None
    """the home hall's open pre-acceptance supplement request, if any"""


def peer_status(book: CaseBook, serial: str) -> PeerStatus:
    """What this (home) hall answers about ``serial``: has it received and verified the package?"""
    recs = book.records(serial)
    stages = {r["stage"] for r in recs if r.get("origin") == "received" or r.get("writer_hall") != book.hall.hall_id}
    own = book.header(serial).get("accepting_hall") == book.hall.hall_id
    received = own or {Stage.INTAKE.name, Stage.MATERIALS.name} <= stages
    verified = [float(r.get("verified_at") or 0) for r in recs if r["stage"] == Stage.MATERIALS.name]
    return PeerStatus(
        serial=serial,
        received=received,
        verified_at=max(verified) if verified else None,
        hall_id=book.hall.hall_id,
        hall_name=book.hall.name,
        notice=book.notice(serial),
    )


class HandoverWatcher(BackgroundWorker):
    """At the accepting hall: asks the home district's halls whether they have received each open case."""

    thread_name = "handover"

    def __init__(
        self,
        book: CaseBook,
        client: ChainClient,
        account: LocalAccount,
        *,
        interval: float = 2.0,
        timeout: float = 5.0,
        max_backoff: float = 30.0,
    ) -> None:
        super().__init__()
        self.book = book
        self.store = book.store
        self.client = client
        self.account = account
        self.interval = interval
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.last_error: str | None = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
                self.last_error = None
            except ChainError as exc:  # the registry is unreadable: try again next round
                self.last_error = str(exc)
            except StorageFullError as exc:  # the disk is full: said once by the store; try again next round
                self.last_error = str(exc)
            except Exception as exc:  # a bug, said as one; the loop goes on
                self.last_error = f"internal error: {exc.__class__.__name__}"
                log.exception("handover: unexpected error")
            self._wake.wait(self.interval)
            self._wake.clear()

    def _accepted_on_chain(self, serial: str) -> bool:
        return any(
            ev.get("stage") in (Stage.ACCEPTANCE.name, Stage.RESULT.name)
            for _, ev in self.store.iter_json(chain_event_prefix(serial))
        )

    def run_once(self) -> int:
        """Ask about every due case once; returns how many are now confirmed received."""
        now = time.time()
        due = [v for _, v in self.store.iter_json(HANDOVER_PREFIX) if float(v.get("next_at", 0)) <= now]
        if not due:
            return 0
        halls = self.client.halls()
        confirmed = 0
        for job in due:
            serial = str(job["serial"])
            try:
                header = self.book.header(serial)
            except LedgerError:
                self.store.delete(handover_key(serial))
                continue
            answer: PeerStatus | None = None
            for hall in halls:
                if hall.district != header["home_district"] or hall.status != "active":
                    continue
                if hall.hall_id == self.book.hall.hall_id or not hall.endpoint.startswith(("http://", "https://")):
                    continue
                answer = self._ask(hall.endpoint, hall.hall_id, serial)
                if answer is not None and answer.received:
                    break
            with self.book.lock:
                h = self.book.header(serial)
                if answer is not None and answer.received:
                    if (h.get("handover") or {}).get("state") != "received":
                        confirmed += 1
                    h["handover"] = {
                        "state": "received",
                        "hall_id": answer.hall_id,
                        "hall_name": answer.hall_name,
                        "at": answer.verified_at or now,
                    }
                    self.store.put_json(case_key(serial), h)
                    self.book.accept_notice(serial, answer.notice)
                attempts = int(job.get("attempts", 0)) + 1
                if self._accepted_on_chain(serial):
                    self.store.delete(handover_key(serial))
                    self.book.accept_notice(serial, None)
                    continue
                delay = min(self.max_backoff, self.interval * 2 ** min(attempts, 5))
                self.store.put_json(handover_key(serial), {**job, "attempts": attempts, "next_at": now + delay})
        return confirmed

    def _ask(self, endpoint: str, hall_id: int, serial: str) -> PeerStatus | None:
        path = f"/peer/cases/{serial}/status"
        try:
            r = httpx.get(
                endpoint.rstrip("/") + path,
                headers=sign_request(self.account, "GET", path, target_hall=hall_id),
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            self.last_error = f"{endpoint}: {exc.__class__.__name__}"
            return None
        if r.status_code != 200:
            return None
        try:
            return PeerStatus.model_validate_json(r.content)
        except ValidationError:
            self.last_error = f"{endpoint}: the status answer of hall {hall_id} has another shape"
            return None
