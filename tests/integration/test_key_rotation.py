"""Key rotation end to end: new keystore, registry rotation, node reload with the outbox intact,
the old key refused on chain, events signed by the old key still verify."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.chain.facts_reader import fetch_chain_facts
from ledger.core.bundle import parse_bundle
from ledger.core.stages import Stage
from ledger.dev.demo import wait_for
from ledger.dev.devchain import DevChain, dev_admin
from ledger.errors import ChainRuleError
from ledger.hall.keyrotation import rotate_hall_key
from ledger.hall.keystore import load_keystore
from ledger.verify.checks import verify_bundle
from tests.integration.conftest import InProcHall, intake_form, make_hall_dir, start_inproc

pytestmark = pytest.mark.integration


def _pending(h: InProcHall, serial: str) -> int:
    return int(h.node.book.summary(h.node.book.header(serial))["pending_anchors"])


def test_rotation_end_to_end(dev_chain: DevChain, tmp_path: Path) -> None:
    dep = ChainClient.deploy(dev_chain.rpc_url, dev_admin())
    dep_file = tmp_path / "deployment.json"
    dep.save(dep_file)
    admin = ChainClient.connect(dev_chain.rpc_url, deployment=dep, account=dev_admin())
    d = make_hall_dir(tmp_path, admin, 350502, "鲤城区行政服务中心")
    h = start_inproc(d, dev_chain.rpc_url, dep_file, admin)
    try:
        clerk = {"Authorization": f"Bearer {h.sign_in('k.clerk', ('clerk',))}"}
        disp = {"Authorization": f"Bearer {h.sign_in('k.disp', ('dispute_officer',))}"}
        data, files = intake_form(350502)
        before = h.client.post("/cases", data=data, files=files, headers=clerk).json()["serial"]
        wait_for("anchoring with the old key", lambda: _pending(h, before) == 0, 60)
        h.node.sender.stop()  # the next case stays in the outbox across the rotation
        pending = h.client.post("/cases", data=data, files=files, headers=clerk).json()["serial"]
        assert _pending(h, pending) == 2
    finally:
        h.client.__exit__(None, None, None)

    old, new = rotate_hall_key(d, admin)
    assert old.address != new.address
    assert (d / f"keystore.{old.address}.retired.json").exists() and (d / "keystore.json").stat().st_mode & 0o077 == 0
    assert load_keystore(d / "keystore.json", (d / "keystore.password").read_text().strip()).address == new.address
    # the old key is refused on chain from now on
    old_client = ChainClient.connect(dev_chain.rpc_url, deployment=dep, account=old)
    with pytest.raises(ChainRuleError) as e:
        old_client.append_event(h.node.hall.hall_id, before, Stage.PROCESS, secrets.token_bytes(32))
    assert e.value.rule in ("CaseLedgerInactiveHall", "CaseLedgerUnauthorizedWriter")
    with pytest.raises(ChainRuleError) as e:
        old_client.open_case(f"TB-OLD-{os.getpid()}", "HJ-MIGRATE", 350502, secrets.token_bytes(32))
    assert e.value.rule == "CaseLedgerInactiveHall"

    # node reload: same store, the new key; the outbox drains with it
    h2 = start_inproc(d, dev_chain.rpc_url, dep_file, admin)
    try:
        assert h2.client.get("/health").json()["account"] == new.address
        wait_for("the pending case anchored with the new key", lambda: _pending(h2, pending) == 0, 60)
        events = h2.node.reader.case_events(h2.node.hall.hall_id, pending)
        assert {e.writer.lower() for e in events} == {new.address.lower()}
        # a new sign-in (sessions are in the store too, so the old ones still work until they expire)
        clerk2 = {"Authorization": f"Bearer {h2.sign_in('k.clerk2', ('clerk',))}"}
        data, files = intake_form(350502)
        after = h2.client.post("/cases", data=data, files=files, headers=clerk2).json()["serial"]
        wait_for("anchoring with the new key", lambda: _pending(h2, after) == 0, 60)
        # events written by the old key still verify (the verifier reads the key history)
        for serial, writer in ((before, old.address), (after, new.address)):
            r = h2.client.get(f"/cases/{serial}/bundle", headers=disp)
            assert r.status_code == 200, r.text
            bundle = parse_bundle(r.json())
            assert {ev.writer.lower() for ev in bundle.events} == {writer.lower()}
            report = verify_bundle(bundle, fetch_chain_facts(h2.node.reader, h2.node.hall.hall_id, serial))
            assert report.ok, report
    finally:
        h2.client.__exit__(None, None, None)
    assert Deployment.load(dep_file).registry == dep.registry
