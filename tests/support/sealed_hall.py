"""A hall's store with encryption at rest and its case book, in this process (no chain): for the unit tests of
what LevelDB sees — the at-rest codec, files in sealed chunks, erasure, conversion."""

from __future__ import annotations

from pathlib import Path

from ledger.core.suites import Suite
from ledger.hall.atrest import AtRest, HallKeys, open_hall_keys
from ledger.hall.cases import CaseBook, HallIdentity
from ledger.hall.outbox import Outbox
from ledger.hall.store import Store

__all__ = ["SealedHall"]


class SealedHall:
    """Hall 7 (district 350502): its store (``root/store``), KEK and data keys, and a case book over them.
    ``init=False`` opens a store that is already there (as a node's restart does)."""

    def __init__(self, root: Path, suite: Suite, *, init: bool = True) -> None:
        self.root, self.suite = root, suite
        self.store = Store.init(root / "store", hall_id=7, suite=suite) if init else Store(root / "store", suite=suite)
        self.keys: HallKeys = open_hall_keys(
            self.store, kek_file=root / "kek.json", keys_dir=root / "datakeys", hall_id=7, suite=suite
        )
        self.codec: AtRest = self.keys.codec
        self.book = CaseBook(self.store, Outbox(self.store), hall=HallIdentity(hall_id=7, district=350502, suite=suite))

    def put(self, key: bytes, value: bytes) -> None:
        """A raw value written as LevelDB holds it (past the codec's callers: for tampering)."""
        with self.store.write_batch() as wb:
            wb.put(key, value)

    def delete(self, key: bytes) -> None:
        with self.store.write_batch() as wb:
            wb.delete(key)

    def close(self) -> None:
        self.store.close()
        self.keys.close()
