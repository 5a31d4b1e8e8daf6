"""Operations view of a hall node: health problems in words, Prometheus metrics, the local admin token.

* :func:`problems` turns the node's health numbers into a list of named problems, each said in
  zh-CN and English, with the thresholds from :class:`~node_api.core.config.Settings`.
* :class:`NodeCollector` computes the node's gauges and counters at scrape time (no global state:
  each app registers it in its own :class:`prometheus_client.CollectorRegistry`).
* :class:`LatencyMiddleware` observes request latency by route template and status.
* The admin token (``<data_dir>/admin.token``, mode 0600, new at every start) lets an operator with
  file access to the hall directory (the same trust as the keystore password file) take a backup
  through the running node: ``caseledger backup``.
"""

from __future__ import annotations

import hmac
import math
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.hall.backup import ADMIN_TOKEN_FILE

if TYPE_CHECKING:
    from node_api.core.config import Settings
    from node_api.core.node import HallNode

__all__ = [
    "LatencyMiddleware",
    "NodeCollector",
    "Problem",
    "check_admin_token",
    "make_registry",
    "problems",
    "write_admin_token",
]


Problem = dict[str, str]


def _p(code: str, zh: str, en: str) -> Problem:
    return {"code": code, "zh": zh, "en": en}


def problems(h: dict[str, Any], settings: Settings) -> list[Problem]:
    """What is wrong with the node, from its health numbers (``HallNode.health_numbers``)."""
    out: list[Problem] = []
    chain_ok = bool(h["chain"]["connected"])
    if not chain_ok:
        url = h["chain"]["rpc_url"]
        out.append(
            _p(
                "chain_unreachable",
                f"无法连接区块链节点（{url}）；新事件保存在待上链队列中，恢复后自动上链",
                f"the chain node is unreachable ({url}); new events wait in the outbox and are anchored "
                "when it is back",
            )
        )
    ob = h["outbox"]
    age, limit = ob["oldest_pending_age"], settings.health_outbox_stale_after
    if age is not None and age > limit:
        why = f": {ob['last_error']}" if ob.get("last_error") else ""
        out.append(
            _p(
                "outbox_stale",
                f"待上链队列有 {ob['pending']} 个事件，最早的已等待 {age:.0f} 秒（阈值 {limit:.0f} 秒）",
                f"{ob['pending']} event(s) wait in the outbox, the oldest for {age:.0f}s (threshold {limit:.0f}s){why}",
            )
        )
    if ob["refused"]:
        out.append(
            _p(
                "outbox_refused",
                f"{ob['refused']} 个事件被链上合约拒绝，需要管理员处理",
                f"{ob['refused']} event(s) were refused by the contract and need an administrator",
            )
        )
    ix = h["indexer"]
    max_lag = settings.health_indexer_max_lag
    if ix["lag"] is not None and ix["lag"] > max_lag:
        out.append(
            _p(
                "indexer_lagging",
                f"链上事件索引落后 {ix['lag']} 个区块（阈值 {max_lag}）",
                f"the indexer is {ix['lag']} blocks behind the chain (threshold {max_lag})",
            )
        )
    if ix["last_error"] and chain_ok:
        out.append(
            _p("indexer_error", f"链上事件索引出错：{ix['last_error']}", f"the indexer fails: {ix['last_error']}")
        )
    tr = h["transfers"]
    if tr.get("refused"):
        out.append(
            _p(
                "transfer_refused",
                f"{tr['refused']} 个办件从其他大厅收到的数据未通过链上核验，已拒收",
                f"{tr['refused']} case package(s) from other halls failed verification against the chain "
                "and were refused",
            )
        )
    if tr.get("failing"):
        n = settings.health_transfer_attempts
        out.append(
            _p(
                "transfers_failing",
                f"{tr['failing']} 个办件从其他大厅拉取已连续失败 {n} 次以上，正在重试",
                f"{tr['failing']} case transfer(s) from other halls failed {n}+ times in a row and are being retried",
            )
        )
    at = h["access_trail"]
    if at.get("last_error") and chain_ok:
        out.append(
            _p(
                "access_trail_unanchored",
                f"访问留痕未能上链：{at['last_error']}",
                f"the access trail could not be anchored: {at['last_error']}",
            )
        )
    return out


# ------------------------------------------------------------------------------------------ metrics
def _g(name: str, doc: str, value: float | None, labels: dict[str, str] | None = None) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc, labels=list(labels or {}))
    g.add_metric(list((labels or {}).values()), math.nan if value is None else float(value))
    return g


def _c(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=float(value))


class NodeCollector(Collector):
    """The node's state, read at scrape time. Counts and ages only: no serials, names or personal data."""

    def __init__(self, node: HallNode) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        n = self.node
        h = n.health_numbers()
        ob, ix, tr = h["outbox"], h["indexer"], n.transfers
        yield _g(
            "caseledger_hall_info",
            "this hall (value 1)",
            1,
            {"hall_id": str(n.hall.hall_id), "district": str(n.hall.district)},
        )
        yield _g("caseledger_chain_up", "1 if the chain node answers, else 0", 1 if h["chain"]["connected"] else 0)
        yield _g("caseledger_chain_head_block", "latest block the node saw", h["chain"]["block"])
        yield _g("caseledger_outbox_pending", "events waiting to be anchored", ob["pending"])
        yield _g(
            "caseledger_outbox_oldest_pending_age_seconds",
            "age of the oldest pending event (0 if none)",
            ob["oldest_pending_age"] or 0.0,
        )
        yield _g("caseledger_outbox_refused", "events the contract refused (held for an administrator)", ob["refused"])
        yield _c("caseledger_anchored_events", "events anchored by this process", n.sender.anchored_total)
        yield _g("caseledger_indexer_cursor_block", "last block indexed", ix["cursor"])
        yield _g("caseledger_indexer_lag_blocks", "blocks between the chain head and the indexer", ix["lag"])
        yield _g(
            "caseledger_transfer_jobs_open", "cases with records still to pull from other halls", h["transfers"]["open"]
        )
        yield _g(
            "caseledger_transfer_jobs_retrying", "open pulls that failed at least once", h["transfers"]["retrying"]
        )
        yield _c("caseledger_transfer_completed", "case pulls completed", tr.completed_total)
        yield _c("caseledger_transfer_failures", "failed pull attempts (each is retried)", tr.failures_total)
        yield _c(
            "caseledger_transfer_refused",
            "packages refused: a record or file did not verify against the chain",
            tr.refused_total,
        )
        yield _c(
            "caseledger_transfer_records_received",
            "verified records received from other halls",
            tr.records_received_total,
        )
        checks = CounterMetricFamily(
            "caseledger_dispute_verifications", "stored dispute verifications by verdict", labels=["verdict"]
        )
        counts = n.verification_counts()
        for verdict in ("match", "mismatch"):
            checks.add_metric([verdict], float(counts.get(verdict, 0)))
        yield checks
        at = h["access_trail"]
        yield _g(
            "caseledger_access_trail_unanchored",
            "access-trail entries not yet anchored",
            max(0, at["size"] - at["anchored"]),
        )
        yield _g("caseledger_health_problems", "problems /health reports", len(problems(h, n.settings)))


REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def make_registry(node_getter: Callable[[], HallNode | None]) -> tuple[CollectorRegistry, Histogram]:
    """A fresh registry with the request histogram and (once the node exists) the node collector."""
    registry = CollectorRegistry(auto_describe=True)
    latency = Histogram(
        "caseledger_http_request_duration_seconds",
        "request latency by route template, method and status",
        ["method", "route", "status"],
        registry=registry,
        buckets=REQUEST_BUCKETS,
    )

    class _Lazy(Collector):
        def collect(self) -> Iterator[Metric]:
            node = node_getter()
            if node is not None:
                yield from NodeCollector(node).collect()

    registry.register(_Lazy())
    return registry, latency


class LatencyMiddleware:
    """Pure ASGI middleware: observes each HTTP request under its route template (``/cases/{serial}``)."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.histogram.labels(scope.get("method", "GET"), template, str(status)).observe(
                time.perf_counter() - start
            )


# ------------------------------------------------------------------------------------------ admin token
def write_admin_token(data_dir: Path) -> str:
    """A fresh random token in ``<data_dir>/admin.token`` (0600), readable by whoever may read the hall dir."""
    token = secrets.token_urlsafe(32)
    path = data_dir / ADMIN_TOKEN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    return token


def check_admin_token(expected: str | None, sent: str | None) -> bool:
    return bool(expected and sent and hmac.compare_digest(expected.encode(), sent.strip().encode()))
