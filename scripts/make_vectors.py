"""Write the fixed test vectors under tests/vectors/ (deterministic: salts come from a seed).

    python scripts/make_vectors.py          # rewrite
    python scripts/make_vectors.py --check  # exit 1 if the files on disk differ

The same files are read by the Python tests (tests/unit/test_hashchain.py, tests/unit/test_merkle.py)
and the contract tests (tests/contracts/*.js), so both sides prove they compute the same hash chain.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from ledger.core.hashchain import case_id, chain_heads
from ledger.core.merkle import inclusion_proof, leaf_hash, merkle_root
from ledger.core.records import SaltedRecord
from ledger.core.stages import Stage

ROOT = Path(__file__).resolve().parent.parent / "tests" / "vectors"

# Default accounts of Hardhat's and anvil's test mnemonic ("test test ... junk"), indexes 1-3.
HALL_A = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
HALL_B = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
OFFICER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def _salt(*parts: str) -> str:
    return hashlib.sha256("|".join(("caseledger-vector", *parts)).encode()).hexdigest()


def _record(serial: str, stage: Stage, fields: dict[str, Any]) -> SaltedRecord:
    full = {**fields, "case_serial": serial, "stage": stage.name}
    return SaltedRecord(serial=serial, stage=stage, fields=full, salts={n: _salt(serial, stage.name, n) for n in full})


def hashchain_vectors() -> dict[str, Any]:
    serial = "TB-350502-01-20261123-000001"
    plan: list[tuple[Stage, str, dict[str, Any]]] = [
        (
            Stage.INTAKE,
            HALL_A,
            {"item_code": "FW-001", "applicant_name": "张三", "applicant_id_number": "350502199001011234"},
        ),
        (Stage.MATERIALS, HALL_A, {"materials_root": "00" * 32, "material_count": 2}),
        (Stage.ACCEPTANCE, HALL_B, {"outcome": "accepted"}),
        (Stage.PROCESS, HALL_B, {"step": "review", "note": "材料齐全"}),
        (Stage.RESULT, HALL_B, {"decision": "approved"}),
        (Stage.DELIVERY, HALL_A, {"method": "counter"}),
        (Stage.DISPUTE_OPENED, OFFICER, {"reason": "applicant disputes delivery date"}),
        (Stage.DISPUTE_RESOLVED, OFFICER, {"verdict": "all events match"}),
    ]
    records = [(_record(serial, st, f), st, w) for st, w, f in plan]
    heads = chain_heads(serial, [(st, r.commitment, w) for r, st, w in records])
    return {
        "desc": "one case through every stage; heads as CaseLedger.computeHead computes them",
        "serial": serial,
        "case_id": "0x" + case_id(serial).hex(),
        "halls": {
            "accepting": {"account": HALL_A, "district": 350502},
            "home": {"account": HALL_B, "district": 350503},
        },
        "dispute_officer": OFFICER,
        "events": [
            {
                "stage": st.name,
                "stage_code": int(st),
                "writer": w,
                "commitment": "0x" + r.commitment.hex(),
                "head": "0x" + h.hex(),
                "record": {"fields": r.fields, "salts": r.salts},
            }
            for (r, st, w), h in zip(records, heads, strict=True)
        ],
    }


def merkle_vectors() -> list[tuple[str, dict[str, Any]]]:
    # RFC 6962 leaf inputs used by Certificate Transparency's reference tests.
    inputs = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
    hashes = [leaf_hash(bytes.fromhex(x)) for x in inputs]
    out: list[tuple[str, dict[str, Any]]] = []
    for n in range(1, len(inputs) + 1):
        out.append(
            (
                f"rfc6962_size_{n}",
                {
                    "desc": f"RFC 6962 reference tree of {n} leaves",
                    "leaves": inputs[:n],
                    "root": merkle_root(hashes[:n]).hex(),
                    "proofs": [[p.hex() for p in inclusion_proof(hashes[:n], i)] for i in range(n)],
                },
            )
        )
    return out


def all_files() -> dict[Path, str]:
    files = {ROOT / "hashchain" / "full_lifecycle.json": hashchain_vectors()}
    for name, v in merkle_vectors():
        files[ROOT / "merkle" / f"{name}.json"] = v
    return {p: json.dumps(v, ensure_ascii=False, indent=1, sort_keys=True) + "\n" for p, v in files.items()}


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for path, text in all_files().items():
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale vectors (run python scripts/make_vectors.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
