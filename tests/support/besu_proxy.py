"""A JSON-RPC proxy that refuses what Hyperledger Besu refuses, in front of anvil or geth (a test fixture).

Besu cannot be installed here, so the tests put this proxy between the code and a real chain node.
It forwards every request unchanged and answers, as Besu's HTTP JSON-RPC service does, the requests
that cross one of Besu's limits::

    with BesuProxy(upstream="http://127.0.0.1:8545") as proxy:
        client = ChainClient.connect(proxy.url, deployment=dep)
        ...
        assert proxy.refusals == []         # the code stayed within every limit

It can also be told to fail the way a chain node fails, for the failover tests::

    proxy.stop_answering("refuse")   # connections refused (the node process is gone)
    proxy.stop_answering("hang")     # connections accepted, no answer (a hung or cut-off node)
    proxy.lag(30)                    # its head stays 30 blocks behind the upstream's (stopped importing)
    proxy.resume()

What Besu does, read in its source (hyperledger/besu at 3fd224e2, March 2026; class names below):

* ``eth_getLogs`` over too many blocks (``EthGetLogs``): refused when ``toBlock - fromBlock`` exceeds
  ``--rpc-max-logs-range`` (so ``[b, b + 1000]``, 1,001 blocks, is still allowed at 1,000), with JSON-RPC
  error ``-32005`` ``"Requested range exceeds maximum RPC range limit"``
  (``RpcErrorType.EXCEEDS_RPC_MAX_BLOCK_RANGE``), HTTP 200. The option's default was 1,000 when it
  was added (PR #4597, Besu 22.10/23.1) and has been 5,000 since PR #5209 (March 2023); this proxy
  enforces 1,000, the stricter value, which ``caseledger network init`` writes explicitly into every
  node's ``config.toml``.
* A filter whose ``fromBlock`` is after its ``toBlock``, or whose ``toBlock`` is beyond the head
  (``FilterParameter.validateBlockRange``, PR #9604, January 2026): ``-32602`` ``"Invalid params"``.
* A batch of more than ``--rpc-http-max-batch-size`` requests (``JsonRpcArrayExecutor``; default
  1,024 since PR #5108): one error object, not an array, ``{"jsonrpc": "2.0", "id": null, "error":
  {"code": -32005, "message": "Number of requests exceeds max batch size"}}``, HTTP 200.
* A body longer than ``--rpc-http-max-request-content-length`` (Vert.x ``BodyHandler.setBodyLimit``
  in ``JsonRpcHttpService``): HTTP 413. The body of that answer is written by Vert.x's router, not by
  Besu (the status's reason phrase, ``Request Entity Too Large``); it is not a JSON-RPC answer. The
  default was 5 MiB from PR #5467 (Besu 23.4) and is 128 MiB since PR #8877 (July 2025); this proxy
  enforces 5 MiB, the stricter one.

Block tags are resolved as Besu does for these checks: ``latest``/``pending``/``safe``/``finalized``
as the head (a QBFT block is final once sealed), ``earliest`` as 0, a missing bound as ``latest``.

This module imports nothing from ``ledger``: it stands for the other side of the wire.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import httpx

__all__ = [
    "BATCH_TOO_LARGE",
    "BESU_MAX_BATCH_SIZE",
    "BESU_MAX_LOGS_RANGE",
    "BESU_MAX_REQUEST_CONTENT_LENGTH",
    "INVALID_PARAMS",
    "RANGE_TOO_LARGE",
    "BesuProxy",
    "Refusal",
]

BESU_MAX_LOGS_RANGE = 1000
BESU_MAX_BATCH_SIZE = 1024
BESU_MAX_REQUEST_CONTENT_LENGTH = 5 * 1024 * 1024

RANGE_TOO_LARGE = {"code": -32005, "message": "Requested range exceeds maximum RPC range limit"}
BATCH_TOO_LARGE = {"code": -32005, "message": "Number of requests exceeds max batch size"}
INVALID_PARAMS = {"code": -32602, "message": "Invalid params"}
BODY_TOO_LARGE_STATUS = 413
BODY_TOO_LARGE_TEXT = "Request Entity Too Large"

_HEAD_TAGS = frozenset({"latest", "pending", "safe", "finalized"})

Mode = Literal["answer", "refuse", "hang"]


@dataclass(frozen=True)
class Refusal:
    """One request the proxy refused as Besu would: ``kind`` is ``logs_range``, ``block_range``,
    ``batch_size`` or ``content_length``; ``detail`` says by how much."""

    kind: str
    detail: str
    at: float = field(default_factory=time.time)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: BesuProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as web3's requests session expects
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return

    def do_GET(self) -> None:  # Besu answers GET / with an empty 200 (liveness of the HTTP service)
        if self.server.proxy._gate(self):
            self._send(200, b"", "text/plain")

    def do_POST(self) -> None:
        proxy = self.server.proxy
        if not proxy._gate(self):
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > proxy.max_request_content_length:
            proxy._refuse("content_length", f"{length} bytes > {proxy.max_request_content_length}")
            self.close_connection = True  # the body is not read: the connection cannot be reused
            self._send(BODY_TOO_LARGE_STATUS, BODY_TOO_LARGE_TEXT.encode(), "text/plain")
            return
        body = self.rfile.read(length)
        status, payload = proxy._handle(body)
        self._send(status, payload, "application/json")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class BesuProxy:
    """Forward JSON-RPC to ``upstream``, refusing what a default-configured Besu node refuses.

    ``refusals`` lists every refused request; ``calls`` counts forwarded and refused calls by method
    (each request of a batch counts once); ``http_requests`` counts HTTP requests.
    """

    def __init__(
        self,
        *,
        upstream: str,
        host: str = "127.0.0.1",
        port: int = 0,
        max_logs_range: int = BESU_MAX_LOGS_RANGE,
        max_batch_size: int = BESU_MAX_BATCH_SIZE,
        max_request_content_length: int = BESU_MAX_REQUEST_CONTENT_LENGTH,
        check_block_range: bool = True,
        upstream_timeout: float = 30.0,
    ) -> None:
        self.upstream = upstream
        self.host = host
        self.max_logs_range = max_logs_range
        self.max_batch_size = max_batch_size
        self.max_request_content_length = max_request_content_length
        self.check_block_range = check_block_range
        self.refusals: list[Refusal] = []
        self.calls: Counter[str] = Counter()
        self.http_requests = 0
        self._lock = threading.Lock()
        self._mode: Mode = "answer"
        self._lag = 0
        self._delay = 0.0
        self._resumed = threading.Event()
        self._resumed.set()
        self._http = httpx.Client(timeout=upstream_timeout, limits=httpx.Limits(max_connections=64))
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = port

    # ---------------------------------------------------------------- life cycle
    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    def start(self) -> BesuProxy:
        self._listen()
        return self

    def close(self) -> None:
        self._resumed.set()
        self._unlisten()
        self._http.close()

    def __enter__(self) -> BesuProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _listen(self) -> None:
        server = _Server((self.host, self._port), _Handler)
        server.proxy = self
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=f"besu-proxy-{self._port}", daemon=True)
        self._thread.start()

    def _unlisten(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # ---------------------------------------------------------------- failure modes
    @property
    def mode(self) -> Mode:
        return self._mode

    def stop_answering(self, mode: Literal["refuse", "hang"] = "refuse") -> None:
        """``refuse``: the port is closed and open connections are dropped (a node that is gone);
        ``hang``: connections are accepted and never answered (a hung node, or one cut off by a
        firewall that drops packets) until :meth:`resume`."""
        with self._lock:
            self._mode = mode
            self._resumed.clear()
        if mode == "refuse":
            self._unlisten()

    def resume(self) -> None:
        """Answer again (on the same port) and stop lagging."""
        with self._lock:
            was, self._mode, self._lag = self._mode, "answer", 0
            self._resumed.set()
        if was == "refuse" or self._server is None:
            deadline = time.monotonic() + 10
            while True:
                try:
                    self._listen()
                    return
                except OSError:  # the old socket may linger for a moment
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)

    def lag(self, blocks: int) -> None:
        """Answer ``eth_blockNumber`` (and resolve ``latest``) ``blocks`` behind the upstream's head.

        It stands for a node that stopped importing blocks while it still answers; other calls still
        see the upstream's state.
        """
        with self._lock:
            self._lag = max(0, blocks)

    def slow(self, seconds: float) -> None:
        """Answer every request ``seconds`` late (a node under load, far away or swapping); 0 ends it."""
        with self._lock:
            self._delay = max(0.0, seconds)

    def _gate(self, handler: _Handler) -> bool:
        """False when the request must go unanswered (the connection is then closed)."""
        with self._lock:
            self.http_requests += 1
            mode, delay = self._mode, self._delay
        if delay:
            time.sleep(delay)
        if mode == "answer":
            return True
        if mode == "hang":
            self._resumed.wait(timeout=120)
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return False

    def _refuse(self, kind: str, detail: str) -> None:
        with self._lock:
            self.refusals.append(Refusal(kind, detail))

    # ---------------------------------------------------------------- JSON-RPC
    def _handle(self, body: bytes) -> tuple[int, bytes]:
        try:
            req = json.loads(body)
        except ValueError:
            return self._forward_raw(body)
        if isinstance(req, list):
            return 200, json.dumps(self._batch(req)).encode()
        if not isinstance(req, dict):
            return self._forward_raw(body)
        self._count([req])
        err = self._check(req)
        if err is not None:
            return 200, json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "error": err}).encode()
        return 200, json.dumps(self._rewrite_out(req, self._forward(self._rewrite_in(req)))).encode()

    def _batch(self, reqs: list[Any]) -> Any:
        if self.max_batch_size > 0 and len(reqs) > self.max_batch_size:
            self._refuse("batch_size", f"{len(reqs)} requests > {self.max_batch_size}")
            return {"jsonrpc": "2.0", "id": None, "error": BATCH_TOO_LARGE}
        self._count([r for r in reqs if isinstance(r, dict)])
        answers: list[Any] = [None] * len(reqs)
        forward: list[tuple[int, dict[str, Any]]] = []
        for i, r in enumerate(reqs):
            err = self._check(r) if isinstance(r, dict) else None
            if err is not None:
                answers[i] = {"jsonrpc": "2.0", "id": r.get("id"), "error": err}
            elif isinstance(r, dict):
                forward.append((i, self._rewrite_in(r)))
        if forward:
            got = self._forward([r for _, r in forward])
            if not isinstance(got, list) or len(got) != len(forward):
                return got
            by_id = {json.dumps(a.get("id")): a for a in got if isinstance(a, dict)}
            unique = len(by_id) == len(got)
            for n, (i, r) in enumerate(forward):
                a = by_id.get(json.dumps(r.get("id"))) if unique else got[n]
                answers[i] = self._rewrite_out(reqs[i], a)
        return [a for a in answers if a is not None]

    def _count(self, reqs: list[dict[str, Any]]) -> None:
        with self._lock:
            for r in reqs:
                self.calls[str(r.get("method"))] += 1

    def _forward(self, payload: Any) -> Any:
        resp = self._http.post(self.upstream, json=payload)
        return resp.json()

    def _forward_raw(self, body: bytes) -> tuple[int, bytes]:
        resp = self._http.post(self.upstream, content=body, headers={"Content-Type": "application/json"})
        return resp.status_code, resp.content

    def _head(self) -> int:
        got = self._forward({"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []})
        return max(0, int(got["result"], 16) - self._lag)

    def _block(self, tag: Any, head: int) -> int | None:
        if tag is None or tag in _HEAD_TAGS:
            return head
        if tag == "earliest":
            return 0
        if isinstance(tag, str):
            try:
                return int(tag, 16) if tag.startswith("0x") else int(tag)
            except ValueError:
                return None
        return tag if isinstance(tag, int) else None

    def _check(self, req: dict[str, Any]) -> dict[str, Any] | None:
        """Besu's error for this request, or ``None`` if Besu would execute it."""
        if req.get("method") != "eth_getLogs":
            return None
        params = req.get("params") or []
        flt = params[0] if params and isinstance(params[0], dict) else None
        if flt is None or flt.get("blockHash"):
            return None
        head = self._head()
        lo, hi = self._block(flt.get("fromBlock"), head), self._block(flt.get("toBlock"), head)
        if lo is None or hi is None:
            return INVALID_PARAMS
        if self.check_block_range and (lo > hi or hi > head):
            self._refuse("block_range", f"fromBlock {lo}, toBlock {hi}, head {head}")
            return INVALID_PARAMS
        if self.max_logs_range > 0 and hi - lo > self.max_logs_range:
            self._refuse("logs_range", f"blocks {lo}..{hi}: {hi - lo} > {self.max_logs_range}")
            return RANGE_TOO_LARGE
        return None

    def _rewrite_in(self, req: dict[str, Any]) -> dict[str, Any]:
        """While lagging, ``latest`` means the lagging head."""
        if not self._lag:
            return req
        method, params = req.get("method"), list(req.get("params") or [])
        if method == "eth_getBlockByNumber" and params and params[0] in _HEAD_TAGS:
            params[0] = hex(self._head())
        elif method == "eth_getLogs" and params and isinstance(params[0], dict):
            flt = dict(params[0])
            for k in ("fromBlock", "toBlock"):
                if flt.get(k, "latest") in _HEAD_TAGS and not flt.get("blockHash"):
                    flt[k] = hex(self._head())
            params[0] = flt
        else:
            return req
        return {**req, "params": params}

    def _rewrite_out(self, req: Any, answer: Any) -> Any:
        if self._lag and isinstance(req, dict) and req.get("method") == "eth_blockNumber" and "result" in answer:
            return {**answer, "result": hex(max(0, int(answer["result"], 16) - self._lag))}
        return answer


def main() -> None:
    """``python -m tests.support.besu_proxy --upstream URL [--port N]``: run the proxy by hand."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--max-logs-range", type=int, default=BESU_MAX_LOGS_RANGE)
    ap.add_argument("--max-batch-size", type=int, default=BESU_MAX_BATCH_SIZE)
    ap.add_argument("--max-request-content-length", type=int, default=BESU_MAX_REQUEST_CONTENT_LENGTH)
    a = ap.parse_args()
    proxy = BesuProxy(
        upstream=a.upstream,
        host=a.host,
        port=a.port,
        max_logs_range=a.max_logs_range,
        max_batch_size=a.max_batch_size,
        max_request_content_length=a.max_request_content_length,
    ).start()
    print(proxy.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        proxy.close()


if __name__ == "__main__":
    main()
