"""Every error the API can return speaks to staff in Chinese and English (issue 14 "one error tree", issue 18).

The test walks the error classes of ``ledger.errors`` and every place in ``ledger/`` and ``node_api/`` that
builds one, and checks:

* every class of the tree lives in ``ledger/errors.py`` (no error class elsewhere);
* every class's default sentence, and every message code named at a raise site, is in the catalogue
  (``ledger/messages.py``) with a Chinese and an English sentence;
* a staff-facing error (input, not found, conflict, auth, forbidden …) names a catalogue code, never free
  text; operator errors (config, store, chain, transfer, verification) may carry English detail;
* every placeholder of both sentences is filled by the raise site's keyword arguments;
* every catalogue entry is used somewhere (no dead sentences), and no Chinese sentence is English.

Modules of the command-line tools (``ledger/cli``, ``ledger/dev``, ``ledger/network``) never answer the API
and may speak English only; their raise sites are not required to name codes.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import ledger.errors as errors
from ledger.messages import MESSAGES, placeholders, render

ROOT = Path(__file__).resolve().parents[2]
API_TREES = [ROOT / "ledger", ROOT / "node_api"]
CLI_ONLY = ("ledger/cli/", "ledger/dev/", "ledger/network/")
CJK = re.compile(r"[\u4e00-\u9fff]")

TREE: dict[str, type[errors.LedgerError]] = {
    name: obj for name, obj in vars(errors).items() if inspect.isclass(obj) and issubclass(obj, errors.LedgerError)
}


def _sources() -> list[tuple[str, ast.Module, str]]:
    out = []
    for tree in API_TREES:
        for p in sorted(tree.rglob("*.py")):
            rel = p.relative_to(ROOT).as_posix()
            src = p.read_text(encoding="utf-8")
            out.append((rel, ast.parse(src), src))
    return out


SOURCES = _sources()


def _class_name(call: ast.Call) -> str | None:
    f = call.func
    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
    return name if name in TREE or name in ("StaffAuthError", "StaffForbiddenError") else None


def _code_arg(cls: type[errors.LedgerError], call: ast.Call) -> ast.expr | None:
    pos = 1 if issubclass(cls, errors.InputError) else 0
    if issubclass(cls, errors.ChainRuleError | errors.CaseHeldError):
        return None  # fixed sentences (chain_rule, case_held): the rule's name or the serial is the parameter
    return call.args[pos] if len(call.args) > pos else None


def _literals(node: ast.expr) -> list[str] | None:
    """The message codes a code argument can take: a literal, or a conditional of literals."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        a, b = _literals(node.body), _literals(node.orelse)
        return None if a is None or b is None else a + b
    return None


def _raise_sites() -> list[tuple[str, int, type[errors.LedgerError], ast.Call]]:
    sites = []
    for rel, tree, _ in SOURCES:
        if rel == "ledger/errors.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (name := _class_name(node)):
                cls = TREE.get(name) or (errors.AuthError if name == "StaffAuthError" else errors.ForbiddenError)
                sites.append((rel, node.lineno, cls, node))
    return sites


SITES = _raise_sites()


def test_every_error_class_is_in_ledger_errors() -> None:
    elsewhere = []
    for rel, tree, _ in SOURCES:
        if rel == "ledger/errors.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                if bases & set(TREE) or node.name.endswith("Error"):
                    elsewhere.append(f"{rel}:{node.lineno} class {node.name}")
    assert elsewhere == [], "error classes belong in ledger/errors.py (one tree): " + "; ".join(elsewhere)


def test_the_tree_is_drawn_in_the_docstring() -> None:
    doc = errors.__doc__ or ""
    missing = [name for name in TREE if name not in doc]
    assert missing == [], f"ledger/errors.py's docstring does not draw {missing}"
    assert issubclass(errors.PeerAuthError, errors.AuthError)
    assert issubclass(errors.PeerForbiddenError, errors.ForbiddenError)
    assert issubclass(errors.CsrfError, errors.ForbiddenError)


@pytest.mark.parametrize("name", sorted(TREE))
def test_every_class_has_its_own_sentence(name: str) -> None:
    code = TREE[name].default_message
    assert code in MESSAGES, f"{name}.default_message {code!r} has no entry in ledger/messages.py"


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_every_entry_has_both_sentences(code: str) -> None:
    m = MESSAGES[code]
    assert m.zh.strip() and m.en.strip(), f"{code}: a sentence is empty"
    assert CJK.search(m.zh), f"{code}: the Chinese sentence has no Chinese in it: {m.zh!r}"
    assert not CJK.search(m.en), f"{code}: the English sentence has Chinese in it: {m.en!r}"
    for text in (m.zh, m.en):
        assert "Traceback" not in text and "Exception" not in text and "POST /" not in text, f"{code}: developer text"


def test_every_raise_site_names_a_code_with_both_sentences() -> None:
    bad = []
    for rel, line, cls, call in SITES:
        arg = _code_arg(cls, call)
        if arg is None:
            continue
        codes = _literals(arg)
        free = cls.free_text or rel.startswith(CLI_ONLY)
        if codes is None or any(c not in MESSAGES for c in codes):
            if not free:
                bad.append(f"{rel}:{line} {cls.__name__}({ast.unparse(arg)[:60]})")
            continue
        given = {k.arg for k in call.keywords if k.arg}
        if any(k.arg is None for k in call.keywords):
            continue  # **params: filled at run time
        for c in codes:
            need = placeholders(MESSAGES[c].zh) | placeholders(MESSAGES[c].en)
            if cls is errors.RateLimitedError:
                given = given | {"retry_after"}
            if need - given:
                bad.append(f"{rel}:{line} {c} needs {sorted(need - given)}")
    assert bad == [], "raise sites without a catalogue code (or its parameters):\n  " + "\n  ".join(bad)


def _all_string_literals() -> set[str]:
    out: set[str] = set()
    for rel, tree, _ in SOURCES:
        if rel == "ledger/messages.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.add(node.value)
    return out


def test_every_entry_is_used() -> None:
    used = _all_string_literals()
    dead = sorted(c for c in MESSAGES if c not in used)
    assert dead == [], f"catalogue entries no code uses (remove them or raise them): {dead}"


def test_render_fills_and_never_crashes() -> None:
    assert render("case_not_found", {"serial": "TB1"}, "zh") == "本大厅没有办件 TB1，请核对办件编号。"
    assert "{serial}" in render("case_not_found", {}, "en")  # a missing parameter stays visible, no KeyError
    assert render("no-such-code", {}, "zh") == MESSAGES["internal_error"].zh


def test_several_problems_keep_each_sentence() -> None:
    err = errors.InputError.several(
        [
            errors.InputError("materials.tax_receipt", "material_missing", material_zh="完税凭证", material_en="tax"),
            errors.InputError("applicant_phone", "phone_format"),
        ]
    )
    assert err.message_code == "several_problems" and [p.field for p in err.problems] == [
        "materials.tax_receipt",
        "applicant_phone",
    ]
    assert err.problems[0].message("zh") == "缺少必备材料：完税凭证。"
    one = errors.InputError("applicant_phone", "phone_format")
    assert errors.InputError.several([one]) is one


def test_free_text_is_kept_as_detail_and_staff_see_the_class_sentence() -> None:
    err = errors.ConfigError("the keystore password variable X is not set")
    assert err.message("zh") == MESSAGES["config_error"].zh
    assert str(err) == "the keystore password variable X is not set" == err.message("en")
