"""待办's index (ledger/hall/inbox.py): search, filters, sort, pages, masking, and rows kept current by the
store's change notifications without reading every case again (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.dev.demo import demo_id_number
from ledger.hall.cases import CaseBook, HallIdentity, Upload
from ledger.hall.inbox import InboxIndex, InboxQuery, mask_name, mask_phone
from ledger.hall.outbox import Outbox
from ledger.hall.store import Store

DISTRICT = 350502
MATS = ["application_form", "id_card", "household_register", "housing_proof"]
PEOPLE = [("林小梅", "35050219850307123", "13805950001"), ("陈明华", "35050319900101234", "13905950002")]


@pytest.fixture
def book(tmp_path: Path) -> CaseBook:
    store = Store.init(tmp_path / "store")
    return CaseBook(store, Outbox(store), hall=HallIdentity(hall_id=7, district=DISTRICT))


def _intake(book: CaseBook, who: int, home: int = DISTRICT) -> str:
    name, base, phone = PEOPLE[who]
    view = book.intake(
        item_code="HJ-MIGRATE",
        home_district=home,
        applicant={"name": name, "id_number": demo_id_number(base), "phone": phone},
        materials=[Upload(m, f"{m}.pdf", f"content of {m}".encode()) for m in MATS],
        staff="clerk1",
    )
    return str(view["serial"])


def test_search_by_serial_name_id_and_phone_and_the_row_is_masked(book: CaseBook) -> None:
    s1, s2 = _intake(book, 0), _intake(book, 1)
    index = InboxIndex(book)
    for needle, want in [
        (s1.lower(), {s1}),
        ("林小梅", {s1}),
        ("350503199001", {s2}),  # the start of an ID number
        ("0002", {s2}),  # the end of a phone number
        ("测试", set()),
    ]:
        assert {r.serial for r in index.query(InboxQuery(q=needle)).data} == want, needle
    row = index.query(InboxQuery(q="林小梅")).data[0]
    assert row.applicant_masked == "林**" and row.id_masked.startswith("350502") and "*" in row.id_masked
    assert "林小梅" not in row.model_dump_json() and "13805950001" not in row.model_dump_json()
    assert mask_phone("13805950001") == "138****0001" and mask_name("王") == "王*"


def test_rows_follow_every_write_through_the_store_listener(book: CaseBook) -> None:
    s1, s2 = _intake(book, 0), _intake(book, 1)
    index = InboxIndex(book)
    assert {r.status for r in index.query(InboxQuery()).data} == {"submitted"}
    assert {r.action for r in index.query(InboxQuery()).data} == {"officer"}  # waiting for acceptance here
    book.decide_acceptance(s1, accepted=True, reason="", staff="officer1")
    book.decide_acceptance(s2, accepted=False, reason="材料不全", staff="officer1")
    by = {r.serial: r for r in index.query(InboxQuery()).data}
    assert by[s1].status == "accepted" and by[s2].status == "rejected"
    assert by[s2].working_days_remaining is None  # a closed case shows no remaining days
    assert [r.serial for r in index.query(InboxQuery(status="accepted")).data] == [s1]
    s3 = _intake(book, 0)  # a new case appears without rebuilding the index
    assert s3 in {r.serial for r in index.query(InboxQuery(q="林小梅")).data}
    assert index.query(InboxQuery(action="officer")).count == 2  # s1 (to decide) and s3 (to accept)


def test_scopes_sorts_and_pages(book: CaseBook) -> None:
    here = [_intake(book, i % 2) for i in range(5)]
    other = _intake(book, 0, home=350503)  # taken in here for another district
    index = InboxIndex(book)
    assert {r.serial for r in index.query(InboxQuery(scope="inbox")).data} == set(here)
    assert {r.serial for r in index.query(InboxQuery(scope="mine")).data} == {*here, other}
    by_serial = [r.serial for r in index.query(InboxQuery(sort="serial", per_page=50)).data]
    assert by_serial == sorted(by_serial)
    oldest_first = [r.serial for r in index.query(InboxQuery(sort="age")).data]
    assert oldest_first[0] == here[0] and oldest_first[-1] == other
    pages = [index.query(InboxQuery(sort="serial", per_page=2, page=p)) for p in (1, 2, 3, 4)]
    assert [len(p.data) for p in pages] == [2, 2, 2, 0] and pages[0].pages == 3 and pages[0].count == 6
    assert [r.serial for p in pages for r in p.data] == by_serial
    assert index.query(InboxQuery(item="BDC-SALE")).count == 0
    # the time limit runs from acceptance: only accepted cases are due, the soonest first
    for s in here[:2]:
        book.decide_acceptance(s, accepted=True, reason="", staff="officer1")
    due = index.query(InboxQuery(due_within=60))
    assert {r.serial for r in due.data} == set(here[:2]) and all(r.due for r in due.data)
    assert [r.serial for r in index.query(InboxQuery(sort="due")).data][:2] == here[:2]
