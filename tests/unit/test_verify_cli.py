"""``caseledger-verify`` on unusable input: exit 2, one sentence on stderr, never a traceback (no chain needed:
the file is refused before any JSON-RPC call; an unreachable endpoint is one sentence too)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.dev.scenario import Scenario

VERIFY = str(Path(sys.executable).with_name("caseledger-verify"))
NOWHERE = "http://127.0.0.1:9"  # discard port: nothing answers JSON-RPC there


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VERIFY, *args], capture_output=True, text=True, timeout=60)


def _good(tmp_path: Path) -> Path:
    p = tmp_path / "good.json"
    p.write_text(Scenario.standard().build()[0].dump(), encoding="utf-8")
    return p


CASES = {
    "deeply_nested": b"[" * 100_000,
    "not_json": b"\xff\xfe garbage",
    "trailing_garbage": None,
    "integer_as_string": None,
    "format_1": json.dumps({"format": "caseledger-evidence/1"}).encode(),
    "empty_file": b"",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_bundle_file_exits_2_with_one_sentence(tmp_path: Path, name: str) -> None:
    raw = CASES[name]
    if raw is None:
        good = json.loads(_good(tmp_path).read_text(encoding="utf-8"))
        if name == "trailing_garbage":
            raw = json.dumps(good).encode() + b"}}"
        else:
            good["events"][0]["block"] = "12"
            raw = json.dumps(good).encode()
    f = tmp_path / f"{name}.json"
    f.write_bytes(raw)
    out = _run(str(f), "--rpc", NOWHERE)
    assert out.returncode == 2, out
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("caseledger-verify: "), out.stderr
    assert "Traceback" not in out.stderr


def test_missing_file_and_bad_options_exit_2(tmp_path: Path) -> None:
    out = _run(str(tmp_path / "nope.json"), "--rpc", NOWHERE)
    assert out.returncode == 2 and "no file at" in out.stderr and "Traceback" not in out.stderr
    out = _run(str(_good(tmp_path)), "--rpc", "ftp://x")
    assert out.returncode == 2 and "http" in out.stderr
    out = _run(str(_good(tmp_path)))
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_unreachable_endpoint_exits_2_with_one_sentence(tmp_path: Path) -> None:
    out = _run(str(_good(tmp_path)), "--rpc", NOWHERE)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [f"caseledger-verify: the chain endpoint {NOWHERE} does not answer"]
