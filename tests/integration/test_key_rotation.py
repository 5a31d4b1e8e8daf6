"""Key rotation end to end, in both anchoring modes: new keystore, registry rotation, node reload with the
outbox intact (in Merkle mode a batch built for the old key and not sent, built again for the new one), the old
key refused on chain, events signed by the old key still verify."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.chain.facts_reader import fetch_chain_facts, fetch_merkle_facts
from ledger.core.batches import EventLeaf, Manifest
from ledger.core.bundle import parse_bundle
from ledger.core.hashchain import case_id
from ledger.core.stages import Stage
from ledger.dev.demo import demo_id_number, wait_for
from ledger.dev.devchain import DevChain, dev_admin
from ledger.errors import ChainError, ChainRuleError
from ledger.hall.cases import CaseBook, HallIdentity, Upload
from ledger.hall.indexer import Indexer
from ledger.hall.keyrotation import rotate_hall_key
from ledger.hall.keys import MBOX_PREFIX, manifest_key, mbatch_key, mcase_key
from ledger.hall.keystore import load_keystore
from ledger.hall.merkle_index import MerkleIndex
from ledger.hall.merkle_outbox import MerkleSender
from ledger.hall.outbox import Outbox
from ledger.hall.store import Store
from ledger.verify.checks import verify_bundle
from ledger.verify.manifests import manifest_path
from ledger.verify.merkle import verify_merkle_bundle
from tests.integration.conftest import ANCHOR_MODES, MATERIALS, InProcHall, intake_form, make_hall_dir, start_inproc

pytestmark = pytest.mark.integration


def _pending(h: InProcHall, serial: str) -> int:
    return int(h.node.book.summary(h.node.book.header(serial))["pending_anchors"])


def _writers(h: InProcHall, mode: str, serial: str) -> set[str]:
    """Which keys the chain says wrote the case's events (Merkle mode: the key that sent each event's batch)."""
    if mode == "event":
        return {e.writer.lower() for e in h.node.reader.case_events(h.node.hall.hall_id, serial)}
    me = h.node.hall.hall_id
    sent_by = {b.seq: b.writer.lower() for b in h.node.reader.batches_in_range(0, h.node.reader.block_number())
               if b.hall_id == me}  # fmt: skip
    return {sent_by[int(r["anchor"]["batch"]["seq"])] for r in h.node.book.records(serial)}


def _verified(h: InProcHall, serial: str, disp: dict[str, str]) -> tuple[set[str], str]:
    """The case's bundle as the hall serves it, verified against the chain (Merkle mode: completeness proven
    from every batch's manifest, read from the hall's public route): the writers it names and the verdict."""
    r = h.client.get(f"/cases/{serial}/bundle", headers=disp)
    assert r.status_code == 200, r.text
    bundle = parse_bundle(r.json())
    if bundle.mode == "merkle":

        def manifests(hall: int, seq: int) -> bytes | None:
            got = h.client.get(manifest_path(hall, seq))
            return got.content if got.status_code == 200 else None

        report = verify_merkle_bundle(bundle, fetch_merkle_facts(h.node.reader, bundle, manifests=manifests))
    else:
        report = verify_bundle(bundle, fetch_chain_facts(h.node.reader, h.node.hall.hall_id, serial))
    assert report.ok, report
    return {ev.writer.lower() for ev in bundle.events}, report.verdict


@pytest.mark.parametrize("mode", ANCHOR_MODES)
def test_rotation_end_to_end(dev_chain: DevChain, tmp_path: Path, mode: str) -> None:
    """The hall's key rotates while events wait: in Merkle mode one batch is built (written, not sent) for the
    old key and one event waits in ``mbox/``; after the reload every one of them is anchored once, by the new
    key, and every case verifies (those the old key anchored too)."""
    dep = ChainClient.deploy(dev_chain.rpc_url, dev_admin())
    dep_file = tmp_path / "deployment.json"
    dep.save(dep_file)
    admin = ChainClient.connect(dev_chain.rpc_url, deployment=dep, account=dev_admin())
    d = make_hall_dir(tmp_path, admin, 350502, "鲤城区行政服务中心")
    h = start_inproc(d, dev_chain.rpc_url, dep_file, admin, anchor_mode=mode)
    queued: str | None = None
    try:
        clerk = {"Authorization": f"Bearer {h.sign_in('k.clerk', ('clerk',))}"}
        disp = {"Authorization": f"Bearer {h.sign_in('k.disp', ('dispute_officer',))}"}
        data, files = intake_form(350502)
        before = h.client.post("/cases", data=data, files=files, headers=clerk).json()["serial"]
        wait_for("anchoring with the old key", lambda: _pending(h, before) == 0, 60)
        h.node.sender.stop()  # the next cases stay unanchored across the rotation
        h.node.merkle_sender.stop()
        pending = h.client.post("/cases", data=data, files=files, headers=clerk).json()["serial"]
        assert _pending(h, pending) == 2
        if mode == "merkle":
            built = h.node.merkle_sender.build()  # written for the old key, never sent
            assert built is not None and built["count"] == 2
            assert str(built["writer"]).lower() == h.node.hall.account.lower()
            queued = h.client.post("/cases", data=data, files=files, headers=clerk).json()["serial"]
            assert h.node.store.count_prefix(MBOX_PREFIX) == 2 and h.node.merkle_sender.stats().batches_unanchored == 1
        old_seq = h.node.reader.batch_header(h.node.hall.hall_id)[1]
    finally:
        h.client.__exit__(None, None, None)

    old, new = rotate_hall_key(d, admin)
    assert old.address != new.address
    assert (d / f"keystore.{old.address}.retired.json").exists() and (d / "keystore.json").stat().st_mode & 0o077 == 0
    assert load_keystore(d / "keystore.json", (d / "keystore.password").read_text().strip()).address == new.address
    # the old key is refused on chain from now on, in either mode's call
    old_client = ChainClient.connect(dev_chain.rpc_url, deployment=dep, account=old)
    if mode == "event":  # (a Merkle-mode case has no event-mode header: the contract would say UnknownCase first)
        with pytest.raises(ChainRuleError) as e:
            old_client.append_event(h.node.hall.hall_id, before, Stage.PROCESS, secrets.token_bytes(32))
        assert e.value.rule in ("CaseLedgerInactiveHall", "CaseLedgerUnauthorizedWriter")
    with pytest.raises(ChainRuleError) as e:
        old_client.open_case(f"TB-OLD-{os.getpid()}", "HJ-MIGRATE", 350502, secrets.token_bytes(32))
    assert e.value.rule == "CaseLedgerInactiveHall"
    with pytest.raises(ChainRuleError) as e:
        old_client.call_root(old_seq, secrets.token_bytes(32), 1)
    assert e.value.rule == "CaseLedgerInactiveHall"

    # node reload: same store, the new key; the outbox (and in Merkle mode the built batch) drains with it
    h2 = start_inproc(d, dev_chain.rpc_url, dep_file, admin, anchor_mode=mode)
    try:
        assert h2.client.get("/health").json()["account"] == new.address
        waiting = [s for s in (pending, queued) if s is not None]
        wait_for("the waiting cases anchored with the new key", lambda: all(_pending(h2, s) == 0 for s in waiting), 60)
        for s in waiting:
            assert _writers(h2, mode, s) == {new.address.lower()}, s
        # a new sign-in (sessions are in the store too, so the old ones still work until they expire)
        clerk2 = {"Authorization": f"Bearer {h2.sign_in('k.clerk2', ('clerk',))}"}
        data, files = intake_form(350502)
        after = h2.client.post("/cases", data=data, files=files, headers=clerk2).json()["serial"]
        wait_for("anchoring with the new key", lambda: _pending(h2, after) == 0, 60)
        if mode == "merkle":  # the built batch went out once, under its own number, with the new key
            me = h2.node.hall.hall_id
            sent = [(b.seq, b.writer.lower()) for b in h2.node.reader.batches_in_range(0, h2.node.reader.block_number())
                    if b.hall_id == me]  # fmt: skip
            assert sent == [(0, old.address.lower()), (1, new.address.lower()), (2, new.address.lower())]
            assert {int(r["anchor"]["batch"]["seq"]) for r in h2.node.book.records(pending)} == {1}
            wait_for("the hall's indexer read every batch", lambda: h2.node.merkle_index.wanted() == [], 30)
            assert h2.node.merkle_index.findings() == []
        # events written by the old key still verify (the verifier reads the key history)
        for serial, writer in ((before, old.address), (pending, new.address), (after, new.address)):
            writers, verdict = _verified(h2, serial, disp)
            assert writers == {writer.lower()}, serial
            assert verdict == "match", serial
    finally:
        h2.client.__exit__(None, None, None)
    assert Deployment.load(dep_file).registry == dep.registry


# ---------------------------------------------------------------- Merkle mode: a batch built before the rotation


def _merkle_book(tmp_path: Path, client: ChainClient) -> CaseBook:
    info = client.hall_of(client.address)
    assert info is not None
    store = Store.init(tmp_path / "store")
    hall = HallIdentity(hall_id=info.hall_id, district=info.district)
    return CaseBook(store, Outbox(store), hall=hall, anchor_mode="merkle")


def _merkle_intake(book: CaseBook) -> str:
    return str(
        book.intake(
            item_code="HJ-MIGRATE",
            home_district=book.hall.district,
            applicant={"name": "陈明华", "id_number": demo_id_number(), "phone": "13905951234"},
            materials=[Upload(m, f"{m}.pdf", f"content of {m}".encode()) for m in MATERIALS],
            staff="w",
        )["serial"]
    )


def _indexed(book: CaseBook, reader: ChainClient) -> MerkleIndex:
    """Every batch of the deployment read and checked by an indexer over ``book``'s store (as every reader does)."""
    ix = MerkleIndex(book.store, reader, book)
    idx = Indexer(book.store, reader, book, chunk=1000, merkle=ix)
    for _ in range(20):
        if not idx.run_once() and not ix.wanted():
            break
    assert ix.wanted() == []
    return ix


def _rotate(admin: ChainClient, rpc_url: str, old: ChainClient) -> ChainClient:
    info = admin.hall_of(old.address)
    assert info is not None
    new = Account.create()
    admin.rotate_hall_key(info.hall_id, new.address)
    admin.fund(new.address, 10**18)
    return ChainClient.connect(rpc_url, deployment=old.deployment, account=new)


@pytest.mark.parametrize("built_by", ["this_version", "older_version"])
def test_merkle_batch_built_before_a_rotation_is_built_again_for_the_new_key_regression(
    dev_chain: DevChain, admin: ChainClient, new_hall: Any, tmp_path: Path, built_by: str
) -> None:
    """Regression: a Merkle batch built (written, not sent) before the hall's key rotated was sent as it was by
    the new key; its leaves and heads named the old key, so every reader refused them (``writer_mismatch``) and
    the acknowledged events were never part of their cases. It must be built again for the new key: the entries
    back in ``mbox/`` under their numbers, the cases' heads from before the batch, the same batch number.
    ``older_version``: the batch was built before batches kept their cases' earlier heads (``before``): they
    come from the indexer's checked state, once it has read every earlier event of the cases."""
    old = new_hall(350502)
    book = _merkle_book(tmp_path, old)
    me = book.hall.hall_id
    sender = MerkleSender(book.outbox, old, hall=book.hall)
    early = _merkle_intake(book)
    assert sender.run_once() == 2  # batch 0, by the old key
    book.decide_acceptance(early, accepted=True, reason="", staff="w")  # chains from the old key's head
    late = _merkle_intake(book)
    built = sender.build()  # batch 1, built for the old key; the node stops before sending it
    assert built is not None and built["seq"] == 1 and built["writer"] == old.address and built["count"] == 3
    new = _rotate(admin, dev_chain.rpc_url, old)

    fresh = MerkleSender(book.outbox, new, hall=book.hall)  # the node restarted with the new key
    if built_by == "older_version":
        book.store.put_json(mbatch_key(1), {k: v for k, v in built.items() if k != "before"})
        with pytest.raises(ChainError, match="indexer has not read every earlier event"):
            fresh.run_once()  # batch 0 not indexed yet: the case's head before batch 1 is not known here
        assert book.store.get_json(mbatch_key(1))["writer"] == old.address  # type: ignore[index]
        assert book.store.count_prefix(MBOX_PREFIX) == 0  # nothing undone
        _indexed(book, ChainClient.connect(dev_chain.rpc_url, deployment=old.deployment))
        fresh.needs_reconcile = True  # (as the loop does after an error)
    assert fresh.run_once() == 3
    assert fresh.rebuilt_total == 3
    assert new.batch_header(me)[1] == 2  # batch 1 anchored once, under its own number
    mined = new.batches_in_range(0, new.block_number(), hall_id=me)
    assert [(b.seq, b.writer.lower()) for b in mined] == [(0, old.address.lower()), (1, new.address.lower())]
    assert book.store.count_prefix(MBOX_PREFIX) == 0 and sender.stats().batches_unanchored == 0
    m = Manifest.decode(book.store.get(manifest_key(me, 1)) or b"")
    assert {EventLeaf.decode(x).writer for x in m.leaves} == {bytes.fromhex(new.address[2:])}
    for serial in (early, late):
        assert [r["anchor"]["state"] for r in book.records(serial)] == ["anchored"] * len(book.records(serial))
    # every reader accepts every leaf: no finding, and each case's events are the ones anchored
    ix = _indexed(book, ChainClient.connect(dev_chain.rpc_url, deployment=old.deployment))
    assert ix.findings() == []
    for serial, writers in ((early, [old, old, new]), (late, [new, new])):
        st = book.store.get_json(mcase_key(case_id(me, serial)))
        assert st is not None, serial
        assert [e["writer"].lower() for e in st["events"]] == [w.address.lower() for w in writers]
        assert [e["index"] for e in st["events"]] == [r["anchor"]["index"] for r in book.records(serial)]
        assert [e["head"] for e in st["events"]] == [r["anchor"]["head"] for r in book.records(serial)]


def test_merkle_batch_the_chain_holds_is_recorded_not_built_again(
    dev_chain: DevChain, admin: ChainClient, new_hall: Any, tmp_path: Path
) -> None:
    """Exactly once across a rotation: a batch the old key sent before the rotation (its outcome not recorded)
    is on chain: it is recorded as it is, never built again under its number or a later one."""
    old = new_hall(350502)
    book = _merkle_book(tmp_path, old)
    me = book.hall.hall_id
    serial = _merkle_intake(book)
    built = MerkleSender(book.outbox, old, hall=book.hall).build()
    assert built is not None
    assert old.wait(old.send_root(0, bytes.fromhex(built["root"]), int(built["count"]))).status == 1
    new = _rotate(admin, dev_chain.rpc_url, old)
    fresh = MerkleSender(book.outbox, new, hall=book.hall)
    assert fresh.rebuild(0) is False and fresh.needs_reconcile  # the chain holds batch 0: nothing undone
    assert book.store.get_json(mbatch_key(0)) == built and book.store.count_prefix(MBOX_PREFIX) == 0
    assert fresh.run_once() == 2  # recorded by the reconcile
    assert fresh.rebuilt_total == 0 and new.batch_header(me)[1] == 1
    assert {r["anchor"]["writer"] for r in book.records(serial)} == {old.address}
    ix = _indexed(book, ChainClient.connect(dev_chain.rpc_url, deployment=old.deployment))
    assert ix.findings() == []
    assert len((book.store.get_json(mcase_key(case_id(me, serial))) or {})["events"]) == 2
