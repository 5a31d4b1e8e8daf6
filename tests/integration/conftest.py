"""Fixtures for the hall-node integration tests: a local consortium of real hall processes."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.demo import HallClient
from ledger.localnet import LocalNet

FAST_NODE_ENV = {
    "CASELEDGER_POLL_INTERVAL": "0.3",
    "CASELEDGER_OUTBOX_INTERVAL": "0.2",
    "CASELEDGER_MAX_FILE_BYTES": "200000",
    "CASELEDGER_STARTUP_TIMEOUT": "20",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def hallnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    """Chain (1 s blocks) + deployment + three hall processes on free loopback ports; torn down after the module."""
    net = LocalNet(
        Path(tmp_path_factory.mktemp("net")),
        halls=3,
        chain_port=_free_port(),
        hall_ports=[_free_port() for _ in range(3)],
        block_time=1.0,
        node_env=FAST_NODE_ENV,
    )
    try:
        net.up(timeout=60)
        yield net
    finally:
        net.down()


def staff(net: LocalNet, n: int) -> HallClient:
    h = net.halls[n - 1]
    return HallClient(h["url"], h["staff_token"], f"staff-{n}", timeout=10)
