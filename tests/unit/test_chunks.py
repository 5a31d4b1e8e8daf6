"""Files in sealed chunks (ledger/hall/store.py, atrest.py; issue 20): a file streamed from a file object is stored
as chunks of CHUNK_BYTES, each sealed under its case's key with associated data naming case, copy, index and
whether it is the last; a chunk truncated, dropped, reordered, presented as the last, or moved to another file or
case does not open; a manifest moved or pointed at other chunks does not open; an interrupted write leaves nothing
a reader reaches and is swept at start; a file stored whole (before chunking) still reads."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.core.suites import GM, INTL, Suite
from ledger.dev.demo import demo_id_number
from ledger.errors import StoreDamagedError
from ledger.hall.cases import Upload
from ledger.hall.keys import chunk_key, chunk_prefix
from ledger.hall.store import CHUNK_BYTES, MANIFEST_MAGIC, StagedBlob, manifest_fid
from tests.support.sealed_hall import SealedHall

MATS = ["application_form", "id_card", "household_register", "housing_proof"]


@pytest.fixture(params=["intl", "gm"])
def suite(request: pytest.FixtureRequest) -> Suite:
    return GM if request.param == "gm" else INTL


Hall = SealedHall


@pytest.fixture
def hall(tmp_path: Path, suite: Suite) -> Iterator[Hall]:
    h = Hall(tmp_path, suite)
    h.book.max_file_bytes = 8 * CHUNK_BYTES
    try:
        yield h
    finally:
        h.close()


def _scan(n: int) -> bytes:
    return b"%PDF-1.7 " + secrets.token_bytes(n - 9)


def _file(h: Hall, data: bytes, case: str = "TB20260101-007-00001") -> StagedBlob:
    staged = h.store.stage_blob(io.BytesIO(data), case=case)
    with h.store.write_batch() as wb:
        assert wb.put_staged(staged)
    return staged


def _intake(h: Hall, files: dict[str, Upload]) -> str:
    view = h.book.intake(
        item_code="HJ-MIGRATE",
        home_district=350503,
        applicant={"name": "欧阳澄", "id_number": demo_id_number(), "phone": "13905951234"},
        materials=list(files.values()),
        staff="w1",
    )
    return str(view["serial"])


def test_the_suite_hash_fed_in_pieces_is_the_hash_of_the_whole(suite: Suite) -> None:
    data = secrets.token_bytes(3 * 1000 + 7)
    h = suite.hasher()
    for i in range(0, len(data), 1000):
        h.update(data[i : i + 1000])
    assert h.hexdigest() == suite.hexdigest(data)


def test_a_large_upload_is_streamed_into_sealed_chunks_and_reads_back(hall: Hall) -> None:
    big = _scan(2 * CHUNK_BYTES + 12345)
    ups = {m: Upload(m, f"{m}.pdf", f"%PDF scan {m}".encode()) for m in MATS}
    ups["id_card"] = Upload("id_card", "id.pdf", source=io.BytesIO(big), size=len(big))
    small = _scan(CHUNK_BYTES)  # one chunk: read whole and written with the record
    ups["housing_proof"] = Upload("housing_proof", "h.pdf", source=io.BytesIO(small), size=len(small))
    serial = _intake(hall, ups)
    h = next(f for f in hall.book.records(serial)[1]["files"] if f["kind"] == "housing_proof")
    assert h["size"] == CHUNK_BYTES and hall.store.get_blob(h["digest"], case=serial) == small
    f = next(f for f in hall.book.records(serial)[1]["files"] if f["kind"] == "id_card")
    assert f["digest"] == hall.suite.hexdigest(big) and f["size"] == len(big)
    chunks = [(k, v) for k, v in hall.store.iter_prefix(f"blob/{serial}/".encode()) if k.count(b"/") == 3]
    assert len(chunks) == 3 + len(MATS) - 1  # the scan in three chunks, each small file in one
    assert all(v.startswith(b"CLE1") for _, v in chunks)
    assert not any(big[i : i + 64] in v for _, v in chunks for i in (0, CHUNK_BYTES, 2 * CHUNK_BYTES))
    assert hall.store.get_blob(f["digest"], case=serial) == big
    assert [len(p) for p in hall.store.iter_blob(f["digest"], case=serial)] == [CHUNK_BYTES, CHUNK_BYTES, 12345]


def test_a_file_of_exactly_whole_chunks_has_its_last_chunk_final(hall: Hall) -> None:
    data = _scan(2 * CHUNK_BYTES)
    s = _file(hall, data)
    assert s.chunks == 2 and hall.store.get_blob(s.digest, case=s.case) == data


def _damaged(h: Hall, s: StagedBlob) -> None:
    with pytest.raises(StoreDamagedError):
        h.store.get_blob(s.digest, case=s.case)


def test_a_truncated_chunk_does_not_open(hall: Hall) -> None:
    s = _file(hall, _scan(2 * CHUNK_BYTES + 10))
    k = chunk_key(s.case, s.fid, 1)
    raw = hall.store.get(k)
    assert raw is not None
    hall.put(k, raw[:-100])
    _damaged(hall, s)


def test_a_dropped_last_chunk_is_refused(hall: Hall) -> None:
    s = _file(hall, _scan(2 * CHUNK_BYTES + 10))
    hall.delete(chunk_key(s.case, s.fid, 2))
    _damaged(hall, s)


def test_a_dropped_middle_chunk_with_the_rest_moved_up_is_refused(hall: Hall) -> None:
    s = _file(hall, _scan(2 * CHUNK_BYTES + 10))
    last = hall.store.get(chunk_key(s.case, s.fid, 2))
    assert last is not None
    hall.put(chunk_key(s.case, s.fid, 1), last)
    hall.delete(chunk_key(s.case, s.fid, 2))
    _damaged(hall, s)


def test_reordered_chunks_do_not_open(hall: Hall) -> None:
    s = _file(hall, _scan(2 * CHUNK_BYTES + 10))
    a, b = hall.store.get(chunk_key(s.case, s.fid, 0)), hall.store.get(chunk_key(s.case, s.fid, 1))
    assert a is not None and b is not None
    hall.put(chunk_key(s.case, s.fid, 0), b)
    hall.put(chunk_key(s.case, s.fid, 1), a)
    _damaged(hall, s)


def test_a_chunk_presented_as_the_last_does_not_open(hall: Hall) -> None:
    s = _file(hall, _scan(2 * CHUNK_BYTES + 10))
    k = chunk_key(s.case, s.fid, 0)
    raw = hall.store.get(k)
    assert raw is not None
    assert hall.codec.open_chunk(k, False, raw)[:5] == b"%PDF-"
    with pytest.raises(StoreDamagedError):
        hall.codec.open_chunk(k, True, raw)  # a file cut after chunk 0 with a forged count would need this


def test_a_chunk_moved_to_another_file_of_the_case_does_not_open(hall: Hall) -> None:
    a = _file(hall, _scan(CHUNK_BYTES + 10))
    b = _file(hall, _scan(CHUNK_BYTES + 10))
    raw = hall.store.get(chunk_key(a.case, a.fid, 0))
    assert raw is not None
    hall.put(chunk_key(b.case, b.fid, 0), raw)
    _damaged(hall, b)
    assert len(hall.store.get_blob(a.digest, case=a.case)) == CHUNK_BYTES + 10


def test_chunks_and_manifest_moved_to_another_case_do_not_open(hall: Hall) -> None:
    data = _scan(CHUNK_BYTES + 10)
    a = _file(hall, data, case="TB20260101-007-00001")
    other = _file(hall, _scan(100), case="TB20260101-007-00002")  # the other case has its own key
    target = "TB20260101-007-00002"
    address = hall.codec.blob_key(target, a.digest)
    for k, v in list(hall.store.iter_prefix(chunk_prefix(a.case, a.fid))):
        hall.put(k.replace(a.case.encode(), target.encode()), v)
    raw = hall.store.get(hall.codec.blob_key(a.case, a.digest))
    assert raw is not None
    hall.put(address, raw)
    with pytest.raises(StoreDamagedError):
        hall.store.get_blob(a.digest, case=target)
    assert hall.store.get_blob(other.digest, case=target)[:5] == b"%PDF-"


def test_a_manifest_moved_or_pointed_at_other_chunks_does_not_open(hall: Hall) -> None:
    a = _file(hall, _scan(CHUNK_BYTES + 10))
    b = _file(hall, _scan(CHUNK_BYTES + 20))
    ka, kb = hall.codec.blob_key(a.case, a.digest), hall.codec.blob_key(b.case, b.digest)
    ma, mb = hall.store.get(ka), hall.store.get(kb)
    assert ma is not None and mb is not None and manifest_fid(ma) == a.fid
    hall.put(kb, ma)  # a's manifest at b's address
    _damaged(hall, b)
    hall.put(kb, mb[: len(MANIFEST_MAGIC)] + bytes.fromhex(a.fid) + mb[len(MANIFEST_MAGIC) + 16 :])  # b → a's chunks
    _damaged(hall, b)


def test_an_interrupted_intake_leaves_nothing_a_reader_sees_and_its_serial_is_not_given_again(hall: Hall) -> None:
    class Failing(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            if self.tell() >= CHUNK_BYTES:
                raise OSError("the client went away")
            return super().read(n)

    big = _scan(3 * CHUNK_BYTES)
    ups = {m: Upload(m, f"{m}.pdf", f"%PDF scan {m}".encode()) for m in MATS}
    ups["id_card"] = Upload("id_card", "id.pdf", source=Failing(big), size=len(big))
    with pytest.raises(OSError, match="went away"):
        _intake(hall, ups)
    assert hall.store.count_prefix(b"case/") == 0 and hall.store.count_prefix(b"rec/") == 0
    assert hall.store.count_prefix(b"blob/") == 0  # the chunks written before the failure were deleted
    assert hall.store.count_prefix(b"bstage/") == 0  # and their staging marker
    ups["id_card"] = Upload("id_card", "id.pdf", source=io.BytesIO(big), size=len(big))
    serial = _intake(hall, ups)
    assert serial.endswith("-00002")  # 00001 was taken by the failed intake and is never given again


def test_chunks_of_a_file_still_staging_are_swept_at_start(hall: Hall) -> None:
    kept = _file(hall, _scan(CHUNK_BYTES + 10))
    left = hall.store.stage_blob(io.BytesIO(_scan(2 * CHUNK_BYTES + 1)), case=kept.case)  # a crash before commit
    assert hall.store.count_prefix(chunk_prefix(left.case, left.fid)) == 3
    assert hall.store.count_prefix(b"bstage/") == 1  # the committed file's marker went with its record's batch
    assert hall.store.sweep_chunks() == 3
    assert hall.store.count_prefix(b"bstage/") == 0
    assert hall.store.count_prefix(chunk_prefix(left.case, left.fid)) == 0
    assert hall.store.count_prefix(chunk_prefix(kept.case, kept.fid)) == 2
    assert len(hall.store.get_blob(kept.digest, case=kept.case)) == CHUNK_BYTES + 10
    assert hall.store.sweep_chunks() == 0


def test_the_same_file_twice_in_a_case_is_stored_once(hall: Hall) -> None:
    data = _scan(CHUNK_BYTES + 10)
    a = _file(hall, data)
    again = hall.store.stage_blob(io.BytesIO(data), case=a.case)
    with hall.store.write_batch() as wb:
        assert not wb.put_staged(again)  # already there: the new chunks are deleted in the same batch
    assert hall.store.count_prefix(chunk_prefix(a.case, again.fid)) == 0
    assert hall.store.get_blob(a.digest, case=a.case) == data


def test_a_file_stored_whole_before_chunking_still_reads(hall: Hall) -> None:
    data = _scan(3000)
    case = "TB20260101-007-00009"
    digest = hall.suite.hexdigest(data)
    with hall.store.write_batch() as wb:  # what the release before chunking wrote: one sealed value
        for k, v in hall.codec.seal_blob(case, digest, data, wb.pending):
            wb.put(k, v)
    raw = hall.store.get(hall.codec.blob_key(case, digest))
    assert raw is not None and manifest_fid(raw) is None
    assert hall.store.get_blob(digest, case=case) == data
    assert hall.store.sweep_chunks() == 0
