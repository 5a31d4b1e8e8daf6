"""Stand-alone verification of evidence bundles against a real chain: every kind of tampering is named."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ledger.chain.client import ChainClient
from ledger.chain.facts_reader import fetch_chain_facts
from ledger.core.bundle import EvidenceBundle, ExportedBy, HeldEvent, build_bundle, parse_bundle
from ledger.core.facts import ChainFacts
from ledger.core.materials import MaterialFile, MaterialSet
from ledger.core.records import SaltedRecord
from ledger.core.stages import Stage
from ledger.verify.checks import verify_bundle

pytestmark = pytest.mark.integration

LICHENG, FENGZE = 350502, 350503
SERIAL = "TB-VERIFY-0001"
FILES = [(f"m{i}", f"材料{i}.pdf", f"%PDF-1.7 material {i} ".encode() * 20) for i in range(20)]


@pytest.fixture
def case(new_hall, admin: ChainClient) -> tuple[EvidenceBundle, ChainFacts, ChainClient]:  # type: ignore[no-untyped-def]
    """A case with 10 events and 20 materials anchored by two halls and a dispute officer."""
    a, b = new_hall(LICHENG), new_hall(FENGZE)
    admin.grant_role("DISPUTE_OFFICER_ROLE", a.address)
    ms = MaterialSet.new([MaterialFile.of(k, n, d) for k, n, d in FILES])
    plan: list[tuple[Stage, ChainClient, dict[str, Any]]] = [
        (
            Stage.INTAKE,
            a,
            {
                "item_code": "BDC-001",
                "applicant_name": "王小明",
                "applicant_id_number": "350503198807150019",
                "applicant_phone": "13905951234",
            },
        ),
        (Stage.MATERIALS, a, {"materials_root": ms.root.hex(), "materials_count": len(FILES)}),
        (Stage.ACCEPTANCE, b, {"outcome": "accepted"}),
        (Stage.PROCESS, b, {"step": "review"}),
        (Stage.PROCESS, b, {"step": "site_visit"}),
        (Stage.PROCESS, b, {"step": "approval"}),
        (Stage.RESULT, b, {"decision": "approved"}),
        (Stage.DELIVERY, a, {"method": "counter"}),
        (Stage.DISPUTE_OPENED, a, {"reason": "申请人对送达时间有异议"}),
        (Stage.DISPUTE_RESOLVED, a, {"verdict": "match"}),
    ]
    at = "2026-11-23T09:59:00+08:00"
    first = SaltedRecord.new(SERIAL, Stage.INTAKE, plan[0][2], at=at)
    ic = "0x" + first.commitment.hex()
    opened = 8  # DISPUTE_OPENED's index, which DISPUTE_RESOLVED names
    records = [first] + [
        SaltedRecord.new(
            SERIAL, st, f, at=at, intake_commitment=ic, resolves=opened if st == Stage.DISPUTE_RESOLVED else None
        )
        for st, _, f in plan[1:]
    ]
    info = admin.hall_of(a.address)
    assert info is not None
    hall = info.hall_id
    a.open_case(SERIAL, "BDC-001", FENGZE, records[0].commitment)
    for rec, (st, w, _) in zip(records[1:], plan[1:], strict=True):
        w.append_event(hall, SERIAL, st, rec.commitment, opened if st == Stage.DISPUTE_RESOLVED else 0)
    events = admin.case_events(hall, SERIAL)
    held = [
        HeldEvent(
            record=r,
            event=e,
            time=admin.block_time(e.block_number),
            materials=ms if e.stage == Stage.MATERIALS else None,
            contents=[d for _, _, d in FILES] if e.stage == Stage.MATERIALS else None,
        )
        for r, e in zip(records, events, strict=True)
    ]
    dep = admin.deployment
    assert dep is not None
    bundle = build_bundle(
        serial=SERIAL,
        accepting_hall=hall,
        suite=dep.suite,
        chain_id=dep.chain_id,
        ledger=dep.ledger,
        registry=dep.registry,
        exported_at="2026-11-23T10:00:00Z",
        exported_by=ExportedBy(hall_id=hall),
        held=held,
        include_files=True,
    )
    return bundle, fetch_chain_facts(admin, hall, SERIAL), admin


def test_untouched_bundle_verifies(case) -> None:  # type: ignore[no-untyped-def]
    bundle, facts, _ = case
    report = verify_bundle(parse_bundle(json.loads(bundle.dump())), facts)
    assert report.ok, [(e.index, e.reasons) for e in report.events if e.status != "match"]
    assert len(report.events) == 10 and len(report.materials) == 20
    assert all(m.content_checked for m in report.materials)


def _edit(bundle: EvidenceBundle, fn: Callable[[dict[str, Any]], None]) -> EvidenceBundle:
    data = json.loads(bundle.dump())
    fn(data)
    return parse_bundle(data)


def _flip_material_byte(d: dict[str, Any]) -> None:
    raw = bytearray(base64.b64decode(d["materials"][5]["content_b64"]))
    raw[3] ^= 1
    d["materials"][5]["content_b64"] = base64.b64encode(bytes(raw)).decode()


def _swap(d: dict[str, Any]) -> None:
    e = d["events"]
    e[3]["record"], e[4]["record"] = e[4]["record"], e[3]["record"]


TAMPERS: list[tuple[str, Callable[[dict[str, Any]], None], int | None, str]] = [
    ("record field", lambda d: d["events"][0]["record"]["fields"].update(applicant_name="李四"), 0, "record_mismatch"),
    ("salt", lambda d: d["events"][2]["record"]["salts"].update(outcome="00" * 32), 2, "record_mismatch"),
    (
        "claimed time after the block",
        lambda d: d["events"][3]["record"]["fields"].update(at="2030-01-01T00:00:00+08:00"),
        3,
        "record_mismatch",
    ),
    ("order of events", _swap, 3, "record_mismatch"),
    ("dropped event", lambda d: d["events"].pop(6), 6, "missing_from_bundle"),
    ("back-dated time", lambda d: d["events"][6].update(time=d["events"][6]["time"] - 86400), 6, "time_mismatch"),
    ("forged writer", lambda d: d["events"][2].update(writer=Account.create().address), 2, "writer_mismatch"),
    ("invented event", lambda d: d["events"].append({**d["events"][9], "index": 10}), 10, "missing_on_chain"),
]


@pytest.mark.parametrize(("desc", "tamper", "index", "code"), TAMPERS, ids=[t[0] for t in TAMPERS])
def test_each_tampering_is_named(case, desc: str, tamper, index: int, code: str) -> None:  # type: ignore[no-untyped-def]
    bundle, facts, _ = case
    report = verify_bundle(_edit(bundle, tamper), facts)
    assert not report.ok
    bad = [e for e in report.events if e.status != "match"]
    assert index in [e.index for e in bad], desc
    target = next(e for e in bad if e.index == index)
    assert code in [r.code for r in target.reasons] or target.status == code
    if desc != "order of events":
        assert [e.index for e in bad] == [index], f"only the tampered event is flagged: {bad}"


def test_material_byte_is_named(case) -> None:  # type: ignore[no-untyped-def]
    bundle, facts, _ = case
    report = verify_bundle(_edit(bundle, _flip_material_byte), facts)
    bad = [m for m in report.materials if m.status != "match"]
    assert [m.name for m in bad] == ["材料5.pdf"]
    assert bad[0].reasons[0].code == "material_content_mismatch"
    assert all(e.status == "match" for e in report.events)


def test_redacted_bundle_verifies_and_hides_fields(case, admin: ChainClient) -> None:  # type: ignore[no-untyped-def]
    bundle, facts, _ = case
    hidden = {"applicant_id_number", "applicant_phone"}
    redacted = bundle.model_copy(
        update={
            "events": [
                e.model_copy(update={"record": _redact(e.record, hidden)}) if e.record else e for e in bundle.events
            ]
        }
    )
    text = redacted.dump()
    assert "350503198807150019" not in text and "13905951234" not in text
    report = verify_bundle(parse_bundle(json.loads(text)), facts)
    assert report.ok
    assert report.withheld_fields == {0: sorted(hidden)}


def _redact(rec, hidden):  # type: ignore[no-untyped-def]
    from ledger.core.merkle import leaf_hash  # noqa: F401  (only the record API is used below)
    from ledger.core.records import field_leaf

    withheld = {n: field_leaf(n, rec.fields[n], rec.salts[n]).hex() for n in hidden if n in rec.fields}
    return rec.model_copy(
        update={
            "fields": {k: v for k, v in rec.fields.items() if k not in withheld},
            "salts": {k: v for k, v in rec.salts.items() if k not in withheld},
            "withheld": withheld,
        }
    )


def test_rotated_key_events_still_verify_and_late_writes_are_refused(case) -> None:  # type: ignore[no-untyped-def]
    bundle, facts, admin = case
    hall_b = admin.hall_of(facts.events[2].writer)
    assert hall_b is not None
    new_key = Account.create()
    admin.rotate_hall_key(hall_b.hall_id, new_key.address)
    after = fetch_chain_facts(admin, bundle.accepting_hall, SERIAL)
    assert verify_bundle(bundle, after).ok
    # a forged chain view: the old key "writes" after its rotation → flagged writer_inactive
    late = after.registry_log[-1]
    moved = [e.model_copy(update={"block": late.block + 1}) if e.index == 6 else e for e in after.events]
    report = verify_bundle(bundle, after.model_copy(update={"events": moved}))
    flagged = next(e for e in report.events if e.index == 6)
    assert "writer_inactive" in [r.code for r in flagged.reasons]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = "from ledger.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)


def test_cli_exit_codes(case, dev_chain, deployment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bundle, _, _ = case
    good = tmp_path / "good.json"
    good.write_text(bundle.dump())
    trust = ["--ledger", deployment.ledger]
    ok = _cli("verify", str(good), "--rpc", dev_chain.rpc_url, *trust)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "全部一致" in ok.stdout
    en = _cli("verify", str(good), "--rpc", dev_chain.rpc_url, "--lang", "en", "--json", *trust)
    assert en.returncode == 0 and json.loads(en.stdout)["verdict"] == "match"
    assert json.loads(en.stdout)["addresses_from"] == "deployment"

    bad = tmp_path / "bad.json"
    bad.write_text(_edit(bundle, lambda d: d["events"][0]["record"]["fields"].update(applicant_name="李四")).dump())
    out = _cli("verify", str(bad), "--rpc", dev_chain.rpc_url, "--lang", "en", *trust)
    assert out.returncode == 1 and "MISMATCH" in out.stdout

    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    out = _cli("verify", str(junk), "--rpc", dev_chain.rpc_url)
    assert out.returncode == 2 and "bundle" in out.stderr and "Traceback" not in out.stderr
    out = _cli("verify", str(good), "--rpc", "http://127.0.0.1:9")
    assert out.returncode == 2 and "does not answer" in out.stderr and "Traceback" not in out.stderr
    # the stand-alone command gives the same answer as the full CLI
    alone = subprocess.run(
        [
            str(Path(sys.executable).with_name("caseledger-verify")),
            str(good),
            "--rpc",
            dev_chain.rpc_url,
            "--json",
            *trust,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert alone.returncode == 0 and json.loads(alone.stdout)["verdict"] == "match"


def test_bundle_own_addresses_are_not_a_match(case, dev_chain, deployment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A bundle's own ledger address proves nothing: without trusted addresses the verdict is incomplete
    (deployment_untrusted), and a bundle naming another ledger than the trusted one is unusable input."""
    bundle, _, _ = case
    good = tmp_path / "good.json"
    good.write_text(bundle.dump())
    own = _cli("verify", str(good), "--rpc", dev_chain.rpc_url, "--json")
    report = json.loads(own.stdout)
    assert own.returncode == 1 and report["verdict"] == "incomplete", own.stdout + own.stderr
    assert report["addresses_from"] == "bundle" and [r["code"] for r in report["reasons"]] == ["deployment_untrusted"]
    text = _cli("verify", str(good), "--rpc", dev_chain.rpc_url)
    assert text.returncode == 1 and "未对照联盟公布的部署信息" in text.stdout
    dep_file = tmp_path / "deployment.json"
    dep_file.write_text(json.dumps({"ledger": deployment.ledger, "registry": deployment.registry}))
    pinned = _cli("verify", str(good), "--rpc", dev_chain.rpc_url, "--deployment", str(dep_file), "--json")
    assert pinned.returncode == 0 and json.loads(pinned.stdout)["verdict"] == "match", pinned.stderr
    other = _cli("verify", str(good), "--rpc", dev_chain.rpc_url, "--ledger", deployment.registry)
    assert other.returncode == 2 and "Traceback" not in other.stderr, other.stdout + other.stderr
    wrong_reg = _cli(
        "verify", str(good), "--rpc", dev_chain.rpc_url, "--ledger", deployment.ledger, "--registry", deployment.ledger
    )
    assert wrong_reg.returncode == 2 and "registry" in wrong_reg.stderr, wrong_reg.stderr


def test_cli_verify_document(case, dev_chain, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bundle, _, _ = case
    good = tmp_path / "good.json"
    good.write_text(bundle.dump())
    doc = tmp_path / "材料7.pdf"
    doc.write_bytes(FILES[7][2])
    # at the bundle's own addresses a match proves nothing (an outside verifier's finding): exit 1, said so
    out = _cli("verify-document", str(doc), "--bundle", str(good), "--rpc", dev_chain.rpc_url, "--json")
    assert out.returncode == 1, out.stdout + out.stderr
    assert (
        json.loads(out.stdout)["verdict"] == "incomplete" and json.loads(out.stdout)["reason"] == "deployment_untrusted"
    )
    trusted = ["--ledger", bundle.ledger]  # as the consortium publishes it (the test deployment)
    out = _cli("verify-document", str(doc), "--bundle", str(good), "--rpc", dev_chain.rpc_url, "--json", *trusted)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["verdict"] == "match" and json.loads(out.stdout)["stage"] == "MATERIALS"
    doc.write_bytes(FILES[7][2] + b"x")
    out = _cli("verify-document", str(doc), "--bundle", str(good), "--rpc", dev_chain.rpc_url, *trusted)
    assert out.returncode == 1 and "不一致" in out.stdout
