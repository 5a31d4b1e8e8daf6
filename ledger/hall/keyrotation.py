"""Rotate a hall's key end to end (dev consortium, or any hall directory with a registry admin key).

    old, new = rotate_hall_key(hall_dir, admin)     # the hall's node must be stopped

1. a new key is created in an encrypted keystore (same password source) next to the old one;
2. the registry admin calls ``rotateHallKey``: from that block on the old key is refused on chain
   (``CaseLedgerInactiveHall``) and can never be registered again; the new key is funded (dev
   chains) and given the dispute-officer role the old one had;
3. only then the new keystore replaces ``keystore.json`` (the old one is kept, still encrypted, as
   ``keystore.<old address>.retired.json`` for the record) and ``hall.json`` names the new account.

The store, and with it the outbox, is untouched: entries not yet anchored are sent with the new
key once the node starts again. Events the old key anchored keep verifying, because verifiers read
the key's validity window from the registry's ``HallKeyRotated`` history.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_account.signers.local import LocalAccount

from ledger.chain.client import ChainClient
from ledger.errors import ConfigError
from ledger.hall.keystore import create_keystore, load_keystore

__all__ = ["rotate_hall_key"]

DEV_FUNDING_WEI = 1_000 * 10**18


def rotate_hall_key(
    hall_dir: Path, admin: ChainClient, *, password: str | None = None, fund_wei: int = DEV_FUNDING_WEI
) -> tuple[LocalAccount, LocalAccount]:
    """Rotate the key of the hall in ``hall_dir``; returns (old account, new account)."""
    ks = hall_dir / "keystore.json"
    pw = password if password is not None else (hall_dir / "keystore.password").read_text().strip()
    old = load_keystore(ks, pw)
    info = admin.hall_of(old.address)
    if info is None:
        raise ConfigError(f"the key {old.address} of {ks} is not a registered hall key")
    staged = hall_dir / "keystore.next.json"
    new = load_keystore(staged, pw) if staged.exists() else create_keystore(staged, pw)  # resume a failed run
    admin.rotate_hall_key(info.hall_id, new.address)
    if fund_wei:
        admin.fund(new.address, fund_wei)
    if admin.has_role("DISPUTE_OFFICER_ROLE", old.address):
        admin.grant_role("DISPUTE_OFFICER_ROLE", new.address)
    ks.replace(hall_dir / f"keystore.{old.address}.retired.json")
    staged.replace(ks)
    desc_file = hall_dir / "hall.json"
    if desc_file.exists():
        desc = json.loads(desc_file.read_text())
        desc["account"] = new.address
        desc.setdefault("retired_accounts", []).append(old.address)
        desc_file.write_text(json.dumps(desc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return old, new
