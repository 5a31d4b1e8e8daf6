"""The cross-district path across three real hall processes, a real chain and real HTTP."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.dev.demo import HallClient, demo_id_number, run_demo, wait_for
from ledger.dev.devchain import dev_admin
from ledger.dev.localnet import LocalNet, hall_pid, node_running, start_hall, stop_hall, wait_healthy
from ledger.hall.catalogue import load_catalogue
from ledger.hall.transfer import sign_request
from tests.conftest import TEST_SUITE
from tests.integration.conftest import EVENT_MODE_ONLY, mode_env, staff
from tests.support.anchoring import chain_event_count, verify_on_chain
from tests.support.foreign_batch import foreign_hall

pytestmark = pytest.mark.integration

MATS = ["application_form", "id_card", "household_register", "housing_proof"]


def _form(home: int, **over: str) -> dict[str, str]:
    d = {
        "item_code": "HJ-MIGRATE",
        "home_district": str(home),
        "applicant_name": "林小梅",
        "applicant_id_number": demo_id_number("35058219851120004"),
        "applicant_phone": "13805950000",
    }
    d.update(over)
    return d


def _files(kinds: list[str] = MATS, big: str | None = None) -> list[tuple[str, tuple[str, bytes]]]:
    return [
        (f"materials.{k}", (f"{k}.pdf", b"%PDF-" + (b"x" * 300_000 if k == big else f"scan of {k}".encode())))
        for k in kinds
    ]


def _admin(net: LocalNet) -> ChainClient:
    dep = Deployment.load(net.data_dir / "deployment.json")
    return ChainClient.connect(net.chain.rpc_url, deployment=dep, account=dev_admin())


def _anchored(view: dict[str, Any] | None, n: int) -> bool:
    return bool(view) and sum(e["anchor"]["state"] == "anchored" for e in view["timeline"]) >= n  # type: ignore[index]


def _restart(net: LocalNet, n: int) -> None:
    h = net.halls[n - 1]
    proc = start_hall(Path(h["dir"]), port=h["port"], rpc_url=net.chain.rpc_url, env=mode_env(net.anchor_mode))
    wait_healthy(h["url"], timeout=60, proc=proc)


def _mirrored(net: LocalNet, chain: ChainClient, since: int | None = None) -> bool:
    """Hall 3 serves the manifest of every batch on chain so far (from block ``since``; default: all)."""
    dep = chain.deployment
    assert dep is not None
    url = net.halls[2]["url"]
    return all(
        httpx.get(f"{url}/public/batches/{b.hall_id}/{b.seq}/manifest", timeout=10).status_code == 200
        for b in chain.batches_in_range(dep.deployed_block if since is None else since, chain.block_number())
    )


def test_full_scenario_across_three_halls(hallnet: LocalNet) -> None:
    a, b, c = staff(hallnet, 1), staff(hallnet, 2), staff(hallnet, 3)
    out = run_demo(a, b, home_district=hallnet.halls[1]["district"], timeout=60)
    assert out["verified"]
    assert [e["stage"] for e in out["events"]] == ["INTAKE", "MATERIALS", "ACCEPTANCE", "PROCESS", "RESULT", "DELIVERY"]
    assert all(e["anchored"] and e["tx"] and e["block"] for e in out["events"])
    assert [e["writer_hall"] for e in out["events"]] == [1, 1, 2, 2, 2, 1]
    assert c.case(out["serial"]) is None  # hall 3 is no party to the case
    # hall B holds the verified applicant data and files; the chain holds only the commitments
    bview = b.case(out["serial"])
    assert bview is not None and bview["timeline"][0]["fields"]["applicant_name"] == "陈明华"
    assert len(bview["timeline"][1]["files"]) == 4
    inbox = b.http.get("/inbox").json()
    assert out["serial"] in [x["serial"] for x in inbox["data"]]
    # either hall's evidence bundle verifies against the chain with the stand-alone verifier (Merkle mode:
    # complete, from the manifests hall 3 mirrors although it is no party to the case)
    from ledger.core.bundle import parse_bundle

    chain = ChainClient.connect(hallnet.chain.rpc_url, deployment=Deployment.load(hallnet.data_dir / "deployment.json"))
    if hallnet.anchor_mode == "merkle":  # hall 3 fetches each batch's manifest on its own, some time after B does
        since = min(int(e["block"]) for e in out["events"])
        wait_for("the mirror to hold the case's batches", lambda: _mirrored(hallnet, chain, since), 60)
    for hall in (a, b):
        r = hall.http.get(f"/cases/{out['serial']}/bundle", params={"withhold": "applicant_id_number"})
        assert r.status_code == 200, r.text
        bundle = parse_bundle(r.json())
        assert len(bundle.events) == 6
        assert bundle.accepting_hall == 1 and bundle.format == "caseledger-evidence/2"
        assert bundle.mode == hallnet.anchor_mode
        report = verify_on_chain(chain, bundle, hallnet.halls[2]["url"])
        assert report.ok, report
        if bundle.mode == "merkle":
            assert report.complete_as_of is not None
            assert all(e.batch is not None and e.batch.path is not None for e in bundle.events)
            # without manifests the same bundle is not called complete
            assert verify_on_chain(chain, bundle).verdict == "incomplete"
    if hallnet.anchor_mode == "merkle":  # one root per batch: no per-event logs of the case on chain
        assert chain.case_events(1, out["serial"]) == []
        assert a.health()["merkle"]["findings"] == 0 and b.health()["merkle"]["findings"] == 0


@pytest.mark.parametrize(
    ("form", "files", "field"),
    [
        ({"item_code": "NOPE"}, _files(), "item_code"),
        ({"home_district": "350527"}, _files(), "home_district"),
        ({}, _files(MATS[:-1]), "materials.housing_proof"),
        ({}, _files(big="id_card"), "materials.id_card"),
        ({"applicant_id_number": "350582198511200041"}, _files(), "applicant_id_number"),
    ],
)
@EVENT_MODE_ONLY
def test_malformed_intake_names_the_field(hallnet: LocalNet, form: dict[str, str], files: Any, field: str) -> None:
    a = staff(hallnet, 1)
    before = a.http.get("/cases").json()["count"]
    r = a.http.post("/cases", data=_form(hallnet.halls[1]["district"], **form), files=files)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    assert a.http.get("/cases").json()["count"] == before
    assert a.health()["outbox"]["pending"] == 0


@EVENT_MODE_ONLY
def test_staff_sign_in_required(hallnet: LocalNet) -> None:
    r = httpx.post(hallnet.halls[0]["url"] + "/cases", data=_form(350503), files=_files())
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"
    r = httpx.post(
        hallnet.halls[0]["url"] + "/cases",
        data=_form(350503),
        files=_files(),
        headers={"Authorization": "Bearer not-a-session"},
    )
    assert r.status_code == 401


@EVENT_MODE_ONLY
def test_peer_requests_need_an_active_hall_with_a_right(hallnet: LocalNet) -> None:
    a = staff(hallnet, 1)
    serial = a.intake(_form(hallnet.halls[1]["district"]), _files())["serial"]
    url = hallnet.halls[0]["url"]
    path = f"/peer/cases/{serial}/package"
    assert httpx.get(url + path).status_code == 401
    stranger = Account.create()
    r = httpx.get(url + path, headers=sign_request(stranger, "GET", path, target_hall=1))
    assert r.status_code == 401 and "not a registered hall" in r.json()["error"]["message"]
    admin = _admin(hallnet)
    suspended = Account.create()
    hid = admin.register_hall(suspended.address, hallnet.halls[1]["district"], "停用大厅", "http://127.0.0.1:9")
    admin.suspend_hall(hid)
    r = httpx.get(url + path, headers=sign_request(suspended, "GET", path, target_hall=1))
    assert r.status_code == 403 and "suspended" in r.json()["error"]["message"]
    # an active hall of a third district has no right to the case
    from ledger.hall.keystore import load_keystore

    d3 = Path(hallnet.halls[2]["dir"])
    key3 = load_keystore(d3 / "keystore.json", (d3 / "keystore.password").read_text().strip())
    r = httpx.get(url + path, headers=sign_request(key3, "GET", path, target_hall=1))
    assert r.status_code == 403
    # the home hall may, once; the same signed request replayed is refused
    d2 = Path(hallnet.halls[1]["dir"])
    key2 = load_keystore(d2 / "keystore.json", (d2 / "keystore.password").read_text().strip())
    h = sign_request(key2, "GET", path, target_hall=1)
    assert httpx.get(url + path, headers=h).status_code == 200
    assert httpx.get(url + path, headers=h).status_code == 401
    # regression (issue 12 item 7): a request hall 2 signed for hall 1, replayed to hall 3, is refused there
    h = sign_request(key2, "GET", path, target_hall=1)
    r = httpx.get(hallnet.halls[2]["url"] + path, headers=h)
    assert r.status_code == 401 and "signed for hall 1" in r.json()["error"]["message"]


@EVENT_MODE_ONLY
def test_node_refuses_to_start_with_an_unregistered_key(hallnet: LocalNet, tmp_path: Path) -> None:
    import subprocess
    import sys

    from ledger.hall.keystore import create_keystore, write_password_file

    d = tmp_path / "halls" / "9"
    create_keystore(d / "keystore.json", write_password_file(d / "keystore.password"))
    env = {
        **os.environ,
        "CASELEDGER_HALL_DIR": str(d),
        "CASELEDGER_RPC_URL": hallnet.chain.rpc_url,
        "CASELEDGER_DEPLOYMENT_FILE": str(hallnet.data_dir / "deployment.json"),
        "CASELEDGER_PORT": "1",
    }
    p = subprocess.run([sys.executable, "-m", "node_api"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert "is not a registered hall" in p.stderr and "Traceback" not in p.stderr


def test_kill9_after_ack_anchors_exactly_once(hallnet: LocalNet) -> None:
    a = staff(hallnet, 1)
    serial = a.intake(_form(hallnet.halls[1]["district"]), _files())["serial"]
    d = Path(hallnet.halls[0]["dir"])
    pid = hall_pid(d)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # acknowledged, not yet mined (1 s blocks)
    wait_for("the killed node to let go of its store", lambda: not node_running(d), 30, interval=0.05)
    _restart(hallnet, 1)
    wait_for("anchoring after the restart", lambda: _anchored(a.case(serial), 2), 60)
    chain = ChainClient.connect(hallnet.chain.rpc_url, deployment=Deployment.load(hallnet.data_dir / "deployment.json"))
    mirror = hallnet.halls[2]["url"]

    def on_chain() -> int:
        return chain_event_count(chain, hallnet.anchor_mode, 1, serial, mirror)

    if hallnet.anchor_mode == "merkle":  # the mirror has the manifests once its indexer fetched them
        wait_for("the mirror to hold the batches", lambda: _mirrored(hallnet, chain), 60)
    assert on_chain() == 2
    time.sleep(2.5)
    if hallnet.anchor_mode == "merkle":
        wait_for("the mirror to hold the batches", lambda: _mirrored(hallnet, chain), 60)
    assert on_chain() == 2
    assert a.health()["outbox"]["pending"] == 0


def test_home_hall_retries_until_the_accepting_hall_returns(hallnet: LocalNet) -> None:
    a, b = staff(hallnet, 1), staff(hallnet, 2)
    stop_hall(Path(hallnet.halls[1]["dir"]))
    serial = a.intake(_form(hallnet.halls[1]["district"]), _files())["serial"]
    wait_for("intake anchored", lambda: _anchored(a.case(serial), 2), 60)
    if hallnet.anchor_mode == "merkle":  # hall B learns of the case from the batch's manifest, mirrored by hall 3
        chain = ChainClient.connect(
            hallnet.chain.rpc_url, deployment=Deployment.load(hallnet.data_dir / "deployment.json")
        )
        wait_for("the mirror to hold the batches", lambda: _mirrored(hallnet, chain), 60)
    stop_hall(Path(hallnet.halls[0]["dir"]))
    _restart(hallnet, 2)
    wait_for(
        "hall B to fail a pull",
        lambda: ((b.case(serial) or {}).get("transfer") or {}).get("state") == "retrying",
        60,
    )
    assert b.case(serial)["timeline"] == []  # type: ignore[index]
    _restart(hallnet, 1)

    def pulled() -> bool:  # the records are stored a moment before the transfer is marked complete
        v = b.case(serial)
        return v is not None and len(v["timeline"]) == 2 and (v.get("transfer") or {}).get("state") == "complete"

    wait_for("hall B to complete the pull", pulled, 90)


def test_chain_outage_does_not_block_intake(hallnet: LocalNet) -> None:
    a = staff(hallnet, 1)
    hallnet.chain.down()
    try:
        t0 = time.monotonic()
        view = a.intake(_form(hallnet.halls[1]["district"]), _files())
        assert time.monotonic() - t0 < 3
        assert [e["anchor"]["state"] for e in view["timeline"]] == ["pending", "pending"]
        time.sleep(1.5)
        h = a.health()
        assert not h["chain"]["connected"] and h["outbox"]["pending"] == 2
        assert h["outbox"]["oldest_pending_age"] > 1
    finally:
        hallnet.chain.up()
    wait_for("anchoring after the chain returns", lambda: _anchored(a.case(view["serial"]), 2), 90)
    assert a.health()["outbox"]["pending"] == 0


def test_serial_squatting_by_another_hall_neither_blocks_nor_mixes_the_case(hallnet: LocalNet) -> None:
    """Issue 11, hole 1: hall 3 uses its own registered key to open hall 1's next serial before hall 1 does.

    In Merkle mode another hall anchors a batch whose INTAKE leaf claims hall 1's next case: every reader
    refuses the leaf (not the accepting hall) and names it with its proof; hall 1's real case is unaffected.

    Hall 1's intake must still be anchored (201 and then on chain), reach the home hall (hall 2) and verify;
    hall 2 must never take the squat for the case.
    """
    with contextlib.ExitStack() as stack:
        _squatting(hallnet, stack)


def _squatting(hallnet: LocalNet, stack: contextlib.ExitStack) -> None:  # noqa: C901 (one scenario)
    from ledger.core.hashchain import case_id
    from ledger.hall.keystore import load_keystore

    a, b = staff(hallnet, 1), staff(hallnet, 2)
    home = hallnet.halls[1]["district"]
    first = a.intake(_form(home), _files())["serial"]  # TB<day>-001-<n>: the next one is predictable
    day, hall, n = first[2:10], first[11:14], int(first[15:])
    assert hall == "001"
    target = f"TB{day}-{hall}-{n + 1:05d}"
    d3 = Path(hallnet.halls[2]["dir"])
    key3 = load_keystore(d3 / "keystore.json", (d3 / "keystore.password").read_text().strip())
    dep = Deployment.load(hallnet.data_dir / "deployment.json")
    hostile = ChainClient.connect(hallnet.chain.rpc_url, deployment=dep, account=key3)
    chain = ChainClient.connect(hallnet.chain.rpc_url, deployment=dep)
    if hallnet.anchor_mode == "merkle":
        stack.enter_context(_squat_in_a_batch(hallnet, chain, target, home))
    else:
        hostile.open_case(target, "HJ-MIGRATE", home, b"\x5a" * 32)  # before hall 1 anchors anything under it
        assert chain.case_header(3, target).accepting_hall == 3

    view = a.intake(_form(home), _files())
    assert view["serial"] == target  # the squatted serial, taken by the real intake
    wait_for("hall 1 anchors its case despite the squat", lambda: _anchored(a.case(target), 2), 60)
    if hallnet.anchor_mode == "event":
        assert [e.commitment for e in chain.case_events(1, target)][0] != b"\x5a" * 32
        assert chain.case_header(1, target).accepting_hall == 1
    else:  # the home hall named the squatting batch, with the leaf and its proof
        wait_for("hall 2 to name hall 3's batch", lambda: _squat_findings(b), 60)
    wait_for(
        "the home hall to receive hall 1's case", lambda: len((b.case(target) or {"timeline": []})["timeline"]) == 2, 90
    )
    bview = b.case(target)
    assert bview is not None and bview["accepting_hall"] == 1
    assert [e["commitment"] for e in bview["timeline"]] == [e["commitment"] for e in a.case(target)["timeline"]]  # type: ignore[index]
    assert "0x" + case_id(1, target).hex() != "0x" + case_id(3, target).hex()
    r = b.http.get(f"/cases/{target}/bundle")
    assert r.status_code == 200
    from ledger.core.bundle import parse_bundle

    bundle = parse_bundle(r.json())
    if hallnet.anchor_mode == "merkle":  # completeness is read from hall 3's mirror: it fetches on its own
        since = bundle.events[0].block
        wait_for("the mirror to hold the case's batches", lambda: _mirrored(hallnet, chain, since), 60)
    report = verify_on_chain(chain, bundle, hallnet.halls[2]["url"])
    assert report.verdict == "match", report
    if hallnet.anchor_mode == "merkle":  # the squatting leaf is never part of the case; anchored before the case's
        # INTAKE batch it is outside the verifier's completeness scan (the home hall's indexer named it above)
        assert bundle.events[0].commitment != "0x" + "5a" * 32 and report.findings == []


@contextlib.contextmanager
def _squat_in_a_batch(net: LocalNet, chain: ChainClient, target: str, home: int) -> Iterator[None]:
    """A hostile hall (registered for this, its endpoint a small server publishing its manifest) anchors, as its
    next batch, an INTAKE leaf for hall 1's case ``target``."""
    from ledger.core.batches import EventLeaf
    from ledger.core.hashchain import case_id, next_head
    from ledger.core.stages import Stage

    with foreign_hall(_admin(net), net.chain.rpc_url, 350582, "冒用大厅", TEST_SUITE) as hostile:
        c = b"\x5a" * 32
        leaf = EventLeaf.new(
            accepting_hall=1,
            serial=target,
            index=0,
            stage=Stage.INTAKE,
            commitment=c,
            writer_hall=hostile.hall_id,
            writer=hostile.address,
            head=next_head(case_id(1, target), Stage.INTAKE, c, hostile.address),
            home_district=home,
            item_code="HJ-MIGRATE",
        ).encode()
        hostile.anchor([leaf])  # the deployment's suite
        yield


def _squat_findings(b: HallClient) -> bool:
    r = b.http.get("/audit/batch-findings")
    return r.status_code == 200 and any(
        f["code"] == "writer_no_right" and f["leaf_index"] == 0 and f["proof"] == [] for f in r.json()["data"]
    )


def test_accepting_hall_learns_of_receipt_and_of_a_supplement_asked_before_acceptance(hallnet: LocalNet) -> None:
    """Issue 18: 已送达承办区县 → 对方已接收 at the accepting hall; 补正 before acceptance (受理前一次性告知)
    reaches it through the signed peer status call, is answered there, and ACCEPTANCE commits the request as
    one string (format 2 records hold scalars only); state conflicts are 409s."""
    a, b = staff(hallnet, 1), staff(hallnet, 2)
    serial = a.intake(_form(hallnet.halls[1]["district"]), _files())["serial"]
    path = f"/peer/cases/{serial}/status"
    assert httpx.get(hallnet.halls[1]["url"] + path).status_code == 401  # only a signed hall asks
    wait_for(
        "B holds the package",
        lambda: any(e["stage"] == "MATERIALS" for e in (b.case(serial) or {}).get("timeline", [])),
    )
    wait_for(
        "A learns that B received it", lambda: ((a.case(serial) or {}).get("handover") or {}).get("state") == "received"
    )
    b.post(f"/cases/{serial}/supplement-request", json={"materials": ["application_form"], "note": "签名不清"})
    r = b.http.post(f"/cases/{serial}/supplement-request", json={"materials": ["id_card"], "note": ""})
    assert r.status_code == 409 and r.json()["error"]["message_code"] == "supplement_already_requested", r.text
    r = b.http.post(f"/cases/{serial}/acceptance", json={"accepted": True, "reason": ""})
    assert r.status_code == 409, r.text  # not while the applicant is asked for more
    view = wait_for("A sees the request", lambda: (v := a.case(serial)) and v.get("supplement_notice") and v)
    assert view["status"] == "supplement_requested" and view["supplement_notice"]["materials"] == ["application_form"]
    a.post(f"/cases/{serial}/supplement", files=[("materials.application_form", ("form-2.pdf", b"%PDF- signed again"))])
    wait_for("B receives the supplement", lambda: (b.case(serial) or {}).get("status") == "submitted")
    accepted = b.post(f"/cases/{serial}/acceptance", json={"accepted": True, "reason": ""})
    acc = next(e["fields"] for e in accepted["timeline"] if e["stage"] == "ACCEPTANCE")
    asked = acc["pre_acceptance_requests"]
    assert isinstance(asked, str)
    import json

    (req,) = json.loads(asked)
    assert req["requested_materials"] == "application_form" and req["note"] == "签名不清"
    r = b.http.post(f"/cases/{serial}/acceptance", json={"accepted": True, "reason": ""})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict", r.text
    assert r.json()["error"]["message_zh"] == "该办件已作出受理决定。"


def test_dispute_opened_at_the_home_hall_is_seen_and_verified_at_the_accepting_hall(hallnet: LocalNet) -> None:
    """Issue 19 (regression: the accepting hall never saw a dispute the home hall opened — transfer skipped
    DISPUTE_* events). A dispute opened at B, the home hall, reaches A like any other event (pulled, verified
    against the chain); A may not close it (only its opener may), B verifies the case by serial — its own
    records against the chain, no upload — and resolves it; A then sees the resolution, and A's own by-serial
    check, which now covers the received dispute records, still matches."""
    a, b = staff(hallnet, 1), staff(hallnet, 2)
    serial = a.intake(_form(hallnet.halls[1]["district"]), _files())["serial"]
    wait_for("B holds the package", lambda: _anchored(b.case(serial), 2), timeout=60)
    opened = b.post(
        f"/cases/{serial}/disputes", json={"reason": "申请人称户口簿复印件被替换", "raised_by": "applicant"}
    )
    assert opened["raised_by"] == "applicant" and opened["hall_id"] == 2
    bad = b.http.post(f"/cases/{serial}/disputes", json={"reason": "x", "raised_by": "neighbour"})
    assert bad.status_code == 422, bad.text

    def seen_at_a() -> list[dict[str, Any]]:
        r = a.http.get(f"/cases/{serial}/disputes")
        return [d for d in r.json()["data"] if d["index"] is not None] if r.status_code == 200 else []

    (at_a,) = wait_for("A receives the dispute", seen_at_a, timeout=60)
    assert at_a["origin"] == "received" and at_a["hall_id"] == 2 and at_a["raised_by"] == "applicant"
    assert at_a["reason"] == "申请人称户口簿复印件被替换" and at_a["status"] == "open"
    index = at_a["index"]
    check_a = a.post(f"/cases/{serial}/verifications/by-serial")
    assert check_a["verdict"] == "match" and check_a["source"] == "hall", check_a
    refused = a.http.post(
        f"/cases/{serial}/disputes/{index}/resolution", json={"report_sha256": check_a["sha256"], "conclusion": "x"}
    )
    assert refused.status_code == 409 and refused.json()["error"]["message_code"] == "dispute_other_hall", refused.text
    assert "只能由该大厅处理" in refused.json()["error"]["message_zh"]

    check_b = b.post(f"/cases/{serial}/verifications/by-serial")
    assert check_b["verdict"] == "match" and check_b["kind"] == "bundle"
    stages = [e["stage"] for e in check_b["report"]["events"]]
    assert stages[:2] == ["INTAKE", "MATERIALS"] and "DISPUTE_OPENED" in stages
    mats = check_b["report"]["materials"]
    assert len(mats) == len(MATS) and all(m["content_checked"] and m["status"] == "match" for m in mats)
    b.post(
        f"/cases/{serial}/disputes/{index}/resolution",
        json={"report_sha256": check_b["sha256"], "conclusion": "材料与链上记录一致，未被替换"},
    )

    def resolved_at_a() -> dict[str, Any] | None:
        got = [d for d in seen_at_a() if d["status"] == "resolved"]
        return got[0] if got else None

    done = wait_for("A sees the resolution", resolved_at_a, timeout=60)
    res = done["resolution"]
    assert res["conclusion"] == "材料与链上记录一致，未被替换" and res["report_sha256"] == check_b["sha256"]
    assert res["verdict"] == "match" and res["anchor"]["state"] == "anchored"
    again = a.post(f"/cases/{serial}/verifications/by-serial")
    assert again["verdict"] == "match"
    assert [e["stage"] for e in again["report"]["events"]][-2:] == ["DISPUTE_OPENED", "DISPUTE_RESOLVED"]


REGULATOR_EXPORTS = [
    ("/audit/cases", {}, "办件编号", "Case serial"),
    ("/audit/compliance", {}, "办件编号", "Case serial"),
    ("/audit/summary", {"by": "hall"}, "受理大厅", "Accepting hall"),
    ("/audit/summary", {"by": "district"}, "属地（承办区县）", "Home district"),
    ("/audit/summary", {"by": "item"}, "办理事项", "Service item"),
    ("/audit/anomalies", {}, "异常类型", "Anomaly"),
]


def _export_rows(h: HallClient, path: str, params: dict[str, str], fmt: str, lang: str = "zh") -> list[list[str]]:
    """One regulator export downloaded over HTTP and read back as a spreadsheet user's tools would."""
    import csv
    import io

    from openpyxl import load_workbook

    r = h.http.get(path, params={**params, "format": fmt, "lang": lang})
    assert r.status_code == 200, r.text
    assert f'.{fmt}"' in r.headers["content-disposition"]
    if fmt == "csv":
        assert r.headers["content-type"].startswith("text/csv") and r.content.startswith(b"\xef\xbb\xbf")
        return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws is not None and ws.freeze_panes == "A2" and ws["A1"].font.b
    return [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]


def _holds_all_events(a: HallClient, b: HallClient, *serials: str) -> bool:
    """Hall B's view of each case has every event hall A's view has (the consortium shares events over time)."""
    for serial in serials:
        theirs, ours = a.case(serial), b.case(serial)
        if not theirs or not ours or len(ours.get("timeline") or []) < len(theirs.get("timeline") or []):
            return False
    return True


def _steady_exports(
    h: HallClient, path: str, params: dict[str, str]
) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """The CSV, the .xlsx and the English CSV of one export taken while the hall's data did not change in between.

    The shared consortium keeps indexing other tests' cases, so two downloads can straddle an update; a set is
    kept only when a CSV taken after the others equals the one taken before them (bounded retries)."""
    for _ in range(20):
        before = _export_rows(h, path, params, "csv")
        xlsx = _export_rows(h, path, params, "xlsx")
        en = _export_rows(h, path, params, "csv", lang="en")
        if _export_rows(h, path, params, "csv") == before:
            return before, xlsx, en
        time.sleep(0.5)
    raise AssertionError(f"{path}: the hall's data kept changing across 20 export sets")


@EVENT_MODE_ONLY
def test_regulator_exports_are_for_excel_in_chinese_with_csv_and_xlsx_alike(hallnet: LocalNet) -> None:
    """Issue 19: every per-hall audit export is CSV with a BOM (and .xlsx with the same rows), Chinese headers
    and values, no JSON in a cell; ``?lang=en`` gives English headers."""
    a, b = staff(hallnet, 1), staff(hallnet, 2)
    home = hallnet.halls[1]["district"]
    done = run_demo(a, b, home_district=home, timeout=60)["serial"]
    waiting = str(a.intake(_form(home, applicant_name="林晓"), _files())["serial"])  # not accepted yet
    wait_for("B holds both cases with all their events", lambda: _holds_all_events(a, b, waiting, done))
    assert b.http.post("/audit/anomalies/scan").status_code == 200
    district_zh = next(d.name_zh for d in load_catalogue().districts if d.code == home)
    for path, params, head_zh, head_en in REGULATOR_EXPORTS:
        rows, xlsx, en = _steady_exports(b, path, params)
        assert rows[0][0] == head_zh, (path, rows[0])
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in rows[0]), rows[0]
        cells = [c for r in rows for c in r]
        assert not any(c.startswith(("[", "{")) for c in cells), (path, rows)
        assert xlsx == rows, path
        assert en[0][0] == head_en and not any("\u4e00" <= ch <= "\u9fff" for h in en[0] for ch in h), en[0]
        assert len(en) == len(rows)
    table = _export_rows(b, "/audit/cases", {}, "csv")
    cases = {r[0]: dict(zip(table[0], r, strict=True)) for r in table[1:]}
    assert cases[done]["办件状态"] == "已送达" and cases[done]["时限情况"] == "按时办结"
    assert cases[waiting]["办件状态"] == "待受理" and cases[waiting]["时限情况"] == "待受理（未开始计时）"
    item = load_catalogue().item(cases[done]["事项编码"])
    assert cases[done]["属地（承办区县）"] == district_zh and cases[done]["办理事项"] == item.name_zh
    assert cases[done]["受理日期"][:4].isdigit() and cases[done]["受理日期"][4] == "-"
    by_district = _export_rows(b, "/audit/summary", {"by": "district"}, "csv")
    assert district_zh in [r[0] for r in by_district[1:]]


def test_city_view_from_the_chain_shows_a_case_at_every_hall_as_it_moves(hallnet: LocalNet) -> None:
    """The regulator's city-wide view (全市监管) at each hall, a party to the case or not, lists a cross-district
    case from the chain as it moves — in Merkle mode from the batches' manifests, checked against their roots."""
    a, b = staff(hallnet, 1), staff(hallnet, 2)
    serial = a.intake(_form(hallnet.halls[1]["district"]), _files())["serial"]

    def city_row(n: int) -> dict[str, Any] | None:
        r = staff(hallnet, n).http.get("/audit/city")
        if r.status_code != 200:
            return None
        return next((c for c in r.json()["data"] if c["serial"] == serial), None)

    def at_every_hall(stage: str) -> list[dict[str, Any]] | None:
        rows = [city_row(n) for n in (1, 2, 3)]
        return rows if all(r is not None and r["stage"] == stage for r in rows) else None  # type: ignore[misc]

    rows = wait_for("the case in every hall's city view", lambda: at_every_hall("submitted"), 90)
    assert {(r["accepting_hall"], r["home_district"], r["item_code"]) for r in rows} == {
        (1, hallnet.halls[1]["district"], "HJ-MIGRATE")
    }
    wait_for(
        "B holds the package",
        lambda: any(e["stage"] == "MATERIALS" for e in (b.case(serial) or {}).get("timeline", [])),
    )
    r = b.http.post(f"/cases/{serial}/acceptance", json={"accepted": True, "reason": ""})
    assert r.status_code == 200, r.text
    rows = wait_for("the acceptance in every hall's city view", lambda: at_every_hall("accepted"), 90)
    assert len({r["events"] for r in rows}) == 1 and rows[0]["events"] >= 3
