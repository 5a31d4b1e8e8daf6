"""Noticing that the chain replaced blocks a worker acted on (a reorganisation or a rollback).

A worker that acts on block ``n`` records ``n``'s hash (a checkpoint). Every block hash commits to
its parent's, so while the chain still has the recorded hash at ``n``, nothing at or below ``n``
changed: one ``eth_getBlockByNumber`` per round tells the worker that its past still holds::

    marks = Checkpoints(store, b"idxblk/")
    fork = marks.check(head, hash_at)        # None, or where the chain forked from what we saw
    ...
    with store.write_batch() as wb:
        marks.record(wb, block, block_hash)  # together with what was done at that block

When the newest checkpoint no longer matches (its block is gone: the head went backwards; or its
hash changed), the checkpoints are searched for the newest one that still matches (a binary search:
matching is monotone). That block is the fork point: whatever the worker did after it must be undone
or redone. Only the newest ``keep`` checkpoints are kept; a rollback below all of them reports the
fork point as unknown (``fork_block = -1``) and the worker starts over from its beginning.

Store keys: ``<prefix><block:012d>`` → ``{"hash": "0x…"}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ledger.hall.store import Store, WriteBatch

__all__ = ["Checkpoints", "Fork", "block_hash_reader"]


@dataclass(frozen=True)
class Fork:
    """Where the chain stopped agreeing with what a worker saw.

    ``fork_block`` is the newest block still the same (``-1``: below every checkpoint kept);
    ``seen_head`` the newest block the worker had acted on; ``head`` the chain's head now. ``kind``
    is ``rollback`` when the head is now below ``seen_head`` (blocks are gone), else ``reorg``
    (blocks were replaced).
    """

    fork_block: int
    seen_head: int
    head: int
    kind: Literal["rollback", "reorg"]

    @property
    def depth(self) -> int | None:
        """How many blocks the worker acted on are no longer on chain (``None`` if unknown)."""
        return None if self.fork_block < 0 else self.seen_head - self.fork_block


def block_hash_reader(request: Callable[[str, list[Any]], Any]) -> Callable[[int], str | None]:
    """``hash_at(n)`` over a raw JSON-RPC ``request`` function (``ChainClient.request``)."""

    def hash_at(n: int) -> str | None:
        block = request("eth_getBlockByNumber", [hex(n), False])
        return None if block is None else str(block["hash"]).lower()

    return hash_at


class Checkpoints:
    def __init__(self, store: Store, prefix: bytes, *, keep: int = 256) -> None:
        self.store = store
        self.prefix = prefix
        self.keep = keep

    def _key(self, block: int) -> bytes:
        return self.prefix + f"{block:012d}".encode()

    def record(self, wb: WriteBatch, block: int, block_hash: str) -> None:
        """Record ``block``'s hash in the caller's write batch (and drop checkpoints beyond ``keep``)."""
        wb.put_json(self._key(block), {"hash": block_hash.lower()})
        extra = self.store.count_prefix(self.prefix) + 1 - self.keep
        if extra > 0:
            for k, _ in self.store.iter_prefix(self.prefix):
                if extra <= 0:
                    break
                if k != self._key(block):
                    wb.delete(k)
                    extra -= 1

    def all(self) -> list[tuple[int, str]]:
        """Every checkpoint, oldest first."""
        return [(int(k[len(self.prefix) :]), str(v["hash"])) for k, v in self.store.iter_json(self.prefix)]

    def newest(self) -> tuple[int, str] | None:
        for k, raw in self.store.iter_prefix(self.prefix, reverse=True):
            return int(k[len(self.prefix) :]), str(json.loads(raw)["hash"])
        return None

    def check(self, head: int, hash_at: Callable[[int], str | None]) -> Fork | None:
        """``None`` while the newest checkpoint is still on chain; else the :class:`Fork`."""
        newest = self.newest()
        if newest is None:
            return None
        seen, h = newest
        if seen <= head and hash_at(seen) == h:
            return None
        marks = [(b, x) for b, x in self.all() if b <= head]
        lo, hi, found = 0, len(marks) - 1, -1
        while lo <= hi:  # newest index whose hash still matches (matching is monotone)
            mid = (lo + hi) // 2
            b, x = marks[mid]
            if hash_at(b) == x:
                found, lo = mid, mid + 1
            else:
                hi = mid - 1
        fork_block = marks[found][0] if found >= 0 else -1
        return Fork(fork_block=fork_block, seen_head=seen, head=head, kind="rollback" if head < seen else "reorg")

    def drop_after(self, wb: WriteBatch, block: int) -> None:
        """Forget every checkpoint above ``block`` (in the caller's write batch)."""
        for k, _ in self.store.iter_prefix(self.prefix, reverse=True):
            if int(k[len(self.prefix) :]) <= block:
                break
            wb.delete(k)
