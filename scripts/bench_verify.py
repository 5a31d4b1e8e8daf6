"""verify_case_ms: fetch_chain_facts + verify_bundle for a case with 10 events and 20 materials.

    .venv/bin/python scripts/bench_verify.py [--runs 50]

Starts a throw-away local chain (anvil, 1 s blocks), anchors the case (two halls and a dispute
officer, as tests/integration/test_verify.py does), then times the full check (chain reads
included) and the pure part alone; prints p50/p95 in milliseconds as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_account import Account

from ledger.bundle import HeldEvent, build_bundle
from ledger.chain import ChainClient
from ledger.devchain import DevChain, dev_admin
from ledger.materials import MaterialFile, MaterialSet
from ledger.records import SaltedRecord
from ledger.stages import Stage
from ledger.verify import fetch_chain_facts, verify_bundle

SERIAL = "TB-BENCH-0001"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p * (len(xs) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    runs = ap.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        chain = DevChain(Path(tmp), port=_port(), block_time=1.0)
        chain.up()
        try:
            dep = ChainClient.deploy(chain.rpc_url, dev_admin())
            admin = ChainClient.connect(chain.rpc_url, deployment=dep, account=dev_admin())
            halls = []
            for district in (350502, 350503):
                acct = Account.create()
                admin.register_hall(acct.address, district, "bench", "http://127.0.0.1:1")
                admin.fund(acct.address, 10**18)
                halls.append(ChainClient.connect(chain.rpc_url, deployment=dep, account=acct))
            a, b = halls
            admin.grant_role("DISPUTE_OFFICER_ROLE", a.address)
            files = [(f"m{i}", f"材料{i}.pdf", f"%PDF material {i} ".encode() * 200) for i in range(20)]
            ms = MaterialSet.new([MaterialFile.of(k, n, d) for k, n, d in files])
            plan: list[tuple[Stage, ChainClient, dict[str, Any]]] = [
                (Stage.INTAKE, a, {"item_code": "BDC-TRANSFER"}),
                (Stage.MATERIALS, a, {"materials_root": ms.root.hex(), "materials_count": 20}),
                (Stage.ACCEPTANCE, b, {"decision": "accepted"}),
                (Stage.PROCESS, b, {"step": "review"}),
                (Stage.PROCESS, b, {"step": "site_visit"}),
                (Stage.PROCESS, b, {"step": "approval"}),
                (Stage.RESULT, b, {"decision": "approved"}),
                (Stage.DELIVERY, a, {"method": "counter"}),
                (Stage.DISPUTE_OPENED, a, {"reason": "bench"}),
                (Stage.DISPUTE_RESOLVED, a, {"verdict": "match"}),
            ]
            recs = [SaltedRecord.new(SERIAL, st, f) for st, _, f in plan]
            a.open_case(SERIAL, "BDC-TRANSFER", 350503, recs[0].commitment)
            for rec, (st, w, _) in zip(recs[1:], plan[1:], strict=True):
                w.append_event(SERIAL, st, rec.commitment)
            reader = ChainClient.connect(chain.rpc_url, deployment=dep)
            events = reader.case_events(SERIAL)
            held = [
                HeldEvent(record=r, event=e, time=reader.block_time(e.block_number),
                          materials=ms if e.stage == Stage.MATERIALS else None,
                          contents=[d for _, _, d in files] if e.stage == Stage.MATERIALS else None)
                for r, e in zip(recs, events, strict=True)
            ]  # fmt: skip
            bundle = build_bundle(serial=SERIAL, chain_id=dep.chain_id, ledger=dep.ledger, registry=dep.registry,
                                  exported_at="", exported_by={}, held=held, include_files=True)  # fmt: skip
            full, pure = [], []
            for _ in range(runs):
                t0 = time.perf_counter()
                facts = fetch_chain_facts(reader, SERIAL)
                t1 = time.perf_counter()
                report = verify_bundle(bundle, facts)
                t2 = time.perf_counter()
                assert report.ok and len(report.events) == 10 and len(report.materials) == 20
                full.append((t2 - t0) * 1000)
                pure.append((t2 - t1) * 1000)
        finally:
            chain.down()
    out = {
        "verify_case_ms_p50": round(statistics.median(full), 1),
        "verify_case_ms_p95": round(_pct(full, 0.95), 1),
        "verify_bundle_pure_ms_p50": round(statistics.median(pure), 1),
        "verify_bundle_pure_ms_p95": round(_pct(pure, 0.95), 1),
        "runs": runs,
        "machine": f"{platform.machine()} {platform.system()} py{platform.python_version()}",
    }
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
