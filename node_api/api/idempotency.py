"""``Idempotency-Key`` on every staff POST (pure ASGI middleware over :mod:`ledger.hall.idempotency`).

A POST with the header is answered once: a retry with the same key by the same staff member gets the
first answer (``Idempotent-Replayed: true``), also after a restart of the node; the same key on another
route is refused (422); a retry while the first is still running gets 409. Staff are recognised from
the same credentials the routes use (bearer token or session cookie); without a valid session the
request goes through unchanged (the route answers 401). Sign-in, sign-out, peer pulls and backups are
not covered (nothing to double, or a stream).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.errors import LedgerError
from ledger.messages import Param, render

if TYPE_CHECKING:
    from node_api.core.node import HallNode

__all__ = ["HEADER", "IdempotencyMiddleware"]

HEADER = "idempotency-key"
_SKIP = ("/auth/login", "/auth/logout", "/peer/", "/admin/backup")
_SESSION_COOKIE = "caseledger_session"  # node_api.api.deps.SESSION_COOKIE


def _json(
    status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    data = json.dumps(body, ensure_ascii=False).encode()
    return status, [(b"content-type", b"application/json"), *(extra or [])], data


def _error(status: int, code: str, message_code: str, **params: Param) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The API's one error shape (``node_api.api.errors``), sentences from the catalogue."""
    error = {
        "code": code,
        "message_code": message_code,
        "field": "Idempotency-Key",
        "params": params,
        "message": render(message_code, params, "en"),
        "message_zh": render(message_code, params, "zh"),
    }
    return _json(status, {"error": error})


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, node_getter: Callable[[], HallNode | None]) -> None:
        self.app = app
        self.node_getter = node_getter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        key = headers.get(HEADER)
        path: str = scope.get("path", "")
        node = self.node_getter()
        if key is None or node is None or any(path.startswith(p) for p in _SKIP):
            await self.app(scope, receive, send)
            return
        if not 8 <= len(key) <= 200 or not key.isprintable():
            await _send(
                send,
                *_error(422, "invalid_input", "idempotency_key_invalid"),
            )
            return
        username = _username(node, headers)
        if username is None:
            await self.app(scope, receive, send)
            return
        fingerprint = f"POST {path}"
        rec = await run_in_threadpool(node.answers.lookup, username, key)
        if rec is not None:
            await _send(send, *await run_in_threadpool(_replay, node, rec, fingerprint, path))
            return
        with node.answers.claim(username, key, fingerprint=fingerprint) as claim:
            if claim is None:
                await _send(
                    send,
                    *_error(409, "idempotency_conflict", "idempotency_in_progress"),
                )
                return
            status = 500
            ctype = "application/json"
            chunks: list[bytes] = []

            async def keep(message: Message) -> None:
                nonlocal status, ctype
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                    for k, v in message.get("headers", []):
                        if k.lower() == b"content-type":
                            ctype = v.decode("latin-1")
                elif message["type"] == "http.response.body":
                    chunks.append(message.get("body", b""))
                await send(message)

            try:
                await self.app(scope, receive, keep)
            finally:
                if status < 500 or claim.committed:
                    await run_in_threadpool(node.answers.finish, claim, status, b"".join(chunks), ctype)


def _username(node: HallNode, headers: dict[str, str]) -> str | None:
    token = None
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
    elif "cookie" in headers:
        c = SimpleCookie()
        c.load(headers["cookie"])
        if _SESSION_COOKIE in c:
            token = c[_SESSION_COOKIE].value
    if not token:
        return None
    try:
        return node.accounts.authenticate(token).account.username
    except LedgerError:
        return None


def _replay(
    node: HallNode, rec: dict[str, Any], fingerprint: str, path: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    replayed = [(b"idempotent-replayed", b"true")]
    if rec.get("fingerprint") != fingerprint:
        return _error(422, "invalid_input", "idempotency_key_reused", request=str(rec.get("fingerprint")))
    if rec.get("state") == "done":
        body = base64.b64decode(rec["body"])
        return int(rec["status"]), [(b"content-type", str(rec["content_type"]).encode()), *replayed], body
    ref = rec.get("ref")  # committed, but the answer was lost with the process: the case it made, as it is now
    if ref is not None or path.startswith("/cases/"):
        serial = ref or path.split("/")[2]
        try:
            return _json(201 if path == "/cases" else 200, node.book.view(serial), replayed)
        except LedgerError:
            pass
    return _error(409, "idempotency_conflict", "idempotency_answer_lost")


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
