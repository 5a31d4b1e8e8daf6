"""``python -m node_api``: check the hall key against the registry, then serve with uvicorn.

The process creates every file private (umask 077: store, logs, backups, tokens are 0600, directories
0700), runs with the interpreter's default recursion limit (see :mod:`ledger.core.jsonsafe`), and
believes ``X-Forwarded-For`` only from the proxies in ``CASELEDGER_TRUSTED_PROXIES`` (handled inside
the app, so uvicorn's own proxy-header handling, which trusts 127.0.0.1 by default, is switched off).
"""

from __future__ import annotations

import os

os.umask(0o077)  # before anything opens a file

import logging  # noqa: E402
import sys  # noqa: E402

import uvicorn  # noqa: E402

from ledger.core.jsonsafe import ensure_safe_recursion_limit  # noqa: E402
from ledger.errors import LedgerError  # noqa: E402
from node_api.core.config import Settings  # noqa: E402
from node_api.core.node import HallNode  # noqa: E402
from node_api.main import create_app  # noqa: E402


def _bound_allocator() -> str:
    """glibc's allocator, told to hand large blocks back at once: a stored file's 256 KiB chunks (read, sealed,
    batched: :mod:`ledger.hall.store`) and the form parser's buffers are then mapped and unmapped per use instead
    of staying in per-thread arenas (which grew the node's resident memory by the size of the largest uploads
    seen). No-op where mallopt is not glibc's."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return "allocator: default"
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8
        ok = libc.mallopt(m_mmap_threshold, 256 * 1024) and libc.mallopt(m_trim_threshold, 1024 * 1024)
        ok = ok and libc.mallopt(m_arena_max, 4)
    except (OSError, AttributeError):
        return "allocator: default"
    return "allocator: blocks over 256 KiB mapped per use, 4 arenas" if ok else "allocator: default"


def main() -> None:
    os.umask(0o077)
    allocator = _bound_allocator()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
        node = HallNode(settings)
    except LedgerError as exc:
        print(f"caseledger node: {exc}", file=sys.stderr)
        sys.exit(2)
    except ValueError as exc:
        print(f"caseledger node: invalid settings: {exc}", file=sys.stderr)
        sys.exit(2)
    app = create_app(settings, node=node)
    limit = ensure_safe_recursion_limit()
    logging.getLogger("caseledger.node").info("recursion limit %d, umask 077, %s", limit, allocator)
    cert = str(settings.tls_certfile) if settings.tls_certfile else None
    key = str(settings.tls_keyfile) if settings.tls_keyfile else None
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=5,
        ssl_certfile=cert,
        ssl_keyfile=key,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
