"""One error tree for the whole library.

Every failure the library reports is a :class:`LedgerError`; callers (the node API, the CLI)
map the subclasses to HTTP answers or exit codes. Third-party exceptions are translated at the
boundary with ``raise ... from``.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ChainError",
    "ChainRuleError",
    "ChainUnavailableError",
    "ConfigError",
    "ForbiddenError",
    "InputError",
    "LedgerError",
    "NotFoundError",
    "RateLimitedError",
    "StoreError",
    "TransferError",
    "VerificationError",
]


class LedgerError(Exception):
    """Base of every CaseLedger error. ``str(err)`` is one sentence a person can act on."""

    code: str = "ledger_error"


class InputError(LedgerError):
    """Bad input: names the offending ``field``."""

    code = "invalid_input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFoundError(LedgerError):
    code = "not_found"


class AuthError(LedgerError):
    """Not signed in: missing, wrong, expired or ended credentials (HTTP 401)."""

    code = "unauthenticated"


class ForbiddenError(LedgerError):
    """Signed in, but not allowed to do this (HTTP 403)."""

    code = "forbidden"


class RateLimitedError(AuthError):
    """Too many failed attempts; refused until ``retry_after`` seconds have passed (HTTP 429)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConfigError(LedgerError):
    code = "config_error"


class StoreError(LedgerError):
    code = "store_error"


class ChainError(LedgerError):
    code = "chain_error"


class ChainUnavailableError(ChainError):
    """The chain's JSON-RPC endpoint could not be reached (retry later)."""

    code = "chain_unavailable"


class ChainRuleError(ChainError):
    """The contract refused a call with a named custom error (e.g. ``CaseLedgerOutOfOrder``)."""

    code = "chain_rule"

    def __init__(self, rule: str, args: dict[str, object], message: str | None = None) -> None:
        super().__init__(message or f"the chain refused the call: {rule}({_fmt(args)})")
        self.rule = rule
        self.args_by_name = args


class TransferError(LedgerError):
    code = "transfer_error"


class VerificationError(LedgerError):
    """Something did not match what the chain says; carries what was expected and found."""

    code = "verification_failed"

    def __init__(self, message: str, *, expected: object = None, found: object = None, where: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.found = found
        self.where = where


def _fmt(args: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items())
