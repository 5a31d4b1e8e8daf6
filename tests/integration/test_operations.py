"""Operations on real hall processes and a real chain: /metrics, /health in words, backup and restore.

The wipe-and-restore test loses a home hall's whole directory after cases were transferred to it (with
events written after the backup, by the hall itself and by the accepting hall, a case whose last event is
the hall's own, a case opened after the backup elsewhere and one it accepted itself), restores the backup,
restarts the node and shows every case complete at that hall and verified against the chain with the
stand-alone verifier over the hall's own evidence bundle, and its next intake under a serial the chain does
not know. It runs in both anchoring modes (Merkle mode: the hall reads back its own batches anchored after
the backup; the bundles are proven complete from hall 3's manifests).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.cli import _register, app
from ledger.core.bundle import parse_bundle
from ledger.dev.demo import HallClient, demo_id_number, run_demo, wait_for
from ledger.dev.localnet import LocalNet, start_hall, stop_hall, wait_healthy
from ledger.errors import ConfigError
from ledger.hall.integrity import parse_serial
from tests.integration.conftest import FAST_NODE_ENV, staff
from tests.support.anchoring import chain_event_count, verify_on_chain

pytestmark = pytest.mark.integration

MATS = ["application_form", "id_card", "household_register", "housing_proof"]


def _metrics(url: str) -> dict[str, list[Any]]:
    r = httpx.get(url + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: dict[str, list[Any]] = {}
    for fam in text_string_to_metric_families(r.text):
        out[fam.name] = fam.samples
    return out


def _value(m: dict[str, list[Any]], name: str, **labels: str) -> float:
    for fam in m.values():
        for s in fam:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    raise AssertionError(f"no sample {name} {labels}")


def _intake(a: HallClient, home: int, name: str) -> str:
    files = [(f"materials.{k}", (f"{k}.pdf", f"%PDF- {name} {k}".encode())) for k in MATS]
    data = {
        "item_code": "HJ-MIGRATE",
        "home_district": str(home),
        "applicant_name": name,
        "applicant_id_number": demo_id_number("35058219851120004"),
        "applicant_phone": "13805950000",
    }
    return str(a.intake(data, files)["serial"])


def _stages(view: dict[str, Any] | None, *, anchored: bool = False) -> list[str]:
    if not view:
        return []
    return [e["stage"] for e in view["timeline"] if not anchored or e["anchor"]["state"] == "anchored"]


def _mirrored(chain: ChainClient, url: str) -> bool:
    """The hall at ``url`` serves the manifest of every batch on chain so far."""
    dep = chain.deployment
    assert dep is not None
    return all(
        httpx.get(f"{url}/public/batches/{b.hall_id}/{b.seq}/manifest", timeout=10).status_code == 200
        for b in chain.batches_in_range(dep.deployed_block, chain.block_number())
    )


def _cli(*args: str) -> str:
    _register()
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return str(r.output)


def test_metrics_parse_and_say_nothing_personal(hallnet: LocalNet) -> None:
    a = staff(hallnet, 1)
    serial = _intake(a, hallnet.halls[1]["district"], "郑秀英")
    wait_for("the intake to be anchored", lambda: len(_stages(a.case(serial), anchored=True)) == 2, 60)
    url = hallnet.halls[0]["url"]
    m = _metrics(url)
    assert _value(m, "caseledger_chain_up") == 1
    assert _value(m, "caseledger_hall_info", hall_id="1") == 1
    assert _value(m, "caseledger_anchored_events_total") >= 2
    assert _value(m, "caseledger_outbox_pending") == 0
    assert _value(m, "caseledger_outbox_oldest_pending_age_seconds") == 0
    assert _value(m, "caseledger_indexer_lag_blocks") >= 0
    assert _value(m, "caseledger_dispute_verifications_total", verdict="mismatch") == 0
    for name in (
        "caseledger_transfer_failures_total",
        "caseledger_transfer_refused_total",
        "caseledger_transfer_jobs_open",
        "caseledger_health_problems",
    ):
        _value(m, name)
    # latency by route template (never the serial), method and status
    assert _value(m, "caseledger_http_request_duration_seconds_count", route="/cases", method="POST", status="201") >= 1
    assert _value(m, "caseledger_http_request_duration_seconds_count", route="/cases/{serial}", status="200") >= 1
    text = httpx.get(url + "/metrics").text
    assert serial not in text and "郑秀英" not in text
    # the home hall received and verified the package: its transfer counters say so
    mb = _metrics(hallnet.halls[1]["url"])
    wait_for(
        "hall 2 to pull",
        lambda: _value(_metrics(hallnet.halls[1]["url"]), "caseledger_transfer_records_received_total") >= 2,
        60,
    )
    assert _value(mb, "caseledger_transfer_refused_total") == 0
    h = a.health()
    assert h["status"] == "ok" and h["problems"] == []
    assert h["chain"]["connected"] and "pending" in h["outbox"] and "lag" in h["indexer"]  # the old fields stay


def test_backup_needs_the_admin_token_or_a_system_administrator(hallnet: LocalNet) -> None:
    url = hallnet.halls[0]["url"]
    assert httpx.post(url + "/admin/backup").status_code == 401
    r = httpx.post(url + "/admin/backup", headers={"X-CaseLedger-Admin-Token": "guess"})
    assert r.status_code == 401
    a = staff(hallnet, 1)  # every case role, no administrator role
    assert a.http.post("/admin/backup").status_code == 403
    for user in ("secadmin", "auditor"):  # separated duties: only the system administrator takes backups
        assert staff(hallnet, 1, user).http.post("/admin/backup").status_code == 403


def test_wipe_home_hall_restore_and_every_case_is_complete_and_verified(hallnet: LocalNet, tmp_path: Path) -> None:
    a, b = staff(hallnet, 1), staff(hallnet, 2)
    home = hallnet.halls[1]["district"]
    bh = hallnet.halls[1]
    bdir = Path(bh["dir"])
    dep = Deployment.load(hallnet.data_dir / "deployment.json")
    chain = ChainClient.connect(hallnet.chain.rpc_url, deployment=dep)

    # before the backup: one case complete, one accepted at the home hall
    done = run_demo(a, b, home_district=home, timeout=90)["serial"]
    mid = _intake(a, home, "黄丽君")
    wait_for("hall 2 to receive", lambda: len(_stages(b.case(mid))) >= 2, 60)
    b.post(f"/cases/{mid}/acceptance", json={"accepted": True, "reason": "材料齐全"})
    wait_for("acceptance anchored", lambda: "ACCEPTANCE" in _stages(b.case(mid), anchored=True), 60)
    tail = _intake(a, home, "周婷")  # after the backup the home hall's own event is its last one
    wait_for("hall 2 to receive the third case", lambda: len(_stages(b.case(tail))) >= 2, 60)

    backup = tmp_path / "hall-2.tar.gz"
    out = _cli("backup", "--hall-dir", str(bdir), "--out", str(backup))
    assert "backup of hall 2" in out and "password is not in the backup" in out

    # after the backup: the home hall's own events, the accepting hall's delivery, a brand-new case
    b.post(f"/cases/{mid}/process", json={"step": "review", "note": "审查通过"})
    b.post(
        f"/cases/{mid}/result",
        data={"approved": "true", "note": "准予迁入"},
        files=[("document", ("准予迁入证明.pdf", b"%PDF-1.4 approval after backup\n"))],
    )
    wait_for("hall 1 to pull the result", lambda: "RESULT" in _stages(a.case(mid)), 90)
    a.post(f"/cases/{mid}/delivery", json={"method": "counter", "note": "窗口领取"})
    late = _intake(a, home, "吴建国")
    wait_for("hall 2 to receive the late case", lambda: len(_stages(b.case(late))) >= 2, 60)
    b.post(f"/cases/{tail}/acceptance", json={"accepted": True, "reason": "材料齐全"})
    # a case the home hall itself accepted after the backup (for hall 1's district): a serial the backup lacks
    own = _intake(b, hallnet.halls[0]["district"], "孙悦")
    wait_for(
        "everything anchored at hall 1",
        lambda: (
            len(_stages(a.case(mid), anchored=True)) == 6
            and len(_stages(a.case(late), anchored=True)) == 2
            and len(_stages(a.case(tail), anchored=True)) == 3
            and len(_stages(a.case(own), anchored=True)) == 2
        ),
        90,
    )
    serials = {done: 6, mid: 6, late: 2, tail: 3, own: 2}

    # the disk of hall 2 is lost; the operator kept the keystore password (and the demo sign-ins) apart
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    shutil.copy(bdir / "keystore.password", secrets / "keystore.password")
    shutil.copy(bdir / "demo-accounts.json", secrets / "demo-accounts.json")
    shutil.copy(bdir / "kek.json", secrets / "kek.json")  # the key-encryption key is never in a backup
    stop_hall(bdir)
    shutil.copytree(bdir / "datakeys", secrets / "datakeys")  # nor the data-key store beside it (its volume survives)
    shutil.rmtree(bdir)

    out = _cli(
        "restore",
        "--hall-dir",
        str(bdir),
        "--from",
        str(backup),
        "--password-file",
        str(secrets / "keystore.password"),
        "--kek-file",
        str(secrets / "kek.json"),
        "--data-keys",
        str(secrets / "datakeys"),
    )
    assert "restored hall 2" in out
    r = CliRunner().invoke(app, ["restore", "--hall-dir", str(bdir), "--from", str(backup)])
    # never over a store silently (`caseledger` maps this ConfigError to exit code 2)
    assert isinstance(r.exception, ConfigError) and "--force" in str(r.exception)
    shutil.copy(secrets / "demo-accounts.json", bdir / "demo-accounts.json")
    proc = start_hall(bdir, port=bh["port"], rpc_url=hallnet.chain.rpc_url, env={**hallnet.node_env, **FAST_NODE_ENV})
    wait_healthy(bh["url"], timeout=60, proc=proc)
    b2 = staff(hallnet, 2)

    def complete(serial: str, n: int) -> bool:
        v = b2.case(serial)
        return len(_stages(v, anchored=True)) == n and ((v or {}).get("transfer") or {}).get("state") == "complete"

    for serial, n in serials.items():
        wait_for(f"hall 2 to recover {serial}", lambda s=serial, k=n: complete(s, k), 120)  # type: ignore[misc]
    # intake again: never a serial the chain already knows, anchored under the hall's next numbers
    wait_for("the serial check", lambda: bool((b2.health().get("serial_check") or {}).get("done")), 60)
    fresh = _intake(b2, hallnet.halls[0]["district"], "钱进")
    assert fresh not in serials
    f_named, o_named = parse_serial(fresh), parse_serial(own)
    assert f_named is not None and o_named is not None
    assert f_named[0] != o_named[0] or f_named[2] > o_named[2]  # a later counter (or another day's)
    wait_for("the new case anchored", lambda: len(_stages(b2.case(fresh), anchored=True)) == 2, 60)
    serials[fresh] = 2
    if hallnet.anchor_mode == "merkle":  # the restored hall read back its own batches anchored after the backup
        sc = b2.health()["serial_check"]
        assert sc["own_batches_recovered"] >= 1 and sc["own_batches_on_chain"] >= sc["own_batches_recovered"]
    mirror = hallnet.halls[2]["url"]  # Merkle mode: hall 3 (no party to these cases) mirrors every manifest
    if hallnet.anchor_mode == "merkle":
        wait_for("hall 3 to mirror every batch", lambda: _mirrored(chain, mirror), 60)
    for serial, n in serials.items():
        r2 = b2.http.get(f"/cases/{serial}/bundle")
        assert r2.status_code == 200, r2.text
        bundle = parse_bundle(r2.json())
        assert bundle.mode == hallnet.anchor_mode
        assert chain_event_count(chain, hallnet.anchor_mode, bundle.accepting_hall, serial, mirror) == n
        assert len(bundle.events) == n
        report = verify_on_chain(chain, bundle, mirror)  # Merkle mode: complete, from hall 3's manifests
        assert report.ok, report
        if bundle.mode == "merkle":
            assert report.complete_as_of is not None
    # the result document written after the backup came back byte for byte (verified on the way in)
    view = b2.case(mid)
    assert view is not None
    result = next(e for e in view["timeline"] if e["stage"] == "RESULT")
    doc = b2.http.get(f"/cases/{mid}/files/{result['files'][0]['digest']}")
    assert doc.status_code == 200 and doc.content == b"%PDF-1.4 approval after backup\n"
    # healthy again: the restored node's background work (its serial check, the indexer catching up) is done
    wait_for("hall 2 healthy after the restore", lambda: b2.health()["status"] == "ok", 60)


def test_health_says_the_chain_is_down_in_words(hallnet: LocalNet) -> None:
    url = hallnet.halls[0]["url"]
    hallnet.chain.down()
    h = httpx.get(url + "/health", timeout=15).json()
    assert h["status"] == "degraded"
    p = next(x for x in h["problems"] if x["code"] == "chain_unreachable")
    assert p["zh"].startswith("无法连接区块链节点") and "the chain node is unreachable" in p["en"]
    assert _value(_metrics(url), "caseledger_chain_up") == 0
