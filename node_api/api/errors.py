"""One exception handler: LedgerError subclasses → HTTP answers ``{"error": {code, field, message}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ledger.errors import (
    AuthError,
    CaseHeldError,
    ChainUnavailableError,
    ConflictError,
    ForbiddenError,
    InputError,
    LedgerError,
    NotFoundError,
    RateLimitedError,
    StorageFullError,
    StoreDamagedError,
    TransferError,
    UnavailableError,
    VerificationError,
)
from ledger.hall.transfer import PeerAuthError, PeerForbiddenError

__all__ = ["install_error_handlers", "status_of"]


# First match wins: subclasses (RateLimitedError is an AuthError) come before their bases.
_STATUS: tuple[tuple[type[LedgerError] | tuple[type[LedgerError], ...], int], ...] = (
    (InputError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (RateLimitedError, 429),
    ((PeerAuthError, AuthError), 401),
    ((PeerForbiddenError, ForbiddenError), 403),
    ((ChainUnavailableError, StorageFullError, StoreDamagedError, UnavailableError), 503),
    ((VerificationError, CaseHeldError), 409),
    (TransferError, 502),
)


def status_of(exc: LedgerError) -> int:
    """The HTTP status of a library error (500 for anything not listed, configuration errors included)."""
    return next((status for kinds, status in _STATUS if isinstance(exc, kinds)), 500)


def _body(code: str, field: str | None, message: str, zh: str | None = None) -> dict[str, dict[str, str | None]]:
    """The one error shape: machine code, the field at fault, the sentence in English and (when known) Chinese."""
    out: dict[str, str | None] = {"code": code, "field": field, "message": message}
    if zh is not None:
        out["message_zh"] = zh
    return {"error": out}


def _validation_sentence(err: Any) -> tuple[str, str]:
    """(English, Chinese) for one pydantic validation error of a request."""
    kind, ctx = str(err.get("type", "")), err.get("ctx") or {}
    if kind == "string_too_long":
        n = ctx.get("max_length")
        return f"at most {n} characters", f"最多 {n} 个字符"
    if kind == "string_too_short":
        n = ctx.get("min_length")
        return f"at least {n} characters", f"至少 {n} 个字符"
    if kind in ("too_long", "list_too_long"):
        n = ctx.get("max_length")
        return f"at most {n} items", f"最多 {n} 项"
    if kind == "missing":
        return "is required", "必须填写"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number", "必须是整数"
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false", "必须是 true 或 false"
    if kind in ("string_type", "string_unicode"):
        return "must be text", "必须是文本"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return str(err.get("msg", "out of range")), "数值超出允许范围"
    if kind.startswith("json") or kind in ("model_attributes_type", "dict_type", "model_type"):
        return "the request body is not the JSON object this call takes", "请求内容不是本接口要求的 JSON 对象"
    if kind == "value_error":
        return str(err.get("msg", "invalid value")).removeprefix("Value error, "), "取值无效"
    return str(err.get("msg", "invalid request")), "请求内容不符合要求"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def ledger_error(_: Request, exc: LedgerError) -> JSONResponse:
        field = exc.field if isinstance(exc, InputError) else None
        message = exc.message if isinstance(exc, InputError) else str(exc)
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if isinstance(retry_after, int) else None
        if isinstance(exc, AuthError) and not isinstance(exc, RateLimitedError):
            headers = {"WWW-Authenticate": "Bearer"}
        return JSONResponse(_body(exc.code, field, message, exc.zh), status_code=status_of(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        first = errs[0] if errs else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
        en, zh = _validation_sentence(first)
        return JSONResponse(_body("invalid_input", ".".join(loc) or None, en, zh), status_code=422)
