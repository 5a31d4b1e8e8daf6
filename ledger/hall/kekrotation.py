"""Rotation of the key-encryption key without downtime: a new KEK key, then everything re-wrapped in the background.

The node keeps serving throughout: :meth:`KekRotation.rotate` adds a new current key to the KEK (the older
keys stay in the file and in memory, so whatever they wrapped still opens), and the worker re-wraps, in
synced batches of 256, every data key of :mod:`ledger.hall.datakeys` still wrapped under an older key, then
re-seals the staff's TOTP secrets (:meth:`ledger.hall.accounts.AccountBook.seal_plain_secrets`). It is
resumable — each entry names the KEK key that wrapped it, so after a crash or restart the worker simply
finds what is left (it runs at every start)::

    rot = KekRotation(data_keys, accounts, cipher="sm4-gcm")
    rot.start()
    rot.rotate()              # "3f2a…": the new key id; re-wrapping starts at once
    rot.status().pending      # data keys still under an older key (0 when done)

Sessions and idempotent answers are sealed under day keys that are themselves data keys, so they are
re-wrapped with the rest. Backups are not touched (they hold no data key; their TOTP secrets stay sealed
under the key of their time, which is why the older keys stay in the KEK file).
"""

from __future__ import annotations

import logging

from pydantic import BaseModel

from ledger.hall.accounts import AccountBook
from ledger.hall.datakeys import DataKeys
from ledger.hall.kek import KekProvider
from ledger.hall.worker import BackgroundWorker

__all__ = ["KekRotation", "KekStatus", "rotate_offline"]

log = logging.getLogger("caseledger.kek")


class KekStatus(BaseModel):
    current_kid: str
    kids: list[str]
    cipher: str
    pending: int
    rewrapped_total: int
    last_error: str | None = None


class KekRotation(BackgroundWorker):
    thread_name = "kek-rewrap"

    def __init__(self, keys: DataKeys, accounts: AccountBook, *, cipher: str, interval: float = 60.0) -> None:
        super().__init__()
        self.keys = keys
        self.accounts = accounts
        self.cipher = cipher
        self.interval = interval
        self.last_error: str | None = None

    @property
    def kek(self) -> KekProvider:
        return self.keys.kek

    def rotate(self) -> str:
        """A new current KEK key (in the deployment's cipher); re-wrapping starts at once. Returns its id."""
        kid = self.kek.rotate(cipher=self.cipher)
        log.info("key-encryption key rotated: %s is current; re-wrapping the data keys", kid)
        self.wake()
        return kid

    def run_once(self) -> int:
        """One step: up to 256 data keys re-wrapped; when none are left, TOTP secrets re-sealed. How many changed."""
        n = self.keys.rewrap(limit=256)
        if n == 0:
            n = self.accounts.seal_plain_secrets()
        return n

    def status(self) -> KekStatus:
        return KekStatus(
            current_kid=self.kek.current_kid,
            kids=list(self.kek.kids),
            cipher=self.kek.cipher,
            pending=self.keys.pending_rewrap(),
            rewrapped_total=self.keys.rewrapped_total,
            last_error=self.last_error,
        )

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once() > 0
                self.last_error = None
            except Exception as exc:  # a full disk or a store error: the next round tries again
                log.exception("re-wrapping under the new key-encryption key failed")
                self.last_error = str(exc)
                busy = False
            if busy:
                if self._stop.wait(0.05):  # leave the disk to the counter between batches
                    break
                continue
            self._wake.wait(self.interval)
            self._wake.clear()


def rotate_offline(keys: DataKeys, accounts: AccountBook, *, cipher: str) -> tuple[str, int]:
    """With the node stopped: rotate and re-wrap everything now; returns (new key id, values re-wrapped)."""
    rot = KekRotation(keys, accounts, cipher=cipher)
    kid = rot.rotate()
    total = 0
    for _ in range(1_000_000):  # bounded: each round re-wraps up to 256 keys until none is left
        n = rot.run_once()
        if n == 0:
            break
        total += n
    return kid, total
