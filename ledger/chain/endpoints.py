"""Failover JSON-RPC transport: an ordered list of chain endpoints, one in use at a time.

A hall talks to its own district's chain node first and to the other nodes only while its own is
down or lagging. :class:`EndpointPool` holds the list (preferred first), probes every endpoint's
head in the background, and switches; :class:`FailoverProvider` is the web3 provider that sends
each request to the endpoint in use, so :class:`~ledger.chain.client.ChainClient` works unchanged on top::

    pool = EndpointPool(["http://node-a:8545", "http://node-b:8545"], max_lag=5)
    pool.start()                                   # background probing
    client = ChainClient(w3=Web3(FailoverProvider(pool)), deployment=dep, account=key)
    pool.status().active                           # the endpoint in use (for /health, metrics)

Rules:

* An endpoint is **down** when it does not answer (connection refused or reset, timeout, an HTTP
  error, an answer that is not JSON-RPC); it is **lagging** when its head is more than ``max_lag``
  blocks behind the best head the pool sees. Usable = up and not lagging.
* The pool uses the first usable endpoint in list order. When the one in use fails a request, the
  pool probes the others at once and switches; the failed request is retried once on the new one,
  except a transaction send (``eth_sendRawTransaction``), whose outcome the caller must learn for
  itself (it is replayed, see below). It switches back to an earlier endpoint (the hall's own node)
  once that one has been usable for ``return_after`` probes in a row.
* Every switch increments :attr:`EndpointPool.epoch`. Nonces and pools differ between nodes, so a
  writer that sees a new epoch re-derives its nonce from the new node and reconciles what it had in
  flight by commitment (:class:`ledger.hall.outbox.OutboxSender` does).
* The pool remembers each signed transaction it forwarded until a receipt for it was seen (at most
  ``replay_window`` seconds); after a switch it sends those again, byte for byte, to the new
  endpoint. A transaction that sat only in the old node's pool is therefore not lost, and it
  cannot be doubled: a signed transaction is mined at most once, whichever node mines it.

JSON-RPC *errors* (a revert, a refused range) are answers, not failures: they never cause a switch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import requests
from eth_utils.crypto import keccak
from pydantic import BaseModel, ConfigDict
from web3 import HTTPProvider
from web3.providers.base import JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from ledger.errors import ChainUnavailableError, ConfigError

__all__ = ["EndpointPool", "EndpointState", "EndpointsStatus", "FailoverProvider"]

log = logging.getLogger("caseledger.endpoints")

_SENDS = frozenset({"eth_sendRawTransaction", "eth_sendTransaction"})
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    ConnectionError,
    OSError,
    ValueError,  # an answer that is not JSON
)


class EndpointState(BaseModel):
    """One endpoint as the pool last saw it."""

    model_config = ConfigDict(frozen=True)

    url: str
    state: Literal["up", "down", "lagging", "unknown"]
    head: int | None
    lag: int | None
    error: str | None
    checked_at: float | None


class EndpointsStatus(BaseModel):
    """Which endpoint is in use and why; shown by ``/health``, the metrics and ``caseledger status``."""

    model_config = ConfigDict(frozen=True)

    active: str
    preferred: str
    on_preferred: bool
    epoch: int
    switches: int
    switched_at: float | None
    last_switch: str | None
    max_lag: int
    endpoints: list[EndpointState]


class _Endpoint:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        # no retries of its own: a failing endpoint is the pool's business
        self.provider = HTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
        self.up: bool | None = None
        self.head: int | None = None
        self.error: str | None = None
        self.checked_at: float | None = None
        self.usable_streak = 0


class EndpointPool:
    """The ordered endpoints of one hall, the one in use, and the probing that moves it.

    Thread-safe: the hall's writer, reader and indexer clients share one pool.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        max_lag: int = 5,
        timeout: float = 10.0,
        probe_timeout: float = 2.0,
        probe_interval: float = 2.0,
        return_after: int = 3,
        replay_window: float = 600.0,
    ) -> None:
        urls = [u.strip() for u in urls if u.strip()]
        if not urls:
            raise ConfigError("no chain endpoint configured: set CASELEDGER_RPC_URL (comma-separated URLs)")
        if len(set(urls)) != len(urls):
            raise ConfigError(f"a chain endpoint is listed twice in {', '.join(urls)}")
        self.max_lag = max_lag
        self.probe_interval = probe_interval
        self.return_after = return_after
        self.replay_window = replay_window
        self._eps = [_Endpoint(u, timeout) for u in urls]
        self._probes = [_Endpoint(u, probe_timeout) for u in urls]
        self._active = 0
        self._lock = threading.RLock()
        self._probe_lock = threading.Lock()
        self.epoch = 0
        self.switches = 0
        self.switched_at: float | None = None
        self.last_switch: str | None = None
        self._sent: dict[str, tuple[str, float]] = {}  # tx hash → (raw tx hex, first sent at)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._executor = ThreadPoolExecutor(max_workers=max(1, len(urls)), thread_name_prefix="endpoint-probe")

    # ---------------------------------------------------------------- life cycle
    @property
    def urls(self) -> list[str]:
        return [e.url for e in self._eps]

    @property
    def active_url(self) -> str:
        return self._eps[self._active].url

    def start(self) -> None:
        """Probe in the background (only when there is more than one endpoint to choose from)."""
        if len(self._eps) > 1 and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="endpoint-probe", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.probe_interval):
            try:
                self.probe()
            except Exception:  # keep probing whatever happens
                log.exception("endpoint probe failed")

    # ---------------------------------------------------------------- requests
    def request(self, method: str, params: Any) -> RPCResponse:
        """Send one JSON-RPC request to the endpoint in use (see the module rules for failures)."""
        for _ in range(len(self._eps)):
            i = self._active
            ep = self._eps[i]
            try:
                resp = ep.provider.make_request(RPCEndpoint(method), params)
            except _TRANSPORT_ERRORS as exc:
                if method == "eth_sendRawTransaction":
                    self._remember(params)
                self._failed(i, exc)
                if method in _SENDS or self._active == i:
                    raise ChainUnavailableError(
                        f"the chain node {ep.url} is not reachable ({exc.__class__.__name__})"
                    ) from exc
                continue  # the pool moved to another endpoint: ask it
            self._ok(i)
            self._observe(method, params, resp)
            return resp
        raise ChainUnavailableError(f"no chain node answered: {', '.join(self.urls)}")

    def batch(self, requests_: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        """A batch request to the endpoint in use (asked again of another endpoint after a failure)."""
        for _ in range(len(self._eps)):
            i = self._active
            ep = self._eps[i]
            try:
                out = ep.provider.make_batch_request(requests_)
            except _TRANSPORT_ERRORS as exc:
                self._failed(i, exc)
                if self._active == i:
                    raise ChainUnavailableError(
                        f"the chain node {ep.url} is not reachable ({exc.__class__.__name__})"
                    ) from exc
                continue
            self._ok(i)
            return out
        raise ChainUnavailableError(f"no chain node answered: {', '.join(self.urls)}")

    def _ok(self, i: int) -> None:
        ep = self._eps[i]
        if ep.up is not True:
            with self._lock:
                ep.up, ep.error = True, None

    def _failed(self, i: int, exc: BaseException) -> None:
        """The endpoint ``i`` failed a request: mark it down and move to the best other one now."""
        with self._lock:
            ep = self._eps[i]
            ep.up, ep.error, ep.checked_at, ep.usable_streak = False, _describe(exc), time.time(), 0
        if len(self._eps) > 1:
            self.probe(skip={i})

    # ---------------------------------------------------------------- probing
    def probe(self, *, skip: set[int] | None = None) -> None:
        """Ask every endpoint for its head (in parallel), then keep or change the one in use."""
        with self._probe_lock:
            idx = [i for i in range(len(self._eps)) if not skip or i not in skip]
            heads = list(self._executor.map(self._probe_one, idx))
            now = time.time()
            with self._lock:
                for i, (head, err) in zip(idx, heads, strict=True):
                    ep = self._eps[i]
                    ep.checked_at = now
                    ep.up, ep.head, ep.error = (err is None), (head if err is None else ep.head), err
                best = max((e.head for e in self._eps if e.up and e.head is not None), default=None)
                for e in self._eps:
                    e.usable_streak = e.usable_streak + 1 if self._usable(e, best) else 0
                target = self._choose(best)
                if target is None or target == self._active:
                    return
                old = self._eps[self._active]
                why = (
                    f"{old.url} is down ({old.error})"
                    if old.up is False
                    else f"{old.url} is {best - old.head} blocks behind"
                    if self._lagging(old, best) and best is not None and old.head is not None
                    else f"{self._eps[target].url} is back"
                )
                self._switch(target, why)
        self._replay()

    def _probe_one(self, i: int) -> tuple[int | None, str | None]:
        try:
            resp = self._probes[i].provider.make_request(RPCEndpoint("eth_blockNumber"), [])
            if "result" not in resp:
                return None, f"eth_blockNumber answered {resp.get('error')}"
            return int(str(resp["result"]), 16), None
        except _TRANSPORT_ERRORS as exc:
            return None, _describe(exc)

    def _lagging(self, e: _Endpoint, best: int | None) -> bool:
        return bool(e.up and best is not None and e.head is not None and e.head < best - self.max_lag)

    def _state(self, e: _Endpoint, best: int | None) -> Literal["up", "down", "lagging", "unknown"]:
        if e.up is None:
            return "unknown"
        if not e.up:
            return "down"
        return "lagging" if self._lagging(e, best) else "up"

    def _usable(self, e: _Endpoint, best: int | None) -> bool:
        return bool(e.up) and not self._lagging(e, best)

    def _choose(self, best: int | None) -> int | None:
        """The endpoint to use now (``None``: nothing usable, stay where we are).

        An earlier endpoint that has been usable for ``return_after`` probes wins (switch back); else
        the active one while it is usable; else the first usable one in list order.
        """
        for i in range(self._active):
            e = self._eps[i]
            if self._usable(e, best) and e.usable_streak >= self.return_after:
                return i
        if self._usable(self._eps[self._active], best):
            return self._active
        for i, e in enumerate(self._eps):
            if self._usable(e, best):
                return i
        return None

    def _switch(self, target: int, why: str) -> None:
        old = self._eps[self._active].url
        self._active = target
        self.epoch += 1
        self.switches += 1
        self.switched_at = time.time()
        self.last_switch = f"{old} → {self._eps[target].url}: {why}"
        log.warning("chain endpoint switched: %s", self.last_switch)

    # ---------------------------------------------------------------- sent transactions
    def _remember(self, params: Any) -> None:
        raw = str(params[0]) if params else ""
        if not raw.startswith("0x"):
            return
        h = "0x" + keccak(hexstr=raw).hex()
        now = time.time()
        with self._lock:
            self._sent.setdefault(h, (raw, now))
            for k in [k for k, (_, t) in self._sent.items() if now - t > self.replay_window]:
                del self._sent[k]

    def _observe(self, method: str, params: Any, resp: RPCResponse) -> None:
        if method == "eth_sendRawTransaction":
            self._remember(params)
        elif method == "eth_getTransactionReceipt" and resp.get("result") and params:
            with self._lock:
                self._sent.pop(str(params[0]).lower(), None)

    def _replay(self) -> None:
        """Send every remembered, not yet receipted transaction to the endpoint now in use."""
        with self._lock:
            pending = sorted(self._sent.items(), key=lambda kv: kv[1][1])
            ep = self._eps[self._active]
        for h, (raw, _) in pending:
            try:
                got = ep.provider.make_request(RPCEndpoint("eth_getTransactionReceipt"), [h])
                if got.get("result"):
                    with self._lock:
                        self._sent.pop(h, None)
                    continue
                ep.provider.make_request(RPCEndpoint("eth_sendRawTransaction"), [raw])  # "already known" is fine
            except _TRANSPORT_ERRORS as exc:
                log.warning("replaying %s to %s failed: %s", h, ep.url, _describe(exc))
                return

    def remembered(self) -> int:
        """How many sent transactions still wait for a receipt (replayed after a switch)."""
        with self._lock:
            return len(self._sent)

    # ---------------------------------------------------------------- state
    def status(self) -> EndpointsStatus:
        with self._lock:
            best = max((e.head for e in self._eps if e.up and e.head is not None), default=None)
            eps = [
                EndpointState(
                    url=e.url,
                    state=self._state(e, best),
                    head=e.head,
                    lag=(best - e.head) if (best is not None and e.head is not None and e.up) else None,
                    error=e.error,
                    checked_at=e.checked_at,
                )
                for e in self._eps
            ]
            return EndpointsStatus(
                active=self._eps[self._active].url,
                preferred=self._eps[0].url,
                on_preferred=self._active == 0,
                epoch=self.epoch,
                switches=self.switches,
                switched_at=self.switched_at,
                last_switch=self.last_switch,
                max_lag=self.max_lag,
                endpoints=eps,
            )


def _describe(exc: BaseException) -> str:
    """A short reason for a transport failure (shown in /health and the logs)."""
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.ConnectionError | ConnectionError):
        return "connection refused or dropped"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, ValueError):
        return "the answer is not JSON-RPC"
    return exc.__class__.__name__


class FailoverProvider(JSONBaseProvider):
    """A web3 provider over an :class:`EndpointPool`: each request goes to the endpoint in use."""

    def __init__(self, pool: EndpointPool) -> None:
        super().__init__()
        self.pool = pool

    @property
    def endpoint_uri(self) -> str:
        return self.pool.active_url

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        return self.pool.request(str(method), params)

    def make_batch_request(self, requests_: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        return self.pool.batch(requests_)

    def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            return "result" in self.pool.request("eth_blockNumber", [])
        except ChainUnavailableError:
            if show_traceback:
                raise
            return False

    def __str__(self) -> str:
        return f"failover RPC connection {self.pool.active_url} (of {len(self.pool.urls)})"
