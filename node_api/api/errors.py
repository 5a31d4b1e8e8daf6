"""Every error answer of the API, in one shape and mapped to HTTP once.

``{"error": {"code", "message_code", "field", "params", "message", "message_zh"[, "problems"]}}``:
``code`` is the error's kind (``invalid_input``, ``conflict``, ``unauthenticated`` …, one per class of
:mod:`ledger.errors`), ``message_code`` the entry of the message catalogue (:mod:`ledger.messages`) whose
English (``message``) and Chinese (``message_zh``) sentences are for staff, ``field`` the field at fault
(or null), ``params`` the values in the sentences; ``problems`` lists each fault when there are several.
Request validation (pydantic), unknown routes and unexpected exceptions answer in the same shape, so no
answer of this service carries a traceback or developer text in place of a sentence.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import (
    AuthError,
    ChainError,
    ChainRuleError,
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
from ledger.messages import Param, render

__all__ = ["error_body", "install_error_handlers", "plain_error_body", "status_of"]

log = logging.getLogger("caseledger.api")

# First match wins: subclasses come before their bases (RateLimitedError is an AuthError,
# ChainUnavailableError and ChainRuleError are ChainErrors, StorageFullError and StoreDamagedError StoreErrors;
# CaseHeldError is a ConflictError, 409).
_STATUS: tuple[tuple[type[LedgerError], int], ...] = (
    (InputError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (RateLimitedError, 429),
    (AuthError, 401),
    (ForbiddenError, 403),
    (ChainUnavailableError, 503),
    (StorageFullError, 503),
    (StoreDamagedError, 503),
    (UnavailableError, 503),
    (ChainRuleError, 409),
    (ChainError, 502),
    (VerificationError, 409),
    (TransferError, 502),
)


def status_of(exc: LedgerError) -> int:
    """The HTTP status of a library error (500 for anything not listed, configuration errors included)."""
    return next((status for kind, status in _STATUS if isinstance(exc, kind)), 500)


def _one(exc: LedgerError) -> dict[str, Any]:
    return {
        "code": exc.code,
        "message_code": exc.message_code,
        "field": exc.field if isinstance(exc, InputError) else None,
        "params": exc.params,
        "message": exc.message("en"),
        "message_zh": exc.message("zh"),
    }


def error_body(exc: LedgerError) -> dict[str, Any]:
    """The answer's JSON for a library error."""
    out = _one(exc)
    if isinstance(exc, InputError) and exc.problems:
        out["problems"] = [_one(p) for p in exc.problems]
    return {"error": out}


def plain_error_body(code: str, message_code: str, field: str | None, params: dict[str, Param]) -> dict[str, Any]:
    """The API's one error shape, ``{"error": {code, message_code, field, params, message, message_zh}}``."""
    return {
        "error": {
            "code": code,
            "message_code": message_code,
            "field": field,
            "params": params,
            "message": render(message_code, params, "en"),
            "message_zh": render(message_code, params, "zh"),
        }
    }


# pydantic error type → catalogue entry (and the context value its sentence shows)
_PYDANTIC: dict[str, tuple[str, str | None, str | None]] = {
    "missing": ("required", None, None),
    "string_too_long": ("too_long", "max_length", "max"),
    "string_too_short": ("too_short", "min_length", "min"),
    "too_long": ("too_many_items", "max_length", "max"),
    "list_too_long": ("too_many_items", "max_length", "max"),
    "int_parsing": ("not_a_whole_number", None, None),
    "int_type": ("not_a_whole_number", None, None),
    "int_from_float": ("not_a_whole_number", None, None),
    "bool_parsing": ("not_true_or_false", None, None),
    "bool_type": ("not_true_or_false", None, None),
    "string_type": ("not_text", None, None),
    "string_unicode": ("not_text", None, None),
    "greater_than_equal": ("out_of_range", None, None),
    "greater_than": ("out_of_range", None, None),
    "less_than_equal": ("out_of_range", None, None),
    "less_than": ("out_of_range", None, None),
    "model_attributes_type": ("not_a_json_object", None, None),
    "dict_type": ("not_a_json_object", None, None),
    "model_type": ("not_a_json_object", None, None),
}


def validation_problem(err: Any) -> tuple[str | None, str, dict[str, Param]]:
    """(field, message code, params) for one pydantic validation error of a request."""
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
    kind = str(err.get("type", ""))
    code, ctx_key, param = _PYDANTIC.get(
        kind, ("not_a_json_object" if kind.startswith("json") else "request_invalid", None, None)
    )
    params: dict[str, Param] = {}
    if ctx_key and param:
        value = (err.get("ctx") or {}).get(ctx_key)
        params[param] = value if isinstance(value, int | str) else str(value)
    return ".".join(loc) or None, code, params


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def ledger_error(_: Request, exc: LedgerError) -> JSONResponse:
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if isinstance(retry_after, int) else None
        if isinstance(exc, AuthError) and not isinstance(exc, RateLimitedError):
            headers = {"WWW-Authenticate": "Bearer"}
        status = status_of(exc)
        if status >= 500:
            log.warning("%s answered %d: %s", exc.__class__.__name__, status, exc)
        return JSONResponse(error_body(exc), status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        problems = [validation_problem(e) for e in errs] or [(None, "request_invalid", {})]
        field, code, params = problems[0]
        body = plain_error_body("invalid_input", code, field, params)
        if len(problems) > 1:
            body["error"]["problems"] = [plain_error_body("invalid_input", c, f, p)["error"] for f, c, p in problems]
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "no_such_page", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status_code, "request_invalid"
        )
        kind = {404: "not_found", 405: "invalid_input", 413: "body_too_large"}.get(exc.status_code, "invalid_input")
        return JSONResponse(
            plain_error_body(kind, code, None, {}), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error (answered 500 without details)", exc_info=exc)
        return JSONResponse(plain_error_body("internal_error", "internal_error", None, {}), status_code=500)
