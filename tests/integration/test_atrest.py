"""Personal data at rest (issue 16), on both suites (``intl``: SHA-256 + AES-256-GCM; ``gm``: SM3 + SM4-GCM).

* Real hall processes: cases with known personal values (Chinese names among them) are taken in at one hall,
  transferred to the home hall (verified against the chain, then sealed for storage), verified, backed up; the
  nodes are stopped and every byte of their stores, their logs and the backup archives (decompressed) is
  searched for each value in UTF-8, UTF-16-LE and UTF-16-BE, and for the staff's TOTP secrets: none is there.
* Crypto-shredding: backup → erase → restore that backup → the erased case's values cannot be had from the
  restored store, the other case's can (a normal restore works), and every case still verifies.
* KEK rotation through the running node: the data keys re-wrapped in the background, everything still reads,
  also after a restart.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from typer.testing import CliRunner

from ledger.cli import _register, app
from ledger.core.bundle import parse_bundle
from ledger.core.suites import GM, INTL, Suite
from ledger.dev.demo import HallClient, demo_id_number, wait_for
from ledger.dev.devchain import DevChain, free_port
from ledger.dev.localnet import LocalNet
from ledger.hall.backup import restore_backup
from ledger.hall.kek import KeyEncryptionKey
from ledger.hall.keys import MANIFEST_PREFIX
from ledger.hall.merkle_index import ManifestStore
from tests.integration.conftest import ANCHOR_MODES, InProcHall, inproc_hall_of, mode_env, start_inproc
from tests.support.anchoring import verify_on_chain

pytestmark = pytest.mark.integration

MATS = ["application_form", "id_card", "household_register", "housing_proof"]
YEAR = 365.25 * 24 * 3600
PEOPLE = [
    {"name": n, "id": demo_id_number(i), "phone": ph, "addr": ad}
    for n, i, ph, ad in [
        ("欧阳澄", "35050219770412555", "13900001111", "丰泽区东海街道东滨路88号"),
        ("司马相如", "35052119880101234", "13805950002", "晋江市青阳街道梅岭路"),
        ("林小梅", "35058219851120004", "05952234567", "鲤城区开元街道"),
    ]
]


def _suite(name: str) -> Suite:
    return GM if name == "gm" else INTL


def _encodings(value: str) -> list[bytes]:
    return [value.encode("utf-8"), value.encode("utf-16-le"), value.encode("utf-16-be")]


def _files(person: dict[str, str]) -> list[tuple[str, tuple[str, bytes]]]:
    # the file names carry the applicant's name too (staff scan them so): they are sealed with the file list
    return [
        (f"materials.{k}", (f"{person['name']}{k}.pdf", f"%PDF-1.4 {k} of {person['name']} {person['id']}".encode()))
        for k in MATS
    ]


def _form(person: dict[str, str], home: int) -> dict[str, str]:
    return {
        "item_code": "HJ-MIGRATE",
        "home_district": str(home),
        "applicant_name": person["name"],
        "applicant_id_number": person["id"],
        "applicant_phone": person["phone"],
        "applicant_address": person["addr"],
    }


def _bytes_of_tree(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _bytes_of_backup(archive: Path) -> dict[str, bytes]:
    raw = archive.read_bytes()
    out = {f"{archive} (gzip)": raw, f"{archive} (tar)": gzip.decompress(raw)}
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m) if m.isfile() else None
            if f is not None:
                out[f"{archive}:{m.name}"] = f.read()
    return out


def _found(haystacks: dict[str, bytes], needles: dict[str, str]) -> list[str]:
    hits = []
    for what, value in needles.items():
        for enc in _encodings(value):
            hits += [f"{what} ({enc!r}) in {where}" for where, data in haystacks.items() if enc in data]
    return hits


# ------------------------------------------------------------------------------- real processes, byte search
SUITES_AND_MODES = [(s, m) for s in ("intl", "gm") for m in ANCHOR_MODES]
"""every at-rest test on both suites, and in both anchoring modes (Merkle mode keeps its own queue, batches and
manifests in the store: none may hold a personal value)"""


@pytest.fixture(scope="module", params=SUITES_AND_MODES, ids="-".join)
def net(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNet]:
    suite, mode = request.param
    n = LocalNet(
        Path(tmp_path_factory.mktemp(f"atrest-{suite}-{mode}")),
        halls=2,
        chain_port=free_port(),
        hall_ports=[free_port() for _ in range(2)],
        block_time=1.0,
        node_env=mode_env(mode),
        suite=_suite(suite),
    )
    try:
        n.up(timeout=60)
        yield n
    finally:
        n.down()


def _cli(*args: str) -> str:
    _register()
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return str(r.output)


def test_no_personal_value_or_totp_secret_in_stores_logs_or_backups(net: LocalNet, tmp_path: Path) -> None:
    assert net.deployment is not None
    suite = _suite(net.deployment.suite)
    dirs = [Path(h["dir"]) for h in net.halls]
    a = HallClient.demo(dirs[0], net.halls[0]["url"], "demo", timeout=10)
    b = HallClient.demo(dirs[1], net.halls[1]["url"], "demo", timeout=10)
    assert a.health()["suite"] == suite.name
    assert a.health()["at_rest"]["cipher"] == ("sm4-gcm" if suite is GM else "aes-256-gcm")
    home = int(net.halls[1]["district"])
    serials = [str(a.intake(_form(p, home), _files(p))["serial"]) for p in PEOPLE]
    for s in serials:  # the home hall pulled each package, verified every byte against the chain, sealed it
        wait_for(f"hall 2 to receive {s}", lambda s=s: len((b.case(s) or {}).get("timeline", [])) >= 2, 90)  # type: ignore[misc]
    for client, where in ((a, "accepting"), (b, "home")):
        for s, p in zip(serials, PEOPLE, strict=True):
            view = client.case(s)
            assert view is not None and view["timeline"][0]["fields"]["applicant_name"] == p["name"], where
            mats = next(e for e in view["timeline"] if e["stage"] == "MATERIALS")
            doc = client.http.get(f"/cases/{s}/files/{mats['files'][1]['digest']}")
            assert doc.status_code == 200 and doc.content == _files(p)[1][1][1]
            r = client.http.get(f"/cases/{s}/bundle")
            assert r.status_code == 200, r.text
            bundle = parse_bundle(r.json())
            assert bundle.suite == suite.name
    wait_for(
        "every event anchored",
        lambda: all(
            e["anchor"]["state"] == "anchored" for s in serials for e in (a.case(s) or {"timeline": []})["timeline"]
        ),
        90,
    )
    backups = []
    for n, d in enumerate(dirs, start=1):
        out = tmp_path / f"hall-{n}.tar.gz"
        _cli("backup", "--hall-dir", str(d), "--out", str(out))
        backups.append(out)
    accounts = json.loads((dirs[0] / "demo-accounts.json").read_text())
    secrets = {f"TOTP secret of {u}": str(v["totp_secret"]) for u, v in accounts.items() if v.get("totp_secret")}
    assert secrets
    tokens = {"session token of demo at hall 1": a.token, "session token of demo at hall 2": b.token}
    net.down()  # every byte on disk now: write-ahead logs, tables, compaction leftovers, the node logs

    haystacks: dict[str, bytes] = {}
    for d in dirs:
        haystacks.update(_bytes_of_tree(d / "store"))
        haystacks.update(_bytes_of_tree(d / "datakeys"))
        haystacks.update({str(p): p.read_bytes() for p in d.glob("*.log")})
    for bk in backups:
        haystacks.update(_bytes_of_backup(bk))
    assert any(k.endswith(".log") and "/store/" in k for k in haystacks)  # LevelDB's own log is searched
    assert any("node.log" in k for k in haystacks) and any(":store/" in k for k in haystacks)
    needles: dict[str, str] = {}
    for i, p in enumerate(PEOPLE):
        needles.update(
            {
                f"name {i}": p["name"],
                f"ID number {i}": p["id"],
                f"phone {i}": p["phone"],
                f"address {i}": p["addr"],
                f"file content {i}": f"id_card of {p['name']}",
                f"file name {i}": f"{p['name']}id_card.pdf",
            }
        )
    assert _found(haystacks, needles | secrets | tokens) == []
    # the search itself finds what is there: the demo accounts file holds the secrets in clear (dev only)
    assert _found({"demo-accounts.json": (dirs[0] / "demo-accounts.json").read_bytes()}, secrets)


# ---------------------------------------------------------------------- crypto-shredding through a restore
@pytest.fixture(params=SUITES_AND_MODES, ids="-".join)
def hall(request: pytest.FixtureRequest, dev_chain: DevChain, tmp_path: Path) -> Iterator[InProcHall]:
    suite, mode = request.param
    with inproc_hall_of(dev_chain, tmp_path, _suite(suite), anchor_mode=mode) as h:
        yield h


def _token(h: InProcHall, username: str, roles: tuple[str, ...]) -> dict[str, str]:
    return {"Authorization": f"Bearer {h.sign_in(username, roles)}"}


def _intake_inproc(h: InProcHall, person: dict[str, str], headers: dict[str, str]) -> str:
    r = h.client.post("/cases", data=_form(person, 350503), files=_files(person), headers=headers)
    assert r.status_code == 201, r.text
    serial = str(r.json()["serial"])
    wait_for("intake anchored", lambda: h.node.book.summary(h.node.book.header(serial))["pending_anchors"] == 0, 60)
    return serial


def _verify_all(h: InProcHall, headers: dict[str, str], serials: list[str]) -> list[Any]:
    bundles = []
    for s in serials:
        r = h.client.get(f"/cases/{s}/bundle", headers=headers)
        assert r.status_code == 200, r.text
        bundle = parse_bundle(r.json())
        assert bundle.mode == h.node.settings.anchor_mode
        own = ManifestStore(h.node.store, hall_id=h.node.hall.hall_id)
        report = verify_on_chain(h.node.reader, bundle, manifests=own.get)
        assert report.ok, report
        bundles.append(bundle)
    return bundles


def test_backup_erase_restore_the_values_stay_gone_and_every_case_verifies(hall: InProcHall, tmp_path: Path) -> None:
    h = hall
    clerk, admin = _token(h, "t.clerk", ("clerk",)), _token(h, "t.admin", ("sys_admin",))
    disp = _token(h, "t.disp", ("dispute_officer",))
    gone, kept = PEOPLE[0], PEOPLE[1]
    erased, other = _intake_inproc(h, gone, clerk), _intake_inproc(h, kept, clerk)
    mats = h.node.book.records(erased)[1]["files"]
    archive = tmp_path / "before-erasure.tar.gz"
    h.node.backup(archive, by="test:operator")  # the backup holds both cases

    h.node.clock = lambda: time.time() + 31 * YEAR  # past HJ-MIGRATE's 30 years
    try:
        r = h.client.post(f"/cases/{erased}/erase-personal-data", headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["data_keys_destroyed"] == 1
    finally:
        h.node.clock = time.time
    _verify_all(h, disp, [erased, other])

    # the operator restores the backup taken before the erasure (the KEK and the data-key store stay in place)
    hall_dir, rpc, admin_client, mode = h.dir, h.node.settings.rpc_url, h.admin, h.node.settings.anchor_mode
    dep_file = h.node.settings.deployment_file
    assert dep_file is not None
    h.client.__exit__(None, None, None)
    restore_backup(archive, hall_dir, force=True, restored_by="test:operator")
    h2 = start_inproc(hall_dir, rpc, dep_file, admin_client, anchor_mode=mode)
    try:
        clerk2 = _token(h2, "t.clerk2", ("clerk",))
        disp2 = _token(h2, "t.disp2", ("dispute_officer",))
        view = h2.client.get(f"/cases/{erased}", headers=clerk2).json()
        intake = view["timeline"][0]
        assert not {"applicant_name", "applicant_id_number", "applicant_phone", "applicant_address"} & set(
            intake["fields"]
        )
        assert {"applicant_name", "applicant_id_number"} <= set(intake["withheld"])
        assert view["timeline"][1]["files"] == []
        f = h2.client.get(f"/cases/{erased}/files/{mats[0]['digest']}", headers=clerk2)
        assert f.status_code == 404 and f.json()["error"]["code"] == "personal_data_erased", f.text
        # nothing of the erased case in any value the restored store decodes, nor in its raw bytes
        store = h2.node.store
        binary = (b"blob/", MANIFEST_PREFIX)  # files; Merkle batch manifests (leaves: serial, stage, commitment)
        values = [store.get_json(k) for k, v in store.iter_prefix(b"") if v and not k.startswith(binary)]
        decoded = json.dumps(values, ensure_ascii=False).encode()
        raw = b"".join(_bytes_of_tree(hall_dir / "store").values())
        needles = {"name": gone["name"], "ID": gone["id"], "phone": gone["phone"], "address": gone["addr"]}
        needles["file"] = f"id_card of {gone['name']}"
        assert _found({"decoded restored store": decoded, "restored store files": raw}, needles) == []
        # a normal restore: the other case's personal data and files are all there
        view2 = h2.client.get(f"/cases/{other}", headers=clerk2).json()
        assert view2["timeline"][0]["fields"]["applicant_name"] == kept["name"]
        d2 = view2["timeline"][1]["files"][1]["digest"]
        assert h2.client.get(f"/cases/{other}/files/{d2}", headers=clerk2).content == _files(kept)[1][1][1]
        # and every case verifies against the chain, the erased one with its personal fields withheld
        bundles = _verify_all(h2, disp2, [erased, other])
        assert "applicant_name" in bundles[0].withheld_fields()[0]
    finally:
        h2.client.__exit__(None, None, None)


def test_kek_rotation_while_serving(hall: InProcHall) -> None:
    h = hall
    clerk = _token(h, "t.clerk", ("clerk",))
    password = "correct horse battery staple"
    created = h.node.accounts.create("t.sec", password, roles=("security_admin",))
    assert created.totp_secret is not None
    sec = {
        "Authorization": "Bearer "
        + h.node.accounts.login("t.sec", password, pyotp.TOTP(created.totp_secret).now(), client="t").token
    }
    serials = [_intake_inproc(h, p, clerk) for p in PEOPLE]
    before = h.client.get("/admin/kek", headers=sec).json()
    r = h.client.post("/admin/kek/rotate", headers=sec)
    assert r.status_code == 200, r.text
    new = r.json()["current_kid"]
    assert new != before["current_kid"] and new in r.json()["kids"]
    # the node keeps taking cases while it re-wraps
    serials.append(_intake_inproc(h, {**PEOPLE[2], "name": "诸葛明"}, clerk))

    def rewrapped() -> bool:
        r = h.client.get("/admin/kek", headers=sec)
        return r.status_code == 200 and r.json().get("pending") == 0

    wait_for("re-wrapped", rewrapped, 60)
    wrapped = {v["wrapped"].split(".")[1] for _, v in h.node.data_keys.store.iter_json(b"dk/")}
    assert wrapped == {new}
    assert any(e["action"] == "rotate_kek" for e in h.node.trail.entries())
    for s in serials:
        assert h.client.get(f"/cases/{s}", headers=clerk).json()["timeline"][0]["fields"]["applicant_name"]
    # restart: the node reads everything through the new wrapping; the second factor (re-sealed) still works
    hall_dir, rpc, admin_client, mode = h.dir, h.node.settings.rpc_url, h.admin, h.node.settings.anchor_mode
    dep_file = h.node.settings.deployment_file
    assert dep_file is not None
    h.client.__exit__(None, None, None)
    h2 = start_inproc(hall_dir, rpc, dep_file, admin_client, anchor_mode=mode)
    try:
        assert h2.node.kek.current_kid == new
        raw = h2.node.store.get_json(b"acct/t.sec")
        assert KeyEncryptionKey.kid_of(str(raw["totp_sealed"])) == new  # the second factor was re-sealed
        # the next TOTP step (each step is usable once; ±1 step is accepted)
        h2.node.accounts.login("t.sec", password, pyotp.TOTP(created.totp_secret).at(time.time() + 30), client="t")
        clerk2 = _token(h2, "t.clerk2", ("clerk",))
        views = [h2.client.get(f"/cases/{s}", headers=clerk2).json() for s in serials]
        assert [v["timeline"][0]["fields"]["applicant_name"] for v in views] == [p["name"] for p in PEOPLE] + ["诸葛明"]
    finally:
        h2.client.__exit__(None, None, None)
