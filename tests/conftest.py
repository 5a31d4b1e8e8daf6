"""Shared fixtures: a real anvil node on a free loopback port, and a fresh deployment on it; synthetic chain facts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.core.chainlog import ROLE_IDS
from ledger.core.facts import CaseHeader, ChainEventFact, ChainFacts, RegistryFact
from ledger.core.hashchain import case_id
from ledger.core.stages import Phase
from ledger.core.suites import Suite, suite_named
from ledger.dev.devchain import DevChain, dev_admin, free_port

VECTORS = Path(__file__).parent / "vectors"

#: the suite of the shared hall networks, ``hallnet`` and ``inproc_hall`` (``CASELEDGER_TEST_SUITE=gm`` runs
#: them on SM3/SM4; the at-rest and retention tests run both suites whatever it says)
TEST_SUITE: Suite = suite_named(os.environ.get("CASELEDGER_TEST_SUITE", "intl"))
SUITE_FIXTURES = frozenset({"hallnet", "inproc_hall"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test on a shared hall network runs on TEST_SUITE: mark it ``suites`` (``make test`` repeats them on gm)."""
    for item in items:
        if SUITE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.suites)


def case_facts(
    serial: str,
    events: list[ChainEventFact],
    registry_log: list[RegistryFact],
    *,
    head: str,
    ledger: str,
    registry: str,
) -> ChainFacts:
    """Chain facts of one opened case (accepting hall 1, home district 350503, item BDC-TRANSFER)."""
    return ChainFacts(
        serial=serial,
        accepting_hall=1,
        case_id="0x" + case_id(1, serial).hex(),
        chain_id=1,
        ledger=ledger,
        registry=registry,
        format_version=2,
        suite="intl",
        header=CaseHeader(
            head=head,
            event_count=len(events),
            phase=Phase.OPENED,
            home_district=350503,
            accepting_hall=1,
            item_code="BDC-TRANSFER",
            last_block=max((e.block for e in events), default=0),
        ),
        events=events,
        registry_log=registry_log,
        dispute_role=ROLE_IDS["DISPUTE_OFFICER_ROLE"],
        arbiter_role=ROLE_IDS["DISPUTE_ARBITER_ROLE"],
    )


@pytest.fixture(scope="session")
def dev_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevChain]:
    """One anvil for the session with fast interval mining (0.2 s blocks); stopped at the end."""
    chain = DevChain(tmp_path_factory.mktemp("chain"), port=free_port(), block_time=0.2)
    chain.up()
    try:
        yield chain
    finally:
        chain.down()


@pytest.fixture
def deployment(dev_chain: DevChain) -> Deployment:
    """A fresh pair of contracts per test, so tests never see each other's halls or cases."""
    return ChainClient.deploy(dev_chain.rpc_url, dev_admin())


@pytest.fixture
def admin(dev_chain: DevChain, deployment: Deployment) -> ChainClient:
    return ChainClient.connect(dev_chain.rpc_url, deployment=deployment, account=dev_admin())


@pytest.fixture
def new_hall(dev_chain: DevChain, deployment: Deployment, admin: ChainClient):  # type: ignore[no-untyped-def]
    """Factory: register a funded hall key in ``district``; returns its ChainClient."""

    def make(district: int, name: str = "测试大厅") -> ChainClient:
        acct: LocalAccount = Account.create()
        admin.register_hall(acct.address, district, name, "http://127.0.0.1:1")
        admin.fund(acct.address, 10**18)
        return ChainClient.connect(dev_chain.rpc_url, deployment=deployment, account=acct)

    return make
