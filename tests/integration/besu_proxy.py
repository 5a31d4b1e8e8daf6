"""A JSON-RPC proxy in front of anvil that enforces Besu's documented defaults, for the bounded-read tests.

Besu refuses an ``eth_getLogs`` whose range is above ``--rpc-max-logs-range`` (default 1,000 blocks)
and a batch above ``--rpc-http-max-batch-size`` (default 1,024); this proxy answers those with the
same kind of JSON-RPC error and forwards everything else. It counts requests and calls by method, so
a test can say how many a read costs.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["BesuLimitsProxy"]

MAX_LOGS_RANGE = 1000
MAX_BATCH = 1024


class BesuLimitsProxy:
    def __init__(self, upstream: str, *, max_logs_range: int = MAX_LOGS_RANGE) -> None:
        self.upstream = upstream
        self.max_logs_range = max_logs_range
        self.requests = 0
        self.methods: Counter[str] = Counter()
        self.refused: list[str] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                out = proxy.handle(body)
                raw = json.dumps(out).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> BesuLimitsProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.methods.clear()
            self.refused.clear()

    def _forward(self, body: Any) -> Any:
        req = urllib.request.Request(
            self.upstream, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def _head(self) -> int:
        out = self._forward({"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []})
        return int(out["result"], 16)

    def _block(self, tag: Any, head: int) -> int:
        if tag in (None, "latest", "pending", "safe", "finalized"):
            return head
        if tag == "earliest":
            return 0
        return int(str(tag), 16)

    def _check(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            self.methods[str(msg.get("method"))] += 1
        if msg.get("method") != "eth_getLogs":
            return None
        flt = (msg.get("params") or [{}])[0]
        if "blockHash" in flt:
            return None
        head = self._head()
        lo, hi = self._block(flt.get("fromBlock", "latest"), head), self._block(flt.get("toBlock", "latest"), head)
        if hi - lo + 1 > self.max_logs_range:
            with self._lock:
                self.refused.append(f"eth_getLogs {lo}..{hi}")
            # Besu's answer to a range above --rpc-max-logs-range
            error = {"code": -32005, "message": "Requested range exceeds maximum RPC range limit"}
            return {"jsonrpc": "2.0", "id": msg.get("id"), "error": error}
        return None

    def handle(self, body: Any) -> Any:
        with self._lock:
            self.requests += 1
        if isinstance(body, list):
            if len(body) > MAX_BATCH:
                with self._lock:
                    self.refused.append(f"batch of {len(body)}")
                error = {"code": -32005, "message": "Number of requests exceeds max batch size"}
                return {"jsonrpc": "2.0", "id": None, "error": error}
            refusals = [self._check(m) for m in body]
            if any(refusals):
                ok = [{"jsonrpc": "2.0", "id": m.get("id"), "result": None} for m in body]
                return [r or o for r, o in zip(refusals, ok, strict=True)]
            return self._forward(body)
        refused = self._check(body)
        return refused if refused is not None else self._forward(body)
