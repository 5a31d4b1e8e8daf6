"""One exception handler: LedgerError subclasses → HTTP answers ``{"error": {code, field, message}}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ledger.errors import (
    AuthError,
    CaseHeldError,
    ChainUnavailableError,
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
    err: dict[str, str | None] = {"code": code, "field": field, "message": message}
    if zh:
        err["message_zh"] = zh  # the staff sentence (the pages show it in zh-CN)
    return {"error": err}


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
        return JSONResponse(_body("invalid_input", ".".join(loc) or None, str(first.get("msg"))), status_code=422)
