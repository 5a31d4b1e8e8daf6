"""The Besu-limits proxy (tests/support/besu_proxy.py) in front of a real anvil: it refuses exactly
what a default Besu node refuses, with Besu's codes and messages, and fails on demand."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ledger.dev.devchain import DevChain
from tests.support.besu_proxy import (
    BATCH_TOO_LARGE,
    BESU_MAX_BATCH_SIZE,
    BESU_MAX_LOGS_RANGE,
    BESU_MAX_REQUEST_CONTENT_LENGTH,
    INVALID_PARAMS,
    RANGE_TOO_LARGE,
    BesuProxy,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def long_chain(dev_chain: DevChain) -> DevChain:
    """The session's anvil, at least 1,100 blocks long (empty blocks mined at once)."""
    head = int(_rpc(dev_chain.rpc_url, "eth_blockNumber")["result"], 16)
    if head < 1100:
        _rpc(dev_chain.rpc_url, "anvil_mine", [hex(1100 - head)])
    return dev_chain


@pytest.fixture
def proxy(long_chain: DevChain) -> Iterator[BesuProxy]:
    with BesuProxy(upstream=long_chain.rpc_url) as p:
        yield p


def _rpc(url: str, method: str, params: list[Any] | None = None, *, timeout: float = 10) -> Any:
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params or []}
    return httpx.post(url, json=body, timeout=timeout).json()


def _logs(url: str, lo: int | str, hi: int | str) -> Any:
    flt = {"fromBlock": lo if isinstance(lo, str) else hex(lo), "toBlock": hi if isinstance(hi, str) else hex(hi)}
    return _rpc(url, "eth_getLogs", [flt])


def test_logs_range_is_counted_as_besu_does(proxy: BesuProxy) -> None:
    assert BESU_MAX_LOGS_RANGE == 1000
    ok = _logs(proxy.url, 10, 10 + BESU_MAX_LOGS_RANGE)  # toBlock - fromBlock == 1000: allowed
    assert "result" in ok and proxy.refusals == []
    refused = _logs(proxy.url, 10, 11 + BESU_MAX_LOGS_RANGE)
    assert refused == {"jsonrpc": "2.0", "id": 7, "error": RANGE_TOO_LARGE}
    assert RANGE_TOO_LARGE == {"code": -32005, "message": "Requested range exceeds maximum RPC range limit"}
    assert [r.kind for r in proxy.refusals] == ["logs_range"]
    # the same query without the proxy: anvil itself has no limit
    assert "result" in _logs(proxy.upstream, 10, 11 + BESU_MAX_LOGS_RANGE)


def test_tags_resolve_to_the_head_and_earliest_to_zero(proxy: BesuProxy) -> None:
    assert _logs(proxy.url, "earliest", "latest")["error"] == RANGE_TOO_LARGE
    assert "result" in _logs(proxy.url, "latest", "latest")
    head = int(_rpc(proxy.url, "eth_blockNumber")["result"], 16)
    # the chain keeps mining between the two calls: "latest" is at least `head`, so one block more than
    # the limit below it is always refused, and a range well inside the limit always passes
    assert _logs(proxy.url, head - BESU_MAX_LOGS_RANGE - 1, "latest")["error"] == RANGE_TOO_LARGE
    assert "result" in _logs(proxy.url, head - BESU_MAX_LOGS_RANGE + 30, "latest")


def test_filter_beyond_the_head_or_reversed_is_invalid_params(proxy: BesuProxy) -> None:
    head = int(_rpc(proxy.url, "eth_blockNumber")["result"], 16)
    assert _logs(proxy.url, head - 5, head + 50)["error"] == INVALID_PARAMS
    assert _logs(proxy.url, 20, 10)["error"] == INVALID_PARAMS
    assert INVALID_PARAMS == {"code": -32602, "message": "Invalid params"}
    assert [r.kind for r in proxy.refusals] == ["block_range", "block_range"]


def test_batch_size_limit_answers_one_error_object(proxy: BesuProxy) -> None:
    def batch(n: int) -> Any:
        body = [{"jsonrpc": "2.0", "id": i, "method": "eth_chainId", "params": []} for i in range(n)]
        return httpx.post(proxy.url, json=body, timeout=30).json()

    full = batch(BESU_MAX_BATCH_SIZE)
    assert isinstance(full, list) and len(full) == BESU_MAX_BATCH_SIZE and all("result" in a for a in full)
    over = batch(BESU_MAX_BATCH_SIZE + 1)
    assert over == {"jsonrpc": "2.0", "id": None, "error": BATCH_TOO_LARGE}
    assert BATCH_TOO_LARGE == {"code": -32005, "message": "Number of requests exceeds max batch size"}


def test_range_is_checked_per_request_inside_a_batch(proxy: BesuProxy) -> None:
    flt_ok = {"fromBlock": hex(1), "toBlock": hex(2)}
    flt_big = {"fromBlock": hex(1), "toBlock": hex(1100)}
    body = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [flt_ok]},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_getLogs", "params": [flt_big]},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_chainId", "params": []},
    ]
    got = {a["id"]: a for a in httpx.post(proxy.url, json=body, timeout=10).json()}
    assert "result" in got[1] and got[2]["error"] == RANGE_TOO_LARGE and "result" in got[3]


def test_request_body_over_the_limit_is_http_413(proxy: BesuProxy) -> None:
    assert BESU_MAX_REQUEST_CONTENT_LENGTH == 5 * 1024 * 1024
    call = {"data": "0x" + "00" * (BESU_MAX_REQUEST_CONTENT_LENGTH // 2)}
    payload = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [call, "latest"]})
    assert len(payload) > BESU_MAX_REQUEST_CONTENT_LENGTH
    r = httpx.post(proxy.url, content=payload, headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 413 and r.text == "Request Entity Too Large"
    assert [x.kind for x in proxy.refusals] == ["content_length"]


def test_stop_answering_refuse_hang_and_lag(proxy: BesuProxy) -> None:
    assert "result" in _rpc(proxy.url, "eth_blockNumber")
    proxy.stop_answering("refuse")
    with pytest.raises(httpx.ConnectError):
        _rpc(proxy.url, "eth_blockNumber", timeout=2)
    proxy.resume()
    assert "result" in _rpc(proxy.url, "eth_blockNumber")
    proxy.stop_answering("hang")
    started = time.monotonic()
    with pytest.raises(httpx.TimeoutException):
        _rpc(proxy.url, "eth_blockNumber", timeout=1)
    assert time.monotonic() - started >= 0.9
    proxy.resume()
    real = int(_rpc(proxy.upstream, "eth_blockNumber")["result"], 16)
    proxy.lag(40)
    seen = int(_rpc(proxy.url, "eth_blockNumber")["result"], 16)
    latest = int(_rpc(proxy.url, "eth_getBlockByNumber", ["latest", False])["result"]["number"], 16)
    after = int(_rpc(proxy.upstream, "eth_blockNumber")["result"], 16)
    # blocks keep coming meanwhile (0.2 s blocks): each answer is 40 behind the upstream's head at that moment
    assert real - 40 <= seen <= latest <= after - 40
    proxy.resume()
    assert int(_rpc(proxy.url, "eth_blockNumber")["result"], 16) >= real
