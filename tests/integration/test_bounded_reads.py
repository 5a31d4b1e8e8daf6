"""Issue 15, item 1: every log query is bounded, and reading one case costs O(its events), not O(chain).

A proxy in front of anvil enforces Besu's defaults (``eth_getLogs`` over at most 1,000 blocks, batches of
at most 1,024) and counts requests. One case is anchored, 5,000 empty blocks (five times Besu's range
limit) are mined on top, and the verifier's stdlib reader, the chain client's readers, the audit's and
the indexer's forward scans and the stand-alone ``caseledger-verify`` all work through the proxy, with
the same number of requests per case on the short and on the long chain. (Not 100,000 blocks in
``make test``: anvil's ``anvil_mine`` takes 10–20 s per 1,000 blocks here and slows with the chain's
length; ``CASELEDGER_LONG_CHAIN_BLOCKS=100000`` runs this module on a 100,000-block chain, about half an
hour of mining here; its anvil keeps no state file, since a long chain's periodic dumps filled the disk.)
The reads touch only blocks that hold the case's events or registry changes, whatever the length.

A Merkle-mode case (a real hall in Merkle mode, anchored before the empty blocks) is proven complete through
the same proxy: there the verifier's completeness scan reads every ``BatchAnchored`` log from the case's first
batch to the head in ranges of at most 1,000 blocks, so its cost grows with that window by design
(docs/verification.md §13) — bounded ranges, never a refusal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ledger.chain.client import ChainClient
from ledger.chain.facts_reader import fetch_chain_facts, fetch_chain_facts_many
from ledger.core.bundle import ExportedBy, HeldEvent, build_bundle
from ledger.core.chainlog import read_case_facts
from ledger.core.records import SaltedRecord
from ledger.core.stages import Stage
from ledger.dev.demo import demo_id_number, wait_for
from ledger.dev.devchain import DevChain, dev_admin, free_port
from ledger.hall.cases import Upload
from ledger.hall.catalogue import load_catalogue
from ledger.hall.evidence import export_bundle
from ledger.hall.keys import MANIFEST_PREFIX
from ledger.verify.checks import verify_bundle
from ledger.verify.cli import Trusted, verify_loaded
from ledger.verify.rpc import JsonRpc
from tests.integration.conftest import make_hall_dir, start_inproc
from tests.support.besu_proxy import BesuProxy

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LONG = int(os.environ.get("CASELEDGER_LONG_CHAIN_BLOCKS", "5000"))
AT = "2026-12-01T10:00:00+08:00"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Its own anvil (the long chain must not slow the other tests), a deployment, two halls, one case."""
    chain = DevChain(Path(tmp_path_factory.mktemp("long")), port=free_port(), block_time=0.5, persist=False)
    chain.up()
    try:
        dep = ChainClient.deploy(chain.rpc_url, dev_admin())
        admin = ChainClient.connect(chain.rpc_url, deployment=dep, account=dev_admin())
        halls = []
        for district in (350502, 350503):
            acct = Account.create()
            admin.register_hall(acct.address, district, "大厅", "http://127.0.0.1:1")
            admin.fund(acct.address, 10**19)
            halls.append(ChainClient.connect(chain.rpc_url, deployment=dep, account=acct))
        a, b = halls
        hall_a = admin.hall_of(a.address)
        assert hall_a is not None
        serial = "TB20261201-001-00001"
        plan = [
            (Stage.INTAKE, a, {"item_code": "BDC-TRANSFER"}),
            (Stage.MATERIALS, a, {"supplement": False}),
            (Stage.ACCEPTANCE, b, {"decision": "accepted"}),
            (Stage.PROCESS, b, {"step": "review"}),
            (Stage.PROCESS, b, {"step": "site_visit"}),
            (Stage.RESULT, b, {"decision": "approved"}),
            (Stage.DELIVERY, a, {"method": "counter"}),
        ]
        first = SaltedRecord.new(serial, Stage.INTAKE, plan[0][2], at=AT)
        ic = "0x" + first.commitment.hex()
        records = [first] + [SaltedRecord.new(serial, st, f, at=AT, intake_commitment=ic) for st, _, f in plan[1:]]
        a.open_case(serial, "BDC-TRANSFER", 350503, first.commitment)
        for rec, (st, w, _) in zip(records[1:], plan[1:], strict=True):
            w.append_event(hall_a.hall_id, serial, st, rec.commitment)
        events = admin.case_events(hall_a.hall_id, serial)
        held = [
            HeldEvent(record=r, event=e, time=admin.block_time(e.block_number))
            for r, e in zip(records, events, strict=True)
        ]
        bundle = build_bundle(
            serial=serial,
            accepting_hall=hall_a.hall_id,
            suite="intl",
            chain_id=dep.chain_id,
            ledger=dep.ledger,
            registry=dep.registry,
            exported_at=AT,
            exported_by=ExportedBy(hall_id=hall_a.hall_id),
            held=held,
        )
        root = Path(tmp_path_factory.mktemp("long-merkle"))
        mbundle, manifests = _merkle_case(chain, dep, admin, root)
        with BesuProxy(upstream=chain.rpc_url) as proxy:
            w = {"chain": chain, "dep": dep, "admin": admin, "hall": hall_a.hall_id, "serial": serial,
                 "bundle": bundle, "proxy": proxy, "events": events,
                 "merkle_bundle": mbundle, "manifests": manifests}  # fmt: skip
            w["short"] = _read(w)  # on the short chain, then LONG empty blocks on top
            head = admin.w3.eth.block_number
            miner = ChainClient.connect(chain.rpc_url, deployment=dep, timeout=300)
            for done in range(0, LONG, 1_000):
                miner.request("anvil_mine", [hex(min(1_000, LONG - done))])
            assert admin.w3.eth.block_number >= head + LONG
            yield w
    finally:
        chain.down()


def _merkle_case(chain: DevChain, dep: Any, admin: ChainClient, root: Path) -> tuple[Any, Path]:
    """A case taken by a real hall in Merkle mode, anchored; its bundle and a directory of every manifest
    its hall holds (``<hall>-<seq>.manifest``, as ``caseledger-verify --manifests`` reads them)."""
    dep.save(root / "deployment.json")
    h = start_inproc(
        make_hall_dir(root, admin, 350505, "洛江区行政服务中心"),
        chain.rpc_url,
        root / "deployment.json",
        admin,
        anchor_mode="merkle",
    )
    try:
        book = h.node.book
        item = load_catalogue().item("HJ-MIGRATE")
        serial = str(
            book.intake(
                item_code=item.code,
                home_district=350503,
                applicant={"name": "林小梅", "id_number": demo_id_number("35050219851120001"), "phone": "13805950000"},
                materials=[Upload(m.code, f"{m.code}.pdf", b"%PDF-1.4 " + m.code.encode()) for m in item.materials],
                staff="clerk-1",
            )["serial"]
        )
        wait_for("the Merkle case anchored", lambda: book.summary(book.header(serial))["pending_anchors"] == 0, 60)
        bundle = export_bundle(book, h.node.reader, serial)
        out = root / "manifests"
        out.mkdir()
        for k, raw in h.node.store.iter_prefix(MANIFEST_PREFIX):
            hall, seq = (int(x) for x in k[len(MANIFEST_PREFIX) :].decode().split("/"))
            (out / f"{hall}-{seq}.manifest").write_bytes(raw)
    finally:
        h.client.__exit__(None, None, None)
    assert bundle.mode == "merkle" and bundle.events and all(e.batch is not None for e in bundle.events)
    return bundle, out


def _reset(proxy: BesuProxy) -> None:
    proxy.refusals.clear()
    proxy.calls.clear()
    proxy.http_requests = 0


def _read(w: dict[str, Any]) -> tuple[int, dict[str, int], Any]:
    proxy: BesuProxy = w["proxy"]
    _reset(proxy)
    rpc = JsonRpc(proxy.url)
    facts = read_case_facts(rpc, ledger=w["dep"].ledger, accepting_hall=w["hall"], serial=w["serial"], trusted=True)
    assert proxy.refusals == [] and proxy.http_requests == rpc.calls
    return rpc.calls, dict(proxy.calls), facts


def test_verifying_one_case_costs_the_same_on_a_short_and_a_long_chain(world: dict[str, Any]) -> None:
    short_calls, short_methods, short = world["short"]
    assert verify_bundle(world["bundle"], short).verdict == "match"
    long_calls, long_methods, long = _read(world)
    assert verify_bundle(world["bundle"], long).verdict == "match"
    assert long.events == short.events
    assert (long_calls, long_methods) == (short_calls, short_methods)
    # 1 chain id + 3 views + 1 header + one getLogs per block with events + 1 batch of block times
    # + lastChangeBlock + one getLogs per block with a registry change
    event_blocks = len({e.block_number for e in world["events"]})
    registry_blocks = len({f.block for f in long.registry_log})
    assert short_methods["eth_getLogs"] == event_blocks + registry_blocks
    assert short_calls == 1 + 3 + 1 + event_blocks + 1 + 1 + registry_blocks
    print(f"\nRPC requests to verify one case: {short_calls} (short chain), {long_calls} ({LONG:,} more blocks)")


def test_chain_client_readers_and_forward_scans_stay_within_besu_limits(world: dict[str, Any]) -> None:
    proxy: BesuProxy = world["proxy"]
    client = ChainClient.connect(proxy.url, deployment=world["dep"], max_logs_range=1000)
    head = client.block_number()
    assert head > LONG
    _reset(proxy)
    facts = fetch_chain_facts(client, world["hall"], world["serial"])
    assert [e.index for e in facts.events] == list(range(len(world["events"])))
    assert proxy.refusals == []
    # the audit's many-case read and the indexer's forward scan walk the whole chain in ranges of 1,000
    _reset(proxy)
    many = fetch_chain_facts_many(client, [(world["hall"], world["serial"])])
    assert len(many[(world["hall"], world["serial"])].events) == len(world["events"])
    assert proxy.refusals == []
    span = head - world["dep"].deployed_block + 1
    assert proxy.calls["eth_getLogs"] >= -(-span // 1001)
    # and a client configured above the limit is refused by the node, so the bound is what keeps it working
    greedy = ChainClient.connect(proxy.url, deployment=world["dep"], max_logs_range=5000)
    _reset(proxy)
    with pytest.raises(Exception, match="range"):
        greedy.events_in_range(world["dep"].deployed_block, head)
    assert proxy.refusals


def test_caseledger_verify_works_through_besu_limits_on_the_long_chain(world: dict[str, Any], tmp_path: Path) -> None:
    assert _verify_cli(world, world["bundle"], tmp_path)["verdict"] == "match"


def _verify_cli(world: dict[str, Any], bundle: Any, tmp_path: Path, *more: str) -> dict[str, Any]:
    """``caseledger-verify`` on ``bundle`` through the proxy, at the deployment's ledger (exit 0: a match)."""
    f = tmp_path / "bundle.json"
    f.write_text(bundle.dump(), encoding="utf-8")
    out = subprocess.run(
        [
            str(Path(sys.executable).with_name("caseledger-verify")),
            *(str(f), "--rpc", world["proxy"].url, "--json", "--ledger", world["dep"].ledger, *more),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    got: dict[str, Any] = json.loads(out.stdout)
    return got


def test_a_merkle_case_is_proven_complete_through_besu_limits_on_the_long_chain(
    world: dict[str, Any], tmp_path: Path
) -> None:
    proxy: BesuProxy = world["proxy"]
    bundle, manifests = world["merkle_bundle"], world["manifests"]
    rpc = JsonRpc(proxy.url)
    head = int(str(rpc.call("eth_blockNumber", [])), 16)
    _reset(proxy)
    rpc = JsonRpc(proxy.url)
    report = verify_loaded(bundle, rpc, manifests=[str(manifests)], trusted=Trusted(ledger=world["dep"].ledger))
    assert report.verdict == "match", report.model_dump_json()
    assert report.complete_as_of is not None and report.complete_as_of >= head
    assert proxy.refusals == [] and proxy.http_requests == rpc.calls
    # the completeness scan: every range of at most 1,000 blocks from the case's first batch to the head
    first = min(e.block for e in bundle.events)
    assert proxy.calls["eth_getLogs"] >= -(-(head - first + 1) // 1000)
    got = _verify_cli(world, bundle, tmp_path, "--manifests", str(manifests))
    assert got["verdict"] == "match" and got["complete_as_of"] >= head
    print(f"\nRPC requests to prove one Merkle case complete: {rpc.calls} ({LONG:,} empty blocks after it)")
