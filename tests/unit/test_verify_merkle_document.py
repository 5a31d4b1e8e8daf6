"""The single-document check of a Merkle-mode case (ledger.verify.merkle.verify_merkle_document), pure, on the
Merkle-mode conformance case (tests/vectors/bundles/merkle_happy_intl.json): a genuine file matches, and each
answer it rests on, when it does not hold, is named by its own message code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.core.bundle import EvidenceBundle, parse_bundle
from ledger.core.facts import BatchFact, MerkleFacts
from ledger.core.suites import suite_named
from ledger.errors import VerificationError
from ledger.messages import MESSAGES, render
from ledger.verify.merkle import bundle_leaf, verify_merkle_document

VECTOR = Path(__file__).resolve().parents[1] / "vectors" / "bundles" / "merkle_happy_intl.json"


def _case() -> tuple[EvidenceBundle, MerkleFacts]:
    v = json.loads(VECTOR.read_text(encoding="utf-8"))
    return parse_bundle(v["bundle"]), MerkleFacts.model_validate(v["chain"])


def _check(bundle: EvidenceBundle, facts: MerkleFacts, m: int = 0, **over: Any) -> dict[str, Any]:
    mat = bundle.materials[m]
    be = next(e for e in bundle.events if e.index == mat.event_index)
    assert be.batch is not None and be.record is not None
    batch: BatchFact | None = next(b for b in facts.batches if b.key == (be.batch.hall_id, be.batch.seq))
    args: dict[str, Any] = {
        "data": mat.content(),
        "proof": mat.proof,
        "record": be.record,
        "leaf": bundle_leaf(bundle, be).encode(),
        "where": be.batch,
        "block": be.block,
        "batch": batch,
        "event_index": be.index,
    }
    args.update(over)
    return verify_merkle_document(
        args.pop("data"),
        args.pop("proof"),
        args.pop("record"),
        args.pop("leaf"),
        args.pop("where"),
        args.pop("block"),
        args.pop("batch"),
        accepting_hall=bundle.accepting_hall,
        serial=bundle.serial,
        suite=suite_named(bundle.suite),
        **args,
    )


def test_a_committed_material_and_the_result_document_match() -> None:
    bundle, facts = _case()
    for m, stage in ((0, "MATERIALS"), (3, "RESULT")):
        found = _check(bundle, facts, m)
        be = next(e for e in bundle.events if e.index == bundle.materials[m].event_index)
        assert found["stage"] == stage and found["block"] == be.block and found["batch"].startswith(f"{be.hall_id}/")


def _code(bundle: EvidenceBundle, facts: MerkleFacts, **over: Any) -> str:
    with pytest.raises(VerificationError) as exc:
        _check(bundle, facts, **over)
    return exc.value.message_code


def test_each_untrusted_answer_is_named() -> None:
    bundle, facts = _case()
    mat = bundle.materials[0]
    be = next(e for e in bundle.events if e.index == mat.event_index)
    assert be.batch is not None and be.record is not None
    assert _code(bundle, facts, data=(mat.content() or b"") + b"x") == "document_not_committed"  # the wrong file
    assert _code(bundle, facts, batch=None) == "document_batch_not_on_chain"  # the root is not on chain
    assert _code(bundle, facts, block=be.block + 1) == "document_batch_not_on_chain"
    path = list(be.batch.path)
    path[0] = ("0" if path[0][0] != "0" else "1") + path[0][1:]
    moved = be.batch.model_copy(update={"path": path})
    assert _code(bundle, facts, where=moved) == "document_leaf_not_in_batch"  # the leaf is not in the batch
    assert _code(bundle, facts, event_index=be.index + 1) == "document_leaf_not_in_batch"  # another event's
    other = next(e for e in bundle.events if e.index != be.index and e.record is not None)
    assert _code(bundle, facts, record=other.record) == "document_record_not_leaf"  # not the leaf's record
    # another file's proof of the same record given for this file: the file is not the one it proves
    assert bundle.materials[1].event_index == be.index
    assert _code(bundle, facts, proof=bundle.materials[1].proof) == "document_not_committed"


def test_the_codes_have_both_sentences() -> None:
    for code in ("document_batch_not_on_chain", "document_leaf_not_in_batch", "document_record_not_leaf",
                 "document_not_committed"):  # fmt: skip
        assert MESSAGES[code].zh and MESSAGES[code].en
        assert "{" not in render(code, {"hall": 1, "seq": 0, "block": 9, "stage": "RESULT", "stage_zh": "结果信息"})
