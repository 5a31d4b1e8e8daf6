"""Outbox sender and package verification in-process against a real anvil (the lead's dev_chain fixture)."""

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
from ledger.hall.keys import MBOX_PREFIX, OUTBOX_REFUSED_PREFIX, mbox_key, mhead_key, record_key
from ledger.hall.merkle_outbox import MerkleSender
from ledger.hall.outbox import Outbox, OutboxSender
from ledger.hall.store import Store
from ledger.hall.transfer import receive_package

pytestmark = pytest.mark.integration

MATS = ["application_form", "id_card", "household_register", "housing_proof"]


def _hall(tmp_path: Path, client: ChainClient, name: str) -> CaseBook:
    info = client.hall_of(client.address)
    assert info is not None
    store = Store.init(tmp_path / name)
    return CaseBook(store, Outbox(store), hall=HallIdentity(hall_id=info.hall_id, district=info.district))


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


def test_batch_anchors_many_cases_in_one_transaction(tmp_path: Path, new_hall: Any) -> None:
    client = new_hall(350502)
    book = _hall(tmp_path, client, "a")
    serials = [_intake(book) for _ in range(3)]
    sender = OutboxSender(book.outbox, client)
    assert sender.run_once() == 6
    assert book.outbox.pending_count() == 0
    txs = {r["anchor"]["tx"] for s in serials for r in book.records(s)}
    assert len(txs) == 1
    for s in serials:
        assert [e.stage for e in client.case_events(book.hall.hall_id, s)] == [Stage.INTAKE, Stage.MATERIALS]
        assert [r["anchor"]["index"] for r in book.records(s)] == [0, 1]


def test_sent_before_crash_is_not_sent_again(tmp_path: Path, new_hall: Any) -> None:
    client = new_hall(350502)
    book = _hall(tmp_path, client, "a")
    serial = _intake(book)
    # the previous process sent the batch and died before recording the outcome
    crashed = OutboxSender(book.outbox, client)
    entries = book.outbox.pending()
    from ledger.hall.outbox import _items

    opens, appends = _items(entries)
    client.send_batch(opens, appends)  # not waited for: still in the pool when the new process starts
    fresh = OutboxSender(
        book.outbox,
        ChainClient.connect(client.w3.provider.endpoint_uri, deployment=client.deployment, account=client.account),
    )
    assert fresh.run_once() == 2
    assert book.outbox.pending_count() == 0
    assert len(client.case_events(book.hall.hall_id, serial)) == 2
    assert crashed.run_once() == 0
    assert len(client.case_events(book.hall.hall_id, serial)) == 2


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


def test_tampered_material_is_refused_naming_the_file(tmp_path: Path, new_hall: Any) -> None:
    a_client, b_client = new_hall(350502), new_hall(350503)
    a, b = _hall(tmp_path, a_client, "a"), _hall(tmp_path, b_client, "b")
    serial = _intake(a)
    OutboxSender(a.outbox, a_client).run_once()
    pkg = a.package(serial).model_dump(mode="json", exclude_none=True)  # as it travels
    with b.lock:
        b.store.put_json(
            f"case/{serial}".encode(),
            {
                "serial": serial,
                "item_code": "HJ-MIGRATE",
                "home_district": 350503,
                "accepting_hall": a.hall.hall_id,
                "next_seq": 0,
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
