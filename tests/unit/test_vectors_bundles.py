"""The conformance vectors (tests/vectors/bundles/*.json, docs/verification.md §11), walked without a chain.

Each file holds a bundle (or the raw text of a malformed one), the chain facts it is checked against and
the answer a verifier must give: this test is what a third-party verifier does with them, run against
ours. The generator (scripts/make_vectors.py) states every answer by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.dev.scenario import vector_answer
from tests.conftest import VECTORS

FILES = sorted((VECTORS / "bundles").glob("*.json"))
ROOT = Path(__file__).resolve().parents[2]


def test_there_are_vectors_for_every_kind() -> None:
    names = {p.stem for p in FILES}
    assert len(FILES) >= 60
    for prefix in (
        "happy_",
        "serial_squatting_",
        "dispute_resolved_",
        "backdated_",
        "bundle_wrong_",
        "material_",
        "malformed_",
        "empty_bundle",
        "record_",
        "event_",
        "chain_head_",
    ):
        assert any(n.startswith(prefix) for n in names), prefix
    suites = {json.loads(p.read_text(encoding="utf-8"))["suite"] for p in FILES}
    assert suites == {"intl", "gm"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    v = json.loads(path.read_text(encoding="utf-8"))
    want, got = v["want"], vector_answer(v)
    assert set(want) >= {"verdict"} and v["desc"]
    if want["verdict"] == "unusable":
        assert got == {"verdict": "unusable", "unusable_field": want["unusable_field"]}
    else:
        assert got == {k: want[k] for k in ("verdict", "events", "findings", "bundle", "materials")}


def test_vectors_are_up_to_date() -> None:
    out = subprocess.run(
        [sys.executable, "scripts/make_vectors.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
