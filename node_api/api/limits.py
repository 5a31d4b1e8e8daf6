"""Request body guard: a pure ASGI middleware in front of every route.

* **Size.** A body above ``max_bytes`` is answered 413 — by ``Content-Length`` before anything is
  read, or while a chunked body streams in. When a route is already reading the body (a multipart
  upload) the over-limit condition is remembered and whatever that route would have answered is
  replaced by the 413, so the caller always learns the real reason.
* **JSON depth.** A body the app will parse as JSON (no ``Content-Type``, ``application/json`` or
  ``application/*+json``) is read first (within the size limit) and measured with
  :func:`ledger.core.jsonsafe.json_depth`; deeper than ``max_json_depth`` → 422 naming ``body``,
  before any parser sees it.
* **Strict JSON.** A body that parses but holds the same key twice in one object, a lone surrogate or
  a byte-order mark (which ``json`` would accept, keeping the last duplicate) → 422 naming the JSON
  path (:func:`ledger.core.jsonsafe.strict_problem`). The body is then handed on unchanged.

Both answers use the API's error shape ``{"error": {code, field, message, message_zh}}``.
"""

from __future__ import annotations

import json

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.core.jsonsafe import MAX_JSON_DEPTH, json_depth, strict_problem
from ledger.messages import Param
from node_api.api.errors import plain_error_body

__all__ = ["CONTENT_SECURITY_POLICY", "BodyGuardMiddleware", "SecurityHeadersMiddleware"]


class _TooLarge(Exception):
    pass


_DRAIN_LIMIT = 64 * 1024 * 1024


def _is_json(scope: Scope) -> bool:
    for k, v in scope.get("headers", []):
        if k == b"content-type":
            main = bytes(v).split(b";", 1)[0].strip().lower()
            return main == b"application/json" or (main.startswith(b"application/") and main.endswith(b"+json"))
    return str(scope.get("method", "GET")) not in ("GET", "HEAD", "OPTIONS")  # FastAPI parses a typeless body as JSON


class BodyGuardMiddleware:
    """413 above ``max_bytes``; 422 for a JSON body nested deeper than ``max_json_depth``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_json_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_json_depth = max_json_depth

    async def _answer(
        self, send: Send, status: int, code: str, message_code: str, params: dict[str, Param], field: str = "body"
    ) -> None:
        """The API's one error shape (``node_api.api.errors``), written before any route runs."""
        body = json.dumps(plain_error_body(code, message_code, field, params), ensure_ascii=False).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _drain(self, receive: Receive) -> None:
        """Read (and drop) what the client still sends, up to a bound, so it reads the 413 instead of a reset."""
        dropped = 0
        while dropped < _DRAIN_LIMIT:
            msg = await receive()
            if msg["type"] != "http.request":
                return
            dropped += len(msg.get("body", b""))
            if not msg.get("more_body", False):
                return

    async def _too_large(self, send: Send) -> None:
        await self._answer(
            send, 413, "body_too_large", "body_too_large", {"max_mb": round(self.max_bytes / 1048576, 1)}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    too_big = int(v) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._too_large(send)
                    return
        if _is_json(scope):
            await self._json(scope, receive, send)
        else:
            await self._stream(scope, receive, send)

    async def _json(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        seen = 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":  # the client went away: nothing to answer
                return
            chunk = msg.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                if msg.get("more_body", False):
                    await self._drain(receive)  # first: the server closes the connection once it has answered
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        body = b"".join(chunks)
        opens = body.count(b"[") + body.count(b"{")
        if opens > self.max_json_depth and (depth := json_depth(body)) > self.max_json_depth:
            await self._answer(
                send, 422, "invalid_input", "json_too_deep", {"depth": depth, "max": self.max_json_depth}
            )
            return
        if body:
            # a large body is parsed off the event loop (the handler parses it again: bounded by max_bytes)
            small = len(body) < 256 * 1024
            problem = strict_problem(body) if small else await anyio.to_thread.run_sync(strict_problem, body)
            if problem is not None:
                where = problem.field.removeprefix("body.") if problem.field != "body" else "body"
                await self._answer(send, 422, "invalid_input", problem.message_code, problem.params, where)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect as a server would

        await self.app(scope, replay, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        seen = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise _TooLarge
            return msg

        async def guarded_send(msg: Message) -> None:
            nonlocal started
            if exceeded:  # the route answered the aborted read (400/422): the real reason is the size
                if msg["type"] == "http.response.start" and not started:
                    started = True
                    await self._drain(receive)
                    await self._too_large(send)
                return
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            if not started:
                started = True
                await self._drain(receive)
                await self._too_large(send)

    def __repr__(self) -> str:  # pragma: no cover
        return f"BodyGuardMiddleware(max_bytes={self.max_bytes}, max_json_depth={self.max_json_depth})"


# The staff pages load scripts, styles and images only from this node; nothing may frame them.
# style-src allows inline styles: the vendored ECharts positions its tooltips with style attributes.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# FastAPI's interactive API docs load their assets from a CDN: they get the headers below but no CSP.
_DOCS_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")


class SecurityHeadersMiddleware:
    """Adds ``Content-Security-Policy`` (with ``frame-ancestors 'none'``), ``X-Frame-Options: DENY``,
    ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin`` to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = scope.get("path", "") not in _DOCS_PATHS

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                have = {k.lower() for k, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                if csp:
                    extra.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                headers += [(k, v) for k, v in extra if k not in have]
                msg = {**msg, "headers": headers}
            await send(msg)

        await self.app(scope, receive, with_headers)
