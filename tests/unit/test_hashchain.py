"""The hash chain as the contract computes it: shared vector file, regenerated deterministically."""

from __future__ import annotations

import json
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from ledger.core.hashchain import case_id, chain_heads, next_head
from ledger.core.records import DisclosedRecord
from ledger.core.stages import Stage
from tests.conftest import VECTORS

VECTOR = json.loads((VECTORS / "hashchain" / "full_lifecycle.json").read_text())


def test_vector_heads() -> None:
    hall = VECTOR["halls"]["accepting"]["hall_id"]
    assert "0x" + case_id(hall, VECTOR["serial"]).hex() == VECTOR["case_id"]
    events = [(Stage[e["stage"]], bytes.fromhex(e["commitment"][2:]), e["writer"]) for e in VECTOR["events"]]
    heads = chain_heads(hall, VECTOR["serial"], events)
    assert ["0x" + h.hex() for h in heads] == [e["head"] for e in VECTOR["events"]]


def test_vector_commitments_recompute_from_records() -> None:
    for e in VECTOR["events"]:
        rec = DisclosedRecord(fields=e["record"]["fields"], salts=e["record"]["salts"])
        assert "0x" + rec.root().hex() == e["commitment"], e["stage"]


def test_vectors_are_up_to_date() -> None:
    out = subprocess.run([sys.executable, "scripts/make_vectors.py", "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


addresses = st.binary(min_size=20, max_size=20)
hashes = st.binary(min_size=32, max_size=32)
events = st.lists(st.tuples(st.sampled_from(list(Stage)), hashes, addresses), min_size=2, max_size=8)


@given(events)
def test_reordering_or_dropping_changes_the_head(evs: list[tuple[Stage, bytes, bytes]]) -> None:
    final = chain_heads(1, "TB-P", evs)[-1]
    assert chain_heads(1, "TB-P", evs[1:])[-1] != final
    swapped = [evs[1], evs[0], *evs[2:]]
    if swapped != evs:
        assert chain_heads(1, "TB-P", swapped)[-1] != final


@given(hashes, st.sampled_from(list(Stage)), hashes, addresses, addresses)
def test_writer_is_bound(prev: bytes, stage: Stage, c: bytes, w1: bytes, w2: bytes) -> None:
    if w1 != w2:
        assert next_head(prev, stage, c, w1) != next_head(prev, stage, c, w2)


def test_case_id_is_bound_to_the_accepting_hall() -> None:
    """Serial squatting: the same serial opened by two halls is two cases (4-byte big-endian hall id)."""
    from ledger.core.hashchain import keccak256

    assert case_id(258, "ab") == keccak256(bytes.fromhex("000001026162"))
    assert case_id(1, "TB20261201-001-00001") != case_id(3, "TB20261201-001-00001")


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.text(max_size=20), st.text(max_size=20))
def test_no_two_halls_share_a_case_id(h1: int, h2: int, s1: str, s2: str) -> None:
    if (h1, s1) != (h2, s2):
        assert case_id(h1, s1) != case_id(h2, s2)
