from __future__ import annotations

from pathlib import Path

import pytest

from ledger.dev.demo import demo_id_number
from ledger.errors import ConflictError, ForbiddenError, InputError
from ledger.hall.cases import CaseBook, HallIdentity, Upload, check_id_number, check_phone
from ledger.hall.outbox import Outbox
from ledger.hall.store import Store

MATS = ["application_form", "id_card", "household_register", "housing_proof"]


def _book(tmp_path: Path, district: int = 350502, max_file_bytes: int = 1000) -> CaseBook:
    store = Store.init(tmp_path / "store")
    return CaseBook(
        store, Outbox(store), hall=HallIdentity(hall_id=7, district=district), max_file_bytes=max_file_bytes
    )


def _intake(book: CaseBook, **over: object) -> dict[str, object]:
    kw: dict[str, object] = {
        "item_code": "HJ-MIGRATE",
        "home_district": 350503,
        "applicant": {"name": "陈明华", "id_number": demo_id_number(), "phone": "13905951234"},
        "materials": [Upload(m, f"{m}.pdf", f"content of {m}".encode()) for m in MATS],
        "staff": "w1",
    }
    kw.update(over)
    return book.intake(**kw)  # type: ignore[arg-type]


def test_id_number_and_phone_checks() -> None:
    good = demo_id_number()
    assert check_id_number(good.lower()) == good
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(InputError, match="check character"):
        check_id_number(bad)
    with pytest.raises(InputError):
        check_id_number("12345")
    assert check_phone("139 0595 1234") == "13905951234"
    assert check_phone("0595-22345678")
    with pytest.raises(InputError) as e:
        check_phone("12345")
    assert e.value.field == "applicant_phone" and e.value.message("zh").startswith("联系电话应为11位")


def test_intake_stores_everything_in_one_batch(tmp_path: Path) -> None:
    book = _book(tmp_path)
    view = _intake(book)
    serial = str(view["serial"])
    assert "-007-" in serial  # hall id in the serial: unique across halls without coordination
    recs = book.records(serial)
    assert [r["stage"] for r in recs] == ["INTAKE", "MATERIALS"]
    assert recs[0]["fields"]["applicant_id_number"] == demo_id_number()
    assert recs[1]["fields"]["materials_count"] == 4
    assert all(book.store.has_blob(f["digest"], case=serial) for f in recs[1]["files"])
    # format 2: every record says when, every record after INTAKE names the intake's commitment
    assert recs[0]["fields"]["at"] == recs[1]["fields"]["at"]
    assert recs[1]["fields"]["intake_commitment"] == "0x" + recs[0]["commitment"]
    assert "intake_at" not in recs[0]["fields"] and "submitted_at" not in recs[1]["fields"]
    pending = book.outbox.pending()
    assert [p["stage"] for p in pending] == ["INTAKE", "MATERIALS"]
    assert pending[0]["open"] == {"item_code": "HJ-MIGRATE", "home_district": 350503}
    assert {(p["accepting_hall"], p["serial"]) for p in pending} == {(7, serial)}
    # personal data never goes to the outbox (what is sent to the chain)
    assert demo_id_number() not in str(pending) and "陈明华" not in str(pending)
    assert _intake(book)["serial"] != serial


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"item_code": "NOPE"}, "item_code"),
        ({"home_district": 350527}, "home_district"),
        ({"home_district": 110101}, "home_district"),
        ({"materials": [Upload(m, "f.pdf", b"x") for m in MATS[:-1]]}, "materials.housing_proof"),
        (
            {"materials": [Upload(m, "f.pdf", b"x" * (2000 if m == "id_card" else 1)) for m in MATS]},
            "materials.id_card",
        ),
        ({"materials": [Upload(m, "f.pdf", b"x") for m in [*MATS, "tax_receipt"]]}, "materials.tax_receipt"),
        ({"applicant": {"name": "", "id_number": demo_id_number(), "phone": "13905951234"}}, "applicant_name"),
        (
            {"applicant": {"name": "x", "id_number": "350502199003071230", "phone": "13905951234"}},
            "applicant_id_number",
        ),
    ],
)
def test_bad_intake_names_the_field_and_stores_nothing(tmp_path: Path, over: dict[str, object], field: str) -> None:
    book = _book(tmp_path)
    with pytest.raises(InputError) as e:
        _intake(book, **over)
    assert e.value.field == field
    assert book.store.count_prefix(b"case/") == 0
    assert book.store.count_prefix(b"rec/") == 0
    assert book.outbox.pending_count() == 0
    assert book.store.count_prefix(b"blob/") == 0


def test_same_district_lifecycle_and_rejection(tmp_path: Path) -> None:
    book = _book(tmp_path, district=350503)
    serial = str(_intake(book)["serial"])
    with pytest.raises(ConflictError):
        book.deliver(serial, method="counter", note="", staff="w")
    with pytest.raises(InputError) as e:
        book.decide_acceptance(serial, accepted=False, reason=" ", staff="o")
    assert e.value.field == "reason"
    view = book.decide_acceptance(serial, accepted=False, reason="不属于本事项", staff="o")
    assert [t["stage"] for t in view["timeline"]] == ["INTAKE", "MATERIALS", "ACCEPTANCE", "RESULT"]
    assert view["timeline"][3]["fields"]["decision"] == "not_accepted"
    assert view["status"] == "rejected"
    with pytest.raises(ConflictError):
        book.process_step(serial, step="review", note="", staff="o")

    s2 = str(_intake(book)["serial"])
    book.decide_acceptance(s2, accepted=True, reason="", staff="o")
    book.request_supplement(s2, materials=["id_card"], note="模糊", staff="o")
    assert book.view(s2)["status"] == "supplement_requested"
    book.supplement(s2, materials=[Upload("id_card", "id2.jpg", b"clear scan")], note="", staff="w")
    book.process_step(s2, step="review", note="ok", staff="o")
    v = book.decide(s2, approved=True, note="", document=Upload("result_document", "cert.pdf", b"%PDF"), staff="o")
    assert v["timeline"][-1]["fields"]["documents_count"] == 1
    v = book.deliver(s2, method="counter", note="", staff="w")
    assert v["status"] == "delivered"
    stages = [p["stage"] for p in book.outbox.pending() if p["serial"] == s2]
    assert stages == ["INTAKE", "MATERIALS", "ACCEPTANCE", "PROCESS", "MATERIALS", "PROCESS", "RESULT", "DELIVERY"]


def test_other_districts_case_cannot_be_decided_here(tmp_path: Path) -> None:
    book = _book(tmp_path, district=350502)
    serial = str(_intake(book)["serial"])
    with pytest.raises(ForbiddenError) as e:
        book.decide_acceptance(serial, accepted=True, reason="", staff="o")
    assert e.value.message_code == "case_other_district"


def test_supplement_before_acceptance_did_not_mark_the_case_accepted_nor_wait_for_the_answer(tmp_path: Path) -> None:
    """Bug: a case asked for a supplement before acceptance (受理前一次性告知) could be accepted while the
    request was still open, and once the supplement came in it showed as 已受理 though nobody had accepted it."""
    book = _book(tmp_path, district=350503)
    serial = str(_intake(book)["serial"])
    book.request_supplement(serial, materials=["application_form"], note="签名不清", staff="o")
    assert book.view(serial)["status"] == "supplement_requested"
    with pytest.raises(ConflictError) as e:
        book.decide_acceptance(serial, accepted=True, reason="", staff="o")
    assert e.value.message_code == "acceptance_awaits_supplement"
    assert "补正" in e.value.message("zh")
    book.supplement(serial, materials=[Upload("application_form", "f2.pdf", b"%PDF signed")], note="", staff="w")
    assert book.view(serial)["status"] == "submitted"
    view = book.decide_acceptance(serial, accepted=True, reason="", staff="o")
    assert view["status"] == "accepted"


def test_a_case_asked_for_a_supplement_before_acceptance_may_still_be_refused(tmp_path: Path) -> None:
    book = _book(tmp_path, district=350503)
    serial = str(_intake(book)["serial"])
    book.request_supplement(serial, materials=["id_card"], note="", staff="o")
    view = book.decide_acceptance(serial, accepted=False, reason="申请人放弃补正", staff="o")
    assert view["status"] == "rejected" and book.notice(serial) is None
