"""The API's response schemas say what the hall's store says: no key dropped, none added as null.

Issue 14 typed the case view's parts (anchor, transfer, held, supplement notice), the peer package and the
peer status; the JSON clients, pages and peer halls read must stay what it was. Each test dumps a schema as
FastAPI does (``mode="json"``) and compares it with the stored dicts, written where possible by the real
writers (the outbox marking an INTAKE refused, a reissue, a supplement request before acceptance).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.dev.demo import demo_id_number
from ledger.errors import ChainRuleError
from ledger.hall.cases import CaseBook, HallIdentity, Upload
from ledger.hall.handover import PeerStatus, peer_status
from ledger.hall.keys import case_key, held_key, notice_key, record_key
from ledger.hall.outbox import Outbox
from ledger.hall.package import parse_package
from ledger.hall.store import Store
from node_api.api.routes.cases import CasePublic
from node_api.api.routes.transfer import PackagePublic, PeerStatusPublic
from node_api.api.schemas import public

MATS = ["application_form", "id_card", "household_register", "housing_proof"]
HASH = "ab" * 32

# every anchor shape a writer leaves in a record (the writer named on the right)
ANCHORS: list[dict[str, Any]] = [
    {"state": "pending"},  # CaseBook._put_record
    {"state": "anchored", "tx": "0x" + HASH, "block": 12, "time": 1764600000, "index": 0},  # Outbox.mark_anchored
    {"state": "anchored", "tx": "0x" + HASH, "block": 12, "time": None, "index": 1},  # block time not read
    {"state": "refused", "rule": "CaseLedgerOutOfOrder", "message": "out of order"},  # Outbox.mark_refused
    {"state": "held", "rule": "CaseLedgerCaseExists", "message": "taken"},  # Outbox.mark_refused, later events
    {"state": "refused", "mode": "merkle", "rule": "CaseLedgerInactiveHall", "message": "m"},  # MerkleSender
    MERKLE_OWN := {  # MerkleSender, its own batch
        "state": "anchored",
        "mode": "merkle",
        "tx": "0x" + HASH,
        "block": 30,
        "time": 1764600001,
        "index": 2,
        "head": HASH,
        "writer": "0x" + "11" * 20,
        "batch": {"hall": 7, "seq": 3, "leaf": 1, "size": 4, "log_index": 0},
    },
    {  # receive_package, a Merkle-mode record from another hall (with its proof)
        **MERKLE_OWN,
        "batch": {"hall": 2, "seq": 3, "leaf": 1, "size": 4, "log_index": 1},
        "leaf": "00" * 40,
        "path": [HASH, HASH],
    },
    {  # AnchorWatch / MerkleSender after a reorganisation: the anchor that left the chain
        "state": "pending",
        "lost": {"state": "anchored", "tx": "0x" + HASH, "block": 12, "time": 1764600000, "index": 0, "kind": "reorg"},
    },
    {"state": "pending", "rebased": {"lost_index": 3}},  # the Merkle index: another hall took the index
]


def _book(tmp_path: Path, name: str = "store", district: int = 350503) -> CaseBook:
    store = Store.init(tmp_path / name)
    return CaseBook(store, Outbox(store), hall=HallIdentity(hall_id=7, district=district, name="丰泽区行政服务中心"))


def _intake(book: CaseBook, home_district: int = 350503) -> str:
    view = book.intake(
        item_code="HJ-MIGRATE",
        home_district=home_district,
        applicant={"name": "陈明华", "id_number": demo_id_number(), "phone": "13905951234"},
        materials=[Upload(m, f"{m}.pdf", f"content of {m}".encode()) for m in MATS],
        staff="w1",
        staff_name="王窗口",
    )
    return str(view["serial"])


def _as_before(view: dict[str, Any]) -> dict[str, Any]:
    """What the case routes answered before the view was typed: the view's keys CasePublic shows, null when
    the view lacks one (FastAPI validated the dict against CasePublic's fields, all of them nullable or set)."""
    return json.loads(json.dumps({k: view.get(k) for k in CasePublic.model_fields}))


def _dump(view: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = CasePublic.of(view).model_dump(mode="json")
    return out


@pytest.mark.parametrize("anchor", ANCHORS, ids=lambda a: "-".join(sorted(a)) + "-" + a["state"])
def test_every_anchor_shape_is_answered_as_stored(tmp_path: Path, anchor: dict[str, Any]) -> None:
    book = _book(tmp_path)
    serial = _intake(book)
    rec = book.store.get_json(record_key(serial, 1))
    assert rec is not None
    book.store.put_json(record_key(serial, 1), {**rec, "anchor": anchor})
    view = book.view(serial)
    out = _dump(view)
    assert out == _as_before(view)
    assert {e["seq"]: e["anchor"] for e in out["timeline"]} == {0: {"state": "pending"}, 1: anchor}


def test_a_held_case_and_its_reissue_are_answered_as_stored(tmp_path: Path) -> None:
    book = _book(tmp_path)
    serial = _intake(book)
    intake = next(e for e in book.outbox.pending() if e.get("open"))
    book.outbox.mark_refused(intake, ChainRuleError("CaseLedgerCaseExists", {"serial": serial}))
    view = book.view(serial)
    out = _dump(view)
    assert out == _as_before(view)
    assert out["status"] == "held" and out["held"] == book.store.get_json(held_key(serial))
    assert {e["anchor"]["state"] for e in out["timeline"]} == {"refused", "held"}
    new = book.reissue(serial, staff="w1")
    assert _dump(new) == _as_before(new)
    again = _dump(book.view(serial))
    assert again["held"] == book.store.get_json(held_key(serial)) and again["held"]["superseded_by"] == new["serial"]


@pytest.mark.parametrize(
    "transfer",
    [
        {"state": "complete", "at": 1764600000.5},  # TransferWorker.run_once
        {"state": "retrying", "attempts": 3, "last_error": "hall(s) [2] did not send event(s) [2]", "refused": False},
    ],
)
def test_transfer_and_handover_states_are_answered_as_stored(tmp_path: Path, transfer: dict[str, Any]) -> None:
    book = _book(tmp_path, district=350502)
    serial = _intake(book)
    h = book.header(serial)
    handover = {"state": "received", "hall_id": 2, "hall_name": "丰泽区行政服务中心", "at": 1764600000.25}
    book.store.put_json(case_key(serial), {**h, "transfer": transfer, "handover": handover})
    view = book.view(serial)
    out = _dump(view)
    assert out == _as_before(view)
    assert out["transfer"] == transfer and out["handover"] == handover


def test_a_supplement_notice_is_answered_and_sent_to_the_accepting_hall_as_stored(tmp_path: Path) -> None:
    home = _book(tmp_path)
    serial = _intake(home)
    view = home.request_supplement(serial, materials=["application_form"], note="签名不清", staff="o1")
    stored = home.store.get_json(notice_key(serial))
    out = _dump(view)
    assert out == _as_before(view)
    assert out["supplement_notice"] == stored and "staff_name" not in stored  # absent, not null
    # the peer status call: made by the home hall, parsed by the accepting hall, kept there as it was made
    wire = public(PeerStatusPublic, peer_status(home, serial)).model_dump_json()
    assert json.loads(wire)["notice"] == stored
    answer = PeerStatus.model_validate_json(wire)
    assert answer.received and answer.hall_name == "丰泽区行政服务中心"
    accepting = _book(tmp_path, "accepting", district=350502)
    accepting.accept_notice(serial, answer.notice)
    assert accepting.store.get_json(notice_key(serial)) == stored


def test_the_peer_package_travels_as_before_and_parses_back(tmp_path: Path) -> None:
    book = _book(tmp_path, district=350502)
    serial = _intake(book)
    recs = book.records(serial)
    for i, r in enumerate(recs):  # pretend both were anchored at index = seq
        book.store.put_json(
            record_key(serial, r["seq"]), {**r, "anchor": {"state": "anchored", "index": i, "tx": "0x1", "block": 1}}
        )
    h = book.header(serial)
    before = {  # what CaseBook.package returned as a dict, and the route sent as it was
        "serial": serial,
        "item_code": h["item_code"],
        "home_district": h["home_district"],
        "accepting_hall": h["accepting_hall"],
        "records": [
            {
                "index": i,
                "stage": r["stage"],
                "fields": r["fields"],
                "salts": r["salts"],
                "withheld": r.get("withheld") or {},
                "files": [
                    {**f, "data": base64.b64encode(book.store.get_blob(f["digest"], case=serial)).decode()}
                    for f in r.get("files", [])
                ],
            }
            for i, r in enumerate(recs)
        ],
    }
    pkg = book.package(serial)
    wire = public(PackagePublic, pkg).model_dump(mode="json", exclude_none=True)
    assert wire == before
    assert parse_package(wire) == pkg
