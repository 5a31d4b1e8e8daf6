"""Reorganisations and rollbacks on a real anvil (its own, so that the session's chain is never rolled back), in
both anchoring modes: the sender re-anchors what left the chain exactly once (event mode: the outbox's events;
Merkle mode: the batches, under their own numbers), the indexer rewinds (Merkle mode: the batches it read and
the cases their manifests taught), a lost deployment is refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.core.stages import Stage
from ledger.dev.demo import demo_id_number
from ledger.dev.devchain import DevChain, dev_admin, free_port
from ledger.errors import ChainError
from ledger.hall.cases import CaseBook, HallIdentity, Upload
from ledger.hall.indexer import Indexer
from ledger.hall.integrity import parse_serial
from ledger.hall.keys import chain_event_prefix
from ledger.hall.merkle_index import ManifestStore, MerkleIndex
from ledger.hall.merkle_outbox import MerkleSender
from ledger.hall.outbox import Outbox, OutboxSender, _items
from ledger.hall.sender import ChainSender
from ledger.hall.store import Store
from tests.integration.conftest import ANCHOR_MODES
from tests.support.anchoring import merkle_anchored_once

pytestmark = pytest.mark.integration

MATS = ["application_form", "id_card", "household_register", "housing_proof"]
LICHENG, FENGZE = 350502, 350503


def _hall_of(serial: str) -> int:
    """The accepting hall a hall-issued serial names (its case id is derived from it)."""
    named = parse_serial(serial)
    assert named is not None, serial
    return named[1]


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[DevChain]:
    """An anvil of the test's own, mining a block every second."""
    c = DevChain(tmp_path / "chain", port=free_port(), block_time=1.0)
    c.up()
    try:
        yield c
    finally:
        c.down()


def _rpc(c: ChainClient, method: str, params: list[Any]) -> Any:
    return c.request(method, params)


@contextmanager
def _mining_paused(c: ChainClient) -> Iterator[None]:
    """No interval mining while a test reads the head and rewrites the blocks below it: a block mined in between
    would make the depth one short, and the block meant to go would stay."""
    _rpc(c, "evm_setIntervalMining", [0])
    try:
        yield
    finally:
        _rpc(c, "evm_setIntervalMining", [1])


def _setup(
    chain: DevChain, tmp_path: Path, district: int = LICHENG, *, mode: str = "event"
) -> tuple[ChainClient, CaseBook, Deployment]:
    dep = ChainClient.deploy(chain.rpc_url, dev_admin())
    admin = ChainClient.connect(chain.rpc_url, deployment=dep, account=dev_admin())
    acct = Account.create()
    hid = admin.register_hall(acct.address, district, "测试大厅", "http://127.0.0.1:1")
    admin.fund(acct.address, 10**18)
    client = ChainClient.connect(chain.rpc_url, deployment=dep, account=acct)
    store = Store.init(tmp_path / f"store-{district}")
    book = CaseBook(store, Outbox(store), hall=HallIdentity(hall_id=hid, district=district), anchor_mode=mode)
    return client, book, dep


def _sender(book: CaseBook, client: ChainClient) -> ChainSender[Any]:
    """The hall's sender for the mode its cases are taken in."""
    if book.anchor_mode == "merkle":
        return MerkleSender(book.outbox, client, hall=book.hall)
    return OutboxSender(book.outbox, client)


def _nonce(c: ChainClient) -> int:
    return int(c.request("eth_getTransactionCount", [c.address, "latest"]), 16)


def _settled(sender: ChainSender[Any]) -> bool:
    """Nothing waits to be anchored again (event mode: no put-back entry; Merkle mode: no built batch)."""
    if isinstance(sender, MerkleSender):
        st = sender.stats()
        return st.pending == 0 and st.batches_unanchored == 0
    assert isinstance(sender, OutboxSender)
    return sender.stats().requeued_pending == 0 and sender.outbox.pending_count() == 0


def _intake(book: CaseBook, home: int = FENGZE) -> str:
    return str(
        book.intake(
            item_code="HJ-MIGRATE",
            home_district=home,
            applicant={"name": "陈明华", "id_number": demo_id_number(), "phone": "13905951234"},
            materials=[Upload(m, f"{m}.pdf", f"content of {m}".encode()) for m in MATS],
            staff="w",
        )["serial"]
    )


def _anchors(book: CaseBook, serial: str) -> list[dict[str, Any]]:
    return [r["anchor"] for r in book.records(serial)]


def _assert_once_each(client: ChainClient, book: CaseBook, serials: list[str]) -> None:
    if book.anchor_mode == "merkle":
        merkle_anchored_once(client, book, serials)
        return
    for s in serials:
        events = client.case_events(_hall_of(s), s)
        assert [e.stage for e in events] == [Stage.INTAKE, Stage.MATERIALS], s
        anchors = _anchors(book, s)
        assert [a["state"] for a in anchors] == ["anchored", "anchored"]
        assert [a["tx"] for a in anchors] == [e.tx_hash for e in events]


def _send_behind_the_senders_back(client: ChainClient, book: CaseBook) -> str:
    """What a previous process of the hall sent before it died (not recorded): the pending events' transaction
    (Merkle mode: the next batch, built and written by this store first, as the sender does)."""
    if book.anchor_mode == "merkle":
        built = MerkleSender(book.outbox, client, hall=book.hall).build()
        assert built is not None
        return client.send_root(int(built["seq"]), bytes.fromhex(built["root"]), int(built["count"]))
    return client.send_batch(*_items(book.outbox.pending()))


@pytest.mark.parametrize("mode", ANCHOR_MODES)
def test_rollback_puts_vanished_anchors_back_and_anchors_each_once(chain: DevChain, tmp_path: Path, mode: str) -> None:
    client, book, _ = _setup(chain, tmp_path, mode=mode)
    early = [_intake(book) for _ in range(3)]
    sender = _sender(book, client)
    assert sender.run_once() == 6
    keep_block = client.block_number()
    _rpc(client, "anvil_mine", ["0x3"])
    late = [_intake(book) for _ in range(2)]
    assert sender.run_once() == 4
    lost_tx = _anchors(book, late[0])[0]["tx"]
    late_block = _anchors(book, late[0])[0]["block"]
    assert late_block > keep_block
    # the node comes back from a snapshot taken before the late anchors: their blocks are gone
    with _mining_paused(client):
        _rpc(client, "anvil_rollback", [client.block_number() - late_block + 1])
    assert client.receipt(lost_tx) is None
    assert sender.run_once() == 4  # noticed, put back, reconciled (nothing found), sent again
    assert sender.lost_total == 4
    if isinstance(sender, OutboxSender):
        assert sender.last_loss is not None and sender.last_loss.fork.kind == "rollback"
    else:  # the vanished batch went out again under its own number: the hall has two batches, not three
        assert client.batch_header(book.hall.hall_id)[1] == 2
        assert {a["batch"]["seq"] for s in late for a in _anchors(book, s)} == {1}
    _assert_once_each(client, book, early + late)
    # (the same nonce and the same batch sign to the same transaction again: its hash may well repeat)
    assert all(_anchors(book, s)[0]["block"] <= client.block_number() for s in late)
    assert _settled(sender)
    assert sender.run_once() == 0  # nothing more to do, nothing doubled
    _assert_once_each(client, book, early + late)


@pytest.mark.parametrize("mode", ANCHOR_MODES)
def test_reorg_replacing_the_anchoring_block_reanchors_once(chain: DevChain, tmp_path: Path, mode: str) -> None:
    client, book, _ = _setup(chain, tmp_path, mode=mode)
    serials = [_intake(book) for _ in range(2)]
    sender = _sender(book, client)
    assert sender.run_once() == 4
    block = _anchors(book, serials[0])[0]["block"]
    with _mining_paused(client):
        depth = client.block_number() - block + 1
        _rpc(client, "anvil_reorg", [depth, []])  # same height, other blocks: the transaction is gone
    assert sender.run_once() == 4
    assert sender.lost_total == 4
    if isinstance(sender, OutboxSender):
        assert sender.last_loss is not None and sender.last_loss.fork.kind == "reorg"
    else:
        assert client.batch_header(book.hall.hall_id)[1] == 1
    _assert_once_each(client, book, serials)
    assert _settled(sender)


@pytest.mark.parametrize("mode", ANCHOR_MODES)
def test_reincluded_transaction_is_recorded_not_sent_again(chain: DevChain, tmp_path: Path, mode: str) -> None:
    """A reorganisation that re-includes the same transaction in another block (what geth does with the
    transactions of replaced blocks): the entries go back (Merkle mode: the batch to ``built``), the reconcile
    finds them (by commitment; Merkle mode: by the batch's number and root) and sends nothing."""
    client, book, _ = _setup(chain, tmp_path, mode=mode)
    serials = [_intake(book)]
    tx = _send_behind_the_senders_back(client, book)
    if mode == "merkle":  # (a Merkle batch in the pool is resent as it is, with the next nonce: wait for it here)
        assert client.wait(tx).status == 1
    sender = _sender(book, client)
    assert sender.run_once() == 2  # recorded by reconcile: the sender did not send it itself
    nonce = _nonce(client)
    block = _anchors(book, serials[0])[0]["block"]
    old_hash = client.receipt(tx)["blockHash"]  # type: ignore[index]
    raw = client.request("eth_getRawTransactionByHash", [tx])
    with _mining_paused(client):
        depth = client.block_number() - block + 1
        _rpc(client, "anvil_reorg", [depth, [[raw, 0]]])  # the same signed transaction, in the first new block
    rec = client.receipt(tx)
    assert rec is not None and rec["blockHash"] != old_hash
    assert sender.run_once() == 2
    assert sender.lost_total == 2
    _assert_once_each(client, book, serials)
    assert _anchors(book, serials[0])[0]["tx"] == tx  # the same transaction, recorded again in its new block
    assert _anchors(book, serials[0])[0]["block"] == int(rec["blockNumber"])
    assert _nonce(client) == nonce  # nothing was sent again


@pytest.mark.parametrize("mode", ANCHOR_MODES)
def test_indexer_rewinds_after_a_rollback_and_skips_no_new_case(chain: DevChain, tmp_path: Path, mode: str) -> None:
    """Regression (issue 15): after a rollback the indexer's cursor stayed beyond the new head, so cases
    opened after it were never indexed (never reached their home hall). Merkle mode: the home hall learns the
    cases from the batches' manifests (mirrored from the accepting hall); the rolled-back batches, and what
    their manifests taught, are forgotten and read again once re-anchored."""
    client, book_a, dep = _setup(chain, tmp_path, LICHENG, mode=mode)
    admin = ChainClient.connect(chain.rpc_url, deployment=dep, account=dev_admin())
    acct_b = Account.create()
    hid_b = admin.register_hall(acct_b.address, FENGZE, "丰泽", "http://127.0.0.1:1")
    store_b = Store.init(tmp_path / "store-b")
    book_b = CaseBook(store_b, Outbox(store_b), hall=HallIdentity(hall_id=hid_b, district=FENGZE))
    reader = ChainClient.connect(chain.rpc_url, deployment=dep)
    merkle = None
    if mode == "merkle":  # hall A's manifests as A serves them (only batches its store holds as anchored)
        served = ManifestStore(book_a.store, hall_id=book_a.hall.hall_id)
        merkle = MerkleIndex(store_b, reader, book_b, fetch=served.get)
    idx = Indexer(store_b, reader, book_b, chunk=1000, merkle=merkle)

    def index_all() -> None:
        for _ in range(10):
            if not idx.run_once() and (merkle is None or not merkle.wanted()):
                break

    sender = _sender(book_a, client)
    first = [_intake(book_a) for _ in range(2)]
    sender.run_once()
    _rpc(client, "anvil_mine", ["0x5"])
    index_all()
    assert all(book_b.has_case(s) for s in first)
    seen = idx.cursor
    anchored_in = _anchors(book_a, first[0])[0]["block"]
    with _mining_paused(client):
        _rpc(client, "anvil_rollback", [client.block_number() - anchored_in + 1])  # back to before the anchors
    assert client.block_number() < seen
    after = [_intake(book_a) for _ in range(2)]
    sender.run_once()  # re-anchors whatever of `first` vanished, and anchors `after`
    if mode == "merkle":
        sender.run_once()  # (`first`'s batch goes out again first; `after` is built after it)
    index_all()
    assert idx.forks_total == 1 and idx.last_fork is not None and idx.last_fork.kind == "rollback"
    assert idx.cursor <= client.block_number()
    _assert_once_each(client, book_a, first + after)
    for s in first + after:
        assert book_b.has_case(s), s
        indexed = [v for _, v in store_b.iter_json(chain_event_prefix(s))]
        assert [e["index"] for e in indexed] == [0, 1]
        assert [e["tx"] for e in indexed] == [a["tx"] for a in _anchors(book_a, s)]
    if merkle is not None:
        assert merkle.findings() == [] and merkle.wanted() == []


@pytest.mark.parametrize("mode", ANCHOR_MODES)
def test_lost_deployment_stops_sender_and_indexer(chain: DevChain, tmp_path: Path, mode: str) -> None:
    client, book, dep = _setup(chain, tmp_path, mode=mode)
    serial = _intake(book)
    sender = _sender(book, client)
    assert sender.run_once() == 2
    reader = ChainClient.connect(chain.rpc_url, deployment=dep)
    merkle = MerkleIndex(book.store, reader, book) if mode == "merkle" else None
    idx = Indexer(book.store, reader, book, merkle=merkle)
    while idx.run_once():
        pass
    # the chain's state is lost entirely: a fresh chain on the same port (other genesis, no contracts)
    chain.down()
    (chain.dir / "state.json").unlink()
    chain.up()
    assert not client.deployment_alive()
    with pytest.raises(ChainError, match="no longer holds this deployment"):
        sender.run_once()
    with pytest.raises(ChainError, match="no longer holds this deployment"):
        idx.run_once()
    assert sender.deployment_lost and idx.deployment_lost
    with pytest.raises(ChainError, match="no longer holds this deployment"):
        sender.run_once()  # still stopped: nothing sent to a chain without the contracts
    assert [a["state"] for a in _anchors(book, serial)] == ["anchored", "anchored"]  # nothing rewritten
    assert book.outbox.pending_count() == 0 and _settled(sender)
    # redeployed at the same addresses on the new chain: still not this deployment (genesis differs)
    again = ChainClient.deploy(chain.rpc_url, dev_admin())
    assert (again.registry, again.ledger) == (dep.registry, dep.ledger)
    assert not client.deployment_alive()


@pytest.mark.parametrize("mode", ANCHOR_MODES)
def test_reorg_while_a_batch_is_in_flight_is_not_hidden_by_its_receipt(
    chain: DevChain, tmp_path: Path, mode: str
) -> None:
    """Regression (issue 17, seen on geth Clique): a depth-1 reorganisation moved an anchored batch to another
    block while the next batch was in flight; the sender recorded the next receipt's block as its newest
    checkpoint without checking the older ones, so the move was never noticed and the first case's record
    named a block that no longer held its anchor."""
    client, book, _ = _setup(chain, tmp_path, mode=mode)
    _rpc(client, "evm_setIntervalMining", [0])  # blocks only when this test mines them
    try:
        sender = _sender(book, client)
        assert sender.reconcile() == 0
        first = _intake(book)
        assert sender._send_next()
        _rpc(client, "anvil_mine", ["0x1"])
        assert sender._wait_all() == 2
        tx1, block = _anchors(book, first)[0]["tx"], _anchors(book, first)[0]["block"]
        raw1 = client.request("eth_getRawTransactionByHash", [tx1])
        _rpc(client, "anvil_mine", ["0x1"])
        later = _intake(book)
        assert sender._send_next()  # in flight: sent, not mined
        tx2 = sender._in_flight[0].tx
        raw2 = client.request("eth_getRawTransactionByHash", [tx2])
        _rpc(client, "anvil_reorg", [2, [[raw1, 1]]])  # the first batch moves one block later
        assert int(client.receipt(tx1)["blockNumber"]) == block + 1  # type: ignore[index]
        if client.receipt(tx2) is None and not client.request("eth_getTransactionByHash", [tx2]):
            client.request("eth_sendRawTransaction", [raw2])
        _rpc(client, "anvil_mine", ["0x1"])
        sender._wait_all()
        assert sender.run_once() >= 0
        assert sender.lost_total == 2
        if isinstance(sender, OutboxSender):
            assert sender.last_loss is not None and sender.last_loss.fork.kind == "reorg"
        _assert_once_each(client, book, [first, later])
        for s in (first, later):
            if mode == "event":
                on_chain = [e.block_number for e in client.case_events(_hall_of(s), s)]
            else:
                batches = {(b.hall_id, b.seq): b for b in client.batches_in_range(0, client.block_number())}
                on_chain = [batches[(a["batch"]["hall"], a["batch"]["seq"])].block_number for a in _anchors(book, s)]
            assert [a["block"] for a in _anchors(book, s)] == on_chain, s
    finally:
        _rpc(client, "evm_setIntervalMining", [1])


@pytest.mark.parametrize("mode", ANCHOR_MODES)
def test_an_intake_already_on_chain_is_recorded_not_refused(chain: DevChain, tmp_path: Path, mode: str) -> None:
    """Regression (issue 17, seen on geth Clique when a node was killed): the batch was mined in the dead node's
    last block, which reached the next node only after the sender's reconcile had scanned it; the sender sent
    the intake again, the chain answered CaseLedgerCaseExists, and the acknowledged intake was marked refused
    although it was on chain. Merkle mode: the batch sent again is refused on chain (out of sequence), the
    sender reconciles and records the one the chain holds."""
    client, book, _ = _setup(chain, tmp_path, mode=mode)
    sender = _sender(book, client)
    assert sender.run_once() == 0  # reconciled: nothing pending, nothing on chain
    serial = _intake(book)
    tx = _send_behind_the_senders_back(client, book)  # mined behind the sender's back
    assert client.wait(tx).status == 1
    assert sender.run_once() + sender.run_once() == 2  # noticed, then recorded by the reconcile
    assert book.outbox.refused() == []
    _assert_once_each(client, book, [serial])
    assert _anchors(book, serial)[0]["tx"] == tx
    if mode == "merkle":
        assert client.batch_header(book.hall.hall_id)[1] == 1 and _settled(sender)


@pytest.mark.parametrize("later", [3, 0], ids=["in-a-later-block", "under-the-same-block-number"])
def test_merkle_received_records_follow_their_batch_anchored_again_after_a_rollback(
    chain: DevChain, tmp_path: Path, later: int
) -> None:
    """Merkle mode: the home hall's received records kept the anchor of a batch that left the chain (a rollback;
    the accepting hall anchored it again, in a later block). Its bundles are built from those anchors, so they
    named a block that no longer holds the batch, and its evidence no longer verified (seen in the fault suite:
    kill -9 of the chain node)."""
    from ledger.hall.evidence import export_bundle
    from ledger.hall.keys import manifest_key
    from ledger.hall.merkle_evidence import merkle_package
    from ledger.hall.merkle_index import ManifestStore, MerkleIndex
    from ledger.hall.merkle_outbox import MerkleSender
    from ledger.hall.transfer import receive_package

    dep = ChainClient.deploy(chain.rpc_url, dev_admin())
    admin = ChainClient.connect(chain.rpc_url, deployment=dep, account=dev_admin())
    halls: list[tuple[ChainClient, CaseBook]] = []
    for district in (LICHENG, FENGZE):
        acct = Account.create()
        hid = admin.register_hall(acct.address, district, "测试大厅", "http://127.0.0.1:1")
        admin.fund(acct.address, 10**18)
        client = ChainClient.connect(chain.rpc_url, deployment=dep, account=acct)
        store = Store.init(tmp_path / f"store-{district}")
        book = CaseBook(store, Outbox(store), hall=HallIdentity(hall_id=hid, district=district), anchor_mode="merkle")
        halls.append((client, book))
    (ca, a), (cb, b) = halls
    sender = MerkleSender(a.outbox, ca, hall=a.hall)
    index = MerkleIndex(b.store, cb, b, fetch=lambda h, s: a.store.get(manifest_key(h, s)))
    indexer = Indexer(b.store, cb, b, merkle=index)

    def index_all() -> None:
        while indexer.run_once():
            pass
        indexer.process_merkle()

    serial = _intake(a)
    assert sender.run_once() == 2
    first = _anchors(a, serial)
    index_all()
    assert b.has_case(serial)
    package = merkle_package(a, ManifestStore(a.store, hall_id=a.hall.hall_id), serial)
    assert receive_package(b, cb, serial, package, from_hall=a.hall.hall_id) == [0, 1]
    assert [x["block"] for x in _anchors(b, serial)] == [x["block"] for x in first]
    with _mining_paused(ca):
        _rpc(ca, "anvil_rollback", [ca.block_number() - int(first[0]["block"]) + 1])
        if later:
            _rpc(ca, "anvil_mine", [hex(later)])  # the batch comes back in a later block than before
        else:  # the next block, of the same number, is mined later (as after a node reloads an older state)
            _rpc(ca, "evm_increaseTime", [30])
    sender.watch_chain(force=True)
    sender.run_once()
    again = _anchors(a, serial)
    assert [x["state"] for x in again] == ["anchored", "anchored"]
    # later: in another block; 0: the same transaction in a new block of the same number (as after the chain
    # node's kill -9 reloads an older state), with another time
    assert again[0]["block"] > first[0]["block"] if later else again[0]["time"] > first[0]["time"]
    index_all()
    got = _anchors(b, serial)
    place = ("tx", "block", "batch", "time")
    assert [[x[k] for k in place] for x in got] == [[x[k] for k in place] for x in again]
    bundle = export_bundle(b, cb, serial)
    for e in bundle.events:
        assert e.batch is not None and cb.batch_at(e.batch.hall_id, e.batch.seq, e.block) is not None, e
        assert e.time == cb.block_time(e.block), e  # what the verifier compares (time_mismatch otherwise)
