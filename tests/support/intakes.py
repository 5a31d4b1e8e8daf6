"""Intakes through a real hall's HTTP API, and the checks that each was anchored exactly once (the failover and
multi-node tests)."""

from __future__ import annotations

import time

from ledger.chain.client import ChainClient
from ledger.dev.demo import HallClient, demo_id_number
from ledger.hall.integrity import parse_serial

MATS = ["application_form", "id_card", "household_register", "housing_proof"]


def intake(a: HallClient, home: int, *, within: float = 3.0) -> str:
    """One cross-district intake (INTAKE + MATERIALS); the counter answers within ``within`` s, chain or not."""
    data = {"item_code": "HJ-MIGRATE", "home_district": str(home), "applicant_name": "林小梅",
            "applicant_id_number": demo_id_number("35058219851120004"), "applicant_phone": "13805950000"}  # fmt: skip
    files = [(f"materials.{k}", (f"{k}.pdf", f"%PDF- scan of {k}".encode())) for k in MATS]
    t0 = time.monotonic()
    serial = str(a.intake(data, files)["serial"])
    assert time.monotonic() - t0 < within  # the counter never waits for the chain
    return serial


def all_anchored(a: HallClient, serials: list[str]) -> bool:
    """Whether the hall shows both events of every case as anchored."""
    for s in serials:
        view = a.case(s)
        if not view or [e["anchor"]["state"] for e in view["timeline"]] != ["anchored", "anchored"]:
            return False
    return True


def hall_of(serial: str) -> int:
    """The accepting hall a hall-issued serial names (its case id is derived from it)."""
    named = parse_serial(serial)
    assert named is not None, serial
    return named[1]


def anchored_once(chain: ChainClient, a: HallClient, serials: list[str]) -> None:
    """On chain each case has exactly its two events, in the transactions and blocks the hall recorded."""
    for s in serials:
        events = chain.case_events(hall_of(s), s)
        assert [e.index for e in events] == [0, 1], s
        view = a.case(s)
        assert view is not None
        assert [e["anchor"]["tx"] for e in view["timeline"]] == [e.tx_hash for e in events], s
        assert [e["anchor"]["block"] for e in view["timeline"]] == [e.block_number for e in events], s
