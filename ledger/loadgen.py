"""HTTP intake load from a separate process: ``python -m ledger.loadgen --url U --token T``.

Runs ``--clients`` concurrent clients (asyncio + httpx) that together send ``--requests`` multipart
intakes with small materials, and prints one JSON object: requests, errors, seconds, rps and latency
percentiles in milliseconds. Used by ``caseledger bench`` so the load does not share the node's
process (or the bench's GIL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import httpx

from ledger.demo import demo_id_number

MATERIALS = ["application_form", "id_card", "household_register", "housing_proof"]


def _percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return 0.0
    return sorted_ms[min(len(sorted_ms) - 1, int(round(q * (len(sorted_ms) - 1))))]


async def _run(url: str, token: str, clients: int, requests: int, home_district: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    remaining = requests
    lock = asyncio.Lock()
    files = [(f"materials.{m}", (f"{m}.pdf", b"%PDF-1.4 small material " + m.encode(), "application/pdf"))
             for m in MATERIALS]  # fmt: skip
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60,
                                 limits=limits) as http:  # fmt: skip

        async def worker() -> None:
            nonlocal remaining
            while True:
                async with lock:
                    if remaining <= 0:
                        return
                    remaining -= 1
                data = {
                    "item_code": "HJ-MIGRATE",
                    "home_district": str(home_district),
                    "applicant_name": "压测申请人",
                    "applicant_id_number": demo_id_number(),
                    "applicant_phone": "13905951234",
                }
                t = time.perf_counter()
                try:
                    r = await http.post("/cases", data=data, files=files)
                    ok = r.status_code < 400
                    if not ok:
                        errors.append(f"{r.status_code}: {r.text[:200]}")
                except httpx.HTTPError as exc:
                    ok = False
                    errors.append(f"{exc.__class__.__name__}: {exc}")
                if ok:
                    latencies.append((time.perf_counter() - t) * 1000)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - t0
    lat = sorted(latencies)
    return {
        "requests": requests,
        "ok": len(lat),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "seconds": round(seconds, 2),
        "rps": round(len(lat) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(_percentile(lat, 0.50), 1),
        "p95_ms": round(_percentile(lat, 0.95), 1),
        "p99_ms": round(_percentile(lat, 0.99), 1),
        "clients": clients,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--home-district", type=int, default=350502)
    a = p.parse_args(argv)
    out = asyncio.run(_run(a.url, a.token, a.clients, a.requests, a.home_district))
    print(json.dumps(out))
    return 0 if out["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
