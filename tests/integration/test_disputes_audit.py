"""Dispute officer workflow, result-document proofs, verify-document --hall and the audit's anomaly
scan against one real hall node (uvicorn in this process) on the session's dev chain (0.2 s blocks), once
with the hall taking cases in event mode and once in Merkle mode (``ANCHOR_MODES``; the module fixture is
parametrised, so every test runs in both). A bundle is verified as its mode reads the chain: event logs, or
batch roots with the manifests the hall holds, so that ``match`` means proven complete in both modes.

Staff identity is injected by overriding ``get_staff`` (the roles come from an ``X-Test-Roles`` header),
so these tests exercise the routes' role checks without depending on how sign-in works.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import uvicorn
from eth_account import Account
from fastapi import Request
from typer.testing import CliRunner

from ledger.chain.client import ChainClient
from ledger.chain.facts_reader import fetch_chain_facts, fetch_merkle_facts
from ledger.cli import _register
from ledger.cli import app as cli_app
from ledger.core.batches import BatchTree, EventLeaf, Manifest
from ledger.core.bundle import EvidenceBundle
from ledger.core.facts import ChainEventFact
from ledger.core.hashchain import case_id, next_head
from ledger.core.records import SaltedRecord
from ledger.core.stages import Stage
from ledger.dev.devchain import DevChain, dev_admin, free_port
from ledger.hall.cases import Upload
from ledger.hall.evidence import export_bundle
from ledger.hall.keys import mcase_key
from ledger.hall.keystore import create_keystore
from ledger.hall.merkle_index import ManifestStore, awaiting_index
from ledger.hall.store import Store
from ledger.verify.checks import report_sha256, verify_bundle
from ledger.verify.merkle import proven_chain_facts, verify_merkle_bundle
from ledger.verify.report import VerificationReport
from node_api.api.deps import Staff, get_staff
from node_api.core.config import Settings
from node_api.core.node import HallNode
from node_api.main import create_app
from tests.integration.conftest import ANCHOR_MODES

pytestmark = pytest.mark.integration

FENGZE = 350503
ITEM = "BDC-TRANSFER"
KINDS = ("application_form", "id_card", "property_certificate", "sale_contract", "tax_receipt")
ALL_ROLES = "clerk,officer,dispute_officer,regulator"


class Hall:
    def __init__(self, url: str, app: Any, rpc: str, mode: str, admin: ChainClient) -> None:
        self.url, self.app, self.rpc, self.mode, self.admin = url, app, rpc, mode, admin
        self.http = httpx.Client(base_url=url, timeout=30)

    @property
    def node(self) -> HallNode:
        node: HallNode = self.app.state.node
        return node

    def call(self, method: str, path: str, roles: str = ALL_ROLES, **kw: Any) -> httpx.Response:
        return self.http.request(method, path, headers={"X-Test-Roles": roles, **kw.pop("headers", {})}, **kw)


@pytest.fixture(scope="module", params=ANCHOR_MODES)
def hall(
    request: pytest.FixtureRequest, dev_chain: DevChain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hall]:
    """One hall node taking cases in event mode or Merkle mode (the parameter), on a fresh deployment."""
    mode: Literal["event", "merkle"] = "merkle" if request.param == "merkle" else "event"
    d: Path = tmp_path_factory.mktemp(f"hall-{mode}")
    dep = ChainClient.deploy(dev_chain.rpc_url, dev_admin())
    dep.save(d / "deployment.json")
    admin = ChainClient.connect(dev_chain.rpc_url, deployment=dep, account=dev_admin())
    (d / "keystore.password").write_text("pw-for-tests\n")
    acct = create_keystore(d / "keystore.json", "pw-for-tests")
    admin.register_hall(acct.address, FENGZE, "丰泽区行政服务中心", "http://127.0.0.1:1")
    admin.fund(acct.address, 10**18)
    admin.grant_role("DISPUTE_OFFICER_ROLE", acct.address)
    Store.init(d / "store").close()
    settings = Settings(
        keystore=d / "keystore.json",
        password_file=d / "keystore.password",
        deployment_file=d / "deployment.json",
        data_dir=d,
        rpc_url=dev_chain.rpc_url,
        poll_interval=0.2,
        outbox_interval=0.1,
        audit_scan_interval=1.0,
        audit_pending_after=1.0,
        audit_outbox_after=1.0,
        anchor_mode=mode,
    )
    app = create_app(settings)

    def staff(request: Request) -> Staff:
        roles = frozenset(request.headers.get("X-Test-Roles", "").split(",")) - {""}
        return Staff(username="officer-1", hall_id=request.app.state.node.hall.hall_id, roles=roles)

    app.dependency_overrides[get_staff] = staff
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the hall node did not start"
        time.sleep(0.05)
    try:
        yield Hall(f"http://127.0.0.1:{port}", app, dev_chain.rpc_url, mode, admin)
    finally:
        server.should_exit = True
        thread.join(15)


def _wait(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _verify(h: Hall, bundle: EvidenceBundle) -> VerificationReport:
    """``bundle`` against the chain as its mode reads it (Merkle mode: with every manifest this hall holds)."""
    node = h.node
    if bundle.mode == "merkle":
        manifests = ManifestStore(node.store, hall_id=node.hall.hall_id)
        return verify_merkle_bundle(bundle, fetch_merkle_facts(node.reader, bundle, manifests=manifests.get))
    return verify_bundle(bundle, fetch_chain_facts(node.reader, node.hall.hall_id, bundle.serial))


def _chain_events(h: Hall, serial: str) -> list[ChainEventFact]:
    """The case's events as the chain proves them: event logs, or (Merkle mode) the bundle's events whose
    leaves were proven against their batches' on-chain roots."""
    node = h.node
    if h.mode == "event":
        return fetch_chain_facts(node.reader, node.hall.hall_id, serial).events
    bundle = export_bundle(node.book, node.reader, serial)
    facts = fetch_merkle_facts(node.reader, bundle)
    return sorted(proven_chain_facts(bundle, facts, verify_merkle_bundle(bundle, facts)).events, key=lambda e: e.index)


def _anchored(h: Hall, serial: str) -> bool:
    """Every record anchored — and, in Merkle mode, checked by the hall's indexer (the audit compares the records
    with the index, which follows the sender's receipts a little later)."""
    recs = h.node.book.records(serial)
    if not all((r.get("anchor") or {}).get("state") == "anchored" for r in recs):
        return False
    hid = h.node.hall.hall_id
    return h.mode == "event" or (
        h.node.store.get(mcase_key(case_id(hid, serial))) is not None
        and not any(awaiting_index(h.node.store, hid, serial, r["anchor"]) for r in recs)
    )


def _decided_case(h: Hall, tag: str = "") -> tuple[str, dict[str, bytes]]:
    """A case taken in, accepted and decided with a result document at this hall (its own district)."""
    book = h.node.book
    files = {k: f"%PDF-1.7 {k} {tag} ".encode() * 30 for k in KINDS}
    view = book.intake(
        item_code=ITEM,
        home_district=FENGZE,
        applicant={"name": "王小明", "id_number": "350503198807150011", "phone": "13905951234"},
        materials=[Upload(k, f"{k}.pdf", data) for k, data in files.items()],
        staff="clerk-1",
    )
    serial = view["serial"]
    book.decide_acceptance(serial, accepted=True, reason="", staff="officer-1")
    doc = f"不动产权证书 {serial} {tag}".encode() * 10
    files["result_document"] = doc
    book.decide(
        serial, approved=True, note="准予登记", document=Upload("result_document", "证书.pdf", doc), staff="officer-1"
    )
    _wait("anchoring", lambda: _anchored(h, serial))
    return serial, files


# ------------------------------------------------------------------------------ result documents
def test_result_document_is_exported_and_verified(hall: Hall) -> None:
    serial, files = _decided_case(hall, "result")
    node = hall.node
    bundle = export_bundle(node.book, node.reader, serial, include_files=True)
    result_idx = next(e.index for e in bundle.events if e.stage == "RESULT")
    docs = [m for m in bundle.materials if m.event_index == result_idx]
    assert [m.proof.file.kind for m in docs] == ["result_document"]
    report = _verify(hall, bundle)
    assert report.ok and len(report.materials) == len(KINDS) + 1
    assert report.mode == hall.mode

    data = json.loads(bundle.dump())
    for m in data["materials"]:
        if m["event_index"] == result_idx:
            raw = bytearray(base64.b64decode(m["content_b64"]))
            raw[0] ^= 1
            m["content_b64"] = base64.b64encode(bytes(raw)).decode()
    from ledger.core.bundle import parse_bundle

    bad = _verify(hall, parse_bundle(data))
    wrong = [m for m in bad.materials if m.status == "mismatch"]
    assert [(m.event_index, m.reasons[0].code, m.name) for m in wrong] == [
        (result_idx, "material_content_mismatch", "证书.pdf")
    ]


def test_verify_document_fetches_the_proof_from_the_hall(hall: Hall, tmp_path: Path) -> None:
    serial, files = _decided_case(hall, "cli")
    _register()
    runner = CliRunner()
    for kind, stage_zh in (("id_card", "材料信息"), ("result_document", "结果信息")):
        p = tmp_path / f"{kind}.pdf"
        p.write_bytes(files[kind])
        args = ["verify-document", str(p), "--serial", serial, "--hall", hall.url, "--rpc", hall.rpc]
        untrusted = runner.invoke(cli_app, args)  # the hall's own word for the ledger's address proves nothing
        assert untrusted.exit_code == 1 and "不能认定" in untrusted.output, untrusted.output
        r = runner.invoke(cli_app, [*args, "--ledger", hall.node.deployment.ledger])
        assert r.exit_code == 0, r.output
        assert "一致" in r.output and stage_zh in r.output
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(files["id_card"] + b"x")
    r = runner.invoke(
        cli_app,
        ["verify-document", str(forged), "--serial", serial, "--hall", hall.url, "--rpc", hall.rpc, "--json"]
        + ["--ledger", hall.node.deployment.ledger],
    )
    assert r.exit_code == 1 and json.loads(r.output)["verdict"] == "mismatch"
    # the proof route shows no personal data and no staff names
    import hashlib

    proof = hall.http.get(f"/cases/{serial}/proof", params={"digest": hashlib.sha256(files["id_card"]).hexdigest()})
    assert proof.status_code == 200
    shown = proof.json()["record"]["fields"]
    frame = {"case_serial", "stage", "at", "intake_commitment"}
    assert set(shown) <= frame | {"materials_root", "materials_count", "supplement"}
    assert "王小明" not in proof.text and "350503198807150011" not in proof.text and "clerk-1" not in proof.text


# ------------------------------------------------------------------------------ disputes
def test_dispute_open_verify_resolve_print(hall: Hall) -> None:
    serial, files = _decided_case(hall, "dispute")
    node = hall.node
    r = hall.call("POST", f"/cases/{serial}/disputes", json={"reason": "申请人称身份证复印件被替换"})
    assert r.status_code == 201, r.text
    assert r.json()["index"] is None  # not anchored yet: nothing to name on chain
    # issue 11, hole 2: one open dispute per officer per case (409, zh/en), so nobody exhausts the case's slots
    again_open = hall.call("POST", f"/cases/{serial}/disputes", json={"reason": "再开一项"})
    assert again_open.status_code == 409, again_open.text
    assert "已有一项未结争议" in again_open.json()["error"]["message_zh"]
    assert "already have an open dispute" in again_open.json()["error"]["message"]
    _wait("DISPUTE_OPENED anchored", lambda: _anchored(hall, serial))
    events = _chain_events(hall, serial)
    assert events[-1].stage == Stage.DISPUTE_OPENED
    listed = hall.call("GET", f"/cases/{serial}/disputes").json()["data"]
    index = listed[0]["index"]
    assert index == events[-1].index  # a resolution names the dispute by its on-chain index

    # a regulator may read but not open or resolve
    assert hall.call("POST", f"/cases/{serial}/disputes", roles="regulator", json={"reason": "x"}).status_code == 403
    assert hall.call("GET", f"/cases/{serial}/disputes", roles="regulator").json()["count"] == 1
    assert hall.call("POST", f"/cases/{serial}/disputes", json={"reason": "  "}).json()["error"]["field"] == "reason"

    bundle = json.loads(export_bundle(node.book, node.reader, serial).dump())
    ok = hall.call("POST", f"/cases/{serial}/verifications", json=bundle)
    assert ok.status_code == 201 and ok.json()["verdict"] == "match", ok.text
    acc = next(e for e in bundle["events"] if e["stage"] == "ACCEPTANCE")
    acc["record"]["fields"]["decision"] = "rejected"  # the tampered claim
    bad = hall.call(
        "POST", f"/cases/{serial}/verifications", files={"bundle": ("case.json", json.dumps(bundle).encode())}
    )
    assert bad.status_code == 201, bad.text
    check = bad.json()
    assert check["verdict"] == "mismatch"
    named = [
        (e["index"], [x["code"] for x in e["reasons"]]) for e in check["report"]["events"] if e["status"] != "match"
    ]
    assert named == [(acc["index"], ["record_mismatch"])]
    sha = check["sha256"]
    assert sha == report_sha256(VerificationReport.model_validate(check["report"]))

    # one document: a committed one matches, a forged one does not
    doc = hall.call("POST", f"/cases/{serial}/verifications", files={"document": ("id.pdf", files["id_card"])})
    assert doc.json()["verdict"] == "match" and doc.json()["report"]["stage"] == "MATERIALS"
    forged = hall.call("POST", f"/cases/{serial}/verifications", files={"document": ("id.pdf", b"forged")})
    assert forged.json()["verdict"] == "mismatch"

    unknown = hall.call(
        "POST", f"/cases/{serial}/disputes/{index}/resolution", json={"report_sha256": "00" * 32, "conclusion": "x"}
    )
    assert unknown.json()["error"]["field"] == "report_sha256"
    nothing = hall.call("POST", f"/cases/{serial}/disputes/{index - 1}/resolution", json={"conclusion": "x"})
    assert nothing.status_code == 404  # that event is not a dispute
    res = hall.call(
        "POST",
        f"/cases/{serial}/disputes/{index}/resolution",
        json={"report_sha256": sha, "conclusion": "证据包中受理记录被改动，以链上记录为准"},
    )
    assert res.status_code == 201, res.text
    assert res.json()["status"] == "resolved" and res.json()["resolution"]["report_sha256"] == sha
    _wait("DISPUTE_RESOLVED anchored", lambda: _anchored(hall, serial))
    ev = _chain_events(hall, serial)[-1]
    assert ev.stage == Stage.DISPUTE_RESOLVED and ev.ref == index
    rec = next(r for r in node.book.records(serial) if r["stage"] == "DISPUTE_RESOLVED")
    assert rec["fields"]["report_sha256"] == sha and rec["fields"]["verdict"] == "mismatch"
    assert rec["fields"]["resolves"] == index
    salted = SaltedRecord(serial=serial, stage=Stage.DISPUTE_RESOLVED, fields=rec["fields"], salts=rec["salts"])
    assert "0x" + salted.commitment.hex() == ev.commitment  # the on-chain commitment covers the report hash
    again = hall.call(
        "POST", f"/cases/{serial}/disputes/{index}/resolution", json={"report_sha256": sha, "conclusion": "再次"}
    )
    assert again.status_code == 409 and "already resolved" in again.json()["error"]["message"]
    # resolved: the officer may open a new one, and a resolution without a named report takes the latest
    second = hall.call("POST", f"/cases/{serial}/disputes", json={"reason": "申请人对送达方式有异议"})
    assert second.status_code == 201, second.text
    _wait("second DISPUTE_OPENED anchored", lambda: _anchored(hall, serial))
    index2 = next(
        d["index"] for d in hall.call("GET", f"/cases/{serial}/disputes").json()["data"] if d["status"] == "open"
    )
    latest = hall.call("POST", f"/cases/{serial}/disputes/{index2}/resolution", json={"conclusion": "以最新核验为准"})
    assert latest.status_code == 201, latest.text
    assert (
        latest.json()["resolution"]["report_sha256"]
        == hall.call("GET", f"/cases/{serial}/verifications").json()["data"][-1]["sha256"]
    )
    _wait("second DISPUTE_RESOLVED anchored", lambda: _anchored(hall, serial))

    # the whole case, disputes included, still verifies from a fresh bundle
    assert _verify(hall, export_bundle(node.book, node.reader, serial)).ok

    page = hall.call("GET", f"/cases/{serial}/verifications/{sha}/report.html", roles="regulator")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert serial in html and "区块链核验报告" in html and "不一致" in html and "记录内容与链上承诺不符" in html
    assert "@media print" in html and sha in html and node.reader.deployment.ledger in html  # type: ignore[union-attr]
    en = hall.call("GET", f"/cases/{serial}/verifications/{sha}/report.html?lang=en").text
    assert "Blockchain verification report" in en and "MISMATCH" in en and "record content does not match" in en
    assert hall.call("GET", f"/cases/{serial}/verifications/{sha}").json()["sha256"] == sha


# ------------------------------------------------------------------------------ audit
def _scan(h: Hall, serial: str) -> list[dict[str, Any]]:
    r = h.call("POST", "/audit/anomalies/scan", roles="regulator")
    assert r.status_code == 200, r.text
    return [a for a in r.json()["scan"]["anomalies"] if a["serial"] == serial]


def _scan_all(h: Hall) -> list[dict[str, Any]]:
    r = h.call("POST", "/audit/anomalies/scan", roles="regulator")
    assert r.status_code == 200, r.text
    anomalies: list[dict[str, Any]] = r.json()["scan"]["anomalies"]
    return anomalies


@contextlib.contextmanager
def _hostile_batches(h: Hall, serial: str, last: ChainEventFact) -> Iterator[int]:
    """Another hall (registered for this in another district, its endpoint a small server publishing only its
    first manifest) anchors two batches: batch 0 holds a DELIVERY leaf for ``serial`` that extends the case
    exactly (next index, next head, back-link) but is not the accepting hall's; batch 1's manifest is served by
    nobody. Yields the hall's id."""
    node = h.node
    dep = node.deployment
    suite = node.hall.suite
    key = Account.create()
    port = free_port()
    hid = h.admin.register_hall(key.address, 350582, "他区大厅", f"http://127.0.0.1:{port}")
    h.admin.fund(key.address, 10**18)
    other = ChainClient.connect(h.rpc, deployment=dep, account=key)
    rec = next(r for r in node.book.records(serial) if (r.get("anchor") or {}).get("index") == last.index)
    c = b"\x77" * 32
    leaf = EventLeaf.new(
        accepting_hall=node.hall.hall_id,
        serial=serial,
        index=last.index + 1,
        stage=Stage.DELIVERY,
        commitment=c,
        writer_hall=hid,
        writer=key.address,
        head=next_head(bytes.fromhex(last.head[2:]), Stage.DELIVERY, c, key.address),
        prev=(int(rec["anchor"]["batch"]["hall"]), int(rec["anchor"]["batch"]["seq"])),
    ).encode()
    manifest = Manifest(suite=suite, hall=hid, seq=0, leaves=(leaf,)).encode()

    class Serve(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            ok = self.path == f"/public/batches/{hid}/0/manifest"
            self.send_response(200 if ok else 404)
            self.end_headers()
            if ok:
                self.wfile.write(manifest)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Serve)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        other.wait(other.send_root(0, BatchTree.of([leaf], suite).root, 1))
        other.wait(other.send_root(1, BatchTree.of([leaf, leaf], suite).root, 2))  # its manifest: nowhere
        yield hid
    finally:
        server.shutdown()
        server.server_close()


def test_anomaly_scan_finds_each_kind_on_a_real_chain(hall: Hall) -> None:
    node = hall.node
    serial, _ = _decided_case(hall, "audit")
    assert _scan(hall, serial) == []

    # 1. a stored record edited in LevelDB after anchoring
    key = f"rec/{serial}/000002".encode()
    rec = node.store.get_json(key)
    assert rec["stage"] == "ACCEPTANCE"
    node.store.put_json(key, {**rec, "fields": {**rec["fields"], "decision": "rejected"}})
    found = _scan(hall, serial)
    assert [(a["kind"], a["seq"]) for a in found] == [("record_tampered", 2)]
    node.store.put_json(key, rec)

    # 2. a record dropped from the store: the chain event has no record (after the grace period)
    key3 = f"rec/{serial}/000003".encode()
    rec3 = node.store.get_json(key3)
    node.store.delete(key3)
    time.sleep(1.2)
    found = _scan(hall, serial)
    assert [(a["kind"], a["index"], a["stage"]) for a in found] == [("anchor_without_record", 3, "RESULT")]
    node.store.put_json(key3, rec3)
    assert _scan(hall, serial) == []

    # 3. a record refused by the chain's rules (a resolution naming no open dispute: event 1 is MATERIALS). In
    # event mode the contract refuses the transaction (CaseLedgerNoOpenDispute). In Merkle mode the chain checks
    # no case rule (only the batch's sender and number), so nothing on chain can refuse it: the Merkle sender
    # applies the contract's rules before building a batch and refuses it locally with the same rule, never
    # anchoring it. The anomaly is the same kind, and in both modes the chain holds no event for it.
    before = len(_chain_events(hall, serial))
    node.book.append_dispute(serial, Stage.DISPUTE_RESOLVED, {"verdict": "match", "staff": "x"}, resolves=1)
    _wait("refusal", lambda: any((r.get("anchor") or {}).get("state") == "refused" for r in node.book.records(serial)))
    refused = next(r["anchor"] for r in node.book.records(serial) if (r.get("anchor") or {}).get("state") == "refused")
    assert refused.get("mode", "event") == hall.mode and refused["rule"], refused
    found = _scan(hall, serial)
    assert [a["kind"] for a in found] == ["record_refused"]
    assert refused["rule"] in found[0]["detail"]
    assert len(_chain_events(hall, serial)) == before

    # 4. pending too long and a stale outbox (Merkle mode: the mbox/ queue of its sender): stop the mode's
    # sender, write, wait past the thresholds
    sender = node.sender if hall.mode == "event" else node.merkle_sender
    sender.stop()
    try:
        node.book.deliver(serial, method="counter", note="", staff="clerk-1")
        time.sleep(1.2)
        kinds = sorted(a["kind"] for a in _scan(hall, serial))
        assert kinds == ["outbox_stale", "record_refused", "record_unanchored"]
        # issue 13.4: a bundle exported now says that a record is not anchored yet, and does not verify as a match
        partial = export_bundle(node.book, node.reader, serial)
        assert partial.pending_records == 1
        report = _verify(hall, partial)
        assert report.verdict == "incomplete" and [r.code for r in report.reasons] == ["records_not_anchored"]
    finally:
        sender.start()  # the same sender again (its queue, numbers and heads are its store's)
        sender.wake()
    _wait("delivery anchored", lambda: not node.outbox.pending() and node.merkle_sender.pending_count() == 0)
    assert [e.stage for e in _chain_events(hall, serial)][-1] == Stage.DELIVERY

    # 5. Merkle mode only: another hall's batch breaking a rule of this case, and a batch whose manifest no hall
    # produces. In event mode neither can exist: the contract refuses a write that breaks a rule (the writer's
    # record_refused, at its own hall), and there are no batches and no manifests.
    if hall.mode == "merkle":
        last = _chain_events(hall, serial)[-1]
        with _hostile_batches(hall, serial, last) as hostile:

            def both() -> list[dict[str, Any]] | None:
                got = _scan_all(hall)
                return got if {"batch_rule_broken", "manifest_unavailable"} <= {a["kind"] for a in got} else None

            found = _wait("batch_rule_broken and manifest_unavailable", both)
        broken = [a for a in found if a["kind"] == "batch_rule_broken" and f"hall {hostile} batch 0 " in a["detail"]]
        assert len(broken) == 1 and "writer_no_right" in broken[0]["detail"], found
        unavailable = [a for a in found if a["kind"] == "manifest_unavailable"]
        assert [f"hall {hostile} batch 1 " in a["detail"] for a in unavailable] == [True], found
        # the case is unaffected: the leaf that breaks a rule never becomes part of it
        assert _chain_events(hall, serial)[-1] == last
        assert [a["kind"] for a in _scan(hall, serial)] == ["record_refused"]

    # exports and the scheduled scan
    csv_text = hall.call("GET", "/audit/anomalies?format=csv", roles="regulator").content.decode("utf-8-sig")
    assert csv_text.startswith("异常类型,办件编号") and "记录被链上规则拒绝" in csv_text
    csv_en = hall.call("GET", "/audit/anomalies?format=csv&lang=en", roles="regulator").content.decode("utf-8-sig")
    assert csv_en.startswith("Anomaly,Case serial") and "record refused by the chain's rules" in csv_en
    last = _wait("scheduled scan", lambda: hall.call("GET", "/audit/anomalies", roles="regulator").json()["scan"])
    assert last["cases"] >= 1
    assert hall.call("POST", "/audit/anomalies/scan", roles="clerk").status_code == 403


def test_audit_views_for_a_regulator(hall: Hall) -> None:
    serial, _ = _decided_case(hall, "views")
    rows = hall.call("GET", "/audit/cases", roles="regulator", params={"item_code": ITEM, "status": "decided"}).json()
    row = next(r for r in rows["data"] if r["serial"] == serial)
    assert row["compliance"] == "completed_on_time" and row["limit_working_days"] == 5
    csv_text = hall.call("GET", "/audit/cases", roles="regulator", params={"format": "csv"}).text
    assert serial in csv_text.splitlines()[1:].__str__()
    trail = hall.call("GET", f"/audit/cases/{serial}/trail", roles="regulator").json()["events"]
    assert [e["stage"] for e in trail][:4] == ["INTAKE", "MATERIALS", "ACCEPTANCE", "RESULT"]
    assert "王小明" not in json.dumps(trail, ensure_ascii=False)
    summ = hall.call("GET", "/audit/summary", roles="regulator", params={"by": "district"}).json()
    assert any(s["key"] == str(FENGZE) and s["completed"] >= 1 for s in summ["data"])
    comp = hall.call("GET", "/audit/compliance", roles="regulator").json()
    assert set(comp) == {"overdue", "near_due", "completed_late"}
    bad = hall.call("GET", "/audit/cases", roles="regulator", params={"since": "2026-10-10", "until": "2026-10-01"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "until"
    assert hall.call("GET", "/audit/cases", roles="officer").status_code == 403
