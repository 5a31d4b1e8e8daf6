"""Fixtures for the hall-node integration tests: a local consortium of real hall processes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.chain.client import ChainClient
from ledger.core.suites import INTL, Suite
from ledger.dev.demo import HallClient, demo_id_number
from ledger.dev.devchain import DevChain, dev_admin, free_port
from ledger.dev.localnet import LocalNet
from ledger.hall.keystore import create_keystore, write_password_file
from ledger.hall.store import Store
from node_api.core.config import Settings
from node_api.core.node import HallNode
from node_api.main import create_app
from tests.conftest import TEST_SUITE

FAST_NODE_ENV = {
    "CASELEDGER_POLL_INTERVAL": "0.3",
    "CASELEDGER_OUTBOX_INTERVAL": "0.2",
    "CASELEDGER_MAX_FILE_BYTES": "200000",
    "CASELEDGER_STARTUP_TIMEOUT": "20",
}


ANCHOR_MODES = ["event", "merkle"]
"""every test that anchors, transfers, verifies or audits runs in both modes (docs/design/merkle-mode.md)"""


def mode_env(mode: str) -> dict[str, str]:
    return {**FAST_NODE_ENV, "CASELEDGER_ANCHOR_MODE": mode}


@pytest.fixture(scope="module", params=ANCHOR_MODES)
def hallnet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    """Chain (1 s blocks) + deployment + three hall processes on free loopback ports, taking cases in event mode
    or Merkle mode (the parameter); one consortium per module and mode, torn down after the module."""
    net = LocalNet(
        Path(tmp_path_factory.mktemp(f"net-{request.param}")),
        halls=3,
        chain_port=free_port(),
        hall_ports=[free_port() for _ in range(3)],
        block_time=1.0,
        node_env=mode_env(str(request.param)),
        suite=TEST_SUITE,
    )
    try:
        net.up(timeout=60)
        yield net
    finally:
        net.down()


EVENT_MODE_ONLY = pytest.mark.parametrize("hallnet", ["event"], indirect=True)
"""For a test whose subject does not depend on how cases are anchored (sign-in, malformed input, exports): it is
collected once, against the module's event-mode consortium (no second consortium is started for it)."""


def staff(net: LocalNet, n: int, username: str = "demo") -> HallClient:
    """A signed-in client of hall ``n`` (demo account ``demo`` holds every case role; administrators are
    separate accounts: ``admin`` sys_admin, ``secadmin`` security_admin, ``auditor``)."""
    h = net.halls[n - 1]
    return HallClient.demo(h["dir"], h["url"], username, timeout=10)


# ---------------------------------------------------------------- in-process hall nodes (FastAPI TestClient)
# A real chain (the session's anvil), a fresh deployment, real LevelDB stores and the real app, without
# separate processes: for the role matrix, the access trail, retention, key rotation and schemathesis.


@dataclass
class InProcHall:
    dir: Path
    node: HallNode
    app: FastAPI
    client: TestClient
    admin: ChainClient

    def sign_in(self, username: str, roles: tuple[str, ...]) -> str:
        """Create an account with ``roles`` and return a bearer token for it."""
        password = "correct horse battery staple"
        created = self.node.accounts.create(username, password, roles=roles)
        code = pyotp.TOTP(created.totp_secret).now() if created.totp_secret else None
        return self.node.accounts.login(username, password, code, client="test").token


def make_hall_dir(root: Path, admin: ChainClient, district: int, name: str, suite: Suite = INTL) -> Path:
    d = root / f"hall-{district}"
    acct = create_keystore(d / "keystore.json", write_password_file(d / "keystore.password"))
    hall_id = admin.register_hall(acct.address, district, name, "http://127.0.0.1:1")
    admin.fund(acct.address, 10**20)
    admin.grant_role("DISPUTE_OFFICER_ROLE", acct.address)
    Store.init(d / "store", hall_id=hall_id, suite=suite).close()
    return d


def start_inproc(d: Path, rpc_url: str, dep_file: Path, admin: ChainClient, **over: Any) -> InProcHall:
    settings = Settings(
        hall_dir=d,
        rpc_url=rpc_url,
        deployment_file=dep_file,
        poll_interval=0.2,
        outbox_interval=0.1,
        access_anchor_interval=0,
        **{"max_file_bytes": 200_000, **over},
    )
    node = HallNode(settings)
    app = create_app(settings, node=node)
    client = TestClient(app, client=("203.0.113.9", 50000))
    client.__enter__()
    return InProcHall(d, node, app, client, admin)


@contextmanager
def inproc_hall_of(
    dev_chain: DevChain, root: Path, suite: Suite = INTL, anchor_mode: str = "event"
) -> Iterator[InProcHall]:
    """Hall 1 (district 350502) running in-process on a fresh deployment of ``suite``, taking cases in
    ``anchor_mode``; hall 2 (350503) registered only."""
    dep = ChainClient.deploy(dev_chain.rpc_url, dev_admin(), suite=suite)
    dep_file = root / "deployment.json"
    dep.save(dep_file)
    admin = ChainClient.connect(dev_chain.rpc_url, deployment=dep, account=dev_admin())
    d1 = make_hall_dir(root, admin, 350502, "鲤城区行政服务中心", suite)
    make_hall_dir(root, admin, 350503, "丰泽区行政服务中心", suite)
    hall = start_inproc(d1, dev_chain.rpc_url, dep_file, admin, anchor_mode=anchor_mode)
    try:
        yield hall
    finally:
        hall.client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def inproc_hall(dev_chain: DevChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcHall]:
    """Hall 1 (district 350502) running in-process on a fresh deployment; hall 2 (350503) registered only."""
    with inproc_hall_of(dev_chain, Path(tmp_path_factory.mktemp("inproc")), TEST_SUITE) as hall:
        yield hall


def pdf(text: str) -> bytes:
    return b"%PDF-1.4 " + text.encode()


def intake_form(home: int, **over: str) -> tuple[dict[str, str], list[tuple[str, tuple[str, bytes, str]]]]:
    data = {
        "item_code": "HJ-MIGRATE",
        "home_district": str(home),
        "applicant_name": "林小梅",
        "applicant_id_number": demo_id_number("35058219851120004"),
        "applicant_phone": "13805950000",
        "applicant_address": "泉州市鲤城区开元街道",
        **over,
    }
    files = [(f"materials.{k}", (f"{k}.pdf", pdf(f"scan of {k}"), "application/pdf")) for k in MATERIALS]
    return data, files


MATERIALS = ["application_form", "id_card", "household_register", "housing_proof"]
