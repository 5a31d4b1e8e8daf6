"""Checkpoints: noticing replaced or vanished blocks (ledger.reorg), on a real LevelDB store."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.hall.reorg import Checkpoints
from ledger.hall.store import Store


def _chain(n: int, tag: str = "a") -> dict[int, str]:
    return {b: f"0x{tag}{b:04d}" for b in range(n + 1)}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.init(tmp_path / "store")
    yield s  # type: ignore[misc]
    s.close()


def _record(store: Store, marks: Checkpoints, chain: dict[int, str], blocks: list[int]) -> None:
    for b in blocks:
        with store.write_batch() as wb:
            marks.record(wb, b, chain[b])


def test_unchanged_chain_is_no_fork(store: Store) -> None:
    chain = _chain(100)
    marks = Checkpoints(store, b"t/")
    _record(store, marks, chain, [10, 20, 30])
    calls: list[int] = []

    def hash_at(n: int) -> str | None:
        calls.append(n)
        return chain.get(n)

    assert marks.check(100, hash_at) is None
    assert calls == [30]  # one look at the newest checkpoint is enough


def test_rollback_finds_the_newest_block_still_there(store: Store) -> None:
    chain = _chain(100)
    marks = Checkpoints(store, b"t/")
    _record(store, marks, chain, list(range(5, 101, 5)))
    after = {b: h for b, h in chain.items() if b <= 58}  # the node came back from a dump at block 58
    fork = marks.check(58, after.get)
    assert fork is not None
    assert (fork.fork_block, fork.seen_head, fork.head, fork.kind, fork.depth) == (55, 100, 58, "rollback", 45)


def test_reorg_replacing_recent_blocks(store: Store) -> None:
    chain = _chain(100)
    marks = Checkpoints(store, b"t/")
    _record(store, marks, chain, list(range(90, 101)))
    replaced = {**chain, **{b: f"0xb{b:04d}" for b in range(97, 101)}}
    fork = marks.check(100, replaced.get)
    assert fork is not None
    assert (fork.fork_block, fork.kind, fork.depth) == (96, "reorg", 4)


def test_fork_below_every_checkpoint_is_unknown(store: Store) -> None:
    chain = _chain(100)
    marks = Checkpoints(store, b"t/")
    _record(store, marks, chain, [50, 60, 70])
    other = _chain(100, "c")  # another chain entirely (state lost, fresh genesis)
    fork = marks.check(100, other.get)
    assert fork is not None and fork.fork_block == -1 and fork.depth is None


def test_keep_bounds_the_checkpoints_and_drop_after_forgets(store: Store) -> None:
    chain = _chain(100)
    marks = Checkpoints(store, b"t/", keep=4)
    _record(store, marks, chain, list(range(1, 11)))
    assert [b for b, _ in marks.all()] == [7, 8, 9, 10]
    with store.write_batch() as wb:
        marks.drop_after(wb, 8)
    assert [b for b, _ in marks.all()] == [7, 8]
    assert marks.newest() == (8, chain[8])
