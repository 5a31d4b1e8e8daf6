"""Encryption at rest (ledger/hall/atrest.py, datakeys.py): nothing personal reaches LevelDB in clear; a record
still recomputes to its commitment when its case key is gone; ciphertexts are bound to their place; erasure reaches
copies of the store; KEK rotation re-wraps; a plaintext store is converted."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import plyvel
import pytest

from ledger.core.aead import cipher_of_suite
from ledger.core.records import DisclosedRecord, verify_disclosure
from ledger.core.suites import GM, INTL, Suite
from ledger.dev.demo import demo_id_number
from ledger.errors import ConfigError, DataErasedError, StoreDamagedError
from ledger.hall.accounts import AccountBook
from ledger.hall.atrest import open_hall_keys
from ledger.hall.cases import CaseBook, HallIdentity, Upload
from ledger.hall.keys import STORE_INIT_KEY, blob_key, record_key
from ledger.hall.outbox import Outbox
from ledger.hall.store import PlainCodec, Store
from tests.support.sealed_hall import SealedHall

NAME = "欧阳澄"
ADDRESS = "泉州市鲤城区开元街道"
MATS = ["application_form", "id_card", "household_register", "housing_proof"]


@pytest.fixture(params=["intl", "gm"])
def suite(request: pytest.FixtureRequest) -> Suite:
    return GM if request.param == "gm" else INTL


Hall = SealedHall


@pytest.fixture
def hall(tmp_path: Path, suite: Suite) -> Iterator[Hall]:
    h = Hall(tmp_path, suite)
    try:
        yield h
    finally:
        h.close()


def _intake(book: CaseBook, name: str = NAME, n: int = 0) -> str:
    view = book.intake(
        item_code="HJ-MIGRATE",
        home_district=350503,
        applicant={"name": name, "id_number": demo_id_number(), "phone": "13905951234", "address": ADDRESS},
        materials=[Upload(m, f"{m}.pdf", f"%PDF scan of {m} for {name} {n}".encode()) for m in MATS],
        staff="w1",
    )
    return str(view["serial"])


def _encodings(text: str) -> list[bytes]:
    return [text.encode("utf-8"), text.encode("utf-16-le"), text.encode("utf-16-be")]


def _raw(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.iterdir()) if p.is_file())


def _verifies(rec: dict[str, object], suite: Suite) -> None:
    fields = dict(rec["fields"])  # type: ignore[call-overload]
    salts = dict(rec["salts"])  # type: ignore[call-overload]
    d = DisclosedRecord(fields=fields, salts=salts, withheld=dict(rec.get("withheld") or {}))  # type: ignore[call-overload]
    verify_disclosure(d, bytes.fromhex(str(rec["commitment"])), suite)


def test_personal_values_and_files_never_reach_leveldb_in_clear(hall: Hall) -> None:
    serial = _intake(hall.book)
    recs = hall.book.records(serial)
    assert recs[0]["fields"]["applicant_name"] == NAME and len(recs[1]["files"]) == 4
    for r in recs:
        _verifies(r, hall.suite)
    assert hall.store.get_blob(recs[1]["files"][1]["digest"], case=serial).startswith(b"%PDF scan of id_card")
    hall.store.close()  # the write-ahead log, the tables, every leftover: all of it on disk
    raw = _raw(hall.root / "store")
    for value in [NAME, ADDRESS, demo_id_number(), "13905951234", "%PDF scan", "id_card.pdf"]:
        for enc in _encodings(value):
            assert enc not in raw, (value, enc)
    # neither a salt of a personal field nor a file's plain digest: either would confirm a guess
    assert recs[0]["salts"]["applicant_name"].encode() not in raw
    assert recs[1]["files"][0]["digest"].encode() not in raw


def test_a_ciphertext_moved_to_another_case_does_not_open(hall: Hall) -> None:
    a, b = _intake(hall.book, n=1), _intake(hall.book, "林小梅", n=2)
    raw = hall.store.get(record_key(a, 0))
    assert raw is not None
    # b's record with a's sealed part: another case key and another place in the store
    stolen = json.loads(raw)["sealed"]
    target = json.loads(hall.store.get(record_key(b, 0)) or b"{}")
    with hall.store.write_batch() as wb:
        wb.put(record_key(b, 0), json.dumps({**target, "sealed": stolen}).encode())
    with pytest.raises(StoreDamagedError, match="does not open"):
        hall.book.records(b)
    # the same record of the same case moved to another seq: the place is in the associated data too
    with hall.store.write_batch() as wb:
        wb.put(record_key(a, 5), raw)
    with pytest.raises(StoreDamagedError, match="does not open"):
        hall.store.get_json(record_key(a, 5))


def test_shredding_reaches_a_copy_taken_before(hall: Hall, tmp_path: Path) -> None:
    serial, other = _intake(hall.book, n=1), _intake(hall.book, "林小梅", n=2)
    files = hall.book.records(serial)[1]["files"]
    hall.store.snapshot_to(tmp_path / "copy")  # what a backup holds
    kids = hall.keys.codec.shred(serial)
    assert len(kids) == 1 and hall.keys.data_keys.state(kids[0]) == "destroyed"
    for store in (hall.store, Store(tmp_path / "copy", suite=hall.suite)):
        if store is not hall.store:
            store.codec = hall.store.codec.__class__(
                store, hall.keys.data_keys, hall_id=7, suite=hall.suite, personal_fields=hall.keys.codec.personal
            )
        recs = [v for _, v in store.iter_json(f"rec/{serial}/".encode())]
        assert "applicant_name" not in recs[0]["fields"] and "applicant_name" in recs[0]["withheld"]
        assert recs[1]["files"] == [] and recs[1]["personal_data_erased"]
        for r in recs:
            _verifies(r, hall.suite)  # the withheld leaves stay: the commitment still recomputes
        with pytest.raises(DataErasedError):
            store.get_blob(files[0]["digest"], case=serial)
        # the other case is untouched
        assert [v for _, v in store.iter_json(f"rec/{other}/".encode())][0]["fields"]["applicant_name"] == "林小梅"
        if store is not hall.store:
            store.close()


def test_restart_reads_everything_back(tmp_path: Path, suite: Suite) -> None:
    h = Hall(tmp_path, suite)
    serial = _intake(h.book)
    before = h.book.records(serial)
    h.close()
    again = Hall(tmp_path, suite, init=False)
    try:
        assert again.book.records(serial) == before
    finally:
        again.close()


def test_missing_key_store_or_kek_is_refused_with_the_way_out(tmp_path: Path, suite: Suite) -> None:
    h = Hall(tmp_path, suite)
    _intake(h.book)
    h.close()
    (tmp_path / "moved").mkdir()
    (tmp_path / "datakeys").rename(tmp_path / "moved" / "datakeys")
    store = Store(tmp_path / "store", suite=suite)
    with pytest.raises(ConfigError, match="put back the data-key store"):
        open_hall_keys(store, kek_file=tmp_path / "kek.json", keys_dir=tmp_path / "datakeys", hall_id=7, suite=suite)
    (tmp_path / "moved" / "datakeys").rename(tmp_path / "datakeys")
    (tmp_path / "kek.json").rename(tmp_path / "moved" / "kek.json")
    with pytest.raises(ConfigError, match="put back the KEK file"):
        open_hall_keys(store, kek_file=tmp_path / "kek.json", keys_dir=tmp_path / "datakeys", hall_id=7, suite=suite)
    store.close()


def test_kek_rotation_rewraps_every_data_key(hall: Hall) -> None:
    from ledger.hall.kekrotation import rotate_offline

    serials = [_intake(hall.book, n=i) for i in range(3)]
    dk = hall.keys.data_keys
    old = hall.keys.kek.current_kid
    accounts = AccountBook(hall.store, hall_id=7, kek=hall.keys.kek)
    accounts.create("li.officer", "a long passphrase for tests", roles={"officer"})
    new, n = rotate_offline(dk, accounts, cipher=cipher_of_suite(hall.suite.name))
    assert new != old and n >= 3 + 1 and dk.pending_rewrap() == 0
    assert hall.keys.kek.cipher == cipher_of_suite(hall.suite.name)
    wrapped = {v["wrapped"].split(".")[1] for _, v in dk.store.iter_json(b"dk/")}
    assert wrapped == {new}
    dk._cache.clear()  # read through the new wrapping
    assert all(hall.book.records(s)[0]["fields"]["applicant_name"] == NAME for s in serials)


def test_day_keys_seal_sessions_and_expire(hall: Hall) -> None:
    accounts = AccountBook(hall.store, hall_id=7, kek=hall.keys.kek)
    accounts.create("zhang.clerk", "a long passphrase for tests", roles={"clerk"})
    s = accounts.login("zhang.clerk", "a long passphrase for tests", client="10.1.2.3")
    assert accounts.authenticate(s.token).csrf_token == s.csrf_token
    raw = b"".join(v for _, v in hall.store.iter_prefix(b"sess/"))
    assert s.csrf_token.encode() not in raw and b"10.1.2.3" not in raw
    # two days after the session's day the key is destroyed: nothing of the session opens any more
    assert hall.keys.data_keys.expire_days(now=time.time() + 3 * 86400) == 1
    left = [v for _, v in hall.store.iter_json(b"sess/")]
    assert left and "csrf" not in left[0] and "client" not in left[0]


def test_plaintext_store_is_converted_at_start(tmp_path: Path, suite: Suite) -> None:
    # a layout-1 store: what this release found on disk before (plain JSON, files under their digest)
    store = Store.init(tmp_path / "store", hall_id=7, suite=suite)
    store.put_json(STORE_INIT_KEY, {**store.marker(), "layout": 1})
    assert isinstance(store.codec, PlainCodec)
    book = CaseBook(store, Outbox(store), hall=HallIdentity(hall_id=7, district=350502, suite=suite))
    serial = _intake(book)
    before = book.records(serial)
    digest = before[1]["files"][0]["digest"]
    assert store.get(blob_key(digest)) is not None
    store.close()
    assert NAME.encode() in _raw(tmp_path / "store")
    h = Hall(tmp_path, suite, init=False)
    try:
        assert h.keys.converted >= 2 and h.store.marker()["layout"] == 2
        assert h.book.records(serial) == before
        assert h.store.get(blob_key(digest)) is None
        assert h.store.get_blob(digest, case=serial).startswith(b"%PDF scan")
    finally:
        h.close()
    raw = _raw(tmp_path / "store")
    for enc in _encodings(NAME):
        assert enc not in raw  # compacted: the plaintext versions left the log and the tables


def test_spare_keys_are_never_given_to_two_cases(tmp_path: Path, suite: Suite) -> None:
    h = Hall(tmp_path, suite)
    a = _intake(h.book, n=1)
    kid = h.keys.codec.case_kid(a)
    h.close()
    # a crash lost the key store's "used" mark (it is written without fsync); the store's binding is durable
    db = plyvel.DB(str(tmp_path / "datakeys"))
    entry = json.loads(db.get(b"dk/" + str(kid).encode()))
    db.put(b"dk/" + str(kid).encode(), json.dumps({**entry, "state": "spare"}).encode())
    db.close()
    again = Hall(tmp_path, suite, init=False)
    try:
        b = _intake(again.book, n=2)
        assert again.keys.codec.case_kid(b) != kid
    finally:
        again.close()


def test_envelope_names_its_key_and_nothing_else(hall: Hall) -> None:
    serial = _intake(hall.book)
    stored = json.loads(hall.store.get(record_key(serial, 0)) or b"{}")
    env = base64.b64decode(stored["sealed"]["data"])
    assert env[:4] == b"CLE1" and env[4:20].hex() == hall.keys.codec.case_kid(serial)
    assert set(stored["sealed"]["leaves"]) == {
        "applicant_name",
        "applicant_id_number",
        "applicant_phone",
        "applicant_address",
    }


def test_erasure_in_a_gm_deployment_keeps_sm3_leaves_regression(tmp_path: Path) -> None:
    """Retention erasure wrote SHA-256 leaves into a gm store's records (field_leaf's default suite), so the
    erased case no longer recomputed to its SM3 commitment and its bundle failed verification."""
    from datetime import UTC, datetime, timedelta

    from ledger.hall.access import AccessTrail
    from ledger.hall.retention import erase_personal_data

    h = Hall(tmp_path, GM)
    try:
        serial = _intake(h.book)
        out = erase_personal_data(
            h.book, AccessTrail(h.store, hall_id=7), serial, actor="t", now=datetime.now(UTC) + timedelta(days=365 * 31)
        )
        assert out.data_keys_destroyed == 1
        recs = h.book.records(serial)
        assert set(recs[0]["withheld"]) >= {"applicant_name", "applicant_id_number"}
        for r in recs:
            _verifies(r, GM)
    finally:
        h.close()
