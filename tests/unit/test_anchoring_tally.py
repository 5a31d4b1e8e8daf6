"""The fault suite's "lost 0, doubled 0" check (tests/support/anchoring.py ``tally``) can fail: an acknowledged event
missing on chain is lost, one anchored twice (two leaves, two batches, or two logs) or an extra event is doubled."""

from __future__ import annotations

from tests.support.anchoring import EventOnChain, tally

C0, C1 = "aa" * 32, "bb" * 32


def _ev(index: int, commitment: str, seq: int | None = 0) -> EventOnChain:
    return EventOnChain(index, commitment, "0x" + "11" * 32, 7, None if seq is None else (1, seq), index)


def test_each_acknowledged_event_once_is_neither_lost_nor_doubled() -> None:
    for seq in (0, None):  # Merkle mode (a batch) and event mode (a log)
        t = tally({"S": [_ev(0, C0, seq), _ev(1, C1, seq)]}, {"S": [C0, C1]})
        assert t.lost == [] and t.doubled == []


def test_an_event_not_on_chain_is_lost() -> None:
    t = tally({"S": [_ev(0, C0)]}, {"S": [C0, C1]})
    assert len(t.lost) == 1 and t.lost[0].startswith("S:") and t.doubled == []
    assert tally({}, {"S": [C0, C1]}).lost != []


def test_an_event_in_two_batches_or_an_extra_event_is_doubled() -> None:
    twice = tally({"S": [_ev(0, C0, 0), _ev(1, C1, 0), _ev(2, C1, 1)]}, {"S": [C0, C1]})
    assert twice.lost == [] and len(twice.doubled) == 1
    same_index = tally({"S": [_ev(0, C0, 0), _ev(0, C0, 1), _ev(1, C1, 1)]}, {"S": [C0, C1]})
    assert len(same_index.doubled) == 1
    extra = tally({"S": [_ev(0, C0), _ev(1, C1), _ev(2, "cc" * 32)]}, {"S": [C0, C1]})
    assert len(extra.doubled) == 1
