"""Scanned materials of several MB over real HTTP (issue 20): streamed to the store in pieces while hashed,
read back whole and verified against the chain; one over the limit is refused with nothing stored."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.chain.client import ChainClient
from ledger.chain.facts_reader import fetch_chain_facts
from ledger.dev.devchain import DevChain, dev_admin
from ledger.hall.evidence import export_bundle
from ledger.hall.keys import BLOB_MANIFEST_PREFIX, BLOB_PREFIX
from ledger.hall.store import CHUNK_BYTES
from ledger.verify.checks import verify_bundle
from tests.integration.conftest import MATERIALS, InProcHall, intake_form, make_hall_dir, start_inproc

pytestmark = pytest.mark.integration

LIMIT = 6 * CHUNK_BYTES


@pytest.fixture(scope="module")
def hall(dev_chain: DevChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcHall]:
    root = Path(tmp_path_factory.mktemp("large"))
    dep = ChainClient.deploy(dev_chain.rpc_url, dev_admin())
    dep.save(root / "deployment.json")
    admin = ChainClient.connect(dev_chain.rpc_url, deployment=dep, account=dev_admin())
    d = make_hall_dir(root, admin, 350502, "鲤城区行政服务中心")
    h = start_inproc(d, dev_chain.rpc_url, root / "deployment.json", admin, max_file_bytes=LIMIT)
    try:
        yield h
    finally:
        h.client.__exit__(None, None, None)


def _scan(n: int) -> bytes:
    return b"%PDF-1.4 " + os.urandom(n)


def test_large_scans_are_streamed_stored_and_verify(hall: InProcHall) -> None:
    clerk = {"Authorization": f"Bearer {hall.sign_in('l.clerk', ('clerk', 'dispute_officer'))}"}
    data, files = intake_form(350502)
    big = {MATERIALS[0]: _scan(5 * CHUNK_BYTES // 2), MATERIALS[1]: _scan(3 * CHUNK_BYTES)}
    files = [
        (f"materials.{k}", (f"{k}.pdf", big[k], "application/pdf")) if k in big else f
        for f, k in zip(files, MATERIALS, strict=True)
    ]
    r = hall.client.post("/cases", data=data, files=files, headers=clerk)
    assert r.status_code == 201, r.text
    serial = r.json()["serial"]
    store = hall.node.store
    manifests = [v for _, v in store.iter_json(BLOB_MANIFEST_PREFIX)]
    assert sorted(m["size"] for m in manifests) == sorted(len(b) for b in big.values())
    rec = next(x for x in hall.node.book.records(serial) if x["stage"] == "MATERIALS")
    for f in rec["files"]:
        if f["kind"] in big:
            got = hall.client.get(f"/cases/{serial}/files/{f['digest']}", headers=clerk)
            assert got.status_code == 200 and got.content == big[f["kind"]]
    deadline = time.monotonic() + 60
    while hall.node.outbox.pending() and time.monotonic() < deadline:
        time.sleep(0.1)
    node = hall.node
    report = verify_bundle(
        export_bundle(node.book, node.reader, serial), fetch_chain_facts(node.reader, node.hall.hall_id, serial)
    )
    assert report.ok, report.verdict


def test_a_scan_over_the_limit_is_refused_and_nothing_is_stored(hall: InProcHall) -> None:
    clerk = {"Authorization": f"Bearer {hall.sign_in('l.clerk2', ('clerk',))}"}
    before = sum(1 for _ in hall.node.store.iter_prefix(BLOB_PREFIX))
    data, files = intake_form(350502)
    files[0] = (f"materials.{MATERIALS[0]}", (f"{MATERIALS[0]}.pdf", _scan(LIMIT + 1), "application/pdf"))
    r = hall.client.post("/cases", data=data, files=files, headers=clerk)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["field"] == f"materials.{MATERIALS[0]}" and err["message_zh"]
    assert sum(1 for _ in hall.node.store.iter_prefix(BLOB_PREFIX)) == before
