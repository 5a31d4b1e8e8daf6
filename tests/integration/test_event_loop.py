"""Issue 14: no request handler blocks the hall's event loop.

Every ``async`` handler hands chain reads, LevelDB writes and fsyncs to a thread. If one did them on the
loop, every other request of the hall (a clerk's page, ``/health``, a peer's call) would wait behind it.
The check: the hall talks to the chain through a proxy that answers every request two seconds late;
while a dispute officer's verification runs (about twenty chain reads), a page of the same hall is
fetched again and again, and each answer must come within a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.dev.demo import wait_for
from ledger.dev.devchain import free_port
from ledger.dev.localnet import LocalNet, start_hall, stop_hall, wait_healthy
from tests.integration.conftest import FAST_NODE_ENV, staff
from tests.support.besu_proxy import BesuProxy
from tests.support.intakes import all_anchored, intake

pytestmark = [pytest.mark.integration]

DELAY = 2.0


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    n = LocalNet(
        Path(tmp_path_factory.mktemp("loop")),
        halls=2,
        chain_port=free_port(),
        hall_ports=[free_port(), free_port()],
        block_time=1.0,
        node_env=FAST_NODE_ENV,
    )
    try:
        n.up(timeout=60)
        yield n
    finally:
        n.down()


def test_a_slow_chain_during_a_dispute_check_stalls_no_other_request(net: LocalNet) -> None:
    """The dispute verification ran its chain reads inside an ``async`` handler: a slow chain node stalled
    every other request of the hall for as long as the check took."""
    a = staff(net, 1)
    serial = intake(a, net.halls[1]["district"])
    wait_for("the case anchored", lambda: all_anchored(a, [serial]), 60)
    bundle = a.http.get(f"/cases/{serial}/bundle").json()
    h = net.halls[0]
    d = Path(h["dir"])
    with BesuProxy(upstream=net.chain.rpc_url) as proxy:
        stop_hall(d)
        proc = start_hall(d, port=h["port"], rpc_url=proxy.url, env=net.node_env)
        try:
            wait_healthy(h["url"], timeout=60, proc=proc)
            a = staff(net, 1)
            proxy.slow(DELAY)
            took: list[float] = []
            answer: list[httpx.Response] = []

            def check() -> None:
                t0 = time.monotonic()
                answer.append(a.http.post(f"/cases/{serial}/verifications", json=bundle, timeout=300))
                took.append(time.monotonic() - t0)

            worker = threading.Thread(target=check)
            worker.start()
            waits: list[float] = []
            deadline = time.monotonic() + 300
            while worker.is_alive() and time.monotonic() < deadline:
                t0 = time.monotonic()
                try:
                    r = httpx.get(h["url"] + "/ui/login", timeout=30)
                    assert r.status_code == 200
                except httpx.TimeoutException:  # the loop stayed blocked: counted as the longest wait
                    pass
                waits.append(time.monotonic() - t0)
                time.sleep(0.2)
            worker.join(timeout=300)
            proxy.slow(0)
            assert answer and answer[0].status_code == 201, answer[0].text if answer else "no answer"
            assert took[0] >= 2 * DELAY, f"the check took {took[0]:.1f}s: the slow chain was not in its way"
            assert len(waits) >= 5, waits
            assert max(waits) < DELAY / 2, f"a page waited {max(waits):.2f}s behind the check ({len(waits)} fetches)"
        finally:
            proxy.slow(0)
            stop_hall(d)
            wait_healthy_again = start_hall(d, port=h["port"], rpc_url=net.chain.rpc_url, env=net.node_env)
            wait_healthy(h["url"], timeout=60, proc=wait_healthy_again)
