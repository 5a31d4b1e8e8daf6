from __future__ import annotations

import base64
import copy
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ledger.chain.client import HallInfo
from ledger.core.facts import ChainEvent
from ledger.core.stages import Stage
from ledger.dev.demo import demo_id_number
from ledger.errors import VerificationError
from ledger.hall.cases import CaseBook, HallIdentity, Upload
from ledger.hall.outbox import Outbox
from ledger.hall.store import Store
from ledger.hall.transfer import (
    PeerAuthError,
    PeerForbiddenError,
    PeerGuard,
    authorize_case,
    sign_request,
    verify_package,
)

MATS = ["application_form", "id_card", "household_register", "housing_proof"]


def _package(tmp_path: Path) -> tuple[str, dict[str, Any], list[ChainEvent]]:
    store = Store.init(tmp_path / "a")
    book = CaseBook(store, Outbox(store), hall=HallIdentity(hall_id=1, district=350502))
    serial = book.intake(
        item_code="HJ-MIGRATE",
        home_district=350503,
        applicant={"name": "陈明华", "id_number": demo_id_number(), "phone": "13905951234"},
        materials=[Upload(m, f"{m}.pdf", f"content of {m}".encode()) for m in MATS],
        staff="w",
    )["serial"]
    events = []
    for r in book.records(serial):  # pretend both were anchored at index = seq
        key = f"rec/{serial}/{r['seq']:06d}".encode()
        store.put_json(key, {**r, "anchor": {"state": "anchored", "index": r["seq"], "tx": "0x1", "block": 1}})
        events.append(
            ChainEvent(
                "0x",
                1,
                Stage[r["stage"]],
                "0x" + "11" * 20,
                r["seq"],
                bytes.fromhex(r["commitment"]),
                b"\0" * 32,
                0,
                0,
                1,
                "0x1",
                0,
            )
        )
    pkg = book.package(serial).model_dump(mode="json", exclude_none=True)  # as it travels
    store.close()
    return serial, pkg, events


def test_genuine_package_verifies(tmp_path: Path) -> None:
    serial, pkg, events = _package(tmp_path)
    verified = verify_package(serial, pkg, events)
    assert [v.stage for v in verified] == [Stage.INTAKE, Stage.MATERIALS]
    assert len(verified[1].files) == 4


def test_one_changed_byte_in_a_material_names_the_file(tmp_path: Path) -> None:
    serial, pkg, events = _package(tmp_path)
    bad = copy.deepcopy(pkg)
    f = bad["records"][1]["files"][2]
    data = bytearray(base64.b64decode(f["data"]))
    data[0] ^= 0x01
    f["data"] = base64.b64encode(bytes(data)).decode()
    with pytest.raises(VerificationError) as e:
        verify_package(serial, bad, events)
    assert e.value.where == "household_register.pdf"
    assert "household_register.pdf" in str(e.value) and "SHA-256" in str(e.value)


def test_changed_field_or_dropped_file_is_refused(tmp_path: Path) -> None:
    serial, pkg, events = _package(tmp_path)
    bad = copy.deepcopy(pkg)
    bad["records"][0]["fields"]["applicant_name"] = "李四"
    with pytest.raises(VerificationError, match="record 0 \\(INTAKE\\) does not match"):
        verify_package(serial, bad, events)
    bad2 = copy.deepcopy(pkg)
    bad2["records"][1]["files"].pop()
    with pytest.raises(VerificationError, match="file list"):
        verify_package(serial, bad2, events)
    with pytest.raises(VerificationError, match="no event on chain"):
        verify_package(serial, pkg, events[:1])


def test_package_with_erased_fields_still_verifies(tmp_path: Path) -> None:
    """After retention erasure a record travels with leaf hashes in place of the erased values."""
    from ledger.core.records import field_leaf

    serial, pkg, events = _package(tmp_path)
    erased = copy.deepcopy(pkg)
    rec = erased["records"][0]
    rec["withheld"] = {}
    for name in ("applicant_name", "applicant_id_number", "applicant_phone"):
        rec["withheld"][name] = field_leaf(name, rec["fields"].pop(name), rec["salts"].pop(name)).hex()
    verified = verify_package(serial, erased, events)
    assert set(verified[0].withheld) == {"applicant_name", "applicant_id_number", "applicant_phone"}
    assert "applicant_id_number" not in verified[0].fields
    forged = copy.deepcopy(erased)
    forged["records"][0]["withheld"]["applicant_phone"] = "00" * 32
    with pytest.raises(VerificationError, match="does not match"):
        verify_package(serial, forged, events)


class _Registry:
    def __init__(self, halls: dict[str, HallInfo]) -> None:
        self.halls = halls

    def hall_of(self, addr: str) -> HallInfo | None:
        return self.halls.get(addr)


def test_peer_guard(tmp_path: Path) -> None:
    good, suspended, stranger = Account.create(), Account.create(), Account.create()
    reg = _Registry(
        {
            good.address: HallInfo(2, good.address, 350503, "active", "B", "http://b"),
            suspended.address: HallInfo(3, suspended.address, 350503, "suspended", "C", "http://c"),
        }
    )
    store = Store.init(tmp_path / "s")
    guard = PeerGuard(store, reg, hall_id=1, window=60)  # type: ignore[arg-type]
    path = "/peer/cases/X/package"
    h = sign_request(good, "GET", path, target_hall=1)
    assert guard.authenticate("GET", path, h).hall_id == 2
    with pytest.raises(PeerAuthError, match="replayed"):
        guard.authenticate("GET", path, h)
    with pytest.raises(PeerAuthError):
        guard.authenticate("GET", "/peer/cases/Y/package", sign_request(good, "GET", path, target_hall=1))
    with pytest.raises(PeerAuthError, match="not a registered hall"):
        guard.authenticate("GET", path, sign_request(stranger, "GET", path, target_hall=1))
    with pytest.raises(PeerForbiddenError, match="suspended"):
        guard.authenticate("GET", path, sign_request(suspended, "GET", path, target_hall=1))
    with pytest.raises(PeerAuthError, match="not signed"):
        guard.authenticate("GET", path, {})
    old = sign_request(good, "GET", path, target_hall=1)
    old["X-CaseLedger-Timestamp"] = str(int(time.time()) - 3600)
    with pytest.raises(PeerAuthError, match="timestamp"):
        guard.authenticate("GET", path, old)
    case = {"serial": "X", "home_district": 350503, "accepting_hall": 1}
    authorize_case(HallInfo(2, "", 350503, "active", "", ""), case)
    authorize_case(HallInfo(1, "", 350502, "active", "", ""), case)
    with pytest.raises(PeerForbiddenError):
        authorize_case(HallInfo(4, "", 350582, "active", "", ""), case)


def test_peer_request_replayed_to_another_hall_is_refused(tmp_path: Path) -> None:
    """Regression (issue 12 item 7): a request signed for hall 1 was accepted by any hall within its window."""
    good = Account.create()
    reg = _Registry({good.address: HallInfo(2, good.address, 350503, "active", "B", "http://b")})
    path = "/peer/cases/X/package"
    h = sign_request(good, "GET", path, target_hall=1)
    other = PeerGuard(Store.init(tmp_path / "s3"), reg, hall_id=3, window=60)  # type: ignore[arg-type]
    with pytest.raises(PeerAuthError, match="signed for hall 1, not for this hall"):
        other.authenticate("GET", path, h)
    # the target header changed to match: the signature (which covers the target) no longer recovers the key
    forged = {**h, "X-CaseLedger-Target-Hall": "3"}
    with pytest.raises(PeerAuthError, match="not a registered hall"):
        other.authenticate("GET", path, forged)
    assert PeerGuard(Store.init(tmp_path / "s1"), reg, hall_id=1, window=60).authenticate("GET", path, h).hall_id == 2  # type: ignore[arg-type]


def test_a_record_bound_to_another_intake_is_refused(tmp_path: Path) -> None:
    """Issue 13.1: another applicant's MATERIALS (same serial, another intake) anchored into this case."""
    from ledger.core.records import SaltedRecord

    serial, pkg, events = _package(tmp_path)
    at, other_intake = "2026-12-01T10:00:00+08:00", "0x" + "42" * 32
    foreign = SaltedRecord.new(serial, Stage.MATERIALS, {"supplement": False}, at=at, intake_commitment=other_intake)
    bad = copy.deepcopy(pkg)
    bad["records"][1].update(fields=foreign.fields, salts=foreign.salts, files=[])
    forged = [e if e.index != 1 else ChainEvent(**{**e.__dict__, "commitment": foreign.commitment}) for e in events]
    with pytest.raises(VerificationError, match="bound to another intake"):
        verify_package(serial, bad, forged)


@pytest.mark.parametrize(
    ("spoil", "where"),
    [
        (lambda p: p.update(records=5), "records"),
        (lambda p: p["records"].append("not a record"), "records[2]"),
        (lambda p: p["records"][1]["files"][0].update(data=12345), "records[1].files[0].data"),
        (lambda p: p["records"][1]["files"][0].pop("digest"), "records[1].files[0].digest"),
        (lambda p: p["records"][0].pop("salts"), "records[0].salts"),
        (lambda p: p["records"][0].update(stage=3), "records[0].stage"),
        (lambda p: p["records"][0].update(index=None), "records[0].index"),
    ],
)
def test_malformed_package_is_refused_naming_what_is_malformed(tmp_path: Path, spoil: Any, where: str) -> None:
    """Regression: a package of the wrong shape escaped as TypeError/KeyError (retried for ever as an
    "unexpected error", never counted as refused); it is a VerificationError naming the malformed part."""
    serial, pkg, events = _package(tmp_path)
    bad = copy.deepcopy(pkg)
    spoil(bad)
    with pytest.raises(VerificationError) as e:
        verify_package(serial, bad, events)
    assert e.value.where == where
    assert str(e.value).startswith(f"the package is malformed at {where}: ")


def test_package_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    serial, _, events = _package(tmp_path)
    with pytest.raises(VerificationError, match="not a JSON object"):
        verify_package(serial, [1, 2], events)  # type: ignore[arg-type]
