"""The chain client against a real anvil node: lifecycle, heads, refusals by name, privacy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ledger.chain.client import AppendItem, ChainClient, OpenItem
from ledger.core.hashchain import case_id, chain_heads
from ledger.core.records import SaltedRecord
from ledger.core.stages import Stage
from ledger.dev.devchain import DevChain, dev_admin, free_port
from ledger.errors import ChainRuleError

pytestmark = pytest.mark.integration

LICHENG, FENGZE = 350502, 350503
PERSON = {
    "applicant_name": "王小明",
    "applicant_id_number": "350503198807150019",
    "applicant_phone": "13905951234",
    "applicant_address": "泉州市丰泽区东海街道123号",
}


AT = "2026-12-01T10:00:00+08:00"


def _records(serial: str, plan: list[tuple[Stage, dict[str, Any]]]) -> list[SaltedRecord]:
    first = SaltedRecord.new(serial, plan[0][0], plan[0][1], at=AT)
    ic = "0x" + first.commitment.hex()
    return [first, *(SaltedRecord.new(serial, st, f, at=AT, intake_commitment=ic) for st, f in plan[1:])]


def _hall(admin: ChainClient, c: ChainClient) -> int:
    info = admin.hall_of(c.address)
    assert info is not None
    return info.hall_id


def _lifecycle(serial: str) -> list[tuple[Stage, dict[str, Any]]]:
    return [
        (Stage.INTAKE, {"item_code": "BDC-001", **PERSON}),
        (Stage.MATERIALS, {"materials_root": "ab" * 32, "materials_count": 3}),
        (Stage.ACCEPTANCE, {"outcome": "accepted", "officer": "承办人甲"}),
        (Stage.PROCESS, {"step": "review", "note": "材料齐全"}),
        (Stage.RESULT, {"decision": "approved"}),
        (Stage.DELIVERY, {"method": "counter", "received_by": PERSON["applicant_name"]}),
    ]


def test_full_lifecycle_heads_match_python(new_hall, admin: ChainClient) -> None:  # type: ignore[no-untyped-def]
    a, b = new_hall(LICHENG), new_hall(FENGZE)
    serial = "TB-IT-0001"
    records = _records(serial, _lifecycle(serial))
    writers = [a, a, b, b, b, a]
    ha = _hall(admin, a)
    a.open_case(serial, "BDC-001", FENGZE, records[0].commitment)
    for rec, w in zip(records[1:], writers[1:], strict=True):
        w.append_event(ha, serial, rec.stage, rec.commitment)

    events = admin.case_events(ha, serial)
    assert [e.stage for e in events] == [r.stage for r in records]
    assert [e.commitment for e in events] == [r.commitment for r in records]
    assert [e.writer for e in events] == [w.address for w in writers]
    expected = chain_heads(
        ha, serial, [(r.stage, r.commitment, w.address) for r, w in zip(records, writers, strict=True)]
    )
    assert [e.head for e in events] == expected
    header = admin.case_header(ha, serial)
    assert header.head == "0x" + expected[-1].hex() and header.event_count == 6
    assert header.home_district == FENGZE and header.item_code == "BDC-001" and header.accepting_hall == ha
    # back-links: each event names the block of the one before it, the header the last one's
    assert [e.prev_block for e in events] == [0, *(e.block_number for e in events[:-1])]
    assert header.last_block == events[-1].block_number


def _refused(fn, rule: str) -> ChainRuleError:  # type: ignore[no-untyped-def]
    with pytest.raises(ChainRuleError) as err:
        fn()
    assert err.value.rule == rule, str(err.value)
    return err.value


def test_refusals_are_named(new_hall, admin: ChainClient, dev_chain, deployment) -> None:  # type: ignore[no-untyped-def]
    a, b, c = new_hall(LICHENG), new_hall(FENGZE), new_hall(350582)
    stranger = ChainClient.connect(dev_chain.rpc_url, deployment=deployment, account=Account.create())
    admin.fund(stranger.address, 10**18)
    c1 = b"\x01" * 32

    _refused(lambda: stranger.open_case("TB-R-1", "X", FENGZE, c1), "CaseLedgerInactiveHall")

    ha = _hall(admin, a)
    a.open_case("TB-R-1", "X", FENGZE, c1)
    a.append_event(ha, "TB-R-1", Stage.MATERIALS, b"\x02" * 32)
    err = _refused(lambda: c.append_event(ha, "TB-R-1", Stage.ACCEPTANCE, b"\x03" * 32), "CaseLedgerUnauthorizedWriter")
    assert err.args_by_name["stage"] == "ACCEPTANCE"
    assert err.args_by_name["caseId"] == "0x" + case_id(ha, "TB-R-1").hex()
    b.append_event(ha, "TB-R-1", Stage.ACCEPTANCE, b"\x03" * 32)
    b.append_event(ha, "TB-R-1", Stage.RESULT, b"\x04" * 32)
    _refused(lambda: b.append_event(ha, "TB-R-1", Stage.PROCESS, b"\x05" * 32), "CaseLedgerOutOfOrder")
    # a ref on anything but DISPUTE_RESOLVED, and a resolution of no open dispute, are refused by name
    _refused(lambda: a.append_event(ha, "TB-R-1", Stage.DELIVERY, b"\x06" * 32, ref=3), "CaseLedgerRefNotAllowed")

    hall_b = admin.hall_of(b.address)
    assert hall_b is not None
    admin.suspend_hall(hall_b.hall_id)
    _refused(lambda: b.open_case("TB-R-2", "X", LICHENG, c1), "CaseLedgerInactiveHall")
    admin.reactivate_hall(hall_b.hall_id)

    new_key = Account.create()
    admin.fund(new_key.address, 10**18)
    admin.rotate_hall_key(hall_b.hall_id, new_key.address)
    _refused(lambda: b.open_case("TB-R-3", "X", LICHENG, c1), "CaseLedgerInactiveHall")
    b2 = ChainClient.connect(dev_chain.rpc_url, deployment=deployment, account=new_key)
    b2.open_case("TB-R-3", "X", LICHENG, c1)
    # events written by the old key stay valid on chain
    old = admin.case_events(ha, "TB-R-1")
    assert [e.writer for e in old if e.stage in (Stage.ACCEPTANCE, Stage.RESULT)] == [b.address, b.address]


def test_batch_across_cases_and_privacy_scan(new_hall, admin: ChainClient) -> None:  # type: ignore[no-untyped-def]
    a = new_hall(LICHENG)
    ha = _hall(admin, a)
    start = admin.block_number()
    opens, appends, records = [], [], []
    for i in range(20):
        serial = f"TB-B-{i:04d}"
        r0, r1 = _records(
            serial,
            [(Stage.INTAKE, {"item_code": "BDC-001", **PERSON}), (Stage.MATERIALS, {"materials_count": 1})],
        )
        opens.append(OpenItem(serial, "BDC-001", FENGZE, r0.commitment))
        appends.append(AppendItem(ha, serial, Stage.MATERIALS, r1.commitment))
        records += [r0, r1]
    receipt = a.anchor_batch(opens, appends)
    assert receipt.status == 1
    for i in range(20):
        assert admin.case_header(ha, f"TB-B-{i:04d}").event_count == 2
    end = admin.block_number()

    blobs = admin.raw_transaction_inputs(start, end) + admin.raw_logs(start, end)
    assert blobs, "the scan must see the batch transaction and its logs"
    haystack = b"".join(blobs)
    for value in PERSON.values():
        for encoding in ("utf-8", "utf-16-be", "utf-16-le", "gb18030"):
            assert value.encode(encoding) not in haystack, (value, encoding)
        assert value.encode().hex().encode() not in haystack
    # the commitments themselves are there: the scan looks at the right bytes
    assert records[0].commitment in haystack


def test_batch_is_all_or_nothing(new_hall, admin: ChainClient) -> None:  # type: ignore[no-untyped-def]
    a = new_hall(LICHENG)
    ha = _hall(admin, a)
    opens = [OpenItem("TB-AON-1", "X", FENGZE, b"\x01" * 32)]
    bad = [AppendItem(ha, "TB-AON-1", Stage.ACCEPTANCE, b"\x02" * 32)]  # accepting hall may not accept
    with pytest.raises(ChainRuleError) as err:
        a.anchor_batch(opens, bad)
    assert err.value.rule == "CaseLedgerUnauthorizedWriter"
    assert admin.case_header(ha, "TB-AON-1").event_count == 0


def test_serial_squatting_another_hall_opening_my_serial_opens_its_own_case(new_hall, admin: ChainClient) -> None:  # type: ignore[no-untyped-def]
    """Issue 11, hole 1, on a real chain: hall B opens hall A's next serial first; A's case still opens."""
    a, b = new_hall(LICHENG), new_hall(LICHENG)
    ha, hb = _hall(admin, a), _hall(admin, b)
    serial = f"TB20261201-{ha:03d}-00001"
    b.open_case(serial, "X", FENGZE, b"\x07" * 32)
    a.open_case(serial, "X", FENGZE, b"\x08" * 32)
    assert admin.case_header(ha, serial).accepting_hall == ha
    assert admin.case_header(hb, serial).accepting_hall == hb
    assert [e.commitment for e in admin.case_events(ha, serial)] == [b"\x08" * 32]
    _refused(lambda: b.append_event(ha, serial, Stage.MATERIALS, b"\x09" * 32), "CaseLedgerUnauthorizedWriter")


def test_dev_chain_restarted_from_its_state_file_still_holds_the_deployment_regression(tmp_path: Path) -> None:
    """anvil restarted from its state file keeps a new genesis block beside the old one and, from the second
    restart on, answers the new one for block 0: a check by genesis hash said the deployment was lost, which
    stopped every hall's sender after a chain restart (and `make demo` could not resume)."""
    chain = DevChain(tmp_path / "chain", port=free_port(), block_time=0.2)
    chain.up()
    try:
        dep = ChainClient.deploy(chain.rpc_url, dev_admin())
        assert dep.deployed_block_hash is not None
        for restart in range(3):
            chain.down()
            chain.up()
            client = ChainClient.connect(chain.rpc_url, deployment=dep)
            assert client.deployment_alive(), f"restart {restart + 1}: the deployment was said to be lost"
        # a chain started from nothing with the contracts at the same addresses is still another chain
        chain.down()
        (chain.dir / "state.json").unlink()
        chain.up()
        again = ChainClient.deploy(chain.rpc_url, dev_admin())
        assert (again.registry, again.ledger) == (dep.registry, dep.ledger)
        assert not ChainClient.connect(chain.rpc_url, deployment=dep).deployment_alive()
    finally:
        chain.down()
