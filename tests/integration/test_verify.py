"""Stand-alone verification of evidence bundles against a real chain: every kind of tampering is named."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from eth_account import Account

from ledger.chain.client import ChainClient
from ledger.chain.facts_reader import fetch_chain_facts, fetch_merkle_facts
from ledger.core.bundle import EvidenceBundle, ExportedBy, HeldEvent, build_bundle, parse_bundle
from ledger.core.facts import ChainFacts, MerkleFacts
from ledger.core.materials import MaterialFile, MaterialSet
from ledger.core.records import SaltedRecord
from ledger.core.stages import Stage
from ledger.messages import render
from ledger.verify.checks import verify_bundle
from ledger.verify.manifests import manifest_source
from ledger.verify.merkle import verify_merkle_bundle
from ledger.verify.report import VerificationReport
from tests.integration.conftest import ANCHOR_MODES
from tests.integration.merkle_case import anchor_merkle_case

pytestmark = pytest.mark.integration

LICHENG, FENGZE = 350502, 350503
SERIAL = "TB-VERIFY-0001"
FILES = [(f"m{i}", f"材料{i}.pdf", f"%PDF-1.7 material {i} ".encode() * 20) for i in range(20)]


class Case(NamedTuple):
    bundle: EvidenceBundle
    facts: ChainFacts | MerkleFacts
    admin: ChainClient
    manifests: list[str]
    """the verifier's ``--manifests`` arguments (Merkle mode: a directory of the case's batches' manifests)"""


@pytest.fixture(params=ANCHOR_MODES)
def case(request: pytest.FixtureRequest, new_hall, admin: ChainClient, tmp_path: Path) -> Case:  # type: ignore[no-untyped-def]
    """A case with 10 events and 20 materials anchored by two halls and a dispute officer, in event mode
    (one log per event) or in Merkle mode (three batches: hall A's events 0-1, hall B's 2-6, hall A's 7-9)."""
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
    if request.param == "merkle":
        return _merkle_case(admin, hall, records, [w for _, w, _ in plan], ms, tmp_path)
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
    return Case(bundle, fetch_chain_facts(admin, hall, SERIAL), admin, [])


def _merkle_case(  # type: ignore[no-untyped-def]
    admin: ChainClient, hall: int, records, writers, ms, tmp_path: Path
) -> Case:
    """The same case anchored in Merkle mode, batch by batch (tests/integration/merkle_case.py)."""
    mdir = tmp_path / "manifests"
    bundle = anchor_merkle_case(
        admin,
        accepting_hall=hall,
        serial=SERIAL,
        records=records,
        writers=writers,
        home_district=FENGZE,
        item_code="BDC-001",
        materials=ms,
        contents=[d for _, _, d in FILES],
        manifests=mdir,
    )
    source = manifest_source([str(mdir)])
    return Case(bundle, fetch_merkle_facts(admin, bundle, manifests=source), admin, ["--manifests", str(mdir)])


def _verify(bundle: EvidenceBundle, facts: ChainFacts | MerkleFacts) -> VerificationReport:
    """``bundle`` against ``facts`` as its mode is verified (Merkle mode: batch roots and the manifests' scan)."""
    if isinstance(facts, MerkleFacts):
        return verify_merkle_bundle(bundle, facts)
    return verify_bundle(bundle, facts)


def test_untouched_bundle_verifies(case) -> None:  # type: ignore[no-untyped-def]
    bundle, facts = case.bundle, case.facts
    report = _verify(parse_bundle(json.loads(bundle.dump())), facts)
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


# Merkle mode: what a tampering means there, where it differs (desc -> (code, every event flagged)). A leaf is
# rebuilt from the bundle's own fields, so a forged writer or an invented event is a leaf that is in no batch
# (batch_proof_invalid), not a field differing from a log. The case's rules are re-checked over the events the
# bundle proves (no log lists them): events after one that is missing or unproven cannot be re-checked against
# it (their head, the stage order), so they are flagged too; the scan names the event left out
# (missing_from_bundle, with its batch).
MERKLE_TAMPERS: dict[str, tuple[str, list[int]]] = {
    "dropped event": ("missing_from_bundle", [6, 7]),
    "forged writer": ("batch_proof_invalid", [2, 3, 4, 5, 6, 7]),
    "invented event": ("batch_proof_invalid", [10]),
}


@pytest.mark.parametrize(("desc", "tamper", "index", "code"), TAMPERS, ids=[t[0] for t in TAMPERS])
def test_each_tampering_is_named(case, desc: str, tamper, index: int, code: str) -> None:  # type: ignore[no-untyped-def]
    bundle, facts = case.bundle, case.facts
    report = _verify(_edit(bundle, tamper), facts)
    assert not report.ok
    bad = [e for e in report.events if e.status != "match"]
    assert index in [e.index for e in bad], desc
    flagged = [index]
    if bundle.mode == "merkle" and desc in MERKLE_TAMPERS:
        code, flagged = MERKLE_TAMPERS[desc]
    target = next(e for e in bad if e.index == index)
    assert code in [r.code for r in target.reasons] or target.status == code, target
    if desc != "order of events":
        assert [e.index for e in bad] == flagged, f"only the tampered event is flagged: {bad}"


def test_material_byte_is_named(case) -> None:  # type: ignore[no-untyped-def]
    bundle, facts = case.bundle, case.facts
    report = _verify(_edit(bundle, _flip_material_byte), facts)
    bad = [m for m in report.materials if m.status != "match"]
    assert [m.name for m in bad] == ["材料5.pdf"]
    assert bad[0].reasons[0].code == "material_content_mismatch"
    assert all(e.status == "match" for e in report.events)


def test_redacted_bundle_verifies_and_hides_fields(case, admin: ChainClient) -> None:  # type: ignore[no-untyped-def]
    bundle, facts = case.bundle, case.facts
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
    report = _verify(parse_bundle(json.loads(text)), facts)
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
    bundle, admin = case.bundle, case.admin
    hall_b = admin.hall_of(bundle.events[2].writer)
    assert hall_b is not None
    new_key = Account.create()
    admin.rotate_hall_key(hall_b.hall_id, new_key.address)
    if bundle.mode == "event":
        after = fetch_chain_facts(admin, bundle.accepting_hall, SERIAL)
        assert verify_bundle(bundle, after).ok
        # a forged chain view: the old key "writes" after its rotation → flagged writer_inactive
        late = after.registry_log[-1]
        moved = [e.model_copy(update={"block": late.block + 1}) if e.index == 6 else e for e in after.events]
        report = verify_bundle(bundle, after.model_copy(update={"events": moved}))
    else:
        mafter = fetch_merkle_facts(admin, bundle, manifests=manifest_source(case.manifests[1:]))
        assert verify_merkle_bundle(bundle, mafter).ok
        # Merkle mode: the old key's batch (events 2-6) "anchored" after its rotation, in the bundle and in a
        # forged chain view alike (no scan: the forged view is the whole of what is read) → writer_inactive, as
        # the writer's rights are those at its batch's block
        late = mafter.registry_log[-1]
        where = bundle.events[6].batch
        assert where is not None
        key = (where.hall_id, where.seq)
        batches = [b.model_copy(update={"block": late.block + 1}) if b.key == key else b for b in mafter.batches]

        def move(d: dict[str, Any]) -> None:
            for e in d["events"]:
                if (e["batch"]["hall_id"], e["batch"]["seq"]) == key:
                    e["block"] = late.block + 1

        report = verify_merkle_bundle(_edit(bundle, move), mafter.model_copy(update={"batches": batches, "scan": None}))
    flagged = next(e for e in report.events if e.index == 6)
    assert "writer_inactive" in [r.code for r in flagged.reasons]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = "from ledger.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)


def test_cli_exit_codes(case, dev_chain, deployment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bundle = case.bundle
    good = tmp_path / "good.json"
    good.write_text(bundle.dump())
    trust = ["--ledger", deployment.ledger, *case.manifests]  # Merkle mode: proven complete from the manifests
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

    if bundle.mode == "event":  # unusable input is refused before any mode is read: checked once, not per mode
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
    bundle = case.bundle
    good = tmp_path / "good.json"
    good.write_text(bundle.dump())
    own = _cli("verify", str(good), "--rpc", dev_chain.rpc_url, "--json", *case.manifests)
    report = json.loads(own.stdout)
    assert own.returncode == 1 and report["verdict"] == "incomplete", own.stdout + own.stderr
    assert report["addresses_from"] == "bundle" and [r["code"] for r in report["reasons"]] == ["deployment_untrusted"]
    text = _cli("verify", str(good), "--rpc", dev_chain.rpc_url, *case.manifests)
    assert text.returncode == 1 and "未对照联盟公布的部署信息" in text.stdout
    dep_file = tmp_path / "deployment.json"
    dep_file.write_text(json.dumps({"ledger": deployment.ledger, "registry": deployment.registry}))
    pinned = _cli(
        "verify", str(good), "--rpc", dev_chain.rpc_url, "--deployment", str(dep_file), "--json", *case.manifests
    )
    assert pinned.returncode == 0 and json.loads(pinned.stdout)["verdict"] == "match", pinned.stderr
    other = _cli("verify", str(good), "--rpc", dev_chain.rpc_url, "--ledger", deployment.registry)
    assert other.returncode == 2 and "Traceback" not in other.stderr, other.stdout + other.stderr
    wrong_reg = _cli(
        "verify", str(good), "--rpc", dev_chain.rpc_url, "--ledger", deployment.ledger, "--registry", deployment.ledger
    )
    assert wrong_reg.returncode == 2 and "registry" in wrong_reg.stderr, wrong_reg.stderr


def test_cli_verify_document(case, dev_chain, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bundle = case.bundle
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
    if bundle.mode == "merkle":  # the answers a Merkle-mode check rests on, each named when it does not hold
        args = ["--bundle", str(good), "--rpc", dev_chain.rpc_url, "--lang", "en", "--json", *trusted]
        said = json.loads(_cli("verify-document", str(doc), *args).stdout)
        assert said["reason"] == render("document_not_committed", {"stage": "MATERIALS"}, "en"), said  # wrong file
        doc.write_bytes(FILES[7][2])
        for name, edit, code in (
            ("leaf", _flip_leaf_path, "document_leaf_not_in_batch"),
            ("root", _move_batch, "document_batch_not_on_chain"),
        ):
            forged = tmp_path / f"forged-{name}.json"
            forged.write_text(_edit(bundle, edit).dump())
            args = ["--bundle", str(forged), "--rpc", dev_chain.rpc_url, "--lang", "en", "--json", *trusted]
            out = _cli("verify-document", str(doc), *args)
            said = json.loads(out.stdout)
            want = render(code, {"hall": 1, "seq": 0, "block": bundle.events[1].block + (name == "root")}, "en")
            assert out.returncode == 1 and said["verdict"] == "mismatch" and said["reason"] == want, (name, said)


def _flip_leaf_path(d: dict[str, Any]) -> None:
    """The MATERIALS event's inclusion proof altered: its leaf does not lead to the batch's root."""
    path = d["events"][1]["batch"]["path"]
    path[0] = ("0" if path[0][0] != "0" else "1") + path[0][1:]


def _move_batch(d: dict[str, Any]) -> None:
    """The MATERIALS event's batch said to be in the next block: no such batch there."""
    d["events"][1]["block"] += 1
