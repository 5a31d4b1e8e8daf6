"""Write the fixed test vectors under tests/vectors/ (deterministic: salts and keys are fixed).

    python scripts/make_vectors.py          # rewrite
    python scripts/make_vectors.py --check  # exit 1 if the files on disk differ

* ``hashchain/full_lifecycle.json`` and ``merkle/*.json`` are read by the Python tests and the contract
  tests (tests/contracts/*.js), so both sides prove they compute the same hash chain and trees;
* ``bundles/*.json`` are the conformance vectors of docs/verification.md §11: a bundle, the chain facts
  it is checked against and the verdict and reason codes a verifier must produce. Each ``want`` is
  stated here by hand; writing the files also checks that ``ledger.verify`` produces exactly it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ledger.core.batches import EventLeaf
from ledger.core.bundle import EvidenceBundle
from ledger.core.chainlog import ROLE_IDS
from ledger.core.facts import ChainFacts, RegistryFact
from ledger.core.hashchain import case_id, chain_heads, next_head
from ledger.core.merkle import inclusion_proof, leaf_hash, merkle_root
from ledger.core.records import SaltedRecord, field_leaf
from ledger.core.stages import Stage
from ledger.core.suites import GM, INTL, Suite
from ledger.dev.scenario import (
    ACCOUNTS,
    MerkleBuild,
    Scenario,
    Step,
    _iso,
    add_batch,
    block_time,
    build_merkle,
    chain_registry,
    merkle_standard,
    standard_registry,
    vector_answer,
)
from ledger.verify.checks import DEFAULT_MAX_ANCHOR_LAG_S, MAX_OPEN_DISPUTES, TIME_TOLERANCE_S

ROOT = Path(__file__).resolve().parent.parent / "tests" / "vectors"

# Default accounts of Hardhat's and anvil's test mnemonic ("test test ... junk"), indexes 1-3.
HALL_A = ACCOUNTS["hall_a"]
HALL_B = ACCOUNTS["hall_b"]
OFFICER = ACCOUNTS["officer"]


def _salt(*parts: str) -> str:
    return hashlib.sha256("|".join(("caseledger-vector", *parts)).encode()).hexdigest()


def hashchain_vectors() -> dict[str, Any]:
    serial = "TB-350502-01-20261123-000001"
    plan: list[tuple[Stage, str, dict[str, Any]]] = [
        (
            Stage.INTAKE,
            HALL_A,
            {"item_code": "FW-001", "applicant_name": "张三", "applicant_id_number": "350502199001011234"},
        ),
        (Stage.MATERIALS, HALL_A, {"materials_root": "00" * 32, "materials_count": 2}),
        (Stage.ACCEPTANCE, HALL_B, {"decision": "accepted"}),
        (Stage.PROCESS, HALL_B, {"step": "review", "note": "材料齐全"}),
        (Stage.RESULT, HALL_B, {"decision": "approved"}),
        (Stage.DELIVERY, HALL_A, {"method": "counter"}),
        (Stage.DISPUTE_OPENED, OFFICER, {"reason": "applicant disputes delivery date"}),
        (Stage.DISPUTE_RESOLVED, OFFICER, {"verdict": "all events match"}),
    ]
    opened = 6  # the index of DISPUTE_OPENED, which DISPUTE_RESOLVED names (its ref)
    records: list[tuple[SaltedRecord, Stage, str, int]] = []
    intake = None
    for i, (st, w, f) in enumerate(plan):
        names = [*f, "case_serial", "stage", "at", "intake_commitment", "resolves"]
        ref = opened if st == Stage.DISPUTE_RESOLVED else 0
        rec = SaltedRecord.new(
            serial,
            st,
            f,
            at=f"2026-11-23T10:{i:02d}:00+08:00",
            intake_commitment=intake,
            resolves=ref or None,
            salts={n: _salt(serial, st.name, n) for n in names},
        )
        if st == Stage.INTAKE:
            intake = "0x" + rec.commitment.hex()
        records.append((rec, st, w, ref))
    heads = chain_heads(1, serial, [(st, r.commitment, w) for r, st, w, _ in records])
    return {
        "desc": "one case of hall 1 through every stage; heads as CaseLedger.computeHead computes them",
        "serial": serial,
        "case_id": "0x" + case_id(1, serial).hex(),
        "halls": {
            "accepting": {"hall_id": 1, "account": HALL_A, "district": 350502},
            "home": {"hall_id": 2, "account": HALL_B, "district": 350503},
        },
        "dispute_officer": OFFICER,
        "events": [
            {
                "stage": st.name,
                "stage_code": int(st),
                "writer": w,
                "ref": ref,
                "commitment": "0x" + r.commitment.hex(),
                "head": "0x" + h.hex(),
                "record": {"fields": r.fields, "salts": r.salts},
            }
            for (r, st, w, ref), h in zip(records, heads, strict=True)
        ],
    }


def merkle_vectors() -> list[tuple[str, dict[str, Any]]]:
    # RFC 6962 leaf inputs used by Certificate Transparency's reference tests, in both suites.
    inputs = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
    out: list[tuple[str, dict[str, Any]]] = []
    for suite in (INTL, GM):
        hashes = [leaf_hash(bytes.fromhex(x), suite) for x in inputs]
        prefix = "rfc6962" if suite is INTL else "gm"
        for n in range(1, len(inputs) + 1):
            out.append(
                (
                    f"{prefix}_size_{n}",
                    {
                        "desc": f"RFC 6962 reference tree of {n} leaves, suite {suite.name} ({suite.hash_name})",
                        "suite": suite.name,
                        "leaves": inputs[:n],
                        "root": merkle_root(hashes[:n], suite).hex(),
                        "proofs": [[p.hex() for p in inclusion_proof(hashes[:n], i, suite)] for i in range(n)],
                    },
                )
            )
    return out


# ------------------------------------------------------------------------------------------ bundles
# Conformance vectors for a verifier written from docs/verification.md: a bundle (or the raw text of a
# malformed one), the chain facts it is checked against, and what a verifier must answer. Each ``want``
# is stated here by hand (what the tamper must produce); main() also checks that ledger.verify agrees.

LAG = DEFAULT_MAX_ANCHOR_LAG_S


def _dump(bundle: EvidenceBundle) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(bundle.dump())
    return out


def _facts(facts: ChainFacts) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(facts.model_dump_json())
    return out


def _vector(
    desc: str,
    scenario: Scenario,
    want: dict[str, Any],
    *,
    bundle: Callable[[dict[str, Any]], Any] | None = None,
    chain: Callable[[dict[str, Any]], Any] | None = None,
    text: Callable[[dict[str, Any]], str] | None = None,
    max_lag: int = LAG,
) -> dict[str, Any]:
    b, f = scenario.build()
    bj, fj = _dump(b), _facts(f)
    if bundle is not None:
        bundle(bj)
    if chain is not None:
        chain(fj)
    v: dict[str, Any] = {"desc": desc, "suite": scenario.suite.name, "max_anchor_lag_s": max_lag, "chain": fj}
    if text is not None:
        v["bundle_text"] = text(bj)
    else:
        v["bundle"] = bj
    v["want"] = {"verdict": "match", "events": {}, "findings": {}, "bundle": [], "materials": {}, **want}
    return v


def _std(suite: Suite = INTL) -> Scenario:
    return Scenario.standard(suite=suite)


def _rec(b: dict[str, Any], i: int) -> dict[str, Any]:
    rec: dict[str, Any] = b["events"][i]["record"]
    return rec


def _flip(hex64: str) -> str:
    return hex64[:-1] + ("0" if hex64[-1] != "0" else "1")


def _registry_plus(*extra: tuple[int, dict[str, Any]]) -> list[RegistryFact]:
    base = [(f.block, {k: v for k, v in f.model_dump().items() if k not in ("block", "prev_change_block")})
            for f in standard_registry()]  # fmt: skip
    return chain_registry([*base, *extra])


def _rotated_b(opener_is_hall: bool = False) -> Scenario:
    """Hall 2 rotates its key at block 17 (after its PROCESS at 15): RESULT at 18 comes from the new key."""
    extra: list[tuple[int, dict[str, Any]]] = []
    if opener_is_hall:
        extra.append(
            (7, {"kind": "role_granted", "role": ROLE_IDS["DISPUTE_OFFICER_ROLE"], "account": ACCOUNTS["hall_b"]})
        )
        extra.append(
            (17, {"kind": "role_revoked", "role": ROLE_IDS["DISPUTE_OFFICER_ROLE"], "account": ACCOUNTS["hall_b"]})
        )
        extra.append(
            (17, {"kind": "role_granted", "role": ROLE_IDS["DISPUTE_OFFICER_ROLE"], "account": ACCOUNTS["hall_b2"]})
        )
    extra.append(
        (17, {"kind": "rotated", "hall_id": 2, "account": ACCOUNTS["hall_b"], "new_account": ACCOUNTS["hall_b2"]})
    )
    s = replace(_std(), registry_log=_registry_plus(*extra))
    return s.replace_step(5, writer="hall_b2")


def bundle_vectors() -> dict[str, dict[str, Any]]:
    v: dict[str, dict[str, Any]] = {}
    std = _std()
    n = len(std.steps)

    # ---------------------------------------------------------------- happy paths
    v["happy_intl"] = _vector("one case through every stage, a dispute opened and closed by its opener", std, {})
    v["happy_gm"] = _vector("the same case in the gm suite (SM3 leaves, nodes and file digests)", _std(GM), {})
    v["happy_bundle_events_in_any_order"] = _vector(
        "the order of events in the file does not matter", std, {}, bundle=lambda b: b["events"].reverse()
    )
    v["happy_rotated_key_inside_its_window"] = _vector(
        "hall 2 rotates its key; events of the old key before the rotation and of the new one after verify",
        _rotated_b(),
        {},
    )
    v["happy_dispute_resolved_by_arbiter"] = _vector(
        "an account holding DISPUTE_ARBITER_ROLE may close anyone's dispute", std.replace_step(6, writer="arbiter"), {}
    )
    hall_opens = _rotated_b(opener_is_hall=True).replace_step(4, writer="hall_b").replace_step(6, writer="hall_b2")
    v["happy_dispute_resolved_by_rotated_opener_hall"] = _vector(
        "hall 2 opened the dispute with its old key; its current key closes it", hall_opens, {}
    )
    v["happy_claimed_time_within_clock_tolerance"] = _vector(
        "a claimed time up to 120 s after its block is clock skew, not a mismatch",
        std.replace_step(2, at=_iso(block_time(14) + 100)),
        {},
    )

    # ---------------------------------------------------------------- issue 11, hole 1: serial squatting
    v["serial_squatting_intake_by_another_hall"] = _vector(
        "hall 3 wrote the INTAKE of a case whose id binds hall 1: not the accepting hall",
        std.replace_step(0, writer="hall_c"),
        {"verdict": "mismatch", "events": {"0": ["writer_no_right"]}},
    )
    squat = replace(std, accepting_hall=3).replace_step(0, writer="hall_c").replace_step(1, writer="hall_c")
    squat = squat.replace_step(7, writer="hall_c")

    def squat_chain(f: dict[str, Any]) -> None:  # the chain has no case (1, serial): hall 3's is another case
        f.update(accepting_hall=1, events=[], case_id="0x" + case_id(1, std.serial).hex())
        f["header"] = {"head": "0x" + "00" * 32, "event_count": 0, "phase": 0, "home_district": 0,
                       "accepting_hall": 0, "item_code": "", "last_block": 0}  # fmt: skip

    v["serial_squatting_bundle_claims_other_halls_case"] = _vector(
        "a bundle of hall 3's case on hall 1's serial, claiming to be hall 1's case: the chain knows no such case",
        squat,
        {
            "verdict": "incomplete",
            "bundle": ["case_unknown"],
            "events": {str(i): ["missing_on_chain"] for i in range(n)},
            "materials": {"1": ["material_event_invalid"] * 3, "5": ["material_event_invalid"]},
        },
        bundle=lambda b: b.update(accepting_hall=1),
        chain=squat_chain,
    )

    # ---------------------------------------------------------------- issue 11, hole 2: disputes
    v["dispute_resolved_by_non_opener_officer"] = _vector(
        "another dispute officer closes the dispute: neither its opener nor an arbiter",
        std.replace_step(6, writer="officer2"),
        {"verdict": "mismatch", "events": {"6": ["dispute_not_opener"]}},
    )
    other_hall = replace(
        std,
        registry_log=_registry_plus(
            (7, {"kind": "role_granted", "role": ROLE_IDS["DISPUTE_OFFICER_ROLE"], "account": ACCOUNTS["hall_b"]}),
            (7, {"kind": "role_granted", "role": ROLE_IDS["DISPUTE_OFFICER_ROLE"], "account": ACCOUNTS["hall_c"]}),
        ),
    )
    v["dispute_resolved_by_non_opener_hall"] = _vector(
        "hall 2 opened the dispute, hall 3 (also a dispute officer) closes it",
        other_hall.replace_step(4, writer="hall_b").replace_step(6, writer="hall_c"),
        {"verdict": "mismatch", "events": {"6": ["dispute_not_opener"]}},
    )
    v["dispute_resolved_names_no_dispute"] = _vector(
        "the resolution's ref names the PROCESS event 3, not a dispute",
        std.replace_step(6, ref=3),
        {"verdict": "mismatch", "events": {"6": ["dispute_ref_invalid"]}},
    )
    twice = std.with_steps([*std.steps, Step(Stage.DISPUTE_RESOLVED, "officer", {"verdict": "match"}, block=21, ref=4)])
    v["dispute_resolved_twice"] = _vector(
        "a second resolution of dispute 4: it is no longer open",
        twice,
        {"verdict": "mismatch", "events": {"8": ["dispute_ref_invalid"]}},
    )
    v["dispute_resolution_record_names_another_dispute"] = _vector(
        "the record says it resolves event 2 while the chain's ref is 4",
        std.replace_step(6, resolves=2),
        {"verdict": "mismatch", "events": {"6": ["resolves_mismatch"]}},
    )

    # ---------------------------------------------------------------- issue 11, hole 3: claimed time
    v["backdated_acceptance_is_reported_anchored_late"] = _vector(
        "an ACCEPTANCE dated 2020 anchored in 2026: a finding, the act is only proven no later than its block",
        std.replace_step(2, at="2020-01-02T09:00:00+08:00"),
        {"findings": {"2": ["anchored_late"]}},
    )
    v["backdated_acceptance_under_a_tighter_bound"] = _vector(
        "five hours of lag: no finding under the default 6 h bound, a finding under a 1 h bound",
        std.replace_step(2, at=_iso(block_time(14) - 5 * 3600)),
        {"findings": {"2": ["anchored_late"]}},
        max_lag=3600,
    )
    v["backdated_acceptance_within_the_default_bound"] = _vector(
        "five hours of lag is within the default bound of 6 h",
        std.replace_step(2, at=_iso(block_time(14) - 5 * 3600)),
        {},
    )
    v["claimed_time_after_its_block"] = _vector(
        "a record claiming a time one hour after the block that anchors it",
        std.replace_step(2, at=_iso(block_time(14) + 3600)),
        {"verdict": "mismatch", "events": {"2": ["time_after_anchor"]}},
    )
    v["claimed_time_missing"] = _vector(
        "a record without `at`",
        replace(std, omit_at=frozenset({3})),
        {"verdict": "mismatch", "events": {"3": ["claimed_time_missing"]}},
    )
    v["claimed_time_not_rfc3339"] = _vector(
        "a record whose `at` has no offset",
        replace(std, raw_fields={3: {"at": "2026-12-01 08:00:00"}}),
        {"verdict": "mismatch", "events": {"3": ["claimed_time_missing"]}},
    )

    # ---------------------------------------------------------------- issue 11 / 13: records of another case
    v["intake_commitment_of_another_case"] = _vector(
        "MATERIALS of another applicant's case anchored into this one: bound to another intake",
        std.replace_step(1, intake_commitment="0x" + "ab" * 32),
        # its files are not proven either: only a record that matched can prove a file
        {
            "verdict": "mismatch",
            "events": {"1": ["intake_commitment_mismatch"]},
            "materials": {"1": ["material_event_invalid"] * 3},
        },
    )

    # ---------------------------------------------------------------- issue 11, hole 4: coordinates
    v["bundle_wrong_chain_id_is_unusable"] = _vector(
        "the bundle names another chain",
        std,
        {"verdict": "unusable", "unusable_field": "chain_id"},
        bundle=lambda b: b.update(chain_id=1),
    )
    v["bundle_wrong_ledger_is_unusable"] = _vector(
        "the bundle names another ledger contract",
        std,
        {"verdict": "unusable", "unusable_field": "ledger"},
        bundle=lambda b: b.update(ledger="0x" + "12" * 20),
    )
    v["bundle_wrong_registry_is_unusable"] = _vector(
        "the bundle names another registry",
        std,
        {"verdict": "unusable", "unusable_field": "registry"},
        bundle=lambda b: b.update(registry="0x" + "34" * 20),
    )
    v["bundle_wrong_suite_is_unusable"] = _vector(
        "the bundle says intl, the ledger's suite is gm",
        _std(GM),
        {"verdict": "unusable", "unusable_field": "suite"},
        bundle=lambda b: b.update(suite="intl"),
    )

    # ---------------------------------------------------------------- issue 11, hole 5: material proofs
    def tree4(b: dict[str, Any]) -> None:
        b["materials"][0]["proof"]["tree_size"] = 4

    v["material_proof_tree_size_other_than_committed"] = _vector(
        "a proof claiming a tree of 4 files where the MATERIALS record commits to 3",
        std,
        {"verdict": "mismatch", "materials": {"1": ["material_tree_size_mismatch", "", ""]}},
        bundle=tree4,
    )

    def content(b: dict[str, Any]) -> None:
        b["materials"][1]["content_b64"] = base64.b64encode(b"%PDF-1.4 another form\n").decode()

    v["material_content_tampered"] = _vector(
        "the file's bytes are not the committed ones",
        std,
        {"verdict": "mismatch", "materials": {"1": ["", "material_content_mismatch", ""]}},
        bundle=content,
    )
    v["material_content_tampered_gm"] = _vector(
        "the same in the gm suite (SM3 digest)",
        _std(GM),
        {"verdict": "mismatch", "materials": {"1": ["", "material_content_mismatch", ""]}},
        bundle=content,
    )

    def path(b: dict[str, Any]) -> None:
        p = b["materials"][2]["proof"]["path"]
        p[0] = _flip(p[0])

    v["material_proof_path_flipped"] = _vector(
        "one bit of an audit-path node flipped",
        std,
        {"verdict": "mismatch", "materials": {"1": ["", "", "material_mismatch"]}},
        bundle=path,
    )

    def wrong_event(b: dict[str, Any]) -> None:
        b["materials"][3]["event_index"] = 2

    v["material_of_an_event_that_commits_no_files"] = _vector(
        "a file proof pointing at the ACCEPTANCE event",
        std,
        {"verdict": "mismatch", "materials": {"2": ["material_event_invalid"]}},
        bundle=wrong_event,
    )

    # ---------------------------------------------------------------- tampering
    def field(b: dict[str, Any]) -> None:
        _rec(b, 2)["fields"]["decision"] = "rejected"

    v["record_field_changed"] = _vector(
        "ACCEPTANCE's decision changed",
        std,
        {"verdict": "mismatch", "events": {"2": ["record_mismatch"]}},
        bundle=field,
    )
    v["record_field_changed_gm"] = _vector(
        "the same in the gm suite",
        _std(GM),
        {"verdict": "mismatch", "events": {"2": ["record_mismatch"]}},
        bundle=field,
    )

    def salt(b: dict[str, Any]) -> None:
        s = _rec(b, 3)["salts"]
        s["note"] = _flip(s["note"])

    v["record_salt_bit_flipped"] = _vector(
        "one bit of a salt", std, {"verdict": "mismatch", "events": {"3": ["record_mismatch"]}}, bundle=salt
    )

    def leaf(b: dict[str, Any]) -> None:
        w = _rec(b, 0)["withheld"]
        w["applicant_phone"] = _flip(w["applicant_phone"])

    v["record_withheld_leaf_wrong"] = _vector(
        "a withheld field's leaf hash altered",
        std,
        {"verdict": "mismatch", "events": {"0": ["record_mismatch"]}},
        bundle=leaf,
    )

    def serial(b: dict[str, Any]) -> None:
        _rec(b, 7)["fields"]["case_serial"] = "TB20261201-001-00002"

    v["record_of_another_serial"] = _vector(
        "a record naming another case (and so not recomputing either)",
        std,
        {"verdict": "mismatch", "events": {"7": ["record_mismatch", "serial_mismatch"]}},
        bundle=serial,
    )
    coords = {
        "commitment": ("commitment_mismatch", lambda e: e.update(commitment="0x" + _flip(e["commitment"][2:]))),
        "head": ("head_mismatch", lambda e: e.update(head="0x" + _flip(e["head"][2:]))),
        "writer": ("writer_mismatch", lambda e: e.update(writer=ACCOUNTS["hall_c"])),
        "hall_id": ("hall_mismatch", lambda e: e.update(hall_id=3)),
        "block": ("block_mismatch", lambda e: e.update(block=e["block"] + 1)),
        "time": ("time_mismatch", lambda e: e.update(time=e["time"] - 86400)),
        "tx": ("tx_mismatch", lambda e: e.update(tx="0x" + _flip(e["tx"][2:]))),
        "ref": ("ref_mismatch", lambda e: e.update(ref=2)),
    }
    for name, (code, fn) in coords.items():
        idx = 6 if name == "ref" else 3
        v[f"bundle_event_{name}_differs_from_chain"] = _vector(
            f"the bundle's {name} of event {idx} differs from the log",
            std,
            {"verdict": "mismatch", "events": {str(idx): [code]}},
            bundle=lambda b, fn=fn, idx=idx: fn(b["events"][idx]),  # type: ignore[misc]
        )

    def stage(b: dict[str, Any]) -> None:
        b["events"][3]["stage"] = "RESULT"

    v["bundle_event_stage_differs_from_chain"] = _vector(
        "the bundle calls PROCESS a RESULT",
        std,
        {"verdict": "mismatch", "events": {"3": ["stage_mismatch"]}},
        bundle=stage,
    )
    v["event_dropped_from_bundle"] = _vector(
        "the bundle leaves out the DISPUTE_OPENED event",
        std,
        {"verdict": "mismatch", "events": {"4": ["missing_from_bundle"]}},
        bundle=lambda b: b["events"].pop(4),
    )

    def extra(b: dict[str, Any]) -> None:
        e = dict(b["events"][7])
        e.update(index=8)
        b["events"].append(e)

    v["event_in_bundle_not_on_chain"] = _vector(
        "the bundle adds an event the chain does not have",
        std,
        {"verdict": "mismatch", "events": {"8": ["missing_on_chain"]}},
        bundle=extra,
    )

    def drop_on_chain(f: dict[str, Any]) -> None:
        f["events"].pop(3)

    v["event_dropped_from_chain_facts"] = _vector(
        "the chain (as read) lacks event 3: the next head does not recompute",
        std,
        {
            "verdict": "mismatch",
            "events": {"3": ["missing_on_chain"], "4": ["chain_head_broken", "chain_link_broken"]},
            "bundle": ["chain_read_incomplete"],
        },
        chain=drop_on_chain,
    )

    def forged_head(f: dict[str, Any]) -> None:
        f["events"][3]["head"] = "0x" + "99" * 32

    def forged_head_bundle(b: dict[str, Any]) -> None:
        b["events"][3]["head"] = "0x" + "99" * 32

    v["chain_head_forged"] = _vector(
        "a head that does not follow from the previous one",
        std,
        {"verdict": "mismatch", "events": {"3": ["chain_head_broken"], "4": ["chain_head_broken"]}},
        chain=forged_head,
        bundle=forged_head_bundle,
    )
    reordered = std.with_steps(
        [
            *std.steps[:5],
            replace(std.steps[7], block=18),
            replace(std.steps[6], block=19),
            replace(std.steps[5], block=20),
        ]
    )
    v["stages_out_of_lifecycle_order"] = _vector(
        "DELIVERY before RESULT", reordered, {"verdict": "mismatch", "events": {"5": ["out_of_order"]}}
    )
    suspended = replace(
        std,
        registry_log=_registry_plus(
            (13, {"kind": "suspended", "hall_id": 2, "account": ACCOUNTS["hall_b"]}),
            (14, {"kind": "reactivated", "hall_id": 2, "account": ACCOUNTS["hall_b"], "log_index": 1}),
        ),
    )
    v["writer_suspended_at_that_block"] = _vector(
        "hall 2 was suspended when it wrote ACCEPTANCE (reactivated right after)",
        suspended,
        {"verdict": "mismatch", "events": {"2": ["writer_inactive"]}},
    )
    v["writer_of_another_district"] = _vector(
        "ACCEPTANCE by hall 3, which is not of the home district",
        std.replace_step(2, writer="hall_c"),
        {"verdict": "mismatch", "events": {"2": ["writer_no_right"]}},
    )

    # ---------------------------------------------------------------- issue 13.4: incomplete
    v["empty_bundle_is_incomplete"] = _vector(
        "a bundle with no events",
        std,
        {
            "verdict": "incomplete",
            "bundle": ["bundle_empty"],
            "events": {str(i): ["missing_from_bundle"] for i in range(n)},
        },
        bundle=lambda b: b.update(events=[], materials=[]),
    )
    v["records_not_anchored_is_incomplete"] = _vector(
        "the exporting hall holds records that are not anchored yet",
        std,
        {"verdict": "incomplete", "bundle": ["records_not_anchored"]},
        bundle=lambda b: b.update(pending_records=2),
    )

    # ---------------------------------------------------------------- issue 11, hole 6: malformed input
    def unusable(field_: str) -> dict[str, Any]:
        return {"verdict": "unusable", "unusable_field": field_}

    malformed: dict[str, tuple[str, str, Callable[[dict[str, Any]], Any]]] = {
        "integer_as_string": (
            "a block number written as a string",
            "events.0.block",
            lambda b: b["events"][0].update(block=str(b["events"][0]["block"])),
        ),
        "boolean_as_integer": ("hall_id true", "events.0.hall_id", lambda b: b["events"][0].update(hall_id=True)),
        "negative_block": ("a negative block", "events.0.block", lambda b: b["events"][0].update(block=-1)),
        "bad_base64": (
            "content_b64 that is not base64",
            "materials.0.content_b64",
            lambda b: b["materials"][0].update(content_b64="%%%not base64"),
        ),
        "nested_record_value": (
            "a record value that is an object",
            "events.2.record.fields.decision",
            lambda b: _rec(b, 2)["fields"].update(decision={"a": 1}),
        ),
        "list_record_value": (
            "a record value that is an array",
            "events.2.record.fields.decision",
            lambda b: _rec(b, 2)["fields"].update(decision=["accepted"]),
        ),
        "float_record_value": (
            "a record value that is a float",
            "events.2.record.fields.decision",
            lambda b: _rec(b, 2)["fields"].update(decision=1.5),
        ),
        "integer_out_of_range": (
            "an integer beyond 2^53-1",
            "events.0.record.fields.time_limit_working_days",
            lambda b: _rec(b, 0)["fields"].update(time_limit_working_days=2**60),
        ),
        "field_name_uppercase": (
            "a field name outside ^[a-z][a-z0-9_]{0,63}$",
            "events.2.record.fields.Decision",
            lambda b: _rec(b, 2)["fields"].update(Decision="x"),
        ),
        "salt_uppercase_hex": (
            "a salt in uppercase hex",
            "events.2.record.salts.decision",
            lambda b: _rec(b, 2)["salts"].update(decision=_rec(b, 2)["salts"]["decision"].upper()),
        ),
        "commitment_without_0x": (
            "a commitment without 0x",
            "events.0.commitment",
            lambda b: b["events"][0].update(commitment=b["events"][0]["commitment"][2:]),
        ),
        "unknown_property": ("a property the format does not have", "extra", lambda b: b.update(extra=1)),
        "duplicate_event_index": (
            "two events with index 1: the field is the array position of the second (2), not the index value (1)",
            "events.2",
            lambda b: b["events"][2].update(index=1),
        ),
        "format_1": (
            "a format-1 bundle (check it with CaseLedger 0.1.x)",
            "format",
            lambda b: b.update(format="caseledger-evidence/1"),
        ),
    }
    for name, (desc, where, fn) in malformed.items():
        v[f"malformed_{name}"] = _vector(desc, std, unusable(where), bundle=fn)
    v["malformed_deeply_nested"] = _vector(
        "100,000 nested arrays: refused before parsing", std, unusable("bundle"), text=lambda b: "[" * 100_000
    )
    v["malformed_trailing_garbage"] = _vector(
        "a valid bundle followed by garbage",
        std,
        unusable("bundle"),
        text=lambda b: json.dumps(b, ensure_ascii=False) + " }garbage",
    )
    v["malformed_not_json"] = _vector("not JSON at all", std, unusable("bundle"), text=lambda b: "caseledger bundle?")

    # ---------------------------------------------------------------- strict JSON (§7.1): what json would accept
    def marked(fn: Callable[[dict[str, Any]], Any], old: str, new: str) -> Callable[[dict[str, Any]], str]:
        def text(b: dict[str, Any]) -> str:
            fn(b)
            t = json.dumps(b, ensure_ascii=False)
            assert old in t
            return t.replace(old, new, 1)

        return text

    v["malformed_duplicate_key_in_a_record"] = _vector(
        "a record field twice (json keeps the last, other parsers the first): the path of the second",
        std,
        unusable("events.2.record.fields.decision"),
        text=marked(lambda b: None, '"decision": "accepted"', '"decision": "rejected", "decision": "accepted"'),
    )
    v["malformed_duplicate_key_chain_id"] = _vector(
        "chain_id twice at the top level",
        std,
        unusable("chain_id"),
        text=marked(lambda b: None, '"chain_id": 31337', '"chain_id": 1, "chain_id": 31337'),
    )
    v["malformed_byte_order_mark"] = _vector(
        "a valid bundle preceded by a UTF-8 byte-order mark (RFC 8259 §8.1)",
        std,
        unusable("bundle"),
        text=lambda b: "\ufeff" + json.dumps(b, ensure_ascii=False),
    )
    v["malformed_lone_surrogate"] = _vector(
        "a record value holding the escape \\ud800 alone (not Unicode text)",
        std,
        unusable("events.3.record.fields.note"),
        text=marked(lambda b: _rec(b, 3)["fields"].update(note="@@"), '"note": "@@"', '"note": "\\ud800"'),
    )
    for name, spelled in (("fraction", "5.0"), ("exponent", "5e0")):
        v[f"malformed_integer_written_with_{name}"] = _vector(
            f"an integer written {spelled}: JSON Schema would count it as 5, the format does not",
            std,
            unusable("events.0.record.fields.time_limit_working_days"),
            text=marked(
                lambda b: _rec(b, 0)["fields"].update(time_limit_working_days=987654321),
                '"time_limit_working_days": 987654321',
                f'"time_limit_working_days": {spelled}',
            ),
        )
    v["malformed_integer_one_past_the_range"] = _vector(
        "2^53: one past the largest integer a record may hold",
        std,
        unusable("events.0.record.fields.time_limit_working_days"),
        bundle=lambda b: _rec(b, 0)["fields"].update(time_limit_working_days=2**53),
    )

    # ---------------------------------------------------------------- trusted addresses (§8 step 3)
    v["bundle_read_at_its_own_addresses_is_incomplete"] = _vector(
        "the chain was read at the bundle's own ledger address, not a trusted deployment's: proves nothing",
        replace(std, trusted=False),
        {"verdict": "incomplete", "bundle": ["deployment_untrusted"]},
    )

    # ---------------------------------------------------------------- boundaries (§8 step 6, §4.5)
    v["boundary_lag_equal_to_the_bound_is_no_finding"] = _vector(
        "lag exactly the bound (6 h): not late; the finding needs lag > bound",
        std.replace_step(2, at=_iso(block_time(14) - LAG)),
        {},
    )
    v["boundary_lag_one_second_over_the_bound"] = _vector(
        "lag of the bound + 1 s: anchored_late",
        std.replace_step(2, at=_iso(block_time(14) - LAG - 1)),
        {"findings": {"2": ["anchored_late"]}},
    )
    v["boundary_claimed_time_at_the_tolerance"] = _vector(
        f"a claimed time exactly {TIME_TOLERANCE_S} s after its block: clock skew, still a match",
        std.replace_step(2, at=_iso(block_time(14) + TIME_TOLERANCE_S)),
        {},
    )
    v["boundary_claimed_time_one_second_past_the_tolerance"] = _vector(
        f"a claimed time {TIME_TOLERANCE_S + 1} s after its block: time_after_anchor",
        std.replace_step(2, at=_iso(block_time(14) + TIME_TOLERANCE_S + 1)),
        {"verdict": "mismatch", "events": {"2": ["time_after_anchor"]}},
    )
    opens = [
        Step(Stage.DISPUTE_OPENED, "officer", {"reason": f"异议 {k}", "staff": "dispute"}, block=21 + k)
        for k in range(MAX_OPEN_DISPUTES + 1)
    ]
    v["boundary_open_disputes_at_the_limit"] = _vector(
        f"one opener holds {MAX_OPEN_DISPUTES} open disputes on the case: the limit, allowed",
        std.with_steps([*std.steps, *opens[:MAX_OPEN_DISPUTES]]),
        {},
    )
    v["boundary_open_disputes_one_past_the_limit"] = _vector(
        f"the same opener's dispute number {MAX_OPEN_DISPUTES + 1} while {MAX_OPEN_DISPUTES} are open",
        std.with_steps([*std.steps, *opens]),
        {"verdict": "mismatch", "events": {str(n + MAX_OPEN_DISPUTES): ["too_many_disputes"]}},
    )

    # ---------------------------------------------------------------- the reading itself (§4.7, §9)
    v["chain_back_link_skips_a_block"] = _vector(
        "event 3's prevBlock does not name the block of event 2 (the walk would have skipped it)",
        std,
        {"verdict": "mismatch", "events": {"3": ["chain_link_broken"]}},
        chain=lambda f: f["events"][3].update(prev_block=f["events"][3]["prev_block"] - 1),
    )
    v["registry_back_links_leave_a_change_out"] = _vector(
        "the registry's changes as read do not join up by prevChangeBlock: the endpoint left one out",
        std,
        {"verdict": "mismatch", "bundle": ["registry_read_incomplete"]},
        chain=lambda f: f["registry_log"].pop(4),  # hall 3 registered in block 4: not part of this case
    )

    # ---------------------------------------------------------------- verified record vs the bundle's copy (§8)
    v["material_of_an_event_whose_bundle_copy_differs"] = _vector(
        "the bundle's copy of event 1's block time is wrong; the record is verified against the chain, so its"
        " files are still proven",
        std,
        {"verdict": "mismatch", "events": {"1": ["time_mismatch"]}},
        bundle=lambda b: b["events"][1].update(time=b["events"][1]["time"] + 1),
    )

    def withhold_at(b: dict[str, Any]) -> None:
        rec = _rec(b, 3)
        value, salt = rec["fields"].pop("at"), rec["salts"].pop("at")
        rec["withheld"]["at"] = field_leaf("at", value, salt, INTL).hex()

    v["record_frame_field_withheld"] = _vector(
        "event 3's `at` withheld with its correct leaf: the record recomputes, but the frame is never withheld",
        std,
        {"verdict": "mismatch", "events": {"3": ["record_malformed"]}},
        bundle=withhold_at,
    )
    return v


# ------------------------------------------------------------------------------------------ Merkle mode
def _mvector(
    desc: str,
    m: MerkleBuild,
    want: dict[str, Any],
    *,
    bundle: Callable[[dict[str, Any]], Any] | None = None,
    chain: Callable[[dict[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    bj, fj = _dump(m.bundle), json.loads(m.facts.model_dump_json())
    if bundle is not None:
        bundle(bj)
    if chain is not None:
        chain(fj)
    v: dict[str, Any] = {"desc": desc, "suite": m.facts.suite, "max_anchor_lag_s": LAG, "chain": fj, "bundle": bj}
    v["want"] = {"verdict": "match", "events": {}, "findings": {}, "bundle": [], "materials": {}, **want}
    return v


def _alt_leaf(m: MerkleBuild, index: int, *, writer: str, hall: int, label: str, stage: Stage | None = None) -> bytes:
    """Another leaf at ``index`` of the case, chained from the case's event ``index - 1`` (a second branch)."""
    prev = m.leaves[index - 1]
    c = bytes.fromhex(_salt("alt", label))
    st = stage or m.leaves[index].stage
    return EventLeaf.new(
        accepting_hall=1,
        serial=merkle_standard().serial,
        index=index,
        stage=st,
        commitment=c,
        writer_hall=hall,
        writer=ACCOUNTS[writer],
        head=next_head(prev.head, st, c, ACCOUNTS[writer]),
        prev=(m.leaves[index].prev_hall, m.leaves[index].prev_seq),
    ).encode()


UNPROVEN_ACCEPTANCE: dict[str, Any] = {
    # ACCEPTANCE is not proven: the next head does not follow, and the later lifecycle stages are out of order
    # (the RESULT record then proves no file either)
    "verdict": "mismatch",
    "events": {
        "2": ["batch_proof_invalid"],
        "3": ["chain_head_broken", "out_of_order"],
        "5": ["out_of_order"],
        "7": ["out_of_order"],
    },
    "materials": {"5": ["material_event_invalid"]},
}


def merkle_vectors_bundles() -> dict[str, dict[str, Any]]:
    """Merkle-mode conformance vectors (docs/verification.md, Merkle mode): the case of the event-mode vectors,
    its dispute by hall 3 (a hall key holding the officer role), anchored as batch roots."""
    v: dict[str, dict[str, Any]] = {}
    std = merkle_standard()
    m = build_merkle(std)
    n = len(std.steps)
    v["merkle_happy_intl"] = _mvector(
        "Merkle mode: every event proven under its batch's on-chain root; every hall's batches from the INTAKE "
        "to the last block scanned with their manifests: complete",
        m,
        {},
    )
    v["merkle_read_at_its_own_addresses_is_incomplete"] = _mvector(
        "the happy case, its batches and manifests read at the bundle's own contract addresses, not a trusted "
        "deployment's: nothing ties them to the consortium, so the verdict is at best incomplete",
        build_merkle(replace(std, trusted=False)),
        {"verdict": "incomplete", "bundle": ["deployment_untrusted"]},
    )
    gm = build_merkle(merkle_standard(suite=GM))
    v["merkle_happy_gm"] = _mvector("the same in the gm suite (SM3 leaves and nodes)", gm, {})
    v["merkle_without_manifests_is_incomplete"] = _mvector(
        "no manifests: every event proven, but other events of the case cannot be excluded",
        build_merkle(std, scan=False),
        {"verdict": "incomplete", "bundle": ["completeness_unproven"]},
    )

    def wrong_leaf(b: dict[str, Any]) -> None:
        b["events"][3]["record"]["fields"]["note"] = "改过"  # the record changed and the event with it
        e = b["events"][3]
        e["commitment"] = "0x" + _flip(e["commitment"][2:])

    v["merkle_wrong_leaf"] = _mvector(
        "the bundle's PROCESS event (its commitment) is not the leaf the batch holds",
        m,
        {"verdict": "mismatch", "events": {"3": ["batch_proof_invalid"], "4": ["chain_head_broken"]}},
        bundle=wrong_leaf,
    )

    def wrong_proof(b: dict[str, Any]) -> None:
        p = b["events"][2]["batch"]["path"]
        p[0] = _flip(p[0])

    v["merkle_wrong_proof"] = _mvector(
        "one bit of ACCEPTANCE's inclusion path flipped",
        m,
        UNPROVEN_ACCEPTANCE,
        bundle=wrong_proof,
    )
    v["merkle_wrong_proof_gm"] = _mvector(
        "the same in the gm suite",
        gm,
        UNPROVEN_ACCEPTANCE,
        bundle=wrong_proof,
    )

    def wrong_root(f: dict[str, Any]) -> None:  # the chain's root of hall 2's first batch is another one
        b = next(x for x in f["batches"] if x["hall_id"] == 2 and x["seq"] == 0)
        b["root"] = "0x" + _flip(b["root"][2:])

    v["merkle_wrong_root"] = _mvector(
        "the batch root on chain is not the one the bundle's proof leads to",
        m,
        UNPROVEN_ACCEPTANCE,
        chain=wrong_root,
    )

    def dropped(f: dict[str, Any]) -> None:  # hall 2's batch 1 (PROCESS) is not on chain: dropped
        f["batches"] = [x for x in f["batches"] if not (x["hall_id"] == 2 and x["seq"] == 1)]
        f["scan"]["batches"] = [x for x in f["scan"]["batches"] if not (x["hall_id"] == 2 and x["seq"] == 1)]

    v["merkle_dropped_batch"] = _mvector(
        "the batch holding PROCESS is not on chain (dropped): the event is missing on chain, and hall 2's batches "
        "as read skip a number",
        m,
        {
            "verdict": "mismatch",
            "events": {"3": ["missing_on_chain"], "4": ["chain_head_broken"]},
            "bundle": ["batch_chain_broken"],
        },
        chain=dropped,
    )
    swapped = std.replace_step(2, block=15).replace_step(3, block=14)
    v["merkle_reordered_batch"] = _mvector(
        "PROCESS anchored in a batch before the one holding ACCEPTANCE: the chain order contradicts the indices",
        build_merkle(swapped),
        {
            "verdict": "mismatch",
            # ACCEPTANCE's leaf comes after PROCESS's in chain order: PROCESS cannot extend the chain where it is,
            # so the chain found stops at ACCEPTANCE and every later event of the bundle is off it
            "events": {"3": ["batch_order", "not_canonical"], **{str(i): ["not_canonical"] for i in range(4, n)}},
            "findings": {str(i): ["orphan_leaf"] for i in range(3, n)},
            "materials": {"5": ["material_event_invalid"]},
        },
    )
    breaking = std.replace_step(2, writer="hall_c")
    v["merkle_rule_breaking_batch"] = _mvector(
        "hall 3 (not of the home district) anchored the ACCEPTANCE: the leaf breaks the writer rule, is not part of "
        "the case, and nothing after it is",
        build_merkle(breaking),
        {
            "verdict": "mismatch",
            "events": {"2": ["not_canonical", "writer_no_right"], **{str(i): ["not_canonical"] for i in range(3, n)}},
            "findings": {str(i): ["orphan_leaf"] for i in range(2, n)},
            "materials": {"5": ["material_event_invalid"]},
        },
    )

    def missing_manifest(f: dict[str, Any]) -> None:
        f["scan"]["manifests"]["3/0"] = None

    v["merkle_missing_manifest"] = _mvector(
        "no source produced hall 3's batch 0: the case cannot be proven complete",
        m,
        {"verdict": "incomplete", "bundle": ["manifest_unavailable"]},
        chain=missing_manifest,
    )

    def bad_manifest(f: dict[str, Any]) -> None:
        raw = bytearray.fromhex(f["scan"]["manifests"]["1/0"])
        raw[-1] ^= 1
        f["scan"]["manifests"]["1/0"] = raw.hex()

    v["merkle_manifest_not_matching_its_root"] = _mvector(
        "a manifest altered by the hall serving it: it does not recompute to its batch's root, so it is not used",
        m,
        {"verdict": "incomplete", "bundle": ["manifest_unavailable"]},
        chain=bad_manifest,
    )
    v["merkle_event_left_out"] = _mvector(
        "the bundle leaves out the DISPUTE_OPENED event: the scan finds it in hall 3's batch",
        m,
        # without event 4 the next head does not follow and dispute 4 was never opened
        {
            "verdict": "mismatch",
            "events": {"4": ["missing_from_bundle"], "5": ["chain_head_broken"], "6": ["dispute_ref_invalid"]},
            "materials": {"5": ["material_event_invalid"]},
        },
        bundle=lambda b: b["events"].pop(4),
    )

    def both(f: dict[str, Any]) -> None:
        f["event_header"].update(event_count=1, phase=1, accepting_hall=1, home_district=350503, last_block=5)

    v["merkle_case_also_in_event_mode"] = _mvector(
        "the same case id was also opened in event mode",
        m,
        {"verdict": "mismatch", "bundle": ["case_in_both_modes"]},
        chain=both,
    )
    loser = _alt_leaf(m, 2, writer="hall_b", hall=2, label="race")
    raced = add_batch(m, hall=2, block=21, leaves=[loser], writer="hall_b")
    v["merkle_race_loser_is_an_orphan"] = _mvector(
        "a second ACCEPTANCE at index 2 anchored after the first (two writers at once): a finding, the case verifies",
        raced,
        {"findings": {"2": ["orphan_leaf"]}},
    )
    branch = _alt_leaf(m, 7, writer="hall_a", hall=1, label="fork")
    fork = add_batch(m, hall=1, block=21, leaves=[branch], writer="hall_a")

    def show_fork(b: dict[str, Any]) -> None:  # the bundle shows the later branch at index 7
        bf = fork.facts.batches[-1]
        leaf = EventLeaf.decode(fork.manifests[(1, bf.seq)].leaves[0])
        e = b["events"][7]
        e.update(block=bf.block, time=bf.time, tx=bf.tx, commitment="0x" + leaf.commitment.hex(),
                 head="0x" + leaf.head.hex())  # fmt: skip
        e["batch"].update(seq=bf.seq, leaf_index=0, tree_size=1, path=[])
        e.pop("record")

    v["merkle_fork_branch_shown"] = _mvector(
        "hall 1 anchored another DELIVERY at index 7 later, and the bundle shows that branch instead of the chain's",
        fork,
        {
            "verdict": "mismatch",
            "events": {"7": ["not_canonical", "record_absent"]},
            "findings": {"7": ["orphan_leaf"]},
        },
        bundle=show_fork,
    )
    return v


# ------------------------------------------------------------------------------------------ checking
def all_files() -> dict[Path, str]:
    files: dict[Path, Any] = {ROOT / "hashchain" / "full_lifecycle.json": hashchain_vectors()}
    for name, v in merkle_vectors():
        files[ROOT / "merkle" / f"{name}.json"] = v
    for name, v in bundle_vectors().items():
        files[ROOT / "bundles" / f"{name}.json"] = v
    for name, v in merkle_vectors_bundles().items():
        files[ROOT / "bundles" / f"{name}.json"] = v
    return {p: json.dumps(v, ensure_ascii=False, indent=1, sort_keys=True) + "\n" for p, v in files.items()}


def main() -> int:
    check = "--check" in sys.argv
    stale, wrong = [], []
    files = all_files()
    for path, text in files.items():
        if path.parent.name == "bundles":
            v = json.loads(text)
            got, want = vector_answer(v), v["want"]
            if want["verdict"] == "unusable":
                got = {k: got.get(k) for k in ("verdict", "unusable_field")}
                want = {k: want.get(k) for k in ("verdict", "unusable_field")}
            if got != want:
                wrong.append(f"{path.name}: want {want}, ledger.verify says {got}")
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if not check:
        for old in (ROOT / "bundles").glob("*.json"):
            if old not in files:
                old.unlink()
    if wrong:
        print("vectors whose stated answer ledger.verify does not give:", *wrong, sep="\n  ")
        return 1
    if stale:
        print("stale vectors (run python scripts/make_vectors.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
