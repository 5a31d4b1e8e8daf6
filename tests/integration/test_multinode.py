"""A real multi-node chain: four geth v1.13.15 Clique signer nodes on loopback, four real hall processes, each
attached to its own node with the other three as failover endpoints. One network serves the whole module.

* one node of four is lost during a stream of intakes: blocks keep coming, the hall on it fails over, every
  acknowledged event is anchored exactly once (checked on chain); the node comes back and catches up;
* a transaction that sat only in the stopped node's pool is not lost and not doubled;
* a hall whose only node is cut off from the others keeps answering staff, and drains once the node
  rejoins; the node's lone block on its own fork (a depth-1 reorganisation, as Clique makes when two signers
  seal at once) is noticed by the outbox and the indexer, and its anchors are anchored again exactly once.

The network can run once per anchoring mode (``cnet`` is parametrised over ``MULTINODE_MODES``, one
module-scoped network each): in Merkle mode "anchored exactly once" is
every acknowledged event's leaf in exactly one anchored batch whose manifest recomputes to its on-chain root
(:mod:`tests.support.anchoring`), and the outbox's numbers are the Merkle sender's. The privacy scan of Clique
blocks runs in event mode only (``EVENT_MODE_ONLY``): its subject is reading blocks whose extraData is 97
bytes, which does not depend on the mode, and it looks for an event-mode commitment in the calldata (a Merkle
batch's calldata holds only its root).

Figures are printed (`-s`) for docs/operations.md; nothing here asserts a speed.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.dev.clique import CliqueNet, rpc
from ledger.dev.demo import HallClient, demo_id_number
from ledger.dev.devchain import free_port
from ledger.dev.localnet import LocalNet, start_hall, stop_hall, wait_healthy
from ledger.errors import LedgerError
from tests.integration.conftest import mode_env, staff
from tests.support.anchoring import ChainEvents, anchored_once, hall_of
from tests.support.intakes import all_anchored, intake

pytestmark = [pytest.mark.multinode, pytest.mark.integration, pytest.mark.slow]

T = TypeVar("T")
MULTINODE_ENV = {
    "CASELEDGER_RPC_TIMEOUT": "2",
    "CASELEDGER_RPC_PROBE_INTERVAL": "0.5",
    "CASELEDGER_RPC_RETURN_AFTER": "2",
    "CASELEDGER_ACCESS_ANCHOR_INTERVAL": "0",  # only the outbox writes: a hall's nonce counts its anchors
}
TRANSIENT = (httpx.HTTPError, LedgerError, KeyError, TypeError)


MULTINODE_MODES = ["event", "merkle"]
"""One 4-node network per anchoring mode. (The cut-off test had failed once in each mode: geth's ``miner_stop``
leaves a seal under way to finish, so node 4 sealed an empty block alone right after its cut and could seal
no other; ``CliqueNet.mine`` waits that seal out, and :func:`_seals_alone` reports such a block.)"""


@pytest.fixture(scope="module", params=MULTINODE_MODES)
def cnet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    """Four Clique nodes and four halls taking cases in the parameter's anchoring mode (one network per mode)."""
    net = LocalNet(
        Path(tmp_path_factory.mktemp(f"clique-{request.param}")),
        halls=4,
        chain="clique",
        nodes=4,
        chain_port=None,  # free loopback ports for every node
        hall_ports=[free_port() for _ in range(4)],
        node_env={**mode_env(str(request.param)), **MULTINODE_ENV},
    )
    try:
        t0 = time.monotonic()
        net.up(timeout=90)
        print(f"\n4 Clique nodes + deployment + 4 halls up in {time.monotonic() - t0:.1f}s")
        _cq(net).watch(interval=1.0)  # a stalled chain gets its sealing restarted (CliqueNet.kick_if_stalled)
        yield net
    finally:
        print(
            f"\nsealing restarted after a stall: {_cq(net).kicks} time(s); nodes rewound off a dead-locked "
            f"branch: {_cq(net).heals}"
        )
        net.down()


EVENT_MODE_ONLY = pytest.mark.parametrize("cnet", ["event"], indirect=True)
"""For a test whose subject does not depend on how cases are anchored: collected once, on the event-mode network."""


def _cq(net: LocalNet) -> CliqueNet:
    assert isinstance(net.chain, CliqueNet)
    return net.chain


def eventually(what: str, check: Callable[[], T | None], timeout: float, interval: float = 0.3) -> T:
    """Retry ``check`` until it gives a truthy value; a transient failure (no answer yet) is retried."""
    deadline = time.monotonic() + timeout
    last = "not yet"
    while True:
        try:
            got = check()
            if got:
                return got
        except TRANSIENT as exc:
            last = repr(exc)
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last})")
        time.sleep(interval)


def _chain(net: LocalNet, n: int = 1) -> ChainClient:
    dep = Deployment.load(net.data_dir / "deployment.json")
    return ChainClient.connect(_cq(net).node(n).rpc_url, deployment=dep)


def _on_chain(net: LocalNet, n: int = 1) -> ChainEvents:
    """What node ``n``'s chain holds of cases, in the network's mode (Merkle mode: manifests from the halls)."""
    return ChainEvents(_chain(net, n), net.anchor_mode, [h["url"] for h in net.halls])


def _on(a: HallClient) -> str:
    return str(a.health()["chain"]["rpc_url"])


def _pool_txs(url: str, account: str) -> list[str]:
    """Hashes of ``account``'s transactions in the node's pool (pending or queued)."""
    content = rpc(url, "txpool_content")
    out: list[str] = []
    for part in ("pending", "queued"):
        for sender, txs in (content.get(part) or {}).items():
            if sender.lower() == account.lower():
                out += [str(tx["hash"]) for tx in txs.values()]
    return out


def _restart_hall(net: LocalNet, n: int, rpc_url: str, env: dict[str, str]) -> None:
    h = net.halls[n - 1]
    stop_hall(Path(h["dir"]))
    proc = start_hall(Path(h["dir"]), port=h["port"], rpc_url=rpc_url, env=env)
    wait_healthy(h["url"], timeout=60, proc=proc)


def _heal(cq: CliqueNet, n: int) -> float:
    """Node ``n`` running, peered and sealing again, whatever the test left it in; seconds it took to start."""
    if cq.pid(n) is None:
        return cq.start([n], timeout=120)
    if int(rpc(cq.node(n).rpc_url, "net_peerCount"), 16) == 0:
        cq.rejoin(n)
    cq.mine(n, True)
    return 0.0


def _best_head(cq: CliqueNet, nodes: list[int]) -> int:
    return max(int(rpc(cq.node(n).rpc_url, "eth_blockNumber"), 16) for n in nodes)


# ------------------------------------------------------------------------------------------------ regression
@EVENT_MODE_ONLY
def test_privacy_scan_reads_clique_blocks_whose_extradata_is_97_bytes(cnet: LocalNet) -> None:
    """Bug: ChainClient read blocks through web3's formatter, which refuses any block whose extraData is longer
    than 32 bytes (every Clique block: vanity + seal; every QBFT block too): ``raw_transaction_inputs`` raised
    ExtraDataLengthError, so nothing could scan a proof-of-authority chain's transactions for personal data."""
    clerk = staff(cnet, 1)
    chain = _chain(cnet, 1)
    start = chain.block_number()
    serial = intake(clerk, int(cnet.halls[1]["district"]), within=5)
    eventually("the intake anchored", lambda: all_anchored(clerk, [serial]), 60)
    view = clerk.case(serial)
    assert view is not None
    end = int(view["timeline"][0]["anchor"]["block"])
    extra = rpc(_cq(cnet).rpc_url, "eth_getBlockByNumber", [hex(end), False])["extraData"]
    assert len(bytes.fromhex(extra[2:])) == 97  # 32 bytes vanity + 65 bytes seal
    haystack = b"".join(chain.raw_transaction_inputs(start, end) + chain.raw_logs(start, end))
    assert (
        bytes.fromhex(chain.case_events(hall_of(serial), serial)[0].commitment.hex()) in haystack
    )  # the scan sees the anchor
    for value in ("林小梅", demo_id_number("35058219851120004"), "13805950000"):
        for encoding in ("utf-8", "utf-16-be", "gb18030"):
            assert value.encode(encoding) not in haystack, (value, encoding)


def _status_shows_the_lost_node(net: LocalNet, lost: int) -> None:
    """``caseledger status`` (text and --json) names the node that is down and the hall that left it."""
    cmd = [sys.executable, "-c", "from ledger.cli import main; main()", "status", "--data-dir", str(net.data_dir)]
    st = json.loads(subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=60, check=True).stdout)
    nodes = {nd["n"]: nd for nd in st["chain"]["nodes"]}
    assert st["chain"]["kind"] == "clique" and not nodes[lost]["up"]
    assert all(nd["up"] and nd["head"] > 0 and nd["block_age"] is not None for n, nd in nodes.items() if n != lost)
    hall = st["halls"][lost - 1]
    assert hall["own_node"] == lost and hall["node"] not in (None, lost)
    text = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    assert f"node {lost} " in text and "DOWN" in text and f"(failover from node {lost})" in text, text


# ------------------------------------------------------------------------------------------------ one lost
def test_one_node_of_four_lost_during_a_stream_of_intakes_loses_nothing(cnet: LocalNet) -> None:
    cq = _cq(cnet)
    lost, others = 2, [1, 3, 4]
    lost_url = cq.node(lost).rpc_url
    writers = [staff(cnet, n) for n in range(1, 5)]
    watch = staff(cnet, lost)
    districts = [int(h["district"]) for h in cnet.halls]
    for w in writers:
        assert _on(w) == cq.node(cnet.hall_node(writers.index(w) + 1) or 1).rpc_url
    acked: list[tuple[int, str]] = []
    errors: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        i = 0
        while not stop.is_set() and len(acked) < 400:
            n = i % 4
            try:
                acked.append((n, intake(writers[n], districts[(n + 1) % 4], within=5)))
            except Exception as exc:  # noqa: BLE001 - any failure at the counter fails the test below
                errors.append(repr(exc))
            i += 1
            stop.wait(0.2)

    thread = threading.Thread(target=stream, name="intake-stream", daemon=True)
    t_start = time.monotonic()
    thread.start()
    try:
        time.sleep(5)
        head_before = _best_head(cq, others)
        # lost between its turns, having sealed nothing since it last might (see CliqueNet.wait_not_recent)
        cq.mine(lost, False)
        cq.wait_not_recent(lost)
        t_stop = time.monotonic()
        cq.stop([lost], kill=True)
        eventually("the hall on the lost node to fail over", lambda: _on(watch) != lost_url, 30)
        failover_s = time.monotonic() - t_stop
        _status_shows_the_lost_node(cnet, lost)
        # blocks keep coming on three signers (Clique allows one down of four); a slow patch is retried
        eventually("blocks while a node is down", lambda: _best_head(cq, others) >= head_before + 10, 90)
        time.sleep(max(0.0, 15 - (time.monotonic() - t_stop)))
        down_s = time.monotonic() - t_stop
        blocks_down = _best_head(cq, others) - head_before
        catch_up_s = cq.start([lost], timeout=120)  # until its head is the others' head (same hash)
        assert cq.node_status(lost).up
        eventually("the hall back on its own node", lambda: _on(watch) == lost_url, 30)
        switch_back_s = time.monotonic() - t_stop - down_s
        time.sleep(3)
    finally:
        stop.set()
        thread.join(timeout=30)
        _heal(cq, lost)  # whatever failed above, the next test finds four nodes sealing
    stream_s = time.monotonic() - t_start
    assert not errors, errors[:3]
    assert len(acked) >= 40
    t_drain = time.monotonic()
    by_hall = {n: [s for m, s in acked if m == n] for n in range(4)}
    eventually(
        "every acknowledged intake anchored", lambda: all(all_anchored(writers[n], s) for n, s in by_hall.items()), 120
    )
    drain_s = time.monotonic() - t_drain
    chain = _chain(cnet, 1)
    on_chain = _on_chain(cnet, 1)
    for n, serials in by_hall.items():
        anchored_once(on_chain, writers[n], serials)
    # the same on the restarted node: it holds the same chain
    everything = [s for _, s in acked]
    assert _on_chain(cnet, lost).of(everything) == on_chain.of(everything)
    health = [w.health() for w in writers]
    assert all(h["outbox"]["pending"] == 0 for h in health)
    forks = [h["indexer"]["forks"] for h in health]
    lost_anchors = [h["outbox"]["lost_total"] + h["merkle"]["lost_total"] for h in health]
    blocks = [chain.w3.eth.get_block(b) for b in range(head_before, head_before + blocks_down + 1)]
    gaps = [b2["timestamp"] - b1["timestamp"] for b1, b2 in zip(blocks, blocks[1:], strict=False)]
    print(
        f"\none of 4 down ({cnet.anchor_mode}): {len(acked)} intakes ({2 * len(acked)} events) in {stream_s:.0f}s, "
        "all anchored exactly "
        f"once {drain_s:.1f}s after the stream; hall failed over {failover_s:.1f}s after the stop; {blocks_down} "
        f"blocks in {down_s:.1f}s down (header gaps mean {statistics.mean(gaps):.2f}s, max {max(gaps)}s); restarted "
        f"node caught up {catch_up_s:.1f}s after its start; hall back on its node {switch_back_s:.1f}s after "
        f"the restart; forks seen by the indexers {forks}, anchors put back by the outboxes {lost_anchors}"
    )


# ------------------------------------------------------------------------------------------------ pool tx
def test_a_transaction_only_the_stopped_node_had_is_neither_lost_nor_doubled(cnet: LocalNet) -> None:
    cq = _cq(cnet)
    x = 3
    node = cq.node(x)
    a = staff(cnet, x)
    account = str(cnet.halls[x - 1]["account"])
    eventually("hall 3 on its own node", lambda: _on(a) == node.rpc_url, 30)
    chain = _chain(cnet, 1)
    nonce_before = chain.w3.eth.get_transaction_count(account)  # type: ignore[arg-type]
    hall_id = int(cnet.halls[x - 1]["hall_id"])
    batches_before = chain.batch_header(hall_id)[1]

    def sent_once() -> None:
        """Event mode: one transaction of the hall's key since (the pooled one). Merkle mode: one batch more on
        chain — a root sent again after the unknown outcome of the failover is refused by the contract
        (``CaseLedgerBatchOutOfSequence``: a mined, reverted transaction, which spends a nonce), never anchored."""
        if cnet.anchor_mode == "merkle":
            assert chain.batch_header(hall_id)[1] == batches_before + 1
        else:
            assert chain.w3.eth.get_transaction_count(account) == nonce_before + 1  # type: ignore[arg-type]

    try:
        cq.wait_not_recent(x)
        cq.mine(x, False)
        cq.isolate(x)  # node 3 runs and answers, but nobody else will hear of what is sent to it
        serial = intake(a, int(cnet.halls[0]["district"]), within=5)
        pooled = eventually("the anchor in node 3's pool", lambda: _pool_txs(node.rpc_url, account), 15)
        assert len(pooled) == 1
        assert _pool_txs(cq.node(1).rpc_url, account) == []  # only node 3 has it
        assert chain.w3.eth.get_transaction_count(account) == nonce_before  # type: ignore[arg-type]
        t_kill = time.monotonic()
        cq.stop([x], kill=True)
        eventually("anchored through another node", lambda: all_anchored(a, [serial]), 60)
        anchored_s = time.monotonic() - t_kill
        view = a.case(serial)
        assert view is not None
        # the hall's endpoint pool sent the same signed bytes to the next node: the same transaction
        assert {e["anchor"]["tx"] for e in view["timeline"]} == {pooled[0]}
        anchored_once(_on_chain(cnet), a, [serial])
        sent_once()
    finally:
        catch_up_s = _heal(cq, x)  # restarted, node 3's journal offers the transaction again
    eventually("node 3's pool without the mined transaction", lambda: _pool_txs(node.rpc_url, account) == [], 30)
    eventually("hall 3 back on its own node", lambda: _on(a) == node.rpc_url, 30)
    anchored_once(_on_chain(cnet), a, [serial])
    sent_once()
    print(
        f"\npool-only tx ({cnet.anchor_mode}): anchored {anchored_s:.1f}s after its node was killed (same tx "
        f"{pooled[0][:10]}…); node caught up {catch_up_s:.1f}s after its restart"
    )


# ------------------------------------------------------------------------------------------------ cut off
def _cut_off_between_turns(cq: CliqueNet, x: int) -> int:
    """Node ``x`` cut off from the others, not sealing, at a moment when it may still seal one block alone; its
    head then."""
    for _ in range(4):
        cq.wait_not_recent(x)  # node x's signer sealed none of the latest blocks
        cq.mine(x, False)
        cq.isolate(x)
        if cq.may_seal(x):  # (it may have sealed one more between the look and the cut)
            return int(rpc(cq.node(x).rpc_url, "eth_blockNumber"), 16)
        cq.rejoin(x)
        cq.mine(x, True)
    raise AssertionError(f"node {x} could not be cut off between its turns in 4 tries")


def _seals_alone(cq: CliqueNet, x: int, base: int, tx: str, a: HallClient, serial: str) -> bool:
    """Cut-off node ``x`` seals block ``base + 1`` alone: True once hall ``a`` says ``serial`` is anchored (its
    transaction ``tx`` in that block), False if the block came without ``tx``; a block with ``tx`` that the hall
    never reports fails the test."""
    url = cq.node(x).rpc_url
    cq.mine(x, True)
    for kick in range(3):  # geth 1.13's Clique worker may not seal after losing its peers although it says it is
        try:  # mining (module notes): restart its sealing, as the network's watch does for a stalled node
            eventually(f"the anchor on node {x}'s fork", lambda: all_anchored(a, [serial]), 20)
            return True
        except AssertionError:
            block = rpc(url, "eth_getBlockByNumber", [hex(base + 1), False])
            if block is not None:
                if tx not in block["transactions"]:
                    return False
                raise  # the anchor is on the fork and the hall did not see it: a real failure
            if kick == 2:
                raise  # kicked twice in vain
            cq.mine(x, False)
            cq.mine(x, True)
    return False  # (not reached)


def test_a_cut_off_hall_answers_staff_and_drains_after_a_depth_one_reorg(cnet: LocalNet) -> None:
    cq = _cq(cnet)
    x = 4
    node = cq.node(x)
    # hall 4 again, on its own node only (no failover) and acting on every block (no confirmation depth)
    _restart_hall(cnet, x, node.rpc_url, {**cnet.node_env, "CASELEDGER_CONFIRMATIONS": "0"})
    a = staff(cnet, x)
    home = int(cnet.halls[0]["district"])
    account = str(cnet.halls[x - 1]["account"])
    tried: list[str] = []  # intakes of attempts whose lone block came without their anchor (anchored later, once)
    try:
        for _attempt in range(3):
            base = _cut_off_between_turns(cq, x)
            first = intake(a, home, within=5)
            pooled = eventually("the anchor in node 4's pool", lambda: _pool_txs(node.rpc_url, account), 15)
            if _seals_alone(cq, x, base, pooled[0], a, first):
                break
            # geth's worker seals an empty block first and fills it after; when nothing delays the seal (node 4
            # in turn, its parent older than the period) the empty one may win. Node 4 then holds block base + 1
            # without the anchor and may seal no other: set the fork up again.
            tried.append(first)
            cq.rejoin(x)
            cq.mine(x, True)
        else:
            raise AssertionError("node 4 sealed its lone block without the hall's anchor in 3 tries")
        view = a.case(first)
        assert view is not None
        fork_block = int(view["timeline"][0]["anchor"]["block"])
        assert fork_block == base + 1
        fork = rpc(node.rpc_url, "eth_getBlockByNumber", [hex(fork_block), False])
        main = eventually(
            "the others' block at that height",
            lambda: rpc(cq.node(1).rpc_url, "eth_getBlockByNumber", [hex(fork_block), False]),
            30,
        )
        assert main["hash"] != fork["hash"] and main["parentHash"] == fork["parentHash"]  # a fork, one block deep
        # node 4 sealed the last block it knows of, so Clique lets it seal no other: these wait, staff do not
        later = [intake(a, home, within=5) for _ in range(2)]
        time.sleep(3)
        assert a.health()["outbox"]["pending"] >= 4
        assert all(a.case(s) is not None for s in later)
        t_heal = time.monotonic()
        heal_s = cq.rejoin(x)
    finally:
        _heal(cq, x)
    eventually(
        "hall 4 drained", lambda: all_anchored(a, [*tried, first, *later]) and a.health()["outbox"]["pending"] == 0, 90
    )
    drain_s = time.monotonic() - t_heal
    gone = rpc(node.rpc_url, "eth_getBlockByNumber", [hex(fork_block), False])
    assert gone["hash"] == main["hash"]  # node 4 dropped its block for the others'
    anchored_once(_on_chain(cnet, 1), a, [*tried, first, *later])
    h = a.health()
    ix = h["indexer"]
    # both noticed the replaced block (the last fork they report may be a later, natural one: Clique makes them)
    if cnet.anchor_mode == "merkle":  # the Merkle sender put the batch's events back (it keeps no last loss)
        put_back = h["merkle"]["lost_total"]
        assert put_back >= 2, h["merkle"]
    else:
        put_back, loss = h["outbox"]["lost_total"], h["outbox"]["last_loss"]
        assert put_back >= 2 and loss is not None and loss["kind"] == "reorg"
    assert ix["forks"] >= 1 and ix["last_fork"]["kind"] == "reorg"
    print(
        f"\ncut off ({cnet.anchor_mode}): rejoined in {heal_s:.1f}s, drained {drain_s:.1f}s after the rejoin; reorg "
        f"depth 1 at block {fork_block}: outbox put back {put_back} anchors, indexer saw {ix['forks']} fork(s); "
        f"fork set up again {len(tried)} time(s)"
    )
    _restart_hall(cnet, x, cnet.hall_rpc_url(x), cnet.node_env)
