"""The incremental anomaly scan gives the full scan's answer, on real chain data (issue 20).

One hall node in this process on the session's anvil (0.2 s blocks), in either anchoring mode; a second hall
writing to the chain directly (in Merkle mode: anchoring a batch by hand and publishing its manifest). The full
scan (:func:`ledger.hall.audit.scan`) reads every case's facts from the chain (in Merkle mode: as the hall's
indexer checked them against their batches' roots); the incremental one
(:func:`ledger.hall.audit.scan_incremental`) re-judges only the cases the change journal names (and those whose
verdict changes with time), with facts from the hall's index. At each step both run at the
same clock, with the index caught up to the chain, and must agree — anomaly for anomaly, in the same order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.chain.client import ChainClient
from ledger.core.batches import EventLeaf
from ledger.core.hashchain import case_id, next_head
from ledger.core.stages import Stage
from ledger.dev.demo import demo_id_number
from ledger.dev.devchain import DevChain, dev_admin
from ledger.hall.audit import AuditThresholds, ScanResult, scan, scan_incremental
from ledger.hall.cases import Upload
from ledger.hall.catalogue import load_catalogue
from ledger.hall.keys import AUDIT_STATE_KEY, CHANGE_PREFIX, MWANT_PREFIX
from tests.conftest import TEST_SUITE
from tests.integration.conftest import ANCHOR_MODES, InProcHall, make_hall_dir, start_inproc
from tests.support.foreign_batch import foreign_hall

pytestmark = pytest.mark.integration

HOME, OTHER = 350502, 350503
T = AuditThresholds(pending_after_s=30, outbox_after_s=30, transfer_grace_s=30)


@pytest.fixture(scope="module", params=ANCHOR_MODES)
def hall(
    request: pytest.FixtureRequest, dev_chain: DevChain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcHall]:
    root = Path(tmp_path_factory.mktemp(f"incr-{request.param}"))
    dep = ChainClient.deploy(dev_chain.rpc_url, dev_admin(), suite=TEST_SUITE)
    dep.save(root / "deployment.json")
    admin = ChainClient.connect(dev_chain.rpc_url, deployment=dep, account=dev_admin())
    d = make_hall_dir(root, admin, HOME, "鲤城区行政服务中心", TEST_SUITE)
    h = start_inproc(
        d, dev_chain.rpc_url, root / "deployment.json", admin, audit_scan_interval=0, anchor_mode=request.param
    )
    try:
        yield h
    finally:
        h.client.__exit__(None, None, None)


def _wait(what: str, ok: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = ok()
        except (KeyError, IndexError):  # a record or index entry not written yet: try again
            got = None
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _intake(h: InProcHall, k: int) -> str:
    item = load_catalogue().item("HJ-MIGRATE")
    view = h.node.book.intake(
        item_code=item.code,
        home_district=HOME,
        applicant={"name": "林小梅", "id_number": demo_id_number(f"35050219851120{k:03d}"), "phone": "13805950000"},
        materials=[Upload(m.code, f"{m.code}.pdf", b"%PDF-1.4 " + f"{m.code} {k}".encode()) for m in item.materials],
        staff="clerk-1",
    )
    return str(view["serial"])


def _merkle(h: InProcHall) -> bool:
    return h.node.settings.anchor_mode == "merkle"


def _sender(h: InProcHall) -> Any:
    """The sender that anchors this hall's cases: one event per transaction, or one root per batch."""
    return h.node.merkle_sender if _merkle(h) else h.node.sender


def _peer_intake(
    chain: ChainClient, serial: str, hall_id: int, writer: str, *, merkle: bool, anchor: Callable[[list[bytes]], int]
) -> None:
    """The peer hall's INTAKE for a case of ours: an ``openCase`` event, or a leaf of its next batch."""
    c = b"\x42" * 32
    if not merkle:
        chain.open_case(serial, "HJ-MIGRATE", HOME, c)
        return
    leaf = EventLeaf.new(
        accepting_hall=hall_id,
        serial=serial,
        index=0,
        stage=Stage.INTAKE,
        commitment=c,
        writer_hall=hall_id,
        writer=writer,
        head=next_head(case_id(hall_id, serial), Stage.INTAKE, c, writer),
        home_district=HOME,
        item_code="HJ-MIGRATE",
    ).encode()
    anchor([leaf])


def _settled(h: InProcHall, *, outbox: bool = True) -> None:
    """Every event anchored (unless the sender is stopped on purpose) and the index at the chain's head."""
    node = h.node
    if outbox:
        _wait("outbox drained", lambda: node.outbox.pending_count() == 0 and node.merkle_sender.pending_count() == 0)
    head = node.reader.block_number()
    _wait("index caught up", lambda: node.indexer.cursor >= head)
    if _merkle(h):  # and every batch read up to there applied (its manifest checked, its leaves indexed)
        _wait("batches applied", lambda: next(iter(node.store.iter_prefix(MWANT_PREFIX)), None) is None)


def _both(h: InProcHall, now: float) -> tuple[ScanResult, ScanResult]:
    node = h.node
    inc = scan_incremental(node.book, node.reader, thresholds=T, now=now)
    full = scan(node.book, node.reader, thresholds=T, now=now)
    return inc, full


def _same(inc: ScanResult, full: ScanResult) -> None:
    assert inc.mode == "incremental" and full.mode == "full"
    assert inc.errors == full.errors == []
    assert inc.cases == full.cases
    assert [a.model_dump() for a in inc.anomalies] == [a.model_dump() for a in full.anomalies]


def test_incremental_scan_equals_the_full_scan_on_real_chain_data(hall: InProcHall, dev_chain: DevChain) -> None:
    node = hall.node
    book = node.book
    serials = [_intake(hall, k) for k in range(6)]
    for s in serials[:3]:
        book.decide_acceptance(s, accepted=True, reason="", staff="officer-1")
    book.decide(serials[0], approved=True, note="准予", document=None, staff="officer-1")
    _settled(hall)

    # the first incremental scan has no stored verdicts: it is the full scan, and stores them
    first = scan_incremental(book, node.reader, thresholds=T, now=time.time())
    assert first.mode == "full" and node.store.get_json(AUDIT_STATE_KEY)["cases"] == 6
    assert list(node.store.iter_prefix(CHANGE_PREFIX)) == []
    inc, full = _both(hall, time.time())
    _same(inc, full)
    assert inc.rescanned == 0 and full.anomalies == []

    # changes through the node and on the chain
    serials += [_intake(hall, k) for k in range(6, 9)]  # new cases
    book.decide_acceptance(serials[3], accepted=True, reason="", staff="officer-1")  # an old case moves on
    book.decide_acceptance(serials[4], accepted=False, reason="材料不全", staff="officer-1")
    _settled(hall)
    key = f"rec/{serials[1]}/000002".encode()  # an anchored ACCEPTANCE edited through the store's API
    rec = node.store.get_json(key)
    assert rec["stage"] == "ACCEPTANCE"
    node.store.put_json(key, {**rec, "fields": {**rec["fields"], "decision": "rejected"}})
    node.store.delete(f"rec/{serials[2]}/000002".encode())  # a record dropped: its event has none here
    # another hall opens a case for this district: the index learns it from the chain (and, in Merkle mode,
    # from the manifest the peer publishes)
    with foreign_hall(hall.admin, dev_chain.rpc_url, OTHER, "丰泽区行政服务中心", TEST_SUITE) as peer:
        peer_serial = f"TB20261201-{peer.hall_id:03d}-00001"
        _peer_intake(peer.chain, peer_serial, peer.hall_id, peer.address, merkle=_merkle(hall), anchor=peer.anchor)
        _wait("the peer's case indexed", lambda: book.has_case(peer_serial))
    _settled(hall)
    now = time.time()
    inc, full = _both(hall, now)
    _same(inc, full)
    assert 0 < inc.rescanned < inc.cases  # only what changed, not every case
    assert inc.cases == 10
    kinds = sorted((a.kind, a.serial) for a in inc.anomalies)
    assert ("record_tampered", serials[1]) in kinds

    # time alone: the peer's event passes its grace period (no record here), a record stays pending
    sender = _sender(hall)
    sender.stop()
    try:
        book.decide(serials[3], approved=True, note="准予", document=None, staff="officer-1")
        _settled(hall, outbox=False)
        inc, full = _both(hall, now)
        _same(inc, full)
        later = now + 10 * T.pending_after_s
        inc, full = _both(hall, later)
        _same(inc, full)
        kinds = sorted((a.kind, a.serial) for a in inc.anomalies)
        assert ("anchor_without_record", peer_serial) in kinds and ("anchor_without_record", serials[2]) in kinds
        assert ("record_unanchored", serials[3]) in kinds and ("outbox_stale", serials[3]) in kinds
        inc, full = _both(hall, later + 5)  # a reported pending record is judged again (its age is in the detail)
        _same(inc, full)
    finally:
        sender.start()
    _settled(hall)
    # repaired: the records are back and the pending one anchored; the clock is back at the present (before
    # `later`): verdicts judged at a later time are not reused, the scan is a full one
    node.store.put_json(key, rec)
    back = scan_incremental(book, node.reader, thresholds=T, now=time.time())
    assert back.mode == "full"
    inc, full = _both(hall, later + 10)
    _same(inc, full)
    assert ("record_tampered", serials[1]) not in {(a.kind, a.serial) for a in inc.anomalies}


def test_a_record_anchored_ahead_of_the_index_is_judged_once_indexed_not_called_tampered(hall: InProcHall) -> None:
    """In Merkle mode the scans compare records with the hall's index, which follows the sender's receipts a little
    later: a record anchored in a batch the indexer has not applied yet is left out until it has."""
    node = hall.node
    serial = _intake(hall, 50)
    _settled(hall)  # the case indexed; then its next event anchored while the indexer is stopped
    node.indexer.stop()
    try:
        node.book.decide_acceptance(serial, accepted=True, reason="", staff="officer-1")
        _wait("anchored", lambda: all(r["anchor"]["state"] == "anchored" for r in node.book.records(serial)))
        for result in _both(hall, time.time()):
            assert [a for a in result.anomalies if a.serial == serial] == [], result.mode
    finally:
        node.indexer.start()
    _settled(hall)
    inc, full = _both(hall, time.time())
    _same(inc, full)
    assert [a for a in full.anomalies if a.serial == serial] == []
    key = f"rec/{serial}/000001".encode()  # the MATERIALS record edited once it was judged
    rec = node.store.get_json(key)
    node.store.put_json(key, {**rec, "fields": {**rec["fields"], "supplement": True}})
    try:
        inc, full = _both(hall, time.time())
        _same(inc, full)
        assert ("record_tampered", serial) in {(a.kind, a.serial) for a in full.anomalies}
    finally:
        node.store.put_json(key, rec)
