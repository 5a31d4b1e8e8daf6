"""Another hall that anchors a Merkle batch by hand: its leaves built here, its manifest published by a small
HTTP server at the address the registry names for it (``/public/batches/<hall>/<seq>/manifest``, as a hall
node serves it), its root sent with ``anchorRootAt`` from its own key.

For tests where a hall's indexer must learn of another hall's Merkle-mode events from the chain and the
manifest alone — an honest peer's case for this district, or a hostile hall's rule-breaking leaf.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eth_account import Account

from ledger.chain.client import ChainClient
from ledger.core.batches import BatchTree, Manifest
from ledger.core.suites import Suite
from ledger.dev.devchain import free_port

__all__ = ["ForeignHall", "foreign_hall"]


class ForeignHall:
    """A registered hall whose batches this test builds; :meth:`anchor` publishes and anchors the next one."""

    def __init__(self, chain: ChainClient, hall_id: int, address: str, suite: Suite) -> None:
        self.chain, self.hall_id, self.address, self.suite = chain, hall_id, address, suite
        self.manifests: dict[int, bytes] = {}

    def anchor(self, leaves: Sequence[bytes]) -> int:
        """Publish the next batch's manifest, then anchor its root; returns the batch number once mined."""
        seq = len(self.manifests)
        self.manifests[seq] = Manifest(suite=self.suite, hall=self.hall_id, seq=seq, leaves=tuple(leaves)).encode()
        self.chain.wait(self.chain.send_root(seq, BatchTree.of(list(leaves), self.suite).root, len(leaves)))
        return seq


@contextmanager
def foreign_hall(admin: ChainClient, rpc_url: str, district: int, name: str, suite: Suite) -> Iterator[ForeignHall]:
    """Register and fund a hall for ``district`` whose endpoint is a manifest server on a free loopback port."""
    key = Account.create()
    port = free_port()
    hid = admin.register_hall(key.address, district, name, f"http://127.0.0.1:{port}")
    admin.fund(key.address, 10**18)
    assert admin.deployment is not None
    hall = ForeignHall(ChainClient.connect(rpc_url, deployment=admin.deployment, account=key), hid, key.address, suite)

    class Serve(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            found = next(
                (m for s, m in hall.manifests.items() if self.path == f"/public/batches/{hid}/{s}/manifest"), None
            )
            self.send_response(200 if found is not None else 404)
            self.end_headers()
            if found is not None:
                self.wfile.write(found)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Serve)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hall
    finally:
        server.shutdown()
        thread.join(5)
