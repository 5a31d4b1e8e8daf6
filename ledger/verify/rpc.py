"""A JSON-RPC transport for the verifier with nothing but the standard library (``urllib``, ``json``).

It carries the few calls the readers of :mod:`ledger.core.chainlog` make: ``eth_chainId``, ``eth_call``
of the contracts' views, one-block ``eth_getLogs`` for the back-link walks, and batches of block
headers for block times (at most 50 per request)::

    rpc = JsonRpc("http://127.0.0.1:8545")
    facts = read_case_facts(rpc, ledger="0x…", accepting_hall=1, serial="TB…")
    rpc.calls, rpc.methods      # HTTP requests made, and the calls by method

No web3, no eth_* packages, no requests/httpx: an auditor can install and read this alone.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from ledger.core.chainlog import MAX_BATCH, read_case_facts, read_merkle_facts
from ledger.core.jsonsafe import loads_bounded
from ledger.errors import ChainError, ChainUnavailableError, InputError

MAX_ANSWER_BYTES = 64 * 1024 * 1024
"""largest JSON-RPC answer read (a batch of 50 block headers is about 50 KiB)"""

__all__ = ["MAX_BATCH", "JsonRpc", "read_case_facts", "read_merkle_facts"]


class JsonRpc:
    """Plain JSON-RPC 2.0 over HTTP POST; counts HTTP requests (:attr:`calls`) and calls by method."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise InputError("rpc", "rpc_url_scheme", url=url)
        self.url = url
        self.timeout = timeout
        self.calls = 0
        self.methods: dict[str, int] = {}
        self._id = 0

    def _post(self, body: Any) -> Any:
        data = json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url, data=data, headers={"Content-Type": "application/json"})
        self.calls += 1
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 (scheme checked above)
                raw = resp.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise ChainError(f"the chain endpoint {self.url} answered HTTP {exc.code}") from exc
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            raise ChainUnavailableError(f"the chain endpoint {self.url} does not answer") from exc
        try:
            return loads_bounded(raw, what="rpc", max_bytes=MAX_ANSWER_BYTES)
        except InputError as exc:  # not JSON, too large or too deeply nested
            raise ChainError(f"the chain endpoint {self.url} did not answer with usable JSON ({exc.message})") from exc

    def _message(self, method: str, params: list[Any]) -> dict[str, Any]:
        self._id += 1
        self.methods[method] = self.methods.get(method, 0) + 1
        return {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}

    @staticmethod
    def _result(method: str, resp: Any) -> Any:
        if not isinstance(resp, dict):
            raise ChainError(f"the chain endpoint answered {method} with something that is not JSON-RPC")
        if "error" in resp:
            err = resp["error"]
            msg = err.get("message") if isinstance(err, dict) else err
            raise ChainError(f"the chain endpoint refused {method}: {msg}")
        return resp.get("result")

    def call(self, method: str, params: list[Any]) -> Any:
        return self._result(method, self._post(self._message(method, params)))

    def batch(self, method: str, params_list: Sequence[list[Any]]) -> list[Any]:
        """The same method for many parameter lists, in batch requests of at most :data:`MAX_BATCH`."""
        out: list[Any] = []
        for i in range(0, len(params_list), MAX_BATCH):
            msgs = [self._message(method, p) for p in params_list[i : i + MAX_BATCH]]
            resp = self._post(msgs)
            if not isinstance(resp, list):
                raise ChainError(f"the chain endpoint answered a batch of {method} with something that is not a list")
            by_id = {r.get("id"): r for r in resp if isinstance(r, dict)}
            out.extend(self._result(method, by_id.get(m["id"])) for m in msgs)
        return out
