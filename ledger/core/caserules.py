"""The case rules the contract enforces per event in event mode, as pure functions over a case's state.

In Merkle mode nothing checks an event on chain; the same rules are applied to every leaf by the sender
(before it anchors one), by every hall's indexer and by the verifier, from the same code::

    st = case_state(accepting_hall, serial, home_district)
    st, err = next_state(st, stage=Stage.INTAKE, commitment=c, writer=key, writer_hall=1, ...)
    err  # None, or the ChainRuleError the contract would raise in event mode (its name and arguments)

:func:`extend` is the whole check of one Merkle-mode leaf against its case's canonical chain so far: the
next index, the next head, the back-link, writer = the batch's hall and key, and :func:`next_state`'s rules
with the writer's rights at the batch's block (:class:`RegistryState`, the registry's history replayed).
A leaf that passes extends the chain; one that fails is not part of the case (docs/verification.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.core.batches import EventLeaf
from ledger.core.facts import RegistryFact
from ledger.core.hashchain import case_id, next_head
from ledger.core.stages import Phase, Stage
from ledger.errors import ChainRuleError

__all__ = [
    "MAX_OPEN_DISPUTES",
    "NEXT_PHASE",
    "RegistryState",
    "Rights",
    "case_state",
    "extend",
    "next_state",
]

MAX_OPEN_DISPUTES = 3
"""open disputes per opener (a hall) per case, as ``CaseLedger.MAX_OPEN_DISPUTES_PER_OPENER``"""

NEXT_PHASE: dict[tuple[Stage, Phase], Phase] = {
    (Stage.MATERIALS, Phase.OPENED): Phase.MATERIALS_RECORDED,
    (Stage.MATERIALS, Phase.MATERIALS_RECORDED): Phase.MATERIALS_RECORDED,
    (Stage.MATERIALS, Phase.ACCEPTED): Phase.ACCEPTED,
    (Stage.ACCEPTANCE, Phase.MATERIALS_RECORDED): Phase.ACCEPTED,
    (Stage.PROCESS, Phase.ACCEPTED): Phase.ACCEPTED,
    (Stage.RESULT, Phase.ACCEPTED): Phase.DECIDED,
    (Stage.DELIVERY, Phase.DECIDED): Phase.DELIVERED,
}


@dataclass
class RegistryState:
    """The registry replayed up to a point: who is a hall, where, active, and which roles each account holds."""

    hall_of_account: dict[str, int] = field(default_factory=dict)
    district: dict[int, int] = field(default_factory=dict)
    active: dict[int, bool] = field(default_factory=dict)
    roles: set[tuple[str, str]] = field(default_factory=set)

    def apply(self, f: RegistryFact) -> None:
        acct = f.account.lower()
        if f.kind == "registered":
            self.hall_of_account[acct] = f.hall_id
            self.district[f.hall_id] = f.district
            self.active[f.hall_id] = True
        elif f.kind == "suspended":
            self.active[f.hall_id] = False
        elif f.kind == "reactivated":
            self.active[f.hall_id] = True
        elif f.kind == "rotated":  # the role moves are separate HallRegistryRoleChanged events
            self.hall_of_account.pop(acct, None)
            self.hall_of_account[f.new_account.lower()] = f.hall_id
        elif f.kind == "role_granted":
            self.roles.add((f.role, acct))
        elif f.kind == "role_revoked":
            self.roles.discard((f.role, acct))

    @classmethod
    def at(cls, registry_log: list[RegistryFact], block: int, log_index: int) -> RegistryState:
        """The state just before position (block, log index) of the chain."""
        st = cls()
        for f in sorted(registry_log, key=lambda x: (x.block, x.log_index)):
            if (f.block, f.log_index) >= (block, log_index):
                break
            st.apply(f)
        return st


@dataclass(frozen=True)
class Rights:
    """What a batch's writer may do at its block."""

    hall: int
    """the writer key's hall (0: not a hall key)"""
    district: int
    active: bool
    officer: bool
    arbiter: bool

    @classmethod
    def of(cls, state: RegistryState, writer: str, dispute_role: str, arbiter_role: str) -> Rights:
        w = writer.lower()
        hall = state.hall_of_account.get(w, 0)
        return cls(
            hall=hall,
            district=state.district.get(hall, 0),
            active=state.active.get(hall, False),
            officer=(dispute_role, w) in state.roles,
            arbiter=(arbiter_role, w) in state.roles,
        )


def case_state(accepting_hall: int, serial: str, home_district: int) -> dict[str, Any]:
    """The state of a case before its INTAKE: index -1, head = the case id (JSON-ready; ``mhead/`` stores it)."""
    cid = case_id(accepting_hall, serial).hex()
    return {
        "case_id": cid,
        "index": -1,
        "head": cid,
        "hall": 0,
        "seq": 0,
        "phase": int(Phase.NONE),
        "accepting_hall": accepting_hall,
        "home_district": home_district,
        "disputes": {},
    }


def next_state(
    st: dict[str, Any],
    *,
    stage: Stage,
    commitment: bytes,
    writer: str | bytes,
    writer_hall: int,
    writer_district: int,
    ref: int,
    officer: bool,
    arbiter: bool,
    batch: tuple[int, int],
) -> tuple[dict[str, Any], ChainRuleError | None]:
    """The case's state after one more event, or the contract rule it breaks (checked in event mode's order).

    ``batch`` = (hall, seq) of the batch holding the event: the next event's back-link. The new state's
    head is ``keccak256(head ‖ stage ‖ commitment ‖ writer)``.
    """
    cid = "0x" + str(st.get("case_id") or "")
    phase = Phase(int(st["phase"]))
    if stage == Stage.INTAKE:
        if phase != Phase.NONE:
            return st, ChainRuleError("CaseLedgerCaseExists", {"caseId": cid})
    elif phase == Phase.NONE:
        return st, ChainRuleError("CaseLedgerUnknownCase", {"caseId": cid})
    disputes: dict[str, int] = dict(st.get("disputes") or {})
    new_phase = phase
    if stage == Stage.INTAKE:
        if writer_hall != int(st["accepting_hall"]):
            return st, ChainRuleError("CaseLedgerUnauthorizedWriter", {"caseId": cid, "stage": stage.name})
        new_phase = Phase.OPENED
    elif stage == Stage.DISPUTE_OPENED:  # the contract's order: the ref, then the writer, then the count
        if ref != 0:
            return st, ChainRuleError("CaseLedgerRefNotAllowed", {"caseId": cid, "stage": stage.name, "ref": ref})
        if not officer:
            return st, ChainRuleError("CaseLedgerUnauthorizedWriter", {"caseId": cid, "stage": stage.name})
        if sum(1 for h in disputes.values() if int(h) == writer_hall) >= MAX_OPEN_DISPUTES:
            return st, ChainRuleError("CaseLedgerTooManyDisputes", {"caseId": cid})
        disputes[str(int(st["index"]) + 1)] = writer_hall
    elif stage == Stage.DISPUTE_RESOLVED:
        if not officer and not arbiter:
            return st, ChainRuleError("CaseLedgerUnauthorizedWriter", {"caseId": cid, "stage": stage.name})
        opener = disputes.get(str(ref))
        if opener is None:
            return st, ChainRuleError("CaseLedgerNoOpenDispute", {"caseId": cid, "ref": ref})
        if not ((officer and int(opener) == writer_hall) or arbiter):
            return st, ChainRuleError("CaseLedgerNotDisputeOpener", {"caseId": cid, "ref": ref})
        disputes.pop(str(ref))
    else:
        by_accepting = stage in (Stage.MATERIALS, Stage.DELIVERY)
        allowed = writer_hall == int(st["accepting_hall"]) if by_accepting else writer_district == st["home_district"]
        if not allowed:
            return st, ChainRuleError("CaseLedgerUnauthorizedWriter", {"caseId": cid, "stage": stage.name})
        if ref != 0:
            return st, ChainRuleError("CaseLedgerRefNotAllowed", {"caseId": cid, "stage": stage.name, "ref": ref})
        nxt = NEXT_PHASE.get((stage, phase))
        if nxt is None:
            return st, ChainRuleError("CaseLedgerOutOfOrder", {"caseId": cid, "stage": stage.name, "phase": phase.name})
        new_phase = nxt
    head = next_head(bytes.fromhex(str(st["head"])), stage, commitment, writer)
    return {
        **st,
        "index": int(st["index"]) + 1,
        "head": head.hex(),
        "hall": batch[0],
        "seq": batch[1],
        "phase": int(new_phase),
        "disputes": disputes,
    }, None


RULE_CODE = {
    "CaseLedgerCaseExists": "out_of_order",
    "CaseLedgerUnknownCase": "out_of_order",
    "CaseLedgerOutOfOrder": "out_of_order",
    "CaseLedgerUnauthorizedWriter": "writer_no_right",
    "CaseLedgerInactiveHall": "writer_inactive",
    "CaseLedgerRefNotAllowed": "ref_not_allowed",
    "CaseLedgerNoOpenDispute": "dispute_ref_invalid",
    "CaseLedgerNotDisputeOpener": "dispute_not_opener",
    "CaseLedgerTooManyDisputes": "too_many_disputes",
}
"""the verifier's reason code for each contract rule (as :func:`ledger.verify.checks.check_chain` names them)"""


def extend(
    st: dict[str, Any] | None,
    leaf: EventLeaf,
    *,
    batch_hall: int,
    batch_seq: int,
    batch_writer: bytes,
    rights: Rights,
) -> tuple[dict[str, Any] | None, list[str]]:
    """Does ``leaf`` (in batch (hall, seq) sent by ``batch_writer``) extend its case, whose state is ``st``
    (None: no INTAKE yet)? (new state, []) if it does, else (``st``, the reason codes why not)."""
    why: list[str] = []
    if leaf.writer_hall != batch_hall or leaf.writer != batch_writer:
        why.append("writer_mismatch")
    if not rights.active or rights.hall != batch_hall:
        why.append("writer_inactive")
    if st is None:
        if leaf.stage != Stage.INTAKE or leaf.index != 0:
            return st, [*why, "out_of_order"]
        if case_id(leaf.accepting_hall, leaf.serial) != leaf.case_id:
            return st, [*why, "case_id_mismatch"]
        st0 = case_state(leaf.accepting_hall, leaf.serial, leaf.home_district)
    else:
        st0 = st
    if leaf.index != int(st0["index"]) + 1:
        why.append("index_taken" if leaf.index <= int(st0["index"]) else "index_gap")
    want_prev = (0, 0) if leaf.index == 0 else (int(st0["hall"]), int(st0["seq"]))
    if (leaf.prev_hall, leaf.prev_seq) != want_prev:
        why.append("batch_link_broken")
    new, err = next_state(
        st0,
        stage=leaf.stage,
        commitment=leaf.commitment,
        writer=leaf.writer,
        writer_hall=leaf.writer_hall,
        writer_district=rights.district,
        ref=leaf.ref,
        officer=rights.officer,
        arbiter=rights.arbiter,
        batch=(batch_hall, batch_seq),
    )
    if err is not None:
        why.append(RULE_CODE.get(err.rule, "out_of_order"))
    elif bytes.fromhex(new["head"]) != leaf.head:
        why.append("chain_head_broken")
    if why:
        return st, why
    if st is None:
        new = {**new, "item_code": leaf.item_code, "serial": leaf.serial}
    return new, []
