"""Real scans (issue 20), on both suites: files larger than a chunk, uploaded over HTTP to a real hall process,
are stored as sealed chunks (no stretch of the file is in the LevelDB files), download byte for byte, export in
a bundle that verifies against the chain; erasure deletes every chunk and destroys the case key.

The suite's node environment limits files to 200 kB (``FAST_NODE_ENV``); this module raises it for its own
nodes only."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.chain.client import ChainClient
from ledger.chain.facts_reader import fetch_chain_facts
from ledger.core.bundle import parse_bundle
from ledger.core.suites import GM, INTL, Suite
from ledger.dev.demo import HallClient, demo_id_number, wait_for
from ledger.dev.devchain import DevChain, free_port
from ledger.dev.localnet import LocalNet
from ledger.hall.store import CHUNK_BYTES
from ledger.verify.checks import verify_bundle
from tests.integration.conftest import FAST_NODE_ENV, InProcHall, inproc_hall_of

pytestmark = pytest.mark.integration

MATS = ["application_form", "id_card", "household_register", "housing_proof"]
LARGE_ENV = {**FAST_NODE_ENV, "CASELEDGER_MAX_FILE_BYTES": str(8 * CHUNK_BYTES)}
YEAR = 365.25 * 24 * 3600


def _suite(name: str) -> Suite:
    return GM if name == "gm" else INTL


def _scan(n: int) -> bytes:
    return b"%PDF-1.7 " + secrets.token_bytes(n - 9)


def _form(home: int) -> dict[str, str]:
    return {
        "item_code": "HJ-MIGRATE",
        "home_district": str(home),
        "applicant_name": "欧阳澄",
        "applicant_id_number": demo_id_number("35050219770412555"),
        "applicant_phone": "13900001111",
    }


def _files(big: bytes) -> list[tuple[str, tuple[str, bytes]]]:
    return [(f"materials.{k}", (f"{k}.pdf", big if k == "housing_proof" else f"%PDF-1.4 {k}".encode())) for k in MATS]


def _samples(data: bytes) -> list[bytes]:
    """64-byte stretches of ``data`` at the start, around every chunk boundary and at the end."""
    at = [0, *(i * CHUNK_BYTES - 32 for i in range(1, len(data) // CHUNK_BYTES + 1)), len(data) - 64]
    return [data[i : i + 64] for i in at]


@pytest.fixture(scope="module", params=["intl", "gm"])
def net(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    n = LocalNet(
        Path(tmp_path_factory.mktemp(f"large-{request.param}")),
        halls=1,
        chain_port=free_port(),
        hall_ports=[free_port()],
        block_time=1.0,
        node_env=LARGE_ENV,
        suite=_suite(request.param),
    )
    try:
        n.up(timeout=60)
        yield n
    finally:
        n.down()


def test_a_scan_larger_than_a_chunk_is_sealed_downloads_exactly_and_its_bundle_verifies(net: LocalNet) -> None:
    assert net.deployment is not None
    suite = _suite(net.deployment.suite)
    hall = net.halls[0]
    d = Path(hall["dir"])
    clerk = HallClient.demo(d, hall["url"], "demo", timeout=60)
    assert clerk.health()["suite"] == suite.name
    big = _scan(3 * CHUNK_BYTES + 777)
    view = clerk.intake(_form(int(hall["district"])), _files(big))
    serial = str(view["serial"])
    mats = next(e for e in view["timeline"] if e["stage"] == "MATERIALS")
    f = next(x for x in mats["files"] if x["kind"] == "housing_proof")  # not an identity document: exported
    assert f["digest"] == suite.hexdigest(big) and f["size"] == len(big)  # hashed while streaming
    r = clerk.http.get(f"/cases/{serial}/files/{f['digest']}")
    assert r.status_code == 200 and r.headers["content-length"] == str(len(big)) and r.content == big
    wait_for(
        "every event anchored",
        lambda: all(e["anchor"]["state"] == "anchored" for e in (clerk.case(serial) or {"timeline": []})["timeline"]),
        90,
    )
    r = clerk.http.get(f"/cases/{serial}/bundle", params={"include_files": "true"})
    assert r.status_code == 200, r.text
    bundle = parse_bundle(r.json())
    assert bundle.suite == suite.name
    reader = ChainClient.connect(net.chain.rpc_url, deployment=net.deployment, timeout=30)
    report = verify_bundle(bundle, fetch_chain_facts(reader, int(hall["hall_id"]), serial))
    assert report.ok, report
    assert big in [m.content() for m in bundle.materials]  # embedded, read back from the chunks
    # what LevelDB holds (log, tables) has no stretch of the scan: every chunk is sealed
    raw = b"".join(p.read_bytes() for p in sorted((d / "store").iterdir()) if p.is_file())
    assert len(raw) > len(big)  # the chunks are there, sealed
    assert not any(s in raw for s in _samples(big))


# ------------------------------------------------------------------ erasure reaches every chunk (in-process node)
@pytest.fixture(params=["intl", "gm"])
def hall(request: pytest.FixtureRequest, dev_chain: DevChain, tmp_path: Path) -> Iterator[InProcHall]:
    with inproc_hall_of(dev_chain, tmp_path, _suite(request.param)) as h:
        h.node.book.max_file_bytes = 8 * CHUNK_BYTES
        yield h


def test_erasure_deletes_every_chunk_and_destroys_the_case_key(hall: InProcHall) -> None:
    h = hall
    clerk = {"Authorization": f"Bearer {h.sign_in('t.clerk', ('clerk',))}"}
    admin = {"Authorization": f"Bearer {h.sign_in('t.admin', ('sys_admin',))}"}
    big = _scan(2 * CHUNK_BYTES + 5)
    r = h.client.post("/cases", data=_form(350503), files=_files(big), headers=clerk)
    assert r.status_code == 201, r.text
    serial = str(r.json()["serial"])
    digest = h.node.suite.hexdigest(big)
    assert h.client.get(f"/cases/{serial}/files/{digest}", headers=clerk).content == big
    prefix = f"blob/{serial}/".encode()
    assert h.node.store.count_prefix(prefix) >= 3 + 1  # the scan's chunks and its manifest, and the small files
    wait_for("intake anchored", lambda: h.node.book.summary(h.node.book.header(serial))["pending_anchors"] == 0, 60)
    kid = h.node.keys.codec.case_kid(serial)
    h.node.clock = lambda: time.time() + 31 * YEAR  # past HJ-MIGRATE's 30 years
    try:
        r = h.client.post(f"/cases/{serial}/erase-personal-data", headers=admin)
        assert r.status_code == 200, r.text
    finally:
        h.node.clock = time.time
    assert kid is not None and h.node.data_keys.state(kid) == "destroyed"
    assert h.node.store.count_prefix(prefix) == 0
    f = h.client.get(f"/cases/{serial}/files/{digest}", headers=clerk)
    assert f.status_code == 404 and f.json()["error"]["code"] == "personal_data_erased", f.text
