"""Regression tests of issue 13 that need a real chain but no hall processes: the held case, a failed `up`, the
serial check after a restore (and, in Merkle mode, the hall's own batches anchored after the backup).

In both anchoring modes: the held case (a reused serial's INTAKE refused, its later events held, reissued) and
the restore's read-back — each mode's as its own test, because the mechanisms differ (event mode: the chain
refuses the INTAKE with ``CaseLedgerCaseExists`` and the serial check scans ``CaseOpened`` logs; Merkle mode: the
sender's own rule check refuses it, and the hall's batches anchored after the backup are read back from
``BatchAnchored`` logs and the other halls' manifests). In one mode: the failed `up` (no case is anchored;
the subject is the chain process the failed start leaves behind).
"""

from __future__ import annotations

import socket
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.chain.client import ChainClient
from ledger.core.batches import EventLeaf, Manifest
from ledger.core.hashchain import case_id
from ledger.core.stages import Stage
from ledger.core.timefmt import CST
from ledger.dev.demo import demo_id_number
from ledger.dev.devchain import free_port
from ledger.dev.localnet import LocalNet
from ledger.errors import CaseHeldError, ConfigError, StoreDamagedError, UnavailableError
from ledger.hall.cases import CaseBook, HallIdentity, Upload
from ledger.hall.indexer import Indexer
from ledger.hall.integrity import SerialCheck, check_against_chain, parse_serial
from ledger.hall.keys import (
    INDEXER_CURSOR_KEY,
    MBOX_PREFIX,
    RESTORED_KEY,
    manifest_key,
    mhead_key,
    serial_counter_key,
    xfer_key,
)
from ledger.hall.merkle_index import ManifestStore, MerkleIndex
from ledger.hall.merkle_outbox import MerkleSender
from ledger.hall.outbox import Outbox, OutboxSender
from ledger.hall.store import Store

pytestmark = pytest.mark.integration

MATS = ["application_form", "id_card", "household_register", "housing_proof"]


def _hall_of(serial: str) -> int:
    """The accepting hall a hall-issued serial names (its case id is derived from it)."""
    named = parse_serial(serial)
    assert named is not None, serial
    return named[1]


def _intake(book: CaseBook, name: str) -> str:
    return str(
        book.intake(
            item_code="HJ-MIGRATE",
            home_district=350503,
            applicant={"name": name, "id_number": demo_id_number(), "phone": "13905951234"},
            materials=[Upload(m, f"{m}.pdf", f"{name} {m}".encode()) for m in MATS],
            staff="w",
        )["serial"]
    )


def test_refused_intake_holds_its_materials_instead_of_appending_them_to_another_case(
    tmp_path: Path, new_hall: Any
) -> None:
    """Issue 13 item 1 (backstop): the reused serial's INTAKE was refused (CaseLedgerCaseExists) and its
    MATERIALS became event #2 of another applicant's case."""
    client: ChainClient = new_hall(350502)
    info = client.hall_of(client.address)
    assert info is not None
    store = Store.init(tmp_path / "a")
    book = CaseBook(store, Outbox(store), hall=HallIdentity(hall_id=info.hall_id, district=info.district))
    sender = OutboxSender(book.outbox, client)
    first = _intake(book, "张三")
    assert sender.run_once() == 2
    # the store forgets its counter (as a rolled-back store does): the next intake gets the same serial
    store.delete(serial_counter_key(first.split("-")[0][2:]))
    store.delete(f"case/{first}".encode())  # the rolled-back store does not know the case either
    again = _intake(book, "李四")
    assert again == first
    sender.run_once()
    events = client.case_events(_hall_of(first), first)
    assert [e.stage for e in events] == [Stage.INTAKE, Stage.MATERIALS], "nothing of 李四 went into 张三's case"
    held = book.held(first)
    assert held is not None and held["rule"] == "CaseLedgerCaseExists" and held["held_events"] == 1
    view = book.view(first)
    assert view["status"] == "held"
    assert [e["anchor"]["state"] for e in view["timeline"]] == ["refused", "held"]
    assert book.outbox.pending_count() == 0 and book.outbox.held_count() == 1
    with pytest.raises(CaseHeldError):
        book.deliver(first, method="counter", note="", staff="w")
    # the way out: a counter clerk reissues it under a fresh serial; the same applicant and files, anchored
    new = book.reissue(first, staff="admin")
    assert new["serial"] != first and new["reissued_from"] == first
    assert sender.run_once() == 2
    recs = book.records(new["serial"])
    assert recs[0]["fields"]["applicant_name"] == "李四" and recs[0]["fields"]["reissued_from"] == first
    assert [e.stage for e in client.case_events(_hall_of(new["serial"]), new["serial"])] == [
        Stage.INTAKE,
        Stage.MATERIALS,
    ]
    assert len(client.case_events(_hall_of(first), first)) == 2


@pytest.mark.parametrize("head_lost", [False, True], ids=["head-kept", "head-lost"])
def test_merkle_refused_intake_holds_its_materials_instead_of_building_them_into_another_case(
    tmp_path: Path, new_hall: Any, head_lost: bool
) -> None:
    """Issue 13 item 1 in Merkle mode: the sender refused the reused serial's INTAKE (its own rule check:
    CaseLedgerCaseExists) but built its MATERIALS as event #3 of the other applicant's case and anchored it; no
    hold, so the case could not be reissued either. ``head-lost``: the store forgot the case's ``mhead/`` too, so
    both events went out at indices 0 and 1 (a fork every reader refuses); the indexer queued them again after
    the case's events on chain, and then the same happened."""
    client: ChainClient = new_hall(350502)
    info = client.hall_of(client.address)
    assert info is not None
    me = info.hall_id
    store = Store.init(tmp_path / "a")
    book = CaseBook(store, Outbox(store), hall=HallIdentity(hall_id=me, district=info.district), anchor_mode="merkle")
    sender = MerkleSender(book.outbox, client, hall=book.hall)
    first = _intake(book, "张三")
    assert sender.run_once() == 2  # batch 0
    store.delete(serial_counter_key(first.split("-")[0][2:]))  # a rolled-back store: counter and case forgotten
    store.delete(f"case/{first}".encode())
    forked = 0
    if head_lost:
        store.delete(mhead_key(first))
    again = _intake(book, "李四")
    assert again == first
    if head_lost:
        assert sender.run_once() == 2  # batch 1: INTAKE and MATERIALS at indices 0 and 1, a fork of the case
        forked = 1
        index = MerkleIndex(store, client, book, fetch=lambda h, s: store.get(manifest_key(h, s)))
        indexer = Indexer(store, client, book, merkle=index)
        while indexer.run_once():
            pass
        indexer.process_merkle()
        assert index.findings_total == 2 and index.rebased_total == 2  # both lost their index: queued again
    sender.run_once()
    assert client.batch_header(me)[1] == 1 + forked, "nothing of 李四 was anchored into 张三's case"
    held = book.held(first)
    assert held is not None and held["rule"] == "CaseLedgerCaseExists" and held["held_events"] == 1
    view = book.view(first)
    assert view["status"] == "held"
    assert [e["anchor"]["state"] for e in view["timeline"]] == ["refused", "held"]
    assert sender.pending_count() == 0 and book.outbox.held_count() == 1
    # the way out is the event mode's: reissued under a fresh serial, anchored in the hall's next batch
    new = book.reissue(first, staff="admin")
    assert sender.run_once() == 2
    assert client.batch_header(me)[1] == 2 + forked
    leaves = [EventLeaf.decode(x) for x in Manifest.decode(store.get(manifest_key(me, 1 + forked)) or b"").leaves]
    assert [(lf.case_id, lf.index) for lf in leaves] == [(case_id(me, new["serial"]), i) for i in (0, 1)]
    assert [r["anchor"]["state"] for r in book.records(new["serial"])] == ["anchored", "anchored"]


def test_a_failed_up_stops_the_chain_it_started(tmp_path: Path) -> None:
    """Issue 13 item 8: a failed `caseledger up` left the chain process running."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        taken = busy.getsockname()[1]  # bound, not listening: the hall node cannot bind it and exits
        net = LocalNet(
            tmp_path,
            halls=1,
            chain_port=free_port(),
            hall_ports=[taken],
            block_time=1.0,
            node_env={"CASELEDGER_STARTUP_TIMEOUT": "10"},
        )
        with pytest.raises(ConfigError, match="exited"):
            net.up(timeout=60)
    assert net.chain.pid() is None, "the chain started by the failed `up` is still running"
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", net.chain.port))  # nothing answers on its port any more


def test_after_a_restore_intake_waits_for_the_serial_check_then_never_reuses_a_chain_serial(
    tmp_path: Path, new_hall: Any
) -> None:
    """Issue 13 item 1: the restored hall's next intake got a serial that already belonged to another applicant."""
    client: ChainClient = new_hall(350502)
    info = client.hall_of(client.address)
    assert info is not None
    day = datetime.now(CST).strftime("%Y%m%d")
    taken = f"TB{day}-{info.hall_id:03d}-00007"  # opened on chain after the backup; the restored store lacks it
    client.open_case(taken, "HJ-MIGRATE", 350503, b"\x11" * 32)
    store = Store.init(tmp_path / "a")
    store.put_json(RESTORED_KEY, {"cursor": None, "restored_at": 1.0})
    book = CaseBook(store, Outbox(store), hall=HallIdentity(hall_id=info.hall_id, district=info.district))
    check = SerialCheck(store, client, hall_id=info.hall_id, max_range=5)
    book.intake_gates.append(check.gate)
    with pytest.raises(UnavailableError) as err:
        _intake(book, "王五")
    assert err.value.code == "serial_check" and err.value.message("zh") == "本厅正在与链上记录核对办件编号，请稍候。"
    check.run_once()  # bounded ranges of 5 blocks, from the backup's cursor to the head
    assert check.done
    serial = _intake(book, "王五")
    assert serial == f"TB{day}-{info.hall_id:03d}-00008"
    assert SerialCheck(store, client, hall_id=info.hall_id).done, "a later start does not scan again"


def test_merkle_hall_restored_from_a_backup_older_than_its_batches_reads_them_back_and_reuses_nothing(
    tmp_path: Path, new_hall: Any, admin: ChainClient
) -> None:
    """Merkle mode: a hall restored from a backup older than some of its own batches. The start-up check did not
    look at the hall's batches on chain (INTAKE leaves open no CaseOpened log, so the serial check found none of
    their serials), pending events of the backup that were anchored after it would have been anchored again, and
    a case's next event could have been built at an index the chain already held."""
    client: ChainClient = new_hall(350502)
    admin.grant_role("DISPUTE_OFFICER_ROLE", client.address)
    info = client.hall_of(client.address)
    assert info is not None
    me = info.hall_id
    hall = HallIdentity(hall_id=me, district=info.district)
    store = Store.init(tmp_path / "a")
    store.put_json(INDEXER_CURSOR_KEY, client.block_number())  # the hall's indexer had read up to here
    book = CaseBook(store, Outbox(store), hall=hall, anchor_mode="merkle")
    sender = MerkleSender(book.outbox, client, hall=hall)
    first = _intake(book, "张三")
    assert sender.run_once() == 2  # batch 0
    pending = _intake(book, "李四")  # waiting in mbox/ when the backup is taken, anchored after it
    store.snapshot_to(tmp_path / "backup")
    assert sender.run_once() == 2  # batch 1
    book.append_dispute(first, Stage.DISPUTE_OPENED, {"reason": "申请人对材料有异议", "raised_by": "applicant"})
    later = _intake(book, "王五")  # a serial the backup does not know
    assert sender.run_once() == 3  # batch 2: the dispute (index 2 of the first case) and the later case
    assert client.batch_header(me)[1] == 3

    def mirror(hall_id: int, seq: int) -> bytes | None:  # the other halls keep every manifest they indexed
        return store.get(manifest_key(hall_id, seq))

    restored = Store(tmp_path / "backup")
    # not marked restored (a store that lost writes by itself): refused at start, naming the batch
    with pytest.raises(StoreDamagedError, match="Merkle batch 1 of 3 on chain"):
        check_against_chain(restored, client, hall_id=me)
    restored.put_json(RESTORED_KEY, {"cursor": restored.get_json(INDEXER_CURSOR_KEY), "restored_at": time.time()})
    seen = check_against_chain(restored, client, hall_id=me)
    assert (seen.own_batches_on_chain, seen.own_batches_known) == (3, 1)

    rbook = CaseBook(restored, Outbox(restored), hall=hall, anchor_mode="merkle")
    offered: dict[int, bytes] = {}
    check = SerialCheck(
        restored, client, hall_id=me, max_range=5, fetch=lambda h, s: offered.get(s), lock=rbook.outbox.lock
    )
    rbook.intake_gates.append(check.gate)
    rsender = MerkleSender(rbook.outbox, client, hall=hall, hold=check.anchoring_hold)
    # no hall offers the manifests yet: the check waits, intake answers 503 saying so, nothing is anchored
    with pytest.raises(Exception, match="manifest of this hall's Merkle batch 1"):
        check.run_once()
    with pytest.raises(UnavailableError) as err:
        _intake(rbook, "赵六")
    assert err.value.code == "serial_check" and "取回本厅已上链的批次" in err.value.message("zh")
    assert "its own batches on chain" in err.value.message("en")
    assert not rsender.pump() and rsender.last_error is not None and "restore" in rsender.last_error
    # a forged manifest is refused (it does not recompute to the on-chain root)
    raw1 = mirror(me, 1)
    assert raw1 is not None
    offered[1] = raw1[:-1] + bytes([raw1[-1] ^ 1])
    with pytest.raises(Exception, match="manifest of this hall's Merkle batch 1"):
        check.run_once()
    offered.update({1: raw1, 2: mirror(me, 2) or b""})
    check.run_once()
    assert check.done and check.recovered == [1, 2]
    # the pending events the backup held were anchored in batch 1: recorded so, never sent again
    assert restored.count_prefix(MBOX_PREFIX) == 0
    assert [(r["anchor"]["state"], r["anchor"]["batch"]["seq"]) for r in rbook.records(pending)] == [
        ("anchored", 1),
        ("anchored", 1),
    ]
    # this hall serves its own recovered manifests again
    assert ManifestStore(restored, hall_id=me).get(me, 2) == mirror(me, 2)
    # intake resumes past the serial anchored after the backup; anchoring waits for the indexer
    again = _intake(rbook, "赵六")
    assert parse_serial(again)[2] == parse_serial(later)[2] + 1  # type: ignore[index]
    assert check.anchoring_hold() is not None and not rsender.pump()
    index = MerkleIndex(restored, client, rbook, fetch=mirror)
    indexer = Indexer(restored, client, rbook, merkle=index)
    while indexer.run_once():
        pass
    indexer.process_merkle()
    assert check.anchoring_hold() is None
    # the later case is known again from its INTAKE leaf, and its records are to be pulled back from the peers
    assert rbook.has_case(later) and restored.get(xfer_key(later)) is not None
    # the next event of the first case follows its last event on chain (index 3), in the next batch number (3)
    rbook.append_dispute(first, Stage.DISPUTE_OPENED, {"reason": "另一异议", "raised_by": "applicant"})
    assert rsender.run_once() == 3
    assert client.batch_header(me)[1] == 4
    leaves = {
        seq: [EventLeaf.decode(x) for x in Manifest.decode(restored.get(manifest_key(me, seq)) or b"").leaves]
        for seq in range(4)
    }

    def indices(serial: str) -> list[int]:
        cid = case_id(_hall_of(serial), serial)
        return [lf.index for seq in range(4) for lf in leaves[seq] if lf.case_id == cid]

    assert indices(first) == [0, 1, 2, 3] and indices(pending) == [0, 1] and indices(again) == [0, 1]
    while indexer.run_once():
        pass
    indexer.process_merkle()
    assert index.findings_total == 0 and not index.wanted()
