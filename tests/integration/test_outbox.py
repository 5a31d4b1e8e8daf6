"""The senders and package verification in-process against a real anvil (the lead's dev_chain fixture), in both
anchoring modes: event mode's outbox sender, Merkle mode's batch sender (one root per batch)."""

from __future__ import annotations

import base64
import copy
import time
from pathlib import Path
from typing import Any

import pytest

from ledger.chain.client import ChainClient
from ledger.core.caserules import case_state
from ledger.core.stages import Phase, Stage
from ledger.dev.demo import demo_id_number
from ledger.errors import VerificationError
from ledger.hall.cases import CaseBook, HallIdentity, Upload
from ledger.hall.keys import MBOX_PREFIX, MBUILT_PREFIX, OUTBOX_REFUSED_PREFIX, mbox_key, mhead_key, record_key
from ledger.hall.merkle_evidence import merkle_package
from ledger.hall.merkle_index import ManifestStore
from ledger.hall.merkle_outbox import MerkleSender
from ledger.hall.outbox import Outbox, OutboxSender, _items
from ledger.hall.sender import ChainSender
from ledger.hall.store import Store
from ledger.hall.transfer import receive_package
from tests.integration.conftest import ANCHOR_MODES
from tests.support.anchoring import case_leaves_in, merkle_anchored_once

pytestmark = pytest.mark.integration

MATS = ["application_form", "id_card", "household_register", "housing_proof"]


def _hall(tmp_path: Path, client: ChainClient, name: str, mode: str = "event") -> CaseBook:
    info = client.hall_of(client.address)
    assert info is not None
    store = Store.init(tmp_path / name)
    hall = HallIdentity(hall_id=info.hall_id, district=info.district)
    return CaseBook(store, Outbox(store), hall=hall, anchor_mode=mode)


def _sender(book: CaseBook, client: ChainClient) -> ChainSender[Any]:
    if book.anchor_mode == "merkle":
        return MerkleSender(book.outbox, client, hall=book.hall)
    return OutboxSender(book.outbox, client)


def _pending(book: CaseBook) -> int:
    if book.anchor_mode == "merkle":
        return book.store.count_prefix(MBOX_PREFIX) + book.store.count_prefix(MBUILT_PREFIX)
    return book.outbox.pending_count()


def _stages_on_chain(client: ChainClient, book: CaseBook, serial: str) -> list[Stage]:
    """The case's events as the chain proves them (Merkle mode: its leaves in the hall's checked manifests)."""
    if book.anchor_mode == "merkle":
        own = ManifestStore(book.store, hall_id=book.hall.hall_id)
        return [lf.stage for lf, _, _ in case_leaves_in(client, own.get, book.hall.hall_id, serial)]
    return [e.stage for e in client.case_events(book.hall.hall_id, serial)]


def _intake(book: CaseBook, home: int = 350503) -> str:
    return str(
        book.intake(
            item_code="HJ-MIGRATE",
            home_district=home,
            applicant={"name": "陈明华", "id_number": demo_id_number(), "phone": "13905951234"},
            materials=[Upload(m, f"{m}.pdf", f"content of {m}".encode()) for m in MATS],
            staff="w",
        )["serial"]
    )


@pytest.mark.parametrize("mode", ANCHOR_MODES)
def test_batch_anchors_many_cases_in_one_transaction(tmp_path: Path, new_hall: Any, mode: str) -> None:
    client = new_hall(350502)
    book = _hall(tmp_path, client, "a", mode)
    serials = [_intake(book) for _ in range(3)]
    sender = _sender(book, client)
    assert sender.run_once() == 6
    assert _pending(book) == 0
    txs = {r["anchor"]["tx"] for s in serials for r in book.records(s)}
    assert len(txs) == 1
    for s in serials:
        assert _stages_on_chain(client, book, s) == [Stage.INTAKE, Stage.MATERIALS]
        assert [r["anchor"]["index"] for r in book.records(s)] == [0, 1]
    if mode == "merkle":  # one root for the six events
        assert client.batch_header(book.hall.hall_id)[1] == 1
        merkle_anchored_once(client, book, serials)


@pytest.mark.parametrize("mode", ANCHOR_MODES)
def test_sent_before_crash_is_not_sent_again(tmp_path: Path, new_hall: Any, mode: str) -> None:
    client = new_hall(350502)
    book = _hall(tmp_path, client, "a", mode)
    serial = _intake(book)
    # the previous process sent the batch and died before recording the outcome
    crashed = _sender(book, client)
    if mode == "merkle":  # (its batch was built and written before it was sent, as the sender does)
        built = crashed.build()  # type: ignore[attr-defined]
        assert built is not None
        client.send_root(int(built["seq"]), bytes.fromhex(built["root"]), int(built["count"]))
    else:
        opens, appends = _items(book.outbox.pending())
        client.send_batch(opens, appends)  # not waited for: still in the pool when the new process starts
    fresh = _sender(
        book,
        ChainClient.connect(client.w3.provider.endpoint_uri, deployment=client.deployment, account=client.account),
    )
    if mode == "merkle":
        # a fresh process: reconciles by the chain's batch count; an unknown outcome is resent at most, and the
        # chain refuses a batch number twice: it takes as many rounds as the pool needs to mine the first send
        got = 0
        for _ in range(10):
            got += fresh.run_once()
            if got:
                break
            time.sleep(0.3)
        assert got == 2
    else:
        assert fresh.run_once() == 2
    assert _pending(book) == 0
    assert _stages_on_chain(client, book, serial) == [Stage.INTAKE, Stage.MATERIALS]
    assert crashed.run_once() == 0
    assert _stages_on_chain(client, book, serial) == [Stage.INTAKE, Stage.MATERIALS]
    if mode == "merkle":
        assert client.batch_header(book.hall.hall_id)[1] == 1
        merkle_anchored_once(client, book, [serial])


def test_refused_item_is_isolated(tmp_path: Path, new_hall: Any) -> None:
    client = new_hall(350502)
    book = _hall(tmp_path, client, "a")
    good = _intake(book)
    # an event for a case that is not on chain (and never will be) must not block the good case
    with book.lock, book.store.write_batch() as wb:
        book.outbox.enqueue(
            wb,
            accepting_hall=book.hall.hall_id,
            serial="TB-GHOST",
            rec_key="rec/TB-GHOST/000000",
            stage=Stage.PROCESS,
            commitment=b"\x01" * 32,
        )
    sender = OutboxSender(book.outbox, client)
    assert sender.run_once() == 2
    assert book.outbox.pending_count() == 0
    refused = book.outbox.refused()
    assert [r["rule"] for r in refused] == ["CaseLedgerUnknownCase"]
    assert len(client.case_events(book.hall.hall_id, good)) == 2


def test_merkle_refused_item_is_isolated(tmp_path: Path, new_hall: Any) -> None:
    """Merkle mode: an event that breaks a rule (here a DELIVERY straight after MATERIALS) is refused locally by
    the rule's name, as the contract would refuse it in event mode, and never anchored; an event of a case the
    hall knows no event of waits (its INTAKE may not be indexed yet) without holding back the good case."""
    client = new_hall(350502)
    book = _hall(tmp_path, client, "a", "merkle")
    good = _intake(book)
    with book.lock, book.store.write_batch() as wb:
        first = book.outbox.next_seq()
        for n, (serial, stage) in enumerate(((good, Stage.DELIVERY), ("TB-GHOST", Stage.PROCESS))):
            book.outbox.enqueue(
                wb,
                accepting_hall=book.hall.hall_id,
                serial=serial,
                rec_key=f"rec/{serial}/000009",
                stage=stage,
                commitment=b"\x01" * 32,
                seq=first + n,
                mode="merkle",
            )
    sender = MerkleSender(book.outbox, client, hall=book.hall)
    assert sender.run_once() == 2
    assert [(r["serial"], r["rule"]) for r in book.outbox.refused()] == [(good, "CaseLedgerOutOfOrder")]
    assert [v["serial"] for _, v in book.store.iter_json(MBOX_PREFIX)] == ["TB-GHOST"]
    assert _stages_on_chain(client, book, good) == [Stage.INTAKE, Stage.MATERIALS]
    merkle_anchored_once(client, book, [good])


@pytest.mark.parametrize("mode", ANCHOR_MODES)
def test_tampered_material_is_refused_naming_the_file(tmp_path: Path, new_hall: Any, mode: str) -> None:
    a_client, b_client = new_hall(350502), new_hall(350503)
    a, b = _hall(tmp_path, a_client, "a", mode), _hall(tmp_path, b_client, "b", mode)
    serial = _intake(a)
    assert _sender(a, a_client).run_once() == 2
    package = (
        a.package(serial)
        if mode == "event"
        else merkle_package(a, ManifestStore(a.store, hall_id=a.hall.hall_id), serial)
    )
    pkg = package.model_dump(mode="json", exclude_none=True)  # as it travels
    if mode == "merkle":  # each record travels with its leaf and inclusion path
        assert all(r["anchor"]["batch"]["seq"] == 0 and r["anchor"]["path"] is not None for r in pkg["records"])
    with b.lock:
        b.store.put_json(
            f"case/{serial}".encode(),
            {
                "serial": serial,
                "item_code": "HJ-MIGRATE",
                "home_district": 350503,
                "accepting_hall": a.hall.hall_id,
                "next_seq": 0,
                **({"anchor_mode": "merkle"} if mode == "merkle" else {}),
            },
        )
    bad = copy.deepcopy(pkg)
    f = bad["records"][1]["files"][1]
    data = bytearray(base64.b64decode(f["data"]))
    data[-1] ^= 0x80
    f["data"] = base64.b64encode(bytes(data)).decode()
    with pytest.raises(VerificationError) as e:
        receive_package(b, b_client, serial, bad, from_hall=a.hall.hall_id)
    assert e.value.where == "id_card.pdf" and "id_card.pdf" in str(e.value)
    assert b.records(serial) == []  # nothing accepted
    assert receive_package(b, b_client, serial, pkg, from_hall=a.hall.hall_id) == [0, 1]
    assert [r["origin"] for r in b.records(serial)] == ["received", "received"]
    assert len(b.records(serial)[1]["files"]) == 4
    if mode == "merkle":  # stored with the batch proof it was checked against
        assert [r["anchor"]["batch"]["seq"] for r in b.records(serial)] == [0, 0]
        assert [r["anchor"]["mode"] for r in b.records(serial)] == ["merkle", "merkle"]


def test_merkle_event_after_received_ones_waits_for_the_index_regression(tmp_path: Path, new_hall: Any) -> None:
    """Merkle mode: the home hall's ACCEPTANCE..RESULT reached the accepting hall by transfer before its indexer
    had read their batch, and the accepting hall's DELIVERY, checked against the older case state, was refused
    for good (CaseLedgerOutOfOrder) although it was merely early; it must wait for the index instead."""
    client = new_hall(350502)
    info = client.hall_of(client.address)
    assert info is not None
    store = Store.init(tmp_path / "a")
    sender = MerkleSender(Outbox(store), client, hall=HallIdentity(hall_id=info.hall_id, district=info.district))
    serial = f"TB20261202-{info.hall_id:03d}-00001"
    state = {**case_state(info.hall_id, serial, 350503), "index": 1, "phase": int(Phase.MATERIALS_RECORDED)}
    delivery = {
        "seq": 7,
        "serial": serial,
        "accepting_hall": info.hall_id,
        "rec_key": record_key(serial, 5).decode(),
        "stage": "DELIVERY",
        "commitment": "ab" * 32,
        "ref": 0,
        "open": None,
        "created_at": time.time(),
    }
    received = {"seq": 4, "stage": "RESULT", "origin": "received", "anchor": {"state": "anchored", "index": 4}}
    with store.write_batch() as wb:
        wb.put_json(mhead_key(serial), state)
        wb.put_json(mbox_key(7), delivery)
        wb.put_json(record_key(serial, 4), received)
    assert sender.build() is None  # nothing built: the event waits for the indexer
    assert store.count_prefix(MBOX_PREFIX) == 1 and store.count_prefix(OUTBOX_REFUSED_PREFIX) == 0
    # with nothing received past the index, the same event really breaks the stage order: refused by the rule's name
    with store.write_batch() as wb:
        wb.delete(record_key(serial, 4))
    assert sender.build() is None
    assert [r["rule"] for _, r in store.iter_json(OUTBOX_REFUSED_PREFIX)] == ["CaseLedgerOutOfOrder"]
    assert store.count_prefix(MBOX_PREFIX) == 0
