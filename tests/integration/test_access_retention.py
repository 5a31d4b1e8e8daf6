"""Access trail (访问留痕) anchored on chain, and erasure of personal data after the retention period.

Every test runs on both suites — a deployment of ``intl`` (SHA-256, AES-256-GCM at rest) and one of ``gm``
(SM3, SM4-GCM at rest) — and in both anchoring modes (event, Merkle)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.core.bundle import parse_bundle
from ledger.core.suites import GM, INTL
from ledger.dev.demo import demo_id_number, wait_for
from ledger.dev.devchain import DevChain
from ledger.errors import VerificationError
from ledger.hall.access import ANCHOR_PREFIX
from ledger.hall.merkle_index import ManifestStore
from tests.integration.conftest import ANCHOR_MODES, InProcHall, inproc_hall_of, intake_form
from tests.support.anchoring import verify_on_chain

pytestmark = pytest.mark.integration

YEAR = 365.25 * 24 * 3600


@pytest.fixture(scope="module", params=[(s, m) for s in ("intl", "gm") for m in ANCHOR_MODES], ids="-".join)
def inproc_hall(
    request: pytest.FixtureRequest, dev_chain: DevChain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcHall]:
    """The in-process hall on a deployment of each suite, in each anchoring mode (overrides the conftest
    fixture of this name)."""
    name, mode = request.param
    suite = GM if name == "gm" else INTL
    root = Path(tmp_path_factory.mktemp(f"inproc-{suite.name}-{mode}"))
    with inproc_hall_of(dev_chain, root, suite, anchor_mode=mode) as hall:
        assert hall.node.suite is suite and hall.node.health_numbers().at_rest.cipher == (
            "sm4-gcm" if suite is GM else "aes-256-gcm"
        )
        yield hall


@pytest.fixture(scope="module")
def staff(inproc_hall: InProcHall) -> dict[str, dict[str, str]]:
    h = inproc_hall
    out = {}
    for name, roles in {
        "clerk": ("clerk",),
        "reg": ("regulator",),
        "disp": ("dispute_officer",),
        "admin": ("sys_admin",),
    }.items():
        out[name] = {"Authorization": f"Bearer {h.sign_in('t.' + name, roles)}"}
    return out


def _case(h: InProcHall, staff: dict[str, dict[str, str]], reader: str = "reg", **over: str) -> dict[str, Any]:
    data, files = intake_form(h.node.hall.district, **over)
    r = h.client.post("/cases", data=data, files=files, headers=staff["clerk"])
    assert r.status_code == 201, r.text
    serial = r.json()["serial"]
    wait_for("intake anchored", lambda: h.node.book.summary(h.node.book.header(serial))["pending_anchors"] == 0, 60)
    view: dict[str, Any] = h.client.get(f"/cases/{serial}", headers=staff[reader]).json()
    return view


def test_every_personal_data_access_is_logged_and_anchored(inproc_hall: InProcHall, staff: Any) -> None:
    h = inproc_hall
    view = _case(h, staff)
    serial = view["serial"]
    sha = view["timeline"][1]["files"][0]["digest"]
    assert h.client.get(f"/cases/{serial}/files/{sha}", headers=staff["clerk"]).status_code == 200
    assert h.client.get(f"/cases/{serial}/bundle", headers=staff["disp"]).status_code == 200
    trail = h.client.get("/access-trail", params={"serial": serial}, headers=staff["reg"]).json()
    got = [(e["actor"], e["action"]) for e in trail["data"]]
    assert got == [("staff:t.reg", "view_case"), ("staff:t.clerk", "download_file"), ("staff:t.disp", "export_bundle")]
    assert all(e["serial"] == serial and e["at"] for e in trail["data"])
    # the list of cases carries no personal data and is not logged
    h.client.get("/cases", headers=staff["reg"])
    assert h.client.get("/access-trail", params={"serial": serial}, headers=staff["reg"]).json()["count"] == 3

    r = h.client.post("/access-trail/anchor", headers=staff["admin"])
    assert r.status_code == 200 and r.json()["anchored_size"] == h.node.trail.size()
    v = h.client.get("/access-trail/verify", headers=staff["reg"])
    assert v.status_code == 200 and v.json()["ok"]
    a = h.node.trail.anchors()[-1]
    # the anchor is a zero-value transaction from the hall key to itself carrying the root
    tx = h.node.reader.w3.eth.get_transaction(a.tx)  # type: ignore[arg-type]
    assert tx["from"] == tx["to"] == h.node.account.address and tx["value"] == 0
    assert bytes(tx["input"]).startswith(ANCHOR_PREFIX) and bytes(tx["input"]).endswith(bytes.fromhex(a.root))
    block = h.node.reader.block_number()  # the last 50 blocks, and back to the recorded one on a slow machine
    found = h.node.trail.scan_anchors(h.node.reader, max(0, min(a.block, block - 50)), block)
    assert (a.size, bytes.fromhex(a.root)) in [(s, r) for _, s, r, _ in found]


def test_editing_a_logged_entry_is_detected(inproc_hall: InProcHall, staff: Any) -> None:
    h = inproc_hall
    view = _case(h, staff)
    h.client.post("/access-trail/anchor", headers=staff["admin"])
    assert h.client.get("/access-trail/verify", headers=staff["reg"]).status_code == 200
    entries = h.node.trail.entries(serial=view["serial"])
    key = f"atrail/{entries[0]['seq']:012d}".encode()
    original = h.node.store.get_json(key)
    h.node.store.put_json(key, {**original, "actor": "staff:someone-else"})  # a quiet edit in the database
    try:
        r = h.client.get("/access-trail/verify", headers=staff["reg"])
        assert r.status_code == 409 and "no longer recompute" in r.json()["error"]["message"]
        with pytest.raises(VerificationError):
            h.node.trail.verify(h.node.reader)
        h.node.store.delete(key)  # dropping it is caught too
        with pytest.raises(VerificationError):
            h.node.trail.verify(h.node.reader)
    finally:
        h.node.store.put_json(key, original)
    h.node.trail.verify(h.node.reader)


def _raw_store_bytes(store_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(store_dir.iterdir()) if p.is_file())


def test_erasure_after_retention_keeps_the_case_verifiable(inproc_hall: InProcHall, staff: Any) -> None:
    h = inproc_hall
    view = _case(
        h,
        staff,
        "clerk",  # a regulator reads cases with the personal fields withheld
        applicant_name="欧阳澄",
        applicant_id_number=demo_id_number("35050219770412555"),
        applicant_phone="13900001111",
    )
    serial = view["serial"]
    id_number = view["timeline"][0]["fields"]["applicant_id_number"]
    name = view["timeline"][0]["fields"]["applicant_name"]
    # too early: refused, naming the date the retention period ends (HJ-MIGRATE keeps 30 years)
    r = h.client.post(f"/cases/{serial}/erase-personal-data", headers=staff["admin"])
    err = r.json()["error"]
    assert r.status_code == 409 and err["message_code"] == "retention_running", (
        r.text
    )  # the case's state, not bad input
    assert "保存期限" in err["message_zh"] and "retention period" in err["message"]
    assert serial not in h.client.get("/retention/due", headers=staff["admin"]).json()["data"]
    h.node.store.compact()
    raw = _raw_store_bytes(h.node.store.path)
    assert id_number.encode() not in raw and name.encode() not in raw  # sealed at rest from the first write

    h.node.clock = lambda: time.time() + 31 * YEAR  # the injectable clock moves past the retention period
    try:
        assert serial in h.client.get("/retention/due", headers=staff["admin"]).json()["data"]
        r = h.client.post(f"/cases/{serial}/erase-personal-data", headers=staff["admin"])
        assert r.status_code == 200, r.text
        assert r.json()["erased_fields"] == [
            "applicant_address",
            "applicant_id_number",
            "applicant_name",
            "applicant_phone",
        ]
    finally:
        h.node.clock = time.time
    # gone from the case view and from the raw LevelDB files (logs and tables), kept as leaf hashes
    after = h.client.get(f"/cases/{serial}", headers=staff["reg"]).json()
    assert "applicant_id_number" not in after["timeline"][0]["fields"]
    assert "applicant_id_number" in after["timeline"][0]["withheld"]
    raw = _raw_store_bytes(h.node.store.path)
    live = [k for k, v in h.node.store.iter_prefix(b"") if id_number.encode() in v]
    files = [p.name for p in h.node.store.path.iterdir() if p.is_file() and id_number.encode() in p.read_bytes()]
    assert not live and not files, (live, files, sorted(p.name for p in h.node.store.path.iterdir()))
    assert id_number.encode() not in raw and name.encode() not in raw
    # the bundle still verifies against the chain, the personal fields shown as withheld
    b = h.client.get(f"/cases/{serial}/bundle", headers=staff["disp"])
    assert b.status_code == 200, b.text
    bundle = parse_bundle(b.json())
    assert "applicant_id_number" in bundle.withheld_fields()[0]
    assert bundle.mode == h.node.settings.anchor_mode
    own = ManifestStore(h.node.store, hall_id=h.node.hall.hall_id)
    report = verify_on_chain(h.node.reader, bundle, manifests=own.get)
    assert report.ok, report
    # the erasure itself is in the trail, and anchored
    erasures = [e for e in h.node.trail.entries(serial=serial) if e["action"] == "erase_personal_data"]
    assert erasures and erasures[0]["actor"] == "staff:t.admin"
    h.node.anchor_trail()
    assert h.node.trail.anchors()[-1].size == h.node.trail.size()
    h.node.trail.verify(h.node.reader)
