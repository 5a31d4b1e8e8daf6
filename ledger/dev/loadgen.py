"""HTTP intake load from a separate process: ``python -m ledger.dev.loadgen --url U --token T``.

Runs ``--clients`` concurrent keep-alive connections that together send ``--requests`` multipart
intakes with small materials, and prints one JSON object: requests, errors, seconds, rps and latency
percentiles in milliseconds. Used by ``caseledger bench`` so the load does not share the node's
process. The request is built once (with httpx) and sent as raw HTTP/1.1 bytes over asyncio streams:
the generator must spend its CPU sending, not encoding, or it competes with the node it measures for
the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from ledger.dev.demo import demo_id_number

MATERIALS = ["application_form", "id_card", "household_register", "housing_proof"]
EXTRA = ["authorisation_letter"]  # a fifth file every item accepts (an agent's letter of authorisation)


def _content(kind: str, size: int) -> bytes:
    if size <= 0:
        return b"%PDF-1.4 small material " + kind.encode()
    head = b"%PDF-1.4 " + kind.encode() + b" "
    return head + os.urandom(size - len(head))


def build_request(url: str, token: str, home_district: int, file_bytes: int = 0, count: int = 4) -> bytes:
    """The raw bytes of one intake request (HTTP/1.1, keep-alive); ``file_bytes``: each material that large (a
    scanned PDF: the PDF header, then random bytes, which do not compress), else small."""
    fields = {
        "item_code": "HJ-MIGRATE",
        "home_district": str(home_district),
        "applicant_name": "压测申请人",
        "applicant_id_number": demo_id_number(),
        "applicant_phone": "13905951234",
    }
    files = [
        (f"materials.{m}", (f"{m}.pdf", _content(m, file_bytes), "application/pdf"))
        for m in [*MATERIALS, *EXTRA][:count]
    ]
    req = httpx.Request("POST", url.rstrip("/") + "/cases", data=fields, files=files)
    body = req.read()
    host = urlsplit(url).netloc
    head = (
        f"POST /cases HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {req.headers['Content-Type']}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(length)
    return status


def _percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return 0.0
    return sorted_ms[min(len(sorted_ms) - 1, int(round(q * (len(sorted_ms) - 1))))]


async def _run(
    url: str, token: str, clients: int, requests: int, home_district: int, file_bytes: int = 0, files: int = 4
) -> dict[str, Any]:
    request = build_request(url, token, home_district, file_bytes, files)
    parts = urlsplit(url)
    latencies: list[float] = []
    errors: list[str] = []
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while remaining > 0:
                remaining -= 1  # one event loop thread: no lock needed
                t = time.perf_counter()
                try:
                    status = await _exchange(reader, writer, request)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors.append(f"{exc.__class__.__name__}: {exc}")
                    writer.close()
                    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                    continue
                if status < 400:
                    latencies.append((time.perf_counter() - t) * 1000)
                else:
                    errors.append(f"HTTP {status}")
        finally:
            writer.close()

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
        "request_bytes": len(request),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--home-district", type=int, default=350502)
    p.add_argument("--file-bytes", type=int, default=0, help="size of each material (0: small)")
    p.add_argument("--files", type=int, default=4, help="materials per intake (4, or 5 with an agent's letter)")
    a = p.parse_args(argv)
    out = asyncio.run(_run(a.url, a.token, a.clients, a.requests, a.home_district, a.file_bytes, a.files))
    print(json.dumps(out))
    return 0 if out["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
