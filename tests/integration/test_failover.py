"""Chain endpoint failover of a real hall process (issue 15.2), before the multi-node chain: the hall's
own "node" is a Besu-limits proxy that is told to stop answering (refuse, hang) or to lag; its backup is
a second proxy to the same anvil. Every acknowledged event must be anchored exactly once across the switches.

The network runs once per anchoring mode (``fnet`` is parametrised over ``ANCHOR_MODES``): in Merkle mode the
hall's batches go through the same endpoint pool, and "exactly once" is every event's leaf in exactly one
anchored batch whose manifest recomputes to its on-chain root (:mod:`tests.support.anchoring`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.dev.demo import HallClient, wait_for
from ledger.dev.devchain import free_port
from ledger.dev.localnet import LocalNet, start_hall, stop_hall, wait_healthy
from tests.integration.conftest import ANCHOR_MODES, mode_env, staff
from tests.support.anchoring import ChainEvents, anchored_once
from tests.support.besu_proxy import BesuProxy
from tests.support.intakes import all_anchored, intake

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAILOVER_ENV = {
    "CASELEDGER_RPC_TIMEOUT": "2",
    "CASELEDGER_RPC_PROBE_INTERVAL": "0.5",
    "CASELEDGER_RPC_RETURN_AFTER": "2",
    "CASELEDGER_RPC_MAX_LAG": "5",
}


class Net:
    def __init__(self, net: LocalNet, own: BesuProxy, backup: BesuProxy) -> None:
        self.net, self.own, self.backup = net, own, backup
        dep = Deployment.load(net.data_dir / "deployment.json")
        self.chain = ChainClient.connect(net.chain.rpc_url, deployment=dep)

    def on_chain(self) -> ChainEvents:
        """The chain's view of cases in the network's mode (Merkle mode: manifests from hall 1, else hall 2)."""
        return ChainEvents(self.chain, self.net.anchor_mode, [h["url"] for h in self.net.halls])


@pytest.fixture(scope="module", params=ANCHOR_MODES)
def fnet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    mode = str(request.param)
    net = LocalNet(Path(tmp_path_factory.mktemp(f"failover-{mode}")), halls=2, chain_port=free_port(),
                   hall_ports=[free_port() for _ in range(2)], block_time=1.0, node_env=mode_env(mode))  # fmt: skip
    own = BesuProxy(upstream=net.chain.rpc_url)
    backup = BesuProxy(upstream=net.chain.rpc_url)
    try:
        net.up(timeout=60)
        own.start()
        backup.start()
        h = net.halls[0]
        stop_hall(Path(h["dir"]))  # hall 1 again, now on [its own node, the backup]
        proc = start_hall(Path(h["dir"]), port=h["port"], rpc_url=f"{own.url},{backup.url}",
                           env={**mode_env(mode), **FAILOVER_ENV})  # fmt: skip
        wait_healthy(h["url"], timeout=60, proc=proc)
        yield Net(net, own, backup)
    finally:
        net.down()
        own.close()
        backup.close()


def _health(a: HallClient) -> dict[str, Any]:
    return a.health()


def _codes(h: dict[str, Any]) -> set[str]:
    return {p["code"] for p in h["problems"]}


def _switches(url: str) -> float:
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith("caseledger_chain_endpoint_switches_total "):
            return float(line.split()[1])
    raise AssertionError("no caseledger_chain_endpoint_switches_total metric")


@pytest.mark.parametrize("mode", ["refuse", "hang"])
def test_hall_fails_over_and_back_without_losing_or_doubling(fnet: Net, mode: str) -> None:
    a = staff(fnet.net, 1)
    home = fnet.net.halls[1]["district"]
    url = fnet.net.halls[0]["url"]
    assert _health(a)["chain"]["rpc_url"] == fnet.own.url
    before = [intake(a, home) for _ in range(2)]
    wait_for("anchoring on the hall's own node", lambda: all_anchored(a, before), 60)
    switches = _switches(url)

    fnet.own.stop_answering(mode)  # type: ignore[arg-type]
    t0 = time.monotonic()
    during = [intake(a, home) for _ in range(4)]
    wait_for("failover to the backup node", lambda: _health(a)["chain"]["rpc_url"] == fnet.backup.url, 30)
    switched_after = time.monotonic() - t0
    h = _health(a)
    assert "chain_failover" in _codes(h) and h["status"] == "degraded"
    assert h["chain"]["endpoints"]["endpoints"][0]["state"] == "down"
    wait_for("anchoring through the backup node", lambda: all_anchored(a, during), 60)
    anchored_after = time.monotonic() - t0

    fnet.own.resume()
    wait_for("switching back to the hall's own node", lambda: _health(a)["chain"]["rpc_url"] == fnet.own.url, 30)
    assert "chain_failover" not in _codes(_health(a))
    after = [intake(a, home) for _ in range(2)]
    wait_for("anchoring on the own node again", lambda: all_anchored(a, after), 60)
    anchored_once(fnet.on_chain(), a, before + during + after)
    assert _switches(url) >= switches + 2
    assert a.health()["outbox"]["pending"] == 0
    print(f"failover ({mode}): switched after {switched_after:.1f}s, all anchored after {anchored_after:.1f}s")


def test_hall_leaves_a_lagging_node_and_returns(fnet: Net) -> None:
    a = staff(fnet.net, 1)
    home = fnet.net.halls[1]["district"]
    fnet.own.lag(30)
    wait_for("leaving the lagging node", lambda: _health(a)["chain"]["rpc_url"] == fnet.backup.url, 30)
    h = _health(a)
    own = h["chain"]["endpoints"]["endpoints"][0]
    assert own["state"] == "lagging" and own["lag"] >= 25
    p = next(p for p in h["problems"] if p["code"] == "chain_failover")
    assert "落后" in p["zh"] and "blocks behind" in p["en"]
    serials = [intake(a, home) for _ in range(2)]
    wait_for("anchoring through the backup", lambda: all_anchored(a, serials), 60)
    fnet.own.resume()
    wait_for("back on the own node", lambda: _health(a)["chain"]["rpc_url"] == fnet.own.url, 30)
    anchored_once(fnet.on_chain(), a, serials)
