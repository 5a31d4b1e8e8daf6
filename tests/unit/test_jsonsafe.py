"""JSON from outside with a nesting and size bound (ledger/core/jsonsafe.py); the recursion limit in force."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.bundle import load_bundle
from ledger.core.jsonsafe import MAX_JSON_DEPTH, json_depth, load_json_file, loads_bounded
from ledger.errors import InputError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.characters(codec="utf-8")),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=30,
)


def _depth(v: Any) -> int:
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_depth_of_any_json_document_is_exact(v: Any) -> None:
    text = json.dumps(v, ensure_ascii=False)
    assert json_depth(text) == _depth(v)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_are_json_or_one_input_error(raw: bytes) -> None:
    try:
        loads_bounded(raw, what="body", max_bytes=1000)
    except InputError as exc:
        assert exc.field == "body" and exc.message("zh")


def test_deep_documents_are_refused_before_the_parser_sees_them_regression() -> None:
    """Regression (issue 12 item 1): 100,000 nested '[' overflowed the C stack in _json and killed the process."""
    for doc in (b"[" * 100_000, b'{"a":' * 100_000, b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)):
        with pytest.raises(InputError, match="levels deep") as e:
            loads_bounded(doc, what="body")
        assert e.value.message("zh") and "嵌套" in e.value.message("zh")
    nested_ok = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert _depth(loads_bounded(nested_ok)) == MAX_JSON_DEPTH
    # brackets inside strings and escaped quotes do not count
    assert loads_bounded(json.dumps({"note": "[" * 10_000 + '\\"' + "{" * 10_000})) == {
        "note": "[" * 10_000 + '\\"' + "{" * 10_000
    }


def test_size_bound_and_garbage() -> None:
    with pytest.raises(InputError, match="at most 10 are accepted"):
        loads_bounded(b"[" + b"1," * 20 + b"1]", max_bytes=10)
    with pytest.raises(InputError, match="not valid JSON"):
        loads_bounded(b'{"a": 1')
    with pytest.raises(InputError, match="not valid JSON"):
        loads_bounded(b"1" * 10_000)  # past CPython's int digit limit: a ValueError, still one sentence


def test_bundle_file_with_a_deep_nesting_is_unusable_input_regression(tmp_path: Path) -> None:
    """Regression (issue 12 item 1): `caseledger verify` parsed bundle files without a depth bound."""
    p = tmp_path / "deep.json"
    p.write_bytes(b"[" * 100_000)
    with pytest.raises(InputError, match="levels deep"):
        load_bundle(p)
    with pytest.raises(InputError, match="no file"):
        load_json_file(tmp_path / "missing.json", what="bundle", max_bytes=10)


def test_cli_verify_refuses_a_deep_bundle_with_exit_2(tmp_path: Path) -> None:
    p = tmp_path / "deep.json"
    p.write_bytes(b"[" * 100_000)
    cli = str(Path(sys.executable).parent / "caseledger")
    r = subprocess.run(
        [cli, "verify", str(p), "--rpc", "http://127.0.0.1:9"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2 and "levels deep" in r.stderr and "Traceback" not in r.stderr


def test_no_program_of_ours_runs_with_a_raised_recursion_limit_regression() -> None:
    """Regression (issue 12 item 1): py_ecc, imported by eth_account, raised the limit to 100,000."""
    code = (
        "import sys, ledger, eth_account, web3, node_api.main, ledger.cli, ledger.hall.transfer;"
        "from ledger.cli import _register; _register(); print(sys.getrecursionlimit())"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert int(r.stdout.strip()) <= 1000


# ---------------------------------------------------------------- strict JSON (docs/verification.md §7.1)
# Regressions of the outside verifier's findings: json.loads accepted each of these, and two readers of one
# bundle (or of one peer package) could see different values.


@pytest.mark.parametrize(
    ("text", "field", "code"),
    [
        ('{"a": {"b": 1, "b": 2}}', "a.b", "json_duplicate_key"),
        ('{"events": [{"x": 1}, {"x": 1, "x": 1}]}', "events.1.x", "json_duplicate_key"),
        ('{"note": "\\ud800"}', "note", "json_lone_surrogate"),
        ('{"a": ["ok", "\\udc00x"]}', "a.1", "json_lone_surrogate"),
        ('{"\\ud800": 1}', "doc", "json_lone_surrogate_key"),
        ('\ufeff{"a": 1}', "doc", "json_bom"),
    ],
    ids=["duplicate_key", "duplicate_key_in_array", "lone_surrogate", "lone_low_surrogate", "surrogate_key", "bom"],
)
def test_strict_reader_refuses_what_json_accepts_regression(text: str, field: str, code: str) -> None:
    json.loads(text.lstrip("\ufeff"))  # the lenient parser takes every one of them
    with pytest.raises(InputError) as exc:
        loads_bounded(text.encode("utf-8"), what="doc")
    assert (exc.value.field, exc.value.message_code) == (field, code)
    assert exc.value.message("zh") and exc.value.message("en")


def test_a_surrogate_pair_is_text_not_a_lone_surrogate() -> None:
    assert loads_bounded(b'{"a": "\\ud83d\\ude00"}', what="doc") == {"a": "\U0001f600"}


@pytest.mark.parametrize("number", ["5.0", "5e0", "5E+0", "-0.0", "1e400"])
def test_fraction_or_exponent_is_refused_where_integers_only_regression(number: str) -> None:
    raw = f'{{"n": [{number}]}}'.encode()
    with pytest.raises(InputError) as exc:
        loads_bounded(raw, what="bundle", integers_only=True)
    assert (exc.value.field, exc.value.message_code) == ("n.0", "json_not_integer")
    assert loads_bounded(b'{"n": [-0, 12]}', what="bundle", integers_only=True) == {"n": [0, 12]}


def test_peer_package_with_a_duplicate_key_is_refused_regression() -> None:
    """The transfer's reader (ledger.hall.transfer pull: loads_bounded(what="package")) refuses a package whose
    record names a field twice, so the receiving hall never stores a record another reader would see otherwise."""
    package = '{"serial": "TB1", "records": [{"fields": {"decision": "rejected", "decision": "accepted"}}]}'
    with pytest.raises(InputError) as exc:
        loads_bounded(package.encode(), what="package", max_bytes=1 << 20)
    assert exc.value.field == "records.0.fields.decision"


def test_cli_verify_refuses_a_bundle_with_a_duplicate_key_with_exit_2_regression(tmp_path: Path) -> None:
    from ledger.dev.scenario import Scenario

    bundle, _ = Scenario.standard().build()
    text = json.dumps(json.loads(bundle.dump()), ensure_ascii=False)
    assert '"chain_id": 31337' in text
    p = tmp_path / "dup.json"
    p.write_text(text.replace('"chain_id": 31337', '"chain_id": 1, "chain_id": 31337', 1), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_bundle(p)
    assert exc.value.field == "chain_id"
    cli = str(Path(sys.executable).parent / "caseledger-verify")
    r = subprocess.run([cli, str(p), "--rpc", "http://127.0.0.1:9"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "chain_id" in r.stderr and "twice" in r.stderr and "Traceback" not in r.stderr


def test_api_body_with_a_duplicate_key_is_422_naming_its_path_regression() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from node_api.api.limits import BodyGuardMiddleware

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(await request.json())

    app = BodyGuardMiddleware(Starlette(routes=[Route("/x", echo, methods=["POST"])]), max_bytes=1 << 20)
    with TestClient(app) as client:
        ok = client.post("/x", content=b'{"reason": "a"}', headers={"content-type": "application/json"})
        assert ok.status_code == 200 and ok.json() == {"reason": "a"}
        dup = client.post("/x", content=b'{"reason": "a", "reason": "b"}', headers={"content-type": "application/json"})
    assert dup.status_code == 422
    err = dup.json()["error"]
    assert (err["field"], err["message_code"]) == ("reason", "json_duplicate_key")
    assert "两次" in err["message_zh"]
