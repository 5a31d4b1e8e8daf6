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
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.hall.backup import ADMIN_TOKEN_FILE
from ledger.hall.health import HealthNumbers, Problem

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


_STARTED = time.time()


def _p(code: str, zh: str, en: str) -> Problem:
    return Problem(code=code, zh=zh, en=en)


def problems(h: HealthNumbers, settings: Settings) -> list[Problem]:
    """What is wrong with the node, from its health numbers (``HallNode.health_numbers``)."""
    out: list[Problem] = []
    st = h.store
    if st.full:
        free = st.free_bytes // 1024
        out.append(
            _p(
                "storage_full",
                f"本厅存储空间已满（剩余 {free} KiB）：新的办件和操作暂时无法保存，已保存的办件可照常查看；"
                "请清理磁盘，空间恢复后自动继续",
                f"the hall's disk is full ({free} KiB free): nothing new can be saved, reads keep working; "
                "free space and it resumes by itself",
            )
        )
    if st.damage:
        out.append(
            _p(
                "store_damaged",
                f"本厅数据存储损坏：{st.damage}；请按运维手册从备份恢复或从其他大厅重新获取",
                f"the hall's store is damaged: {st.damage}; restore the latest backup or re-fetch from the "
                "peer halls (docs/operations.md)",
            )
        )
    sc = h.serial_check
    if not sc.done:
        why = f"（{sc.last_error}）" if sc.last_error else ""
        if sc.waiting_for_batch is not None:
            err = f": {sc.last_error}" if sc.last_error else ""
            out.append(
                _p(
                    "serial_check",
                    f"本厅恢复备份后，链上还有本厅备份之后上链的批次（第 {sc.waiting_for_batch} 批起，"
                    f"链上共 {sc.own_batches_on_chain} 批）：正在核对办件编号并从其他大厅取回这些批次，"
                    f"完成前暂停受理新办件{why}",
                    "the chain holds this hall's batches anchored after its backup (from batch "
                    f"{sc.waiting_for_batch}, {sc.own_batches_on_chain} on chain): the serials are checked and "
                    f"those batches fetched back from the other halls; intake resumes when it is done{err}",
                )
            )
        else:
            out.append(
                _p(
                    "serial_check",
                    f"本厅正在与链上记录核对办件编号，核对完成前暂停受理新办件{why}",
                    "this hall is checking its case serials against the chain after a restore; intake resumes "
                    f"when it is done{': ' + sc.last_error if sc.last_error else ''}",
                )
            )
    elif sc.anchoring_held:
        n = sc.unindexed_batches
        out.append(
            _p(
                "restore_batches_indexing",
                f"本厅恢复备份后已取回 {sc.own_batches_recovered} 个本厅批次，正在读入其中的事件（还差 {n} 批）；"
                "读完之前本厅的新事件暂不上链（受理照常）",
                f"after the restore this hall fetched back {sc.own_batches_recovered} of its own batches; the "
                f"indexer is reading their events ({n} left); until then this hall's new events wait to be "
                "anchored (intake works)",
            )
        )
    ck = h.clock
    if ck.held:
        sk = ck.skew_seconds or 0.0
        out.append(
            _p(
                "clock_skew",
                f"本厅服务器时钟与链上时间相差约 {abs(sk):.0f} 秒（阈值 {ck.max_skew_seconds:.0f} 秒）："
                "暂停受理、办理和上链，动态口令和与其他大厅的交换也会失败；请校准时钟（NTP）",
                f"this hall's clock is {sk:+.0f}s off the chain (bound {ck.max_skew_seconds:.0f}s): "
                "writes and anchoring are held, TOTP and peer transfers fail; fix the clock (NTP)",
            )
        )
    if h.held_cases:
        n = h.held_cases
        out.append(
            _p(
                "case_held",
                f"{n} 个办件的受理事件被链上拒绝（编号与链上已有办件冲突），其后续事件已暂停上链；"
                "请受理窗口人员按运维手册为其重新编号",
                f"{n} case(s) had their INTAKE refused by the chain (the serial belongs to another case on "
                "chain); their later events are held: a counter clerk reissues them",
            )
        )
    chain_ok = h.chain.connected
    out.extend(_chain_problems(h, settings))
    ob = h.outbox
    age, limit = ob.oldest_pending_age, settings.health_outbox_stale_after
    if age is not None and age > limit:
        why = f": {ob.last_error}" if ob.last_error else ""
        out.append(
            _p(
                "outbox_stale",
                f"待上链队列有 {ob.pending} 个事件，最早的已等待 {age:.0f} 秒（阈值 {limit:.0f} 秒）",
                f"{ob.pending} event(s) wait in the outbox, the oldest for {age:.0f}s (threshold {limit:.0f}s){why}",
            )
        )
    if ob.refused:
        out.append(
            _p(
                "outbox_refused",
                f"{ob.refused} 个事件被链上合约拒绝，需要管理员处理",
                f"{ob.refused} event(s) were refused by the contract and need an administrator",
            )
        )
    ix = h.indexer
    max_lag = settings.health_indexer_max_lag
    if ix.lag is not None and ix.lag > max_lag:
        out.append(
            _p(
                "indexer_lagging",
                f"链上事件索引落后 {ix.lag} 个区块（阈值 {max_lag}）",
                f"the indexer is {ix.lag} blocks behind the chain (threshold {max_lag})",
            )
        )
    if ix.last_error and chain_ok:
        out.append(_p("indexer_error", f"链上事件索引出错：{ix.last_error}", f"the indexer fails: {ix.last_error}"))
    tr = h.transfers
    if tr.refused:
        out.append(
            _p(
                "transfer_refused",
                f"{tr.refused} 个办件从其他大厅收到的数据未通过链上核验，已拒收",
                f"{tr.refused} case package(s) from other halls failed verification against the chain and were refused",
            )
        )
    if tr.failing:
        n = settings.health_transfer_attempts
        out.append(
            _p(
                "transfers_failing",
                f"{tr.failing} 个办件从其他大厅拉取已连续失败 {n} 次以上，正在重试",
                f"{tr.failing} case transfer(s) from other halls failed {n}+ times in a row and are being retried",
            )
        )
    at = h.access_trail
    if at.last_error and chain_ok:
        out.append(
            _p(
                "access_trail_unanchored",
                f"访问留痕未能上链：{at.last_error}",
                f"the access trail could not be anchored: {at.last_error}",
            )
        )
    return out


def _chain_problems(h: HealthNumbers, settings: Settings) -> list[Problem]:
    """The chain's part of the problems: deployment lost, no endpoint, failover, anchors lost, a fork seen."""
    out: list[Problem] = []
    chain = h.chain
    eps = chain.endpoints
    endpoints = eps.endpoints
    if chain.deployment_lost:
        out.append(
            _p(
                "deployment_lost",
                "区块链上已找不到本系统的合约（链的状态已丢失，或连接的是另一条链）：已停止上链和索引，"
                "所有记录仍保存在本大厅；请立即联系管理员",
                f"{chain.deployment_lost}; every record is kept in this hall; call an administrator now",
            )
        )
    if not chain.connected:
        urls = [e.url for e in endpoints] or [chain.rpc_url]
        if len(urls) == 1:
            zh = f"无法连接区块链节点（{urls[0]}）；新事件保存在待上链队列中，恢复后自动上链"
            en = (
                f"the chain node is unreachable ({urls[0]}); new events wait in the outbox and are anchored "
                "when it is back"
            )
        else:
            zh = f"无法连接任何区块链节点（{'、'.join(urls)}）；新事件保存在待上链队列中，恢复后自动上链"
            en = (
                f"no chain node is reachable ({', '.join(urls)}); new events wait in the outbox and are anchored "
                "when one is back"
            )
        out.append(_p("chain_unreachable", zh, en))
    elif not eps.on_preferred:
        own = next((e for e in endpoints if e.url == eps.preferred), None)
        why_zh, why_en = "无响应", "is not answering"
        if own is not None and own.state == "lagging":
            why_zh, why_en = f"落后 {own.lag} 个区块", f"is {own.lag} blocks behind"
        out.append(
            _p(
                "chain_failover",
                f"本区链节点（{eps.preferred}）{why_zh}，已切换到备用节点 {eps.active}，上链照常进行；"
                "本区节点恢复后自动切回",
                f"this district's chain node ({eps.preferred}) {why_en}; using {eps.active} instead "
                "(anchoring goes on) until it is back",
            )
        )
    others_down = [e.url for e in endpoints if e.state == "down" and e.url != eps.preferred]
    if chain.connected and others_down:
        out.append(
            _p(
                "chain_backup_down",
                f"备用链节点无响应：{'、'.join(others_down)}",
                f"backup chain node(s) not answering: {', '.join(others_down)}",
            )
        )
    ob = h.outbox
    if ob.requeued_pending:
        loss = ob.last_loss
        rolled = loss is not None and loss.kind == "rollback"
        fork_block = None if loss is None else loss.fork_block
        events = None if loss is None else loss.events
        out.append(
            _p(
                "chain_reanchoring",
                f"区块链发生{'回退' if rolled else '重组'}（区块 {fork_block} 之后的区块已不在链上）："
                f"{events} 个已上链事件从链上消失，正在重新上链，还剩 {ob.requeued_pending} 个",
                f"the chain {'rolled back' if rolled else 'reorganised'} (blocks after {fork_block} "
                f"are gone): {events} anchored event(s) left the chain and are being anchored again, "
                f"{ob.requeued_pending} still pending",
            )
        )
    fork = h.indexer.last_fork
    if fork is not None and fork.at and time.time() - fork.at < settings.health_fork_window:
        rolled = fork.kind == "rollback"
        since = time.time() - fork.at
        out.append(
            _p(
                "chain_fork_seen",
                f"{since:.0f} 秒前区块链发生{'回退' if rolled else '重组'}：已索引到区块 {fork.seen_head}，"
                f"链上只到区块 {fork.fork_block} 未变；事件索引已从该处重新读取",
                f"{since:.0f}s ago the chain {'rolled back' if rolled else 'reorganised'}: indexed up to block "
                f"{fork.seen_head}, unchanged only up to block {fork.fork_block}; the index was read again "
                "from there",
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
        ob, ix, tr = h.outbox, h.indexer, n.transfers
        yield _g(
            "caseledger_hall_info",
            "this hall (value 1)",
            1,
            {"hall_id": str(n.hall.hall_id), "district": str(n.hall.district)},
        )
        yield _g("caseledger_chain_up", "1 if the chain node answers, else 0", 1 if h.chain.connected else 0)
        yield _g(
            "caseledger_process_recursion_limit",
            "the interpreter's recursion limit (must stay at the default 1000: C code overflows its stack above it)",
            sys.getrecursionlimit(),
        )
        yield _g("caseledger_process_start_time_seconds", "when this node process started (unix time)", _STARTED)
        yield _c(
            "caseledger_housekeeping_pruned",
            "expired sessions, nonces, sign-in counters pruned",
            n.housekeeping.pruned_total,
        )
        yield _g("caseledger_signin_failure_records", "stored sign-in failure counters", n.accounts.limits.count())
        yield _g("caseledger_chain_head_block", "latest block the node saw", h.chain.block)
        yield from _endpoint_metrics(n, h)
        yield _g("caseledger_outbox_pending", "events waiting to be anchored", ob.pending)
        yield _g(
            "caseledger_outbox_oldest_pending_age_seconds",
            "age of the oldest pending event (0 if none)",
            ob.oldest_pending_age or 0.0,
        )
        yield _g("caseledger_outbox_refused", "events the contract refused (held for an administrator)", ob.refused)
        yield _c(
            "caseledger_anchored_events",
            "events anchored by this process (one log per event, or leaves of Merkle batches)",
            n.sender.anchored_total + n.merkle_sender.anchored_total,
        )
        yield _g("caseledger_indexer_cursor_block", "last block indexed", ix.cursor)
        yield _g("caseledger_indexer_lag_blocks", "blocks between the chain head and the indexer", ix.lag)
        yield _g("caseledger_transfer_jobs_open", "cases with records still to pull from other halls", h.transfers.open)
        yield _g("caseledger_transfer_jobs_retrying", "open pulls that failed at least once", h.transfers.retrying)
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
        at = h.access_trail
        yield _g(
            "caseledger_access_trail_unanchored",
            "access-trail entries not yet anchored",
            max(0, at.size - at.anchored),
        )
        yield _g("caseledger_health_problems", "problems /health reports", len(problems(h, n.settings)))


def _endpoint_metrics(n: HallNode, h: HealthNumbers) -> Iterator[Metric]:
    """Which chain endpoint is in use, each endpoint's state, and what the chain did to the hall's anchors."""
    ep = n.pool.status()
    active = GaugeMetricFamily(
        "caseledger_chain_endpoint_active", "1 for the chain endpoint in use", labels=["endpoint", "preferred"]
    )
    up = GaugeMetricFamily(
        "caseledger_chain_endpoint_up", "1 if the endpoint answered its last probe or request", labels=["endpoint"]
    )
    head = GaugeMetricFamily(
        "caseledger_chain_endpoint_head_block", "head block the endpoint reported", labels=["endpoint"]
    )
    for e in ep.endpoints:
        active.add_metric([e.url, "1" if e.url == ep.preferred else "0"], 1.0 if e.url == ep.active else 0.0)
        up.add_metric([e.url], 1.0 if e.state in ("up", "lagging") else 0.0)
        head.add_metric([e.url], math.nan if e.head is None else float(e.head))
    yield active
    yield up
    yield head
    yield _c("caseledger_chain_endpoint_switches", "failovers and switches back of the chain endpoint", ep.switches)
    yield _c("caseledger_chain_forks_seen", "reorganisations or rollbacks the indexer rewound for", h.indexer.forks)
    yield _c(
        "caseledger_anchors_lost",
        "anchored events that left the chain and were queued again",
        h.outbox.lost_total,
    )
    yield _g(
        "caseledger_outbox_requeued_pending",
        "events put back after leaving the chain, not yet re-anchored",
        h.outbox.requeued_pending,
    )
    yield _g(
        "caseledger_deployment_lost",
        "1 if the chain no longer holds this deployment",
        1 if h.chain.deployment_lost else 0,
    )


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
