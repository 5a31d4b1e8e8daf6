"""``caseledger bench``'s Merkle-mode parts (issue 20), next to the event-mode figures of :mod:`ledger.dev.bench`.

* ``merkle_backlog_drain_s`` — the hall's :class:`~ledger.hall.merkle_outbox.MerkleSender` alone draining
  ``merkle_backlog_events`` pending events (one root per batch, ``anchorRootAt``); ``merkle_events_per_s`` is
  its rate over ``sustain_s`` inside that drain (after ``warmup_s``). Afterwards every event is checked
  against the chain: every ``BatchAnchored`` log of the hall, its manifest checked against the on-chain root
  and count, and every case's leaves counted (``merkle_events_lost`` / ``merkle_events_doubled``).
  The backlog is ``merkle_backlog_events / 2`` cases: one real intake through :class:`CaseBook` (records and
  ``mbox/`` entries), cloned under new serials and commitments in unsynced batches — writing 500,000 intakes
  through the counter path (≈ 5 ms each, one fsync per intake) would take longer than the drain measures.
* ``merkle_gas_per_event`` — gas of every ``anchorRootAt`` of that drain ÷ events.
* ``merkle_anchor_latency_blocks_p50`` — intake to "已上链" (the record's anchor written from the receipt) at
  a hall with the sender running as a node runs it, intakes one by one: blocks and seconds.
* ``merkle_verify_case_ms`` — a Merkle-mode case (8 events) verified from its bundle with the stand-alone
  reader, the batch proofs and the completeness scan of every hall's batches and manifests included.
* ``mixed_anchor_events_per_s`` / ``merkle_mixed_anchor_events_per_s`` — a real hall process in each mode
  under intake at full load (``mixed_clients`` HTTP clients from another process) with its sender anchoring
  at the same time: events anchored in blocks mined while the load ran, per second.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.chain.client import ChainClient
from ledger.core.batches import Manifest
from ledger.core.chainlog import read_merkle_facts
from ledger.core.hashchain import case_id
from ledger.dev.demo import demo_id_number
from ledger.dev.devchain import free_port
from ledger.hall.cases import CaseBook, HallIdentity, Upload
from ledger.hall.catalogue import load_catalogue
from ledger.hall.keys import MBOX_PREFIX, OUTBOX_SEQ_KEY, manifest_key, mbox_key
from ledger.hall.merkle_outbox import MerkleSender
from ledger.hall.outbox import Outbox
from ledger.hall.store import Store
from ledger.verify.merkle import verify_merkle_bundle
from ledger.verify.rpc import JsonRpc

if TYPE_CHECKING:
    from ledger.dev.bench import BenchConfig, _Env

__all__ = [
    "measure_merkle_backlog",
    "measure_merkle_latency",
    "measure_merkle_verify",
    "measure_mixed",
]

CLONE_CHUNK = 5_000


def _book(root: Path, name: str, hall: HallIdentity) -> CaseBook:
    store = Store.init(root / name)
    return CaseBook(store, Outbox(store), hall=hall, anchor_mode="merkle")


def _uploads() -> tuple[str, list[Upload]]:
    item = load_catalogue().item("HJ-MIGRATE")
    return item.code, [Upload(m.code, f"{m.code}.pdf", b"%PDF-1.4 " + m.code.encode() * 8) for m in item.materials]


def _intake(book: CaseBook) -> str:
    code, uploads = _uploads()
    view = book.intake(
        item_code=code,
        home_district=book.hall.district,
        applicant={"name": "基准", "id_number": demo_id_number(), "phone": "13905951234"},
        materials=uploads,
        staff="bench",
    )
    return str(view["serial"])


def _clone_backlog(book: CaseBook, cases: int, log: Callable[[str], None]) -> list[str]:
    """``cases`` pending cases: one real intake, its records and queue entries copied under new serials."""
    store = book.store
    template = _intake(book)
    entries = [v for _, v in store.iter_json(MBOX_PREFIX)]
    assert [e["serial"] for e in entries] == [template] * len(entries)
    recs = [(e["rec_key"], store.get(e["rec_key"].encode())) for e in entries]
    stem = template[:-5]  # TB<date>-<hall>-NNNNN: clones take the serials after the template's
    first = int(template[-5:]) + 1
    seq = int(store.get_json(OUTBOX_SEQ_KEY))
    serials = [template]
    t = time.perf_counter()
    for lo in range(0, cases - 1, CLONE_CHUNK):
        with store.write_batch(sync=False) as wb:
            for k in range(lo, min(lo + CLONE_CHUNK, cases - 1)):
                serial = f"{stem}{first + k:07d}"
                serials.append(serial)
                for e, (rk, raw) in zip(entries, recs, strict=True):
                    assert raw is not None
                    key = rk.replace(template, serial)
                    wb.put(key.encode(), raw.replace(template.encode(), serial.encode()))
                    c = (k.to_bytes(8, "big") + bytes.fromhex(e["commitment"])[8:]).hex()
                    wb.put_json(mbox_key(seq), {**e, "seq": seq, "serial": serial, "rec_key": key, "commitment": c})
                    seq += 1
            wb.put_json(OUTBOX_SEQ_KEY, seq)
    store.sync()
    log(f"  Merkle backlog: {len(serials)} cases ({seq} queue entries) written in {time.perf_counter() - t:.0f}s")
    return serials


def _check_on_chain(
    client: ChainClient, book: CaseBook, serials: list[str], from_block: int, per_case: int = 2
) -> dict[str, Any]:
    """Every case's leaves in the hall's batches on chain (each manifest checked against its on-chain root)."""
    hall = book.hall
    want = {case_id(hall.hall_id, s) for s in serials}
    counts: dict[bytes, int] = {}
    gas = 0
    batches = client.batches_in_range(from_block, client.block_number(), hall_id=hall.hall_id)
    events = 0
    for b in batches:
        raw = book.store.get(manifest_key(hall.hall_id, b.seq))
        assert raw is not None, f"no manifest of batch {b.seq}"
        m = Manifest.decode(raw)
        m.check(hall=b.hall_id, seq=b.seq, root=b.root, count=b.count, suite=hall.suite)
        for leaf in m.leaves:
            cid = leaf[8:40]
            counts[cid] = counts.get(cid, 0) + 1
        events += b.count
        receipt = client.receipt(b.tx_hash)
        assert receipt is not None
        gas += int(receipt["gasUsed"])
    lost = sum(1 for c in want if counts.get(c, 0) < per_case)
    doubled = sum(1 for c in want if counts.get(c, 0) > per_case)
    return {"batches": len(batches), "events": events, "gas": gas, "lost": lost, "doubled": doubled}


def _sender(book: CaseBook, client: ChainClient, **kw: Any) -> MerkleSender:
    return MerkleSender(book.outbox, client, hall=book.hall, **{"interval": 0.05, **kw})


def measure_merkle_backlog(env: _Env, cfg: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    client, hall = env.hall()
    book = _book(env.root, "merkle-backlog", hall)
    serials = _clone_backlog(book, cfg.merkle_backlog_events // 2, log)
    start_block = client.block_number()
    sender = _sender(book, client, batch_max=cfg.merkle_batch_max, max_in_flight=cfg.merkle_in_flight)
    total = 2 * len(serials)
    window: dict[str, float] = {}

    def sample() -> None:  # the sustained window inside the drain
        time.sleep(cfg.warmup_s)
        window["a0"], window["t0"] = sender.anchored_total, time.perf_counter()
        time.sleep(cfg.sustain_s)
        window["a1"], window["t1"] = sender.anchored_total, time.perf_counter()

    t0 = time.perf_counter()
    sampler = threading.Thread(target=sample, daemon=True)
    sender.start()
    sampler.start()
    while sender.anchored_total < total and time.perf_counter() - t0 < 1800:
        time.sleep(0.05)
    dt = time.perf_counter() - t0
    sender.stop()
    sampler.join(timeout=cfg.warmup_s + cfg.sustain_s + 5)
    if "t1" in window and window["a1"] < total:
        rate = (window["a1"] - window["a0"]) / (window["t1"] - window["t0"])
        sustained = f"{cfg.sustain_s:.0f}s window"
    else:  # drained before the window closed: the whole drain's rate
        rate = total / dt
        sustained = "whole drain"
    check = _check_on_chain(client, book, serials, start_block)
    log(
        f"  Merkle drain: {total} events in {dt:.1f}s, {check['batches']} batches; sustained ({sustained}) {rate:.0f}/s"
    )
    book.store.close()
    return {
        "merkle_backlog_events": total,
        "merkle_backlog_drain_s": round(dt, 1),
        "merkle_backlog_events_per_s": round(total / dt, 1),
        "merkle_events_per_s": round(rate, 1),
        "merkle_events_per_s_over": sustained,
        "merkle_batches": check["batches"],
        "merkle_events_on_chain": check["events"],
        "merkle_events_lost": check["lost"],
        "merkle_events_doubled": check["doubled"],
        "merkle_gas_per_event": round(check["gas"] / max(1, check["events"]), 2),
        "merkle_gas_per_batch": round(check["gas"] / max(1, check["batches"])),
    }


def measure_merkle_latency(env: _Env, cfg: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """Intake to 已上链 with the sender as a node runs it (node defaults), one intake every ``latency_gap_s``."""
    client, hall = env.hall()
    book = _book(env.root, "merkle-latency", hall)
    done: dict[str, float] = {}
    sender = _sender(
        book, client, interval=0.2, on_anchored=lambda es: done.update({e["serial"]: time.time() for e in es})
    )
    sender.start()
    taken: list[tuple[str, int, float]] = []
    try:
        for _ in range(cfg.latency_cases):
            serial = _intake(book)
            taken.append((serial, client.block_number(), time.time()))
            time.sleep(cfg.latency_gap_s)
        deadline = time.monotonic() + 120
        while sender.pending_count() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        sender.stop()
    blocks, seconds = [], []
    for serial, at_block, at in taken:
        for r in book.records(serial):
            anchor = r.get("anchor") or {}
            if anchor.get("state") == "anchored":
                blocks.append(int(anchor["block"]) - at_block)
        if serial in done:
            seconds.append(done[serial] - at)
    book.store.close()
    blocks.sort()
    seconds.sort()
    log(f"  Merkle latency: {len(blocks)} events, blocks {blocks[:1]}..{blocks[-1:]}")
    return {
        "merkle_anchor_latency_events": len(blocks),
        "merkle_anchor_latency_blocks_p50": statistics.median(blocks) if blocks else None,
        "merkle_anchor_latency_blocks_max": blocks[-1] if blocks else None,
        "merkle_anchor_latency_s_p50": round(statistics.median(seconds), 2) if seconds else None,
        "merkle_anchor_latency_s_p95": round(seconds[int(0.95 * (len(seconds) - 1))], 2) if seconds else None,
    }


def measure_merkle_verify(env: _Env, runs: int) -> dict[str, Any]:
    """An 8-event Merkle-mode case (intake to delivery at one hall that is also the home hall), its bundle as the
    hall exports it, verified with the stand-alone reader: proofs, rules and the completeness scan."""
    from ledger.hall.evidence import export_bundle

    client, hall = env.hall()
    book = _book(env.root, "merkle-verify", hall)
    sender = _sender(book, client)
    serial = _intake(book)
    book.decide_acceptance(serial, accepted=True, reason="", staff="bench")
    for step in ("review", "site_inspection", "approval"):
        book.process_step(serial, step=step, note="", staff="bench")
    book.decide(serial, approved=True, note="", document=None, staff="bench")
    book.deliver(serial, method="counter", note="", staff="bench")
    for _ in range(8):  # each event waits for its case's previous one; a few batches
        sender.run_once()
    bundle = export_bundle(book, client, serial)
    assert len(bundle.events) == 8 and all(e.batch is not None for e in bundle.events), "case not anchored"
    store = book.store

    def manifests(hall_id: int, seq: int) -> bytes | None:
        return store.get(manifest_key(hall_id, seq))

    total: list[float] = []
    calls = 0
    dep = env.dep
    for _ in range(runs):
        t = time.perf_counter()
        rpc = JsonRpc(env.chain.rpc_url)
        facts = read_merkle_facts(
            rpc,
            ledger=dep.ledger,
            accepting_hall=bundle.accepting_hall,
            serial=bundle.serial,
            batches=[(e.batch.hall_id, e.batch.seq, e.block) for e in bundle.events if e.batch is not None],
            manifests=manifests,
            trusted=True,  # the bench's own deployment
        )
        report = verify_merkle_bundle(bundle, facts)
        total.append((time.perf_counter() - t) * 1000)
        if not report.ok or report.complete_as_of is None:
            raise RuntimeError(f"bench Merkle case did not verify: {report.verdict}")
        calls = rpc.calls
    book.store.close()
    total.sort()
    return {
        "merkle_verify_case_ms": round(statistics.median(total), 2),
        "merkle_verify_case_p95_ms": round(total[int(0.95 * (len(total) - 1))], 2),
        "merkle_verify_case_rpc_requests": calls,
        "merkle_verify_case_events": len(bundle.events),
    }


def measure_mixed(root: Path, cfg: BenchConfig, mode: str, log: Callable[[str], None]) -> dict[str, Any]:
    """A real hall process in ``mode`` under intake at full load with anchoring at the same time."""
    import subprocess
    import sys

    from ledger.chain.deployment import Deployment
    from ledger.dev.demo import HallClient
    from ledger.dev.localnet import LocalNet

    net = LocalNet(
        root / f"mixed-{mode}",
        halls=1,
        chain_port=free_port(),
        hall_ports=[free_port()],
        block_time=cfg.block_time,
        node_env={"CASELEDGER_ANCHOR_MODE": mode},
    )
    halls = net.up()
    prefix = "merkle_mixed" if mode == "merkle" else "mixed"
    try:
        hall = halls[0]
        clerk = HallClient.demo(hall["dir"], hall["url"], "clerk")
        chain = ChainClient.connect(net.chain.rpc_url, deployment=Deployment.load(net.data_dir / "deployment.json"))

        def loadgen(clients: int, requests: int) -> dict[str, Any]:
            flags = {"--url": hall["url"], "--token": clerk.token, "--clients": str(clients)}
            flags |= {"--requests": str(requests), "--home-district": str(hall["district"])}
            argv = [sys.executable, "-m", "ledger.dev.loadgen", *(x for kv in flags.items() for x in kv)]
            out = subprocess.run(argv, capture_output=True, text=True, timeout=900)
            return dict(json.loads(out.stdout))

        loadgen(4, 40)  # warm-up
        deadline = time.monotonic() + 60
        while clerk.health()["outbox"]["pending"] and time.monotonic() < deadline:
            time.sleep(0.2)
        b0 = chain.block_number()
        t0 = time.time()
        res = loadgen(cfg.mixed_clients, cfg.mixed_requests)
        t1 = time.time()
        deadline = time.monotonic() + 600
        while clerk.health()["outbox"]["pending"] and time.monotonic() < deadline:
            time.sleep(0.2)
        t2 = time.time()
        b2 = chain.block_number()
        during, total = 0, 0
        for n in range(b0 + 1, b2 + 1):
            block = chain.w3.eth.get_block(n)
            k = _events_in_block(chain, n, mode)
            total += k
            if t0 <= int(block["timestamp"]) <= t1:
                during += k
        secs = t1 - t0
        log(
            f"  mixed ({mode}): {res['ok']} intakes in {secs:.1f}s, {during} events anchored meanwhile, "
            f"drained {t2 - t1:.1f}s later"
        )
        return {
            f"{prefix}_clients": res["clients"],
            f"{prefix}_intake_rps": res["rps"],
            f"{prefix}_intake_errors": res["errors"],
            f"{prefix}_intake_events_per_s": round(2 * res["ok"] / secs, 1),
            f"{prefix}_anchor_events_per_s": round(during / secs, 1),
            f"{prefix}_drain_after_s": round(t2 - t1, 1),
            f"{prefix}_events_anchored": total,
        }
    finally:
        net.down()


def _events_in_block(chain: ChainClient, n: int, mode: str) -> int:
    if mode == "merkle":
        return sum(b.count for b in chain.batches_in_range(n, n))
    _, appended = chain.events_in_range(n, n)
    return len(appended)
