"""``python -m node_api``: check the hall key against the registry, then serve with uvicorn."""

from __future__ import annotations

import logging
import sys

import uvicorn

from ledger.errors import LedgerError
from node_api.core.config import Settings
from node_api.core.node import HallNode
from node_api.main import create_app


def main() -> None:
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
    )


if __name__ == "__main__":
    main()
