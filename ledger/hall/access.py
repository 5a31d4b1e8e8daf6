"""Access trail (访问留痕): who saw or exported which case's personal data, and when.

Every view of a case with applicant fields, reveal of its masked details (with the reason), file
download, bundle export (with the fields disclosed and the reason), package served to a peer hall and
personal-data erasure appends one entry; so does every act of administration: backup, restore,
key-encryption key rotated, account created, disabled, enabled, second factor reset, roles changed, sign-in
lock and lock cleared (``serial`` is empty for those). Entries are an append-only list whose RFC 6962
Merkle root (leaves = SHA-256(0x00 ‖ JCS(entry))) is anchored on chain periodically, so an entry edited or
dropped afterwards no longer recomputes to an anchored root::

    trail = AccessTrail(store, hall_id=1)
    trail.record(actor="staff:li.officer", action="view_case", serial="TB20250101-001-00001")
    trail.anchor(writer)            # a zero-value transaction from the hall key to itself
    trail.verify(reader)            # raises VerificationError naming the first mismatch

**How an anchor is written** (no contract function is needed): the hall key sends a zero-value
transaction *to its own address* whose data field is::

    b"caseledger-access-trail/1" ‖ hall_id (uint32, big-endian) ‖ size (uint64) ‖ root (32 bytes)

The transaction is signed by the hall key and ordered and timestamped by the chain like any other;
anyone with chain access can list a hall's trail anchors by scanning for that prefix
(:meth:`AccessTrail.scan_anchors`), so deleting an anchor from the local store is also detected.

Store keys: ``atrail/<seq:012d>`` (entries), ``atrail-anchor/<size:012d>`` (anchors).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
from eth_utils.address import to_checksum_address
from pydantic import BaseModel, ConfigDict
from web3.exceptions import Web3Exception

from ledger.chain.client import ChainClient
from ledger.core.merkle import leaf_hash, merkle_root
from ledger.core.records import canonical_bytes
from ledger.errors import ChainError, InputError, VerificationError
from ledger.hall.keys import TRAIL_ANCHOR_PREFIX, TRAIL_PREFIX, trail_anchor_key, trail_key
from ledger.hall.store import Store

__all__ = ["ACTIONS", "ANCHOR_PREFIX", "AccessTrail", "TrailAnchor", "anchor_data", "parse_anchor_data"]

ANCHOR_PREFIX = b"caseledger-access-trail/1"
ACTIONS = frozenset(
    {
        # case data: views and exports of personal data
        "view_case",
        "reveal_personal",
        "download_file",
        "export_bundle",
        "peer_package",
        "erase_personal_data",
        # administration (三员分立: every act of the system and security administrators is here for the auditor)
        "backup_store",
        "restore_backup",
        "rotate_kek",
        "create_account",
        "disable_account",
        "enable_account",
        "reset_totp",
        "set_roles",
        "login_locked",
        "clear_lockout",
        "change_password",
    }
)
_ANCHOR_GAS = 40_000


def anchor_data(hall_id: int, size: int, root: bytes) -> bytes:
    return ANCHOR_PREFIX + hall_id.to_bytes(4, "big") + size.to_bytes(8, "big") + root


def parse_anchor_data(data: bytes) -> tuple[int, int, bytes] | None:
    """(hall id, size, root) of a trail anchor's transaction data, or None if it is not one."""
    n = len(ANCHOR_PREFIX)
    if len(data) != n + 44 or not data.startswith(ANCHOR_PREFIX):
        return None
    return int.from_bytes(data[n : n + 4], "big"), int.from_bytes(data[n + 4 : n + 12], "big"), data[n + 12 :]


class TrailAnchor(BaseModel):
    """One anchor of the trail: its first ``size`` entries' root, in transaction ``tx`` from ``account``."""

    model_config = ConfigDict(frozen=True)

    size: int
    root: str
    tx: str
    block: int
    account: str
    at: str


class AccessTrail:
    """The access trail of one hall, in its LevelDB store. Thread-safety: call under one lock per node."""

    def __init__(self, store: Store, *, hall_id: int, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.hall_id = hall_id
        self.clock = clock

    # ------------------------------------------------------------------ entries
    def size(self) -> int:
        return self.store.count_prefix(TRAIL_PREFIX)

    def record(self, *, actor: str, action: str, serial: str, what: str = "") -> dict[str, Any]:
        """Append one entry (synced to disk before returning)."""
        if action not in ACTIONS:
            raise InputError("action", "access_action_unknown", action=action)
        seq = self.size()
        entry = {
            "seq": seq,
            "at": datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="seconds"),
            "hall_id": self.hall_id,
            "actor": actor,
            "action": action,
            "serial": serial,
            "what": what,
        }
        self.store.put_json(trail_key(seq), entry)
        return entry

    def entries(self, *, serial: str | None = None, start: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        out = []
        for _, e in self.store.iter_json(TRAIL_PREFIX):
            if e["seq"] < start or (serial is not None and e["serial"] != serial):
                continue
            out.append(e)
            if limit is not None and len(out) >= limit:
                break
        return out

    @staticmethod
    def leaf(entry: dict[str, Any]) -> bytes:
        return leaf_hash(canonical_bytes(entry))

    def root(self, size: int | None = None) -> bytes:
        leaves = [self.leaf(e) for _, e in self.store.iter_json(TRAIL_PREFIX)]
        return merkle_root(leaves[: len(leaves) if size is None else size])

    # ------------------------------------------------------------------ anchors
    def anchors(self) -> list[TrailAnchor]:
        return [TrailAnchor(**v) for _, v in self.store.iter_json(TRAIL_ANCHOR_PREFIX)]

    def anchor(self, writer: ChainClient) -> TrailAnchor | None:
        """Anchor the current root (None when nothing was added since the last anchor)."""
        size = self.size()
        done = self.anchors()
        if size == 0 or (done and done[-1].size == size):
            return None
        root = self.root(size)
        data = anchor_data(self.hall_id, size, root)
        tx = writer.send_raw(to=writer.address, data="0x" + data.hex(), gas=_ANCHOR_GAS)
        rec = writer.wait(tx)
        a = TrailAnchor(
            size=size,
            root=root.hex(),
            tx=tx,
            block=rec.block_number,
            account=writer.address,
            at=datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="seconds"),
        )
        self.store.put_json(trail_anchor_key(size), a.model_dump())
        return a

    def scan_anchors(self, reader: ChainClient, from_block: int, to_block: int) -> list[tuple[int, int, bytes, str]]:
        """(block, size, root, sender) of every trail anchor of this hall on chain in the block range."""
        w3 = reader.w3
        found = []
        for n in range(from_block, to_block + 1):
            block = w3.eth.get_block(n, full_transactions=True)
            for raw in block["transactions"]:
                if isinstance(raw, bytes):
                    continue
                tx: Any = dict(raw)
                parsed = parse_anchor_data(bytes(tx.get("input", b"")))
                if parsed is None or parsed[0] != self.hall_id or tx.get("to") != tx.get("from"):
                    continue
                found.append((n, parsed[1], parsed[2], str(tx["from"])))
        return found

    def verify(self, reader: ChainClient) -> list[TrailAnchor]:
        """Recompute every anchored root from the entries and check each anchor transaction on chain.

        Raises :class:`VerificationError` at the first entry set or anchor that does not match.
        """
        leaves = [self.leaf(e) for _, e in self.store.iter_json(TRAIL_PREFIX)]
        anchors = self.anchors()
        for a in anchors:
            where = f"access-trail anchor of size {a.size} (tx {a.tx})"
            if a.size > len(leaves):
                raise VerificationError(
                    f"{where}: the trail holds only {len(leaves)} entries",
                    where=where,
                    expected=a.size,
                    found=len(leaves),
                )
            got = merkle_root(leaves[: a.size])
            if got.hex() != a.root:
                raise VerificationError(
                    f"{where}: the trail's entries no longer recompute to the anchored root "
                    "(an entry was edited, removed or reordered)",
                    where=where,
                    expected=a.root,
                    found=got.hex(),
                )
            try:
                got_tx: Any = dict(reader.w3.eth.get_transaction(a.tx))  # type: ignore[arg-type]
            except (Web3Exception, requests.RequestException, OSError) as exc:
                raise ChainError(f"{where}: transaction not found on chain") from exc
            tx = got_tx
            data = bytes(tx.get("input", b""))
            sender = to_checksum_address(str(tx["from"]))
            if parse_anchor_data(data) != (self.hall_id, a.size, bytes.fromhex(a.root)):
                raise VerificationError(
                    f"{where}: the transaction on chain carries another root",
                    where=where,
                    expected=a.root,
                    found=data.hex(),
                )
            if sender != to_checksum_address(a.account) or tx.get("to") != tx.get("from"):
                raise VerificationError(
                    f"{where}: not sent by the hall key to itself", where=where, expected=a.account, found=sender
                )
            info = reader.hall_of(sender)
            if info is not None and info.hall_id != self.hall_id:
                raise VerificationError(
                    f"{where}: sent by hall {info.hall_id}'s key",
                    where=where,
                    expected=self.hall_id,
                    found=info.hall_id,
                )
            if tx.get("blockNumber") is None:
                raise VerificationError(f"{where}: not mined", where=where)
        return anchors
