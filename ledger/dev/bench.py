"""``caseledger bench``: one run, all figures, on a temporary local chain it starts and removes.

The chain runs the way production does: interval mining (1-second blocks by default), anvil's
default 30M block gas limit. Every figure comes from the same run so they can be compared as ratios
on a noisy machine::

    figures = run_bench(BenchConfig(), log=print)
    figures["batched_events_per_s"] / figures["chain_ceiling_events_per_s"]

Measured:

* ``naive_events_per_s`` — a straightforward web3.py client: one ``appendEvent`` transaction per event,
  build (nonce, gas, fees from the node) – sign – send – wait for the receipt.
* ``batched_events_per_s`` — CaseLedger's real path: intake records → LevelDB (synced batch) → outbox →
  pipelined ``anchorBatch`` transactions; sustained for ``sustain_s``, counting only events whose
  receipts are in; afterwards every case is checked on chain: none lost, none doubled.
* ``backlog_drain_s`` — the same path draining a backlog of ``backlog_events`` pending events.
* gas per event (single vs batch, first event of a case vs later) and the capacity they imply.
* ``verify_case_ms`` — a case with 10 events and 20 materials verified from its bundle (chain reads included).

With ``chain="clique"`` (``caseledger bench --chain clique``) the temporary chain is four geth Clique
signer nodes (:mod:`ledger.dev.clique`); the hall talks to node 1, and ``heads`` watches every
node's latest block (polled every 10 ms, a thread per node): block intervals, how much later the last node has a block
than the first (propagation), and blocks a node replaced (reorganisations and their depth), idle
for ``heads_s`` and again while ``batched`` runs.
* ``city_1000_s`` — the city-wide regulator view (:mod:`ledger.hall.citywide`) over ``city_cases`` cases
  accepted across three halls of three districts (20 items, every stage from intake to delivery, some with
  process steps and disputes), computed from the chain alone (logs, registry, block times): the median of
  ``city_runs`` runs; its figures are checked against what the bench wrote (by hall, district, item, stage).
* ``audit_incremental_s`` — the scheduled anomaly scan continued from the last one: ``audit_incremental_cases``
  anchored and indexed cases, a full scan (``audit_full_scan_100k_s``, which stores every case's verdict), then
  ``audit_incremental_new`` new cases, and the incremental scan that judges only those.
* ``large_intake_p95_ms`` / ``large_intake_peak_rss_mb`` — intakes of 5 scans of 10 MB from 8 clients: latency, the
  node's resident memory over idle (``large_intake_rss_growth_mb``; split into its anonymous part, heap and buffers,
  and its file-backed part, mostly LevelDB table files mapped while read: ``…_anon_growth_mb``, ``…_file_growth_mb``),
  payload MB/s next to the disk's sequential write (``disk_seq_write_mb_per_s``).
* ``inbox_10k_p95_ms`` — 待办 at a hall holding ``inbox_cases`` cases (mixed items, statuses, applicants):
  the server's work for one page (index query: search, filters, sort, page; and the page's JSON), over a
  mix of the queries staff make; also the index's cold build and the refresh after a new intake.
* Merkle mode (issue 20, :mod:`ledger.dev.bench_merkle`): ``merkle_events_per_s`` and
  ``merkle_backlog_drain_s`` (the Merkle sender alone draining ``merkle_backlog_events``, every event then
  checked against the chain), ``merkle_gas_per_event``, ``merkle_anchor_latency_blocks_p50``,
  ``merkle_verify_case_ms``, and ``mixed_anchor_events_per_s`` / ``merkle_mixed_anchor_events_per_s``: a
  real hall process of each mode anchoring while HTTP intake runs at full load.
* ``intake_plain_*`` / ``intake_sealed_*`` / ``intake_encrypt_overhead_*`` — one intake (validation, records,
  files, one synced LevelDB batch) into a store without and with encryption at rest, alternating in rounds so
  both see the same disk; for the ``intl`` (AES-256-GCM) and ``gm`` (SM4-GCM, ``_gm_``) ciphers, with the four
  small files of the other workloads and with four 256 KiB scans (``_1mib``: 1 MiB of files per intake);
  ``read_*`` the same for reading a case back (its view with the timeline, then every file), ``*_per_s`` one
  thread's rate back to back, ``*_cpu_ms`` the mean CPU time of the thread per operation (less sensitive to
  other load on the machine than the latencies).
"""

from __future__ import annotations

import os
import secrets
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain.client import AppendItem, ChainClient, OpenItem
from ledger.chain.deployment import Deployment
from ledger.core.bundle import ExportedBy, HeldEvent, build_bundle
from ledger.core.chainlog import read_case_facts
from ledger.core.hashchain import case_id
from ledger.core.materials import MaterialFile, MaterialSet
from ledger.core.records import SaltedRecord
from ledger.core.stages import Stage
from ledger.core.timefmt import now_iso
from ledger.dev.bench_merkle import measure_merkle_backlog, measure_merkle_latency, measure_merkle_verify, measure_mixed
from ledger.dev.clique import CliqueNet, rpc
from ledger.dev.demo import demo_id_number
from ledger.dev.devchain import DevChain, dev_admin, free_port
from ledger.errors import ChainUnavailableError
from ledger.hall.cases import CaseBook, HallIdentity, Upload
from ledger.hall.catalogue import load_catalogue
from ledger.hall.outbox import Outbox, OutboxSender
from ledger.hall.store import Store
from ledger.verify.checks import verify_bundle
from ledger.verify.rpc import JsonRpc

__all__ = ["MERKLE_PARTS", "BenchConfig", "run_bench"]

MERKLE_PARTS = ("merkle_backlog", "merkle_latency", "merkle_verify", "mixed_event", "mixed_merkle")
"""the Merkle-mode parts (issue 20, :mod:`ledger.dev.bench_merkle`), and the mixed run of each mode"""

BLOCK_GAS_LIMIT = 30_000_000  # anvil's default, and the production-like budget of the issue
PROD_BLOCK_GAS, PROD_BLOCK_TIME = 30_000_000, 2.0  # Besu QBFT profile used for the capacity figures
DISTRICT = 350502


@dataclass
class BenchConfig:
    block_time: float = 1.0
    naive_s: float = 10.0
    sustain_s: float = 30.0
    warmup_s: float = 5.0
    backlog_events: int = 100_000
    batch_max: int = 1000
    batch_gas: int = 7_000_000
    max_in_flight: int = 8
    verify_runs: int = 50
    intake_clients: int = 32
    intake_requests: int = 2000
    large_files: int = 5
    large_file_bytes: int = 10_000_000
    large_clients: int = 8
    large_requests: int = 32
    audit_cases: int = 10_000
    audit_incremental_cases: int = 100_000
    audit_incremental_new: int = 100
    chain: str = "anvil"  # or "clique": four geth Clique signer nodes
    heads_s: float = 30.0
    inbox_cases: int = 10_000
    inbox_runs: int = 30
    merkle_backlog_events: int = 1_000_000
    merkle_batch_max: int = 20_000  # the node's default (CASELEDGER_MERKLE_BATCH_MAX)
    merkle_in_flight: int = 2  # the node's default (CASELEDGER_MERKLE_IN_FLIGHT)
    latency_cases: int = 40
    latency_gap_s: float = 0.7
    mixed_clients: int = 16
    mixed_requests: int = 3000
    atrest_intakes: int = 400
    city_cases: int = 1000
    city_runs: int = 3


class _Env:
    """The temporary chain, deployment and helpers to make funded hall keys."""

    def __init__(self, root: Path, block_time: float, chain: str = "anvil") -> None:
        self.root = root
        self.chain: DevChain | CliqueNet
        if chain == "clique":
            self.chain = CliqueNet(root, nodes=4, period=max(1, round(block_time)), http_base=None)
        else:
            self.chain = DevChain(root, port=free_port(), block_time=block_time, persist=False)
        self.chain.up()
        self.dep: Deployment = ChainClient.deploy(self.chain.rpc_url, dev_admin())
        self.admin = ChainClient.connect(self.chain.rpc_url, deployment=self.dep, account=dev_admin())

    def hall(self, district: int = DISTRICT) -> tuple[ChainClient, HallIdentity]:
        acct: LocalAccount = Account.create()
        hall_id = self.admin.register_hall(acct.address, district, "基准测试大厅", "http://127.0.0.1:1")
        self.admin.fund(acct.address, 500 * 10**18)
        client = ChainClient.connect(self.chain.rpc_url, deployment=self.dep, account=acct, timeout=30)
        return client, HallIdentity(hall_id=hall_id, district=district, account=acct.address)

    def close(self) -> None:
        self.chain.down()


# ------------------------------------------------------------------------------------------ gas
def measure_gas(env: _Env) -> dict[str, Any]:
    client, me = env.hall()
    c = b"\x11" * 32
    first = client.open_case("GAS-SINGLE-0", "BDC-TRANSFER", DISTRICT, c)
    later = client.append_event(me.hall_id, "GAS-SINGLE-0", Stage.MATERIALS, b"\x12" * 32)
    n = 100
    opens = [OpenItem(f"GAS-B-{i:04d}", "BDC-TRANSFER", DISTRICT, bytes([1]) * 31 + bytes([i % 256])) for i in range(n)]
    r_open = client.anchor_batch(opens, [])
    appends = [
        AppendItem(me.hall_id, f"GAS-B-{i:04d}", Stage.MATERIALS, bytes([2]) * 31 + bytes([i % 256])) for i in range(n)
    ]
    r_app = client.anchor_batch([], appends)
    single = later.gas_used
    batch = r_app.gas_used / n
    return {
        "gas_first_event_single": first.gas_used,
        "gas_per_event_single": single,
        "gas_first_event_batch": round(r_open.gas_used / n),
        "gas_per_event_batch": round(batch),
        "gas_batch_over_single": round(batch / single, 3),
        "capacity_events_per_s_prod": round(PROD_BLOCK_GAS / PROD_BLOCK_TIME / batch),
    }


# ------------------------------------------------------------------------------------------ naive
def measure_naive(env: _Env, seconds: float) -> dict[str, Any]:
    """The baseline: one transaction per event with plain web3.py, each waited for."""
    client, me = env.hall()
    client.open_case("NAIVE-0", "BDC-TRANSFER", DISTRICT, b"\x21" * 32)
    w3, acct = client.w3, client.account
    assert acct is not None
    fn = client.ledger.functions
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        commitment = (n + 1).to_bytes(32, "big")
        tx = fn.appendEvent(case_id(me.hall_id, "NAIVE-0"), int(Stage.MATERIALS), commitment, 0).build_transaction(
            {"from": acct.address, "nonce": w3.eth.get_transaction_count(acct.address)}
        )
        signed = acct.sign_transaction(tx)  # type: ignore[arg-type]
        h = w3.eth.send_raw_transaction(signed.raw_transaction)
        w3.eth.wait_for_transaction_receipt(h, timeout=60, poll_latency=0.1)
        n += 1
    dt = time.perf_counter() - t0
    return {"naive_events": n, "naive_seconds": round(dt, 2), "naive_events_per_s": round(n / dt, 2)}


# ------------------------------------------------------------------------------------------ batched
class _Producer(threading.Thread):
    """Staff at the counter: intakes as fast as the store takes them (bounded backlog)."""

    def __init__(self, book: CaseBook, max_pending: int, limit: int | None = None) -> None:
        super().__init__(name="bench-producer", daemon=True)
        self.book, self.max_pending, self.limit = book, max_pending, limit
        cat = load_catalogue()
        self.item = cat.item("HJ-MIGRATE")
        self.uploads = [
            Upload(m.code, f"{m.code}.pdf", b"%PDF-1.4 " + m.code.encode() * 8) for m in self.item.materials
        ]
        self.stop_flag = threading.Event()
        self.serials: list[str] = []
        self.latencies: list[float] = []

    def run(self) -> None:
        while not self.stop_flag.is_set() and (self.limit is None or len(self.serials) < self.limit):
            if len(self.serials) % 200 == 0 and self.book.outbox.pending_count() > self.max_pending:
                time.sleep(0.05)
                continue
            t = time.perf_counter()
            view = self.book.intake(
                item_code=self.item.code,
                home_district=self.book.hall.district,
                applicant={"name": "基准", "id_number": demo_id_number(), "phone": "13905951234"},
                materials=self.uploads,
                staff="bench",
            )
            self.latencies.append(time.perf_counter() - t)
            self.serials.append(view["serial"])


def _book(root: Path, name: str, hall: HallIdentity) -> CaseBook:
    """A hall's case book as a node has it: personal data sealed at rest (ledger.hall.atrest)."""
    from ledger.hall.atrest import open_hall_keys

    store = Store.init(root / name / "store", hall_id=hall.hall_id, suite=hall.suite)
    d = root / name
    open_hall_keys(store, kek_file=d / "kek.json", keys_dir=d / "datakeys", hall_id=hall.hall_id, suite=hall.suite)
    return CaseBook(store, Outbox(store), hall=hall)


def _sender(book: CaseBook, client: ChainClient, cfg: BenchConfig) -> OutboxSender:
    return OutboxSender(
        book.outbox,
        client,
        batch_max=cfg.batch_max,
        batch_gas=cfg.batch_gas,
        max_in_flight=cfg.max_in_flight,
        interval=0.05,
    )


def _check_exactly_once(client: ChainClient, hall_id: int, serials: list[str], from_block: int) -> dict[str, Any]:
    """Every produced case has exactly its two events on chain: nothing lost, nothing doubled."""
    want = {"0x" + case_id(hall_id, s).hex() for s in serials}
    counts: dict[str, int] = {}
    _, appended = client.events_in_range(from_block, client.block_number())  # bounded queries inside
    for ev in appended:
        if ev.case_id in want:
            counts[ev.case_id] = counts.get(ev.case_id, 0) + 1
    lost = sum(1 for c in want if counts.get(c, 0) < 2)
    doubled = sum(1 for c in want if counts.get(c, 0) > 2)
    return {"cases_checked": len(want), "lost": lost, "doubled": doubled}


def _block_gas(client: ChainClient, first: int, last: int) -> tuple[int, int]:
    used, blocks = 0, 0
    for n in range(first, last + 1):
        used += int(client.w3.eth.get_block(n)["gasUsed"])
        blocks += 1
    return used, blocks


def measure_batched(env: _Env, cfg: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    client, hall = env.hall()
    book = _book(env.root, "sustained", hall)
    sender = _sender(book, client, cfg)
    producer = _Producer(book, max_pending=20_000)
    start_block = client.block_number()
    producer.start()
    sender.start()
    time.sleep(cfg.warmup_s)
    a0, b0, t0 = sender.anchored_total, client.block_number(), time.perf_counter()
    time.sleep(cfg.sustain_s)
    a1, b1, t1 = sender.anchored_total, client.block_number(), time.perf_counter()
    producer.stop_flag.set()
    producer.join()
    deadline = time.monotonic() + 300
    while book.outbox.pending_count() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    sender.stop()
    events = a1 - a0
    used, blocks = _block_gas(client, b0 + 1, b1)
    gas_per_event = used / max(1, sum(1 for _ in range(1)) and events) if events else 0.0
    ceiling = BLOCK_GAS_LIMIT / cfg.block_time / gas_per_event if gas_per_event else 0.0
    rate = events / (t1 - t0)
    check = _check_exactly_once(client, hall.hall_id, producer.serials, start_block)
    lat = sorted(producer.latencies)
    log(f"  sustained: {events} events in {t1 - t0:.1f}s, {used / max(1, blocks) / 1e6:.1f}M gas/block")
    book.store.close()
    return {
        "batched_events": events,
        "batched_seconds": round(t1 - t0, 2),
        "batched_events_per_s": round(rate, 1),
        "batched_gas_per_event": round(gas_per_event),
        "chain_ceiling_events_per_s": round(ceiling, 1),
        "batched_of_ceiling": round(rate / ceiling, 3) if ceiling else None,
        "block_gas_used_avg": round(used / max(1, blocks)),
        "cases_produced": len(producer.serials),
        "events_lost": check["lost"],
        "events_doubled": check["doubled"],
        "store_intake_p50_ms": round(1000 * lat[len(lat) // 2], 2) if lat else None,
    }


def measure_backlog(env: _Env, cfg: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    client, hall = env.hall()
    book = _book(env.root, "backlog", hall)
    producer = _Producer(book, max_pending=10**9, limit=cfg.backlog_events // 2)
    t = time.perf_counter()
    producer.run()
    log(f"  backlog of {book.outbox.pending_count()} events written in {time.perf_counter() - t:.1f}s")
    start_block = client.block_number()
    sender = _sender(book, client, cfg)
    t0 = time.perf_counter()
    sender.start()
    while book.outbox.pending_count():
        time.sleep(0.1)
        if time.perf_counter() - t0 > 1800:
            break
    dt = time.perf_counter() - t0
    sender.stop()
    check = _check_exactly_once(client, hall.hall_id, producer.serials, start_block)
    book.store.close()
    return {
        "backlog_events": 2 * len(producer.serials),
        "backlog_drain_s": round(dt, 1),
        "backlog_events_per_s": round(2 * len(producer.serials) / dt, 1),
        "backlog_lost": check["lost"],
        "backlog_doubled": check["doubled"],
    }


# ------------------------------------------------------------------------------------------ verify
def measure_verify(env: _Env, runs: int) -> dict[str, Any]:
    a, a_hall = env.hall(350502)
    b, _ = env.hall(350503)
    env.admin.grant_role("DISPUTE_OFFICER_ROLE", a.address)
    files = [(f"m{i}", f"材料{i}.pdf", f"material {i} ".encode() * 100) for i in range(20)]
    ms = MaterialSet.new([MaterialFile.of(k, n, d) for k, n, d in files])
    serial = "BENCH-VERIFY-1"
    plan: list[tuple[Stage, ChainClient, dict[str, Any]]] = [
        (Stage.INTAKE, a, {"item_code": "BDC-TRANSFER", "applicant_name": "基准", "applicant_id_number": "x" * 18}),
        (Stage.MATERIALS, a, {"materials_root": ms.root.hex(), "materials_count": 20}),
        (Stage.ACCEPTANCE, b, {"decision": "accepted"}),
        (Stage.PROCESS, b, {"step": "review"}),
        (Stage.PROCESS, b, {"step": "site_inspection"}),
        (Stage.PROCESS, b, {"step": "approval"}),
        (Stage.RESULT, b, {"decision": "approved"}),
        (Stage.DELIVERY, a, {"method": "counter"}),
        (Stage.DISPUTE_OPENED, a, {"reason": "bench"}),
        (Stage.DISPUTE_RESOLVED, a, {"verdict": "match"}),
    ]
    now = now_iso()
    recs = [SaltedRecord.new(serial, Stage.INTAKE, plan[0][2], at=now)]
    intake = "0x" + recs[0].commitment.hex()
    recs += [
        SaltedRecord.new(
            serial, st, f, at=now, intake_commitment=intake, resolves=8 if st == Stage.DISPUTE_RESOLVED else None
        )
        for st, _, f in plan[1:]
    ]
    a.open_case(serial, "BDC-TRANSFER", 350503, recs[0].commitment)
    for r, (st, w, _) in zip(recs[1:], plan[1:], strict=True):
        w.append_event(a_hall.hall_id, serial, st, r.commitment, 8 if st == Stage.DISPUTE_RESOLVED else 0)
    events = env.admin.case_events(a_hall.hall_id, serial)
    held = [
        HeldEvent(
            record=r,
            event=e,
            time=env.admin.block_time(e.block_number),
            materials=ms if e.stage == Stage.MATERIALS else None,
            contents=[d for _, _, d in files] if e.stage == Stage.MATERIALS else None,
        )
        for r, e in zip(recs, events, strict=True)
    ]
    bundle = build_bundle(
        serial=serial,
        accepting_hall=a_hall.hall_id,
        suite="intl",
        chain_id=env.dep.chain_id,
        ledger=env.dep.ledger,
        registry=env.dep.registry,
        exported_at="bench",
        exported_by=ExportedBy(hall_id=a_hall.hall_id),
        held=held,
        include_files=True,
    )
    total, pure = [], []
    calls = 0
    for _ in range(runs):
        t = time.perf_counter()
        rpc = JsonRpc(env.chain.rpc_url)  # the stand-alone verifier's stdlib reader, as caseledger-verify uses it
        facts = read_case_facts(rpc, ledger=env.dep.ledger, accepting_hall=a_hall.hall_id, serial=serial, trusted=True)
        t1 = time.perf_counter()
        report = verify_bundle(bundle, facts)
        t2 = time.perf_counter()
        if not report.ok:
            raise RuntimeError(f"bench case did not verify: {report.verdict}")
        total.append((t2 - t) * 1000)
        pure.append((t2 - t1) * 1000)
        calls = rpc.calls
    total.sort()
    return {
        "verify_case_ms": round(statistics.median(total), 2),
        "verify_case_p95_ms": round(total[int(0.95 * (len(total) - 1))], 2),
        "verify_case_pure_ms": round(statistics.median(pure), 2),
        "verify_case_rpc_requests": calls,
    }


# ------------------------------------------------------------------------------------------ HTTP intake
def measure_intake(root: Path, cfg: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """A real hall node process under ``intake_clients`` concurrent clients driven from another process."""
    import json
    import subprocess
    import sys

    from ledger.dev.demo import HallClient
    from ledger.dev.localnet import LocalNet

    net = LocalNet(
        root / "intake-net", halls=1, chain_port=free_port(), hall_ports=[free_port()], block_time=cfg.block_time
    )
    halls = net.up()
    try:
        hall = halls[0]
        clerk = HallClient.demo(hall["dir"], hall["url"], "clerk")

        def loadgen(clients: int, requests: int, timeout: float) -> subprocess.CompletedProcess[str]:
            flags = {"--url": hall["url"], "--token": clerk.token, "--clients": str(clients)}
            flags |= {"--requests": str(requests), "--home-district": str(hall["district"])}
            argv = [sys.executable, "-m", "ledger.dev.loadgen", *(x for kv in flags.items() for x in kv)]
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

        loadgen(4, 40, 300)  # warm-up (connection set-up, first-request imports) is not counted
        out = loadgen(cfg.intake_clients, cfg.intake_requests, 900)
        res = json.loads(out.stdout)
        log(f"  intake: {res['ok']} ok / {res['errors']} errors in {res['seconds']}s")
        return {
            "intake_clients": res["clients"],
            "intake_requests": res["requests"],
            "intake_errors": res["errors"],
            "intake_rps": res["rps"],
            "intake_p50_ms": res["p50_ms"],
            "intake_p95_ms": res["p95_ms"],
            "intake_p99_ms": res["p99_ms"],
        }
    finally:
        net.down()


# ------------------------------------------------------------------------------------------ at rest
def _pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return round(1000 * v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))], 3)


def measure_atrest(root: Path, cfg: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """Intake and read latency with a plain store and with a sealing one (same process, same disk, alternating
    rounds of 25), for both suites' ciphers, with small files and with 1 MiB of scans per case."""
    from ledger.core.suites import GM, INTL
    from ledger.hall.atrest import open_hall_keys

    item = load_catalogue().item("HJ-MIGRATE")
    small = [Upload(m.code, f"{m.code}.pdf", b"%PDF-1.4 " + m.code.encode() * 8) for m in item.materials]
    scans = [Upload(m.code, f"{m.code}.pdf", b"%PDF-1.4 " + secrets.token_bytes(256 * 1024)) for m in item.materials]
    modes = ("plain", "sealed")
    rounds = max(1, cfg.atrest_intakes // 25)
    out: dict[str, Any] = {"atrest_intakes": rounds * 25}
    for suite in (INTL, GM):
        hall = HallIdentity(hall_id=1, district=DISTRICT, suite=suite)
        books: dict[str, CaseBook] = {}
        keys = []
        for mode in modes:
            d = root / f"atrest-{suite.name}-{mode}"
            store = Store.init(d / "store", hall_id=1, suite=suite)
            if mode == "sealed":
                keys.append(
                    open_hall_keys(store, kek_file=d / "kek.json", keys_dir=d / "datakeys", hall_id=1, suite=suite)
                )
            books[mode] = CaseBook(store, Outbox(store), hall=hall)
        try:
            for label, uploads in (("", small), ("_1mib", scans)):
                lat: dict[str, list[float]] = {m: [] for m in modes}
                cpu: dict[str, list[float]] = {m: [] for m in modes}
                made: dict[str, list[str]] = {m: [] for m in modes}
                for _ in range(rounds):
                    for mode in modes:
                        for _ in range(25):
                            t, c = time.perf_counter(), time.thread_time()
                            case = books[mode].intake(
                                item_code=item.code,
                                home_district=DISTRICT,
                                applicant={"name": "基准测试", "id_number": demo_id_number(), "phone": "13905951234"},
                                materials=uploads,
                                staff="bench",
                            )
                            lat[mode].append(time.perf_counter() - t)
                            cpu[mode].append(time.thread_time() - c)
                            made[mode].append(str(case["serial"]))
                # a read as the case page and its downloads make it: the case with its timeline, then every file
                files = {
                    m: [[f["digest"] for r in books[m].records(sn) for f in r.get("files", [])] for sn in made[m]]
                    for m in modes
                }
                rlat: dict[str, list[float]] = {m: [] for m in modes}
                rcpu: dict[str, list[float]] = {m: [] for m in modes}
                for i in range(0, len(made["plain"]), 25):
                    for mode in modes:
                        book = books[mode]
                        for sn, digests in zip(made[mode][i : i + 25], files[mode][i : i + 25], strict=True):
                            t, c = time.perf_counter(), time.thread_time()
                            book.view(sn)
                            for dg in digests:
                                book.store.get_blob(dg, case=sn)
                            rlat[mode].append(time.perf_counter() - t)
                            rcpu[mode].append(time.thread_time() - c)
                tag = ("" if suite is INTL else "_gm") + label
                for what, series, cpus in (("intake", lat, cpu), ("read", rlat, rcpu)):
                    for q, qn in ((0.5, "p50"), (0.95, "p95")):
                        plain, sealed = _pct(series["plain"], q), _pct(series["sealed"], q)
                        out[f"{what}_plain{tag}_{qn}_ms"] = plain
                        out[f"{what}_sealed{tag}_{qn}_ms"] = sealed
                        out[f"{what}_encrypt_overhead{tag}_{qn}_ms"] = round(sealed - plain, 3)
                    for mode in modes:  # one thread, back to back; CPU time of the thread (not waiting for the disk)
                        out[f"{what}_{mode}{tag}_per_s"] = round(len(series[mode]) / sum(series[mode]), 1)
                        out[f"{what}_{mode}{tag}_cpu_ms"] = round(1000 * statistics.fmean(cpus[mode]), 3)
                    out[f"{what}_encrypt_overhead{tag}_cpu_ms"] = round(
                        out[f"{what}_sealed{tag}_cpu_ms"] - out[f"{what}_plain{tag}_cpu_ms"], 3
                    )
                    log(
                        f"  {suite.name}{label} {what}: p50 {out[f'{what}_plain{tag}_p50_ms']} → "
                        f"{out[f'{what}_sealed{tag}_p50_ms']} ms, p95 {out[f'{what}_plain{tag}_p95_ms']} → "
                        f"{out[f'{what}_sealed{tag}_p95_ms']} ms, {out[f'{what}_plain{tag}_per_s']} → "
                        f"{out[f'{what}_sealed{tag}_per_s']} /s, CPU {out[f'{what}_plain{tag}_cpu_ms']} → "
                        f"{out[f'{what}_sealed{tag}_cpu_ms']} ms"
                    )
        finally:
            for b in books.values():
                b.store.close()
            for k in keys:
                k.close()
    return out


# ------------------------------------------------------------------------------------------ large intake
def disk_write_mb_s(directory: Path, total_mb: int = 256) -> float:
    """The disk's sequential write: ``total_mb`` MiB in 1 MiB writes, then fsync (what a store write ends with)."""
    path = directory / "disk-probe.bin"
    block = os.urandom(1024 * 1024)
    t = time.perf_counter()
    with path.open("wb") as f:
        for _ in range(total_mb):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    dt = time.perf_counter() - t
    path.unlink()
    return total_mb / dt


def _rss_kb(pid: int) -> int:
    return _rss_parts_kb(pid)[0]


def _rss_parts_kb(pid: int) -> tuple[int, int, int]:
    """The process's resident memory (kB): all of it, its anonymous part (heap, buffers) and its file-backed part
    (mapped files: libraries, and the LevelDB table files it reads, which the kernel can reclaim)."""
    got = {"VmRSS": 0, "RssAnon": 0, "RssFile": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name = line.split(":", 1)[0]
        if name in got:
            got[name] = int(line.split()[1])
    return got["VmRSS"], got["RssAnon"], got["RssFile"]


def measure_large_intake(root: Path, cfg: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """Intakes of ``large_files`` scans of ``large_file_bytes`` each from ``large_clients`` concurrent clients (another
    process) against a real hall node process: latency, the node's resident memory over its idle level (sampled
    every 20 ms), and the payload throughput next to the disk's own sequential write."""
    import json
    import subprocess
    import sys

    from ledger.dev.demo import HallClient
    from ledger.dev.localnet import LocalNet, hall_pid

    env = {"CASELEDGER_MAX_FILE_BYTES": str(max(cfg.large_file_bytes, 10 * 1024 * 1024))}
    net = LocalNet(
        root / "large-net",
        halls=1,
        chain_port=free_port(),
        hall_ports=[free_port()],
        block_time=cfg.block_time,
        node_env=env,
    )
    halls = net.up()
    try:
        hall = halls[0]
        pid = hall_pid(Path(hall["dir"]))
        assert pid is not None
        clerk = HallClient.demo(hall["dir"], hall["url"], "clerk")

        def loadgen(clients: int, requests: int, size: int, files: int) -> dict[str, Any]:
            flags = {"--url": hall["url"], "--token": clerk.token, "--clients": str(clients)}
            flags |= {"--requests": str(requests), "--home-district": str(hall["district"])}
            flags |= {"--file-bytes": str(size), "--files": str(files)}
            argv = [sys.executable, "-m", "ledger.dev.loadgen", *(x for kv in flags.items() for x in kv)]
            out = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
            res: dict[str, Any] = json.loads(out.stdout)
            return res

        loadgen(4, 40, 0, 4)  # warm-up with small intakes (connections, first-request imports)
        time.sleep(2)
        idle_parts = _rss_parts_kb(pid)
        idle = idle_parts[0]
        peak = list(idle_parts)
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                now = _rss_parts_kb(pid)
                peak[:] = [max(p, n) for p, n in zip(peak, now, strict=True)]
                stop.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            res = loadgen(cfg.large_clients, cfg.large_requests, cfg.large_file_bytes, cfg.large_files)
        finally:
            stop.set()
            sampler.join()
        disk = disk_write_mb_s(Path(hall["dir"]))
        payload_mb = res["ok"] * cfg.large_files * cfg.large_file_bytes / 1e6
        rate = payload_mb / res["seconds"] if res["seconds"] else 0.0
        log(f"  large intake: {res['ok']} ok / {res['errors']} errors in {res['seconds']}s ({res.get('first_error')})")
        return {
            "large_intake_clients": res["clients"],
            "large_intake_files": cfg.large_files,
            "large_intake_file_bytes": cfg.large_file_bytes,
            "large_intake_requests": res["requests"],
            "large_intake_errors": res["errors"],
            "large_intake_p50_ms": res["p50_ms"],
            "large_intake_p95_ms": res["p95_ms"],
            "large_intake_idle_rss_mb": round(idle / 1024, 1),
            "large_intake_peak_rss_mb": round(peak[0] / 1024, 1),
            "large_intake_rss_growth_mb": round((peak[0] - idle) / 1024, 1),
            "large_intake_rss_anon_growth_mb": round((peak[1] - idle_parts[1]) / 1024, 1),
            "large_intake_rss_file_growth_mb": round((peak[2] - idle_parts[2]) / 1024, 1),
            "large_intake_mb_per_s": round(rate, 1),
            "disk_seq_write_mb_per_s": round(disk * 1.048576, 1),
            "large_intake_of_disk": round(rate / (disk * 1.048576), 3) if disk else None,
        }
    finally:
        net.down()


# ------------------------------------------------------------------------------------------ audit
def measure_audit(env: _Env, cfg: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """The regulator's anomaly scan over a hall holding ``audit_cases`` anchored cases."""
    from ledger.hall.audit import scan

    client, hall = env.hall()
    book = _book(env.root, "audit", hall)
    producer = _Producer(book, max_pending=10**9, limit=cfg.audit_cases)
    producer.run()
    sender = _sender(book, client, cfg)
    sender.start()
    while book.outbox.pending_count():
        time.sleep(0.2)
    sender.stop()
    reader = ChainClient.connect(env.chain.rpc_url, deployment=env.dep, timeout=30)
    t = time.perf_counter()
    result = scan(book, reader)
    dt = time.perf_counter() - t
    log(f"  audit scan: {result.cases} cases, {len(result.anomalies)} anomalies, {len(result.errors)} errors")
    book.store.close()
    return {"audit_cases": result.cases, "audit_scan_s": round(dt, 2), "audit_anomalies": len(result.anomalies)}


# ------------------------------------------------------------------------------------------ city-wide view
def measure_city(env: _Env, cfg: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """``city_cases`` cases across three halls anchored as the halls would (opens and events in batches, each
    stage by the hall entitled to it), then the city-wide view computed from the chain alone."""
    import secrets
    from datetime import datetime

    from ledger.core.timefmt import CST
    from ledger.hall.citywide import city_summary, city_view

    catalogue = load_catalogue()
    districts = [d.code for d in catalogue.districts[:3]]
    items = [i.code for i in catalogue.items]
    halls = [env.hall(d) for d in districts]
    env.admin.grant_role("DISPUTE_OFFICER_ROLE", halls[0][0].address)
    plan: list[tuple[int, int, str, str, list[Stage]]] = []  # (accepting, home index, serial, item, later stages)
    for i in range(cfg.city_cases):
        acc, home = i % 3, (i + 1) % 3
        tail = [Stage.ACCEPTANCE, Stage.PROCESS, Stage.RESULT, Stage.DELIVERY][: i % 5]
        plan.append((acc, home, f"CITY{acc + 1}-{i:06d}", items[i % len(items)], tail))

    def c() -> bytes:
        return secrets.token_bytes(32)

    chunk = 60
    for acc in range(3):
        client, hall = halls[acc]
        mine = [p for p in plan if p[0] == acc]
        for k in range(0, len(mine), chunk):
            part = mine[k : k + chunk]
            opens = [
                OpenItem(serial=s, item_code=it, home_district=districts[h], commitment=c()) for _, h, s, it, _ in part
            ]
            appends = [AppendItem(hall.hall_id, s, Stage.MATERIALS, c()) for _, _, s, _, _ in part]
            client.anchor_batch(opens, appends)
    for home in range(3):  # the home district's hall: acceptance, process, result
        client, _ = halls[home]
        todo = [
            AppendItem(halls[a][1].hall_id, s, st, c())
            for a, h, s, _, tail in plan
            if h == home
            for st in tail
            if st != Stage.DELIVERY
        ]
        for k in range(0, len(todo), 2 * chunk):
            client.anchor_batch([], todo[k : k + 2 * chunk])
    for acc in range(3):  # the accepting hall delivers
        client, hall = halls[acc]
        todo = [
            AppendItem(hall.hall_id, s, Stage.DELIVERY, c())
            for a, _, s, _, tail in plan
            if a == acc and Stage.DELIVERY in tail
        ]
        for k in range(0, len(todo), 2 * chunk):
            client.anchor_batch([], todo[k : k + 2 * chunk])
    disputed = [s for a, _, s, _, _ in plan if a == 0][:10]
    halls[0][0].anchor_batch([], [AppendItem(halls[0][1].hall_id, s, Stage.DISPUTE_OPENED, c()) for s in disputed])
    reader = ChainClient.connect(env.chain.rpc_url, deployment=env.dep, timeout=30)
    today = datetime.now(CST).date()
    times, view = [], None
    for _ in range(cfg.city_runs):
        t = time.perf_counter()
        view = city_view(reader, catalogue, today=today)
        times.append(time.perf_counter() - t)
    assert view is not None
    mine_ids = {h.hall_id for _, h in halls}
    rows = [r for r in view.cases if r.accepting_hall in mine_ids]
    s = city_summary(rows)
    want_hall = {halls[a][1].hall_id: sum(1 for p in plan if p[0] == a) for a in range(3)}
    want_stage = {
        "submitted": sum(1 for p in plan if Stage.ACCEPTANCE not in p[4]),
        "accepted": sum(1 for p in plan if Stage.ACCEPTANCE in p[4] and Stage.RESULT not in p[4]),
        "decided": sum(1 for p in plan if Stage.RESULT in p[4] and Stage.DELIVERY not in p[4]),
        "delivered": sum(1 for p in plan if Stage.DELIVERY in p[4]),
    }
    want_item = {it: sum(1 for p in plan if p[3] == it) for it in items}
    if s.by_hall != want_hall or s.by_stage != want_stage or s.by_item != {k: v for k, v in want_item.items() if v}:
        raise RuntimeError(f"city-wide figures differ from what was written: {s.by_hall} {s.by_stage}")
    if s.disputes_open != len(disputed) or s.total != cfg.city_cases:
        raise RuntimeError(f"city-wide disputes or total differ: {s.disputes_open} {s.total}")
    log(f"  city-wide: {s.total} cases of 3 halls, {len({r.item_code for r in rows})} items, {view.head_block} blocks")
    return {
        "city_cases": s.total,
        "city_1000_s": round(statistics.median(times), 2),
        "city_max_s": round(max(times), 2),
        "city_blocks": view.head_block - view.from_block + 1,
    }


def _index_all(store: Store, reader: ChainClient, book: CaseBook) -> None:
    """The hall's indexer, run until it has read the chain up to its head (bounded)."""
    from ledger.hall.indexer import Indexer

    idx = Indexer(store, reader, book, confirmations=0)
    head = reader.block_number()
    deadline = time.monotonic() + 3600
    while idx.cursor < head and time.monotonic() < deadline:
        idx.run_once()
    if idx.cursor < head:
        raise RuntimeError(f"the indexer did not reach block {head} within an hour (at {idx.cursor})")


def measure_audit_incremental(env: _Env, cfg: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """The scheduled (incremental) anomaly scan at a hall holding ``audit_incremental_cases`` anchored cases after
    ``audit_incremental_new`` new ones: only those are judged again, with facts from the hall's index."""
    from ledger.hall.audit import scan, scan_incremental

    client, hall = env.hall()
    book = _book(env.root, "audit-incremental", hall)
    reader = ChainClient.connect(env.chain.rpc_url, deployment=env.dep, timeout=60)

    def produce_and_anchor(n: int) -> float:
        t = time.perf_counter()
        # four counters at once (they share fsyncs: group commit), so setting up 100,000 cases takes minutes
        producers = [_Producer(book, max_pending=10**9, limit=n // 4 + (1 if i < n % 4 else 0)) for i in range(4)]
        for p in producers:
            p.start()
        for p in producers:
            p.join()
        sender = _sender(book, client, cfg)
        sender.start()
        deadline = time.monotonic() + 3600
        while book.outbox.pending_count() and time.monotonic() < deadline:
            time.sleep(0.2)
        sender.stop()
        _index_all(book.store, reader, book)
        return time.perf_counter() - t

    made = produce_and_anchor(cfg.audit_incremental_cases)
    log(f"  {cfg.audit_incremental_cases} cases written, anchored and indexed in {made:.0f}s")
    t = time.perf_counter()
    full = scan(book, reader)
    full_s = time.perf_counter() - t
    log(f"  full scan (stores every verdict): {full.cases} cases in {full_s:.1f}s")
    produce_and_anchor(cfg.audit_incremental_new)
    t = time.perf_counter()
    inc = scan_incremental(book, reader)
    inc_s = time.perf_counter() - t
    if inc.mode != "incremental" or inc.errors or inc.cases != full.cases + cfg.audit_incremental_new:
        raise RuntimeError(f"the incremental scan did not continue from the full one: {inc.mode} {inc.errors}")
    log(f"  incremental scan: {inc.rescanned} cases judged again in {inc_s:.2f}s, {len(inc.anomalies)} anomalies")
    book.store.close()
    return {
        "audit_incremental_cases": inc.cases,
        "audit_incremental_new": cfg.audit_incremental_new,
        "audit_incremental_rescanned": inc.rescanned,
        "audit_incremental_s": round(inc_s, 3),
        "audit_incremental_anomalies": len(inc.anomalies),
        "audit_full_scan_100k_s": round(full_s, 1),
        "audit_full_scan_100k_anomalies": len(full.anomalies),
    }


# ------------------------------------------------------------------------------------------ heads (Clique)
class _HeadWatch:
    """Polls every node's latest block, one thread per node (every 10 ms); remembers when each node first had
    each (number, hash), and the blocks a node replaced."""

    def __init__(self, net: CliqueNet, interval: float = 0.01) -> None:
        self.net, self.interval = net, interval
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.seen: dict[tuple[int, int, str], float] = {}  # (node, number, hash) → first seen (monotonic)
        self.stamp: dict[str, int] = {}  # hash → header timestamp
        self.replaced: list[tuple[int, int, int]] = []  # (node, number where it changed, depth)
        self.threads = [threading.Thread(target=self._poll, args=(n,), daemon=True) for n in net.numbers]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=10)

    def _poll(self, n: int) -> None:
        url = self.net.node(n).rpc_url
        last: tuple[int, str] | None = None
        while not self.stop_flag.is_set():
            try:
                b = rpc(url, "eth_getBlockByNumber", ["latest", False], timeout=1)
            except ChainUnavailableError:
                self.stop_flag.wait(self.interval)
                continue
            now = time.monotonic()
            num, h = int(b["number"], 16), str(b["hash"])
            with self.lock:
                self.stamp.setdefault(h, int(b["timestamp"], 16))
                if last is not None and last != (num, h) and num <= last[0]:
                    self.replaced.append((n, num, last[0] - num + 1))
                elif last is not None and num == last[0] + 1 and b["parentHash"] != last[1]:
                    self.replaced.append((n, last[0], 1))
                self.seen.setdefault((n, num, h), now)
            last = (num, h)
            self.stop_flag.wait(self.interval)

    def figures(self, prefix: str) -> dict[str, Any]:
        by_hash: dict[str, list[float]] = {}
        numbers: dict[str, int] = {}
        for (_, num, h), t in self.seen.items():
            by_hash.setdefault(h, []).append(t)
            numbers[h] = num
        nodes = len(self.net.numbers)
        spread = sorted(max(ts) - min(ts) for ts in by_hash.values() if len(ts) == nodes)
        canon = sorted((numbers[h], min(ts), self.stamp[h]) for h, ts in by_hash.items() if len(ts) == nodes)
        pairs = [(a, b) for a, b in zip(canon, canon[1:], strict=False) if b[0] == a[0] + 1]
        arrivals = [b[1] - a[1] for a, b in pairs]
        gaps = [b[2] - a[2] for a, b in pairs]

        def ms(f: float) -> float | None:
            return round(1000 * spread[min(len(spread) - 1, int(f * len(spread)))], 1) if spread else None

        return {
            f"{prefix}_blocks": len(canon),
            f"{prefix}_block_interval_mean_s": round(statistics.mean(arrivals), 3) if arrivals else None,
            f"{prefix}_block_interval_max_s": round(max(arrivals), 3) if arrivals else None,
            f"{prefix}_header_gap_max_s": max(gaps) if gaps else None,
            f"{prefix}_propagation_median_ms": ms(0.5),
            f"{prefix}_propagation_p95_ms": ms(0.95),
            f"{prefix}_propagation_max_ms": round(1000 * spread[-1], 1) if spread else None,
            f"{prefix}_reorgs": len(self.replaced),
            f"{prefix}_reorg_depth_max": max((d for _, _, d in self.replaced), default=0),
        }


def measure_heads(env: _Env, seconds: float) -> dict[str, Any]:
    assert isinstance(env.chain, CliqueNet)
    watch = _HeadWatch(env.chain)
    watch.start()
    time.sleep(seconds)
    watch.stop()
    return watch.figures("idle")


# ------------------------------------------------------------------------------------------ inbox
def _inbox_cases(book: CaseBook, n: int, threads: int = 4) -> list[str]:
    """``n`` cases of several items and applicants, a fifth of them accepted, some refused or decided."""
    cat = book.catalogue
    items = [i for i in cat.items if i.home_rule.suggest != "property_district"][:6]
    surnames = "林陈黄张吴王李蔡郑刘"
    lock = threading.Lock()
    made = [0]
    serials: list[str] = []

    def one(k: int) -> None:
        item = items[k % len(items)]
        uploads = [Upload(m.code, f"{m.code}.pdf", b"%PDF-1.4 " + m.code.encode()) for m in item.materials]
        view = book.intake(
            item_code=item.code,
            home_district=book.hall.district,
            applicant={
                "name": surnames[k % 10] + "测试" + "一二三四五六七八九十"[k // 10 % 10],
                "id_number": demo_id_number(f"350502{1950 + k % 50}0{1 + k % 9}1{k % 10}{k % 1000:03d}"),
                "phone": f"139{k:08d}",
            },
            materials=uploads,
            staff="bench",
        )
        serials.append(view["serial"])
        if k % 5 == 0:
            book.decide_acceptance(view["serial"], accepted=k % 25 != 0, reason="材料不全", staff="bench")
        if k % 15 == 5 and k % 25 != 0:
            book.decide(view["serial"], approved=True, note="", document=None, staff="bench")

    def worker() -> None:
        while True:
            with lock:
                k = made[0]
                made[0] += 1
            if k >= n:
                return
            one(k)

    ts = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return serials


def measure_inbox(root: Path, cfg: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """待办 over ``inbox_cases`` cases: p50/p95 of one page's server work over the staff's query mix."""
    from ledger.hall.inbox import InboxIndex, InboxQuery

    hall = HallIdentity(hall_id=1, district=DISTRICT, name="基准大厅")
    store = Store.init(root / "inbox")
    book = CaseBook(store, Outbox(store), hall=hall)
    t = time.perf_counter()
    serials = _inbox_cases(book, cfg.inbox_cases)
    log(f"  {cfg.inbox_cases} cases written in {time.perf_counter() - t:.0f}s")
    t = time.perf_counter()
    index = InboxIndex(book)
    index.warm()
    build_s = time.perf_counter() - t
    some = book.header(serials[len(serials) // 2])
    queries = [
        InboxQuery(),  # the first page, due soonest first
        InboxQuery(scope="inbox", status="submitted"),
        InboxQuery(q="林测试"),  # a name
        InboxQuery(q="13900004"),  # part of a phone number
        InboxQuery(q="3505021983"),  # the start of an ID number
        InboxQuery(q=some["serial"].lower()),  # one serial
        InboxQuery(item=some["item_code"], due_within=2),
        InboxQuery(action="officer", sort="age"),
        InboxQuery(sort="serial", desc=True, page=40),
        InboxQuery(status="accepted", sort="due", page=3),
    ]
    times: list[float] = []
    counts: list[int] = []
    for _ in range(cfg.inbox_runs):
        for q in queries:
            t = time.perf_counter()
            page = index.query(q)
            page.model_dump_json()
            times.append((time.perf_counter() - t) * 1000)
            counts.append(page.count)
    times.sort()
    # one new intake, then the next query refreshes that one row
    _inbox_cases(book, 1, threads=1)
    t = time.perf_counter()
    index.query(InboxQuery())
    refresh_ms = (time.perf_counter() - t) * 1000
    book.store.close()
    log(f"  inbox: {len(times)} queries, match counts {min(counts)}..{max(counts)}")
    return {
        "inbox_cases": cfg.inbox_cases,
        "inbox_10k_p50_ms": round(times[len(times) // 2], 2),
        "inbox_10k_p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
        "inbox_10k_max_ms": round(times[-1], 2),
        "inbox_build_s": round(build_s, 2),
        "inbox_refresh_after_write_ms": round(refresh_ms, 2),
    }


# ------------------------------------------------------------------------------------------ all
def run_bench(
    cfg: BenchConfig, *, log: Callable[[str], None] = lambda _: None, parts: set[str] | None = None
) -> dict[str, Any]:
    """Run every measurement on one temporary chain; returns the figures."""
    root = Path(tempfile.mkdtemp(prefix="caseledger-bench-"))
    out: dict[str, Any] = {"block_time_s": cfg.block_time, "block_gas_limit": BLOCK_GAS_LIMIT}
    want = parts or {
        "gas",
        "naive",
        "batched",
        "backlog",
        "verify",
        "intake",
        "audit",
        "audit_incremental",
        "inbox",
        "atrest",
        "city",
        "large_intake",
        *MERKLE_PARTS,
    }
    if want == {"atrest"}:  # no chain needed
        try:
            log(f"intake and reads with and without encryption at rest, {cfg.atrest_intakes} each ...")
            out.update(measure_atrest(root, cfg, log))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        return out
    env = _Env(root, cfg.block_time, cfg.chain)
    out["chain"] = cfg.chain
    if cfg.chain == "clique":
        want = (want & {"gas", "verify", "batched", "backlog", "heads"}) if parts else {"heads", "batched"}
    watch: _HeadWatch | None = None
    try:
        if "atrest" in want:
            log(f"intake and reads with and without encryption at rest, {cfg.atrest_intakes} each ...")
            out.update(measure_atrest(root, cfg, log))
        if "heads" in want:
            log(f"every node's head for {cfg.heads_s:.0f}s, idle ...")
            out.update(measure_heads(env, cfg.heads_s))
        if "heads" in want and "batched" in want and isinstance(env.chain, CliqueNet):
            watch = _HeadWatch(env.chain)
            watch.start()
        if "gas" in want:
            log("gas per event ...")
            out.update(measure_gas(env))
        if "verify" in want:
            log("verification of a 10-event, 20-material case ...")
            out.update(measure_verify(env, cfg.verify_runs))
        if "naive" in want:
            log(f"naive web3.py baseline for {cfg.naive_s:.0f}s ...")
            out.update(measure_naive(env, cfg.naive_s))
        if "batched" in want:
            log(f"batched anchoring sustained for {cfg.sustain_s:.0f}s ...")
            out.update(measure_batched(env, cfg, log))
        if watch is not None:
            watch.stop()
            out.update(watch.figures("loaded"))
            watch = None
        if "naive" in want and "batched" in want and out.get("naive_events_per_s"):
            out["ratio"] = round(out["batched_events_per_s"] / out["naive_events_per_s"], 1)
        if "backlog" in want:
            log(f"backlog of {cfg.backlog_events} events ...")
            out.update(measure_backlog(env, cfg, log))
        if "merkle_backlog" in want:
            log(f"Merkle mode: backlog of {cfg.merkle_backlog_events} events, the sender alone ...")
            out.update(measure_merkle_backlog(env, cfg, log))
        if "merkle_latency" in want:
            log(f"Merkle mode: intake to 已上链 over {cfg.latency_cases} intakes ...")
            out.update(measure_merkle_latency(env, cfg, log))
        if "merkle_verify" in want:
            log("Merkle mode: verification of an 8-event case with its completeness scan ...")
            out.update(measure_merkle_verify(env, cfg.verify_runs))
        if "merkle_verify" in want and out.get("verify_case_ms"):
            out["merkle_verify_over_event"] = round(out["merkle_verify_case_ms"] / out["verify_case_ms"], 2)
        for mode in ("event", "merkle"):
            if f"mixed_{mode}" in want:
                log(f"{mode} mode: {cfg.mixed_clients} HTTP intake clients with anchoring at the same hall ...")
                out.update(measure_mixed(root, cfg, mode, log))
        if out.get("mixed_anchor_events_per_s") and out.get("chain_ceiling_events_per_s"):
            out["mixed_anchor_of_ceiling"] = round(
                out["mixed_anchor_events_per_s"] / out["chain_ceiling_events_per_s"], 3
            )
        if "audit" in want:
            log(f"audit scan over {cfg.audit_cases} cases ...")
            out.update(measure_audit(env, cfg, log))
        if "city" in want:
            log(f"city-wide view over {cfg.city_cases} cases of three halls, from the chain alone ...")
            out.update(measure_city(env, cfg, log))
        if "audit_incremental" in want:
            log(
                f"incremental audit scan over {cfg.audit_incremental_cases} cases + {cfg.audit_incremental_new} new ..."
            )
            out.update(measure_audit_incremental(env, cfg, log))
        if "inbox" in want:
            log(f"待办 (inbox) over {cfg.inbox_cases} cases ...")
            out.update(measure_inbox(root, cfg, log))
        if "intake" in want:
            log(f"HTTP intake, {cfg.intake_clients} clients from another process ...")
            out.update(measure_intake(root, cfg, log))
        if "large_intake" in want:
            log(f"HTTP intake of {cfg.large_files} x {cfg.large_file_bytes} B scans, {cfg.large_clients} clients ...")
            out.update(measure_large_intake(root, cfg, log))
    finally:
        if watch is not None:
            watch.stop()
        env.close()
        shutil.rmtree(root, ignore_errors=True)
    return out
