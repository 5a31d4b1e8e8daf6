"""Intakes through a real hall's HTTP API (the failover and multi-node tests); whether each was anchored exactly
once is checked against the chain by :mod:`tests.support.anchoring`."""

from __future__ import annotations

import time

from ledger.dev.demo import HallClient, demo_id_number

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
