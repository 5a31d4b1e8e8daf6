"""JSON from outside, parsed with a bound on nesting depth and size (pure, stdlib only).

CPython's ``json`` recurses once per nested array or object, in C. With the interpreter's default
recursion limit (1,000) a too-deep document is a ``RecursionError``; with a raised limit (``py_ecc``,
imported by ``eth_account``, sets 100,000) it overflows the C stack and the process dies. So every
document that comes from outside (a request body, an evidence bundle, a peer hall's package, a backup
manifest) is measured first with :func:`json_depth`, which never recurses, and only then parsed::

    data = loads_bounded(raw, what="bundle", max_bytes=64 * 1024 * 1024)   # InputError naming "bundle"

:func:`json_depth` counts brackets outside strings with a few C-speed passes (escapes removed,
strings removed, everything but ``[]{}`` deleted, then a running sum); for any text it returns at
least the depth the parser would reach before it stops, so a document it lets through cannot
recurse deeper than ``max_depth``.

The reader is strict where ``json`` is lenient, because two readers of one document must see the same
values (a verifier in another language, a court's copy of a bundle): an object with the same key twice
(``json`` keeps the last, other parsers the first), a string holding a lone UTF-16 surrogate
(``"\ud800"``: not Unicode text, RFC 8259 §8.2) and a leading byte-order mark (RFC 8259 §8.1) are
refused, each with an :class:`InputError` naming the JSON path (``events.2.record.fields``).
``integers_only`` also refuses every number written with a fraction or an exponent (``5.0``, ``5e0``),
which the evidence format never uses and JSON Schema would count as the integer 5.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from pathlib import Path
from typing import Any

from ledger.errors import InputError

__all__ = [
    "MAX_JSON_DEPTH",
    "json_path",
    "SAFE_RECURSION_LIMIT",
    "ensure_safe_recursion_limit",
    "json_depth",
    "load_json_file",
    "loads_bounded",
    "strict_check",
    "strict_problem",
]

MAX_JSON_DEPTH = 64
"""Deepest nesting accepted anywhere (the deepest real document, an evidence bundle, nests 5 levels)."""
SAFE_RECURSION_LIMIT = 1000
"""CPython's default; deep enough for every library we use, shallow enough for C code not to overflow."""

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(data: bytes | str) -> int:
    """The deepest nesting of arrays/objects in ``data`` (an upper bound for text that is not JSON)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    bare = _STRING.sub(b"", _ESCAPE.sub(b"", raw)).translate(None, _NOT_BRACKET)
    return max(itertools.accumulate(map(_STEP.__getitem__, bare)), default=0)


class _Duplicated(dict[str, Any]):
    """An object that had ``key`` twice (kept until the strict walk names its path)."""

    key: str = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    seen: set[str] = set()
    dup = _Duplicated(out)
    for k, _ in pairs:
        if k in seen:
            dup.key = k
            break
        seen.add(k)
    return dup


def json_path(parts: list[str | int], *, root: str) -> str:
    """``events.2.record`` (array positions and keys joined by dots), ``root`` for the document itself."""
    return ".".join(str(p) for p in parts) or root


def _has_lone_surrogate(s: str) -> bool:
    if s.isascii():
        return False
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def strict_check(doc: Any, *, what: str, integers_only: bool = False) -> None:
    """Refuse duplicate keys (when parsed by :func:`loads_bounded`), lone surrogates and (``integers_only``)
    numbers with a fraction or exponent, naming the JSON path; also usable on an already parsed document."""
    stack: list[tuple[Any, list[str | int]]] = [(doc, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            if isinstance(node, _Duplicated):
                where = json_path(path, root=what)
                raise InputError(
                    json_path([*path, node.key], root=what), "json_duplicate_key", key=node.key, where=where
                )
            for k, v in node.items():
                if _has_lone_surrogate(k):
                    where = json_path(path, root=what)
                    raise InputError(where, "json_lone_surrogate_key")
                stack.append((v, [*path, k]))
        elif isinstance(node, list):
            stack.extend((v, [*path, i]) for i, v in enumerate(node))
        elif isinstance(node, str):
            if _has_lone_surrogate(node):
                where = json_path(path, root=what)
                raise InputError(where, "json_lone_surrogate")
        elif integers_only and isinstance(node, float):
            where = json_path(path, root=what)
            raise InputError(where, "json_not_integer", value=repr(node))


def loads_bounded(
    data: bytes | str,
    *,
    what: str = "body",
    max_depth: int = MAX_JSON_DEPTH,
    max_bytes: int | None = None,
    integers_only: bool = False,
) -> Any:
    """``json.loads`` after the size and depth checks, then the strict checks; :class:`InputError` (field
    ``what``, or the JSON path of the problem) otherwise.

    Every failure is one sentence in Chinese and English; no parser internals leak out.
    """
    size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
    if max_bytes is not None and size > max_bytes:
        raise InputError(what, "json_too_large", size=size, max_bytes=max_bytes)
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    # fewer openers than the bound cannot nest deeper than it (a C-speed count settles most documents)
    if raw.count(b"[") + raw.count(b"{") > max_depth and (depth := json_depth(raw)) > max_depth:
        raise InputError(what, "json_too_deep", depth=depth, max=max_depth)
    if raw[:3] == b"\xef\xbb\xbf" or (isinstance(data, str) and data[:1] == "\ufeff"):
        raise InputError(what, "json_bom")
    try:
        doc = json.loads(data, object_pairs_hook=_pairs)
    except RecursionError:  # pragma: no cover - prevented by the depth check
        raise InputError(what, "json_too_deep", depth=">" + str(max_depth), max=max_depth) from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, and the int-digits limit
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise InputError(what, "json_invalid", where=where) from None
    strict_check(doc, what=what, integers_only=integers_only)
    return doc


def strict_problem(data: bytes) -> InputError | None:
    """The strict reader's objection to a document ``json`` itself accepts (a duplicate key, a lone
    surrogate, a byte-order mark), or ``None`` — also ``None`` for text that is not JSON at all, which
    the caller's own parser answers. For a guard in front of a framework that parses with ``json``."""
    try:
        json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    try:
        loads_bounded(data, what="body", max_depth=sys.maxsize)
    except InputError as exc:
        return exc
    return None


def load_json_file(
    path: Path, *, what: str, max_depth: int = MAX_JSON_DEPTH, max_bytes: int, integers_only: bool = False
) -> Any:
    """Read ``path`` (at most ``max_bytes``, checked before reading it all) and :func:`loads_bounded` it."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(what, "file_missing", path=str(path)) from None
    except OSError as exc:
        raise InputError(what, "file_unreadable", path=str(path), reason=str(exc.strerror)) from None
    return loads_bounded(raw, what=what, max_depth=max_depth, max_bytes=max_bytes, integers_only=integers_only)


def ensure_safe_recursion_limit() -> int:
    """Put the interpreter's recursion limit back to :data:`SAFE_RECURSION_LIMIT` if something raised it.

    Returns the limit now in force. Called by ``ledger`` on import (after importing ``py_ecc`` first, the
    package that raises it) and again by the node and the CLI once everything is imported.
    """
    if sys.getrecursionlimit() > SAFE_RECURSION_LIMIT:
        sys.setrecursionlimit(SAFE_RECURSION_LIMIT)
    return sys.getrecursionlimit()
