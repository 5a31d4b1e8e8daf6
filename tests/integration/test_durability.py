"""Regression tests of issue 13 that need a real chain but no hall processes: the held case, a failed `up`."""

from __future__ import annotations

import socket
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.chain.client import ChainClient
from ledger.core.stages import Stage
from ledger.core.timefmt import CST
from ledger.dev.demo import demo_id_number
from ledger.dev.devchain import free_port
from ledger.dev.localnet import LocalNet
from ledger.errors import CaseHeldError, ConfigError, UnavailableError
from ledger.hall.cases import CaseBook, HallIdentity, Upload
from ledger.hall.integrity import SerialCheck, parse_serial
from ledger.hall.keys import RESTORED_KEY, serial_counter_key
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
