"""One error tree for the whole library.

Every failure the library reports is a :class:`LedgerError`; callers (the node API, the CLI)
map the subclasses to HTTP answers or exit codes. Third-party exceptions are translated at the
boundary with ``raise ... from``.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "CaseHeldError",
    "ChainError",
    "ChainRuleError",
    "ChainUnavailableError",
    "ConfigError",
    "ConflictError",
    "ForbiddenError",
    "InputError",
    "LedgerError",
    "NotFoundError",
    "RateLimitedError",
    "StorageFullError",
    "StoreDamagedError",
    "StoreError",
    "TransferError",
    "UnavailableError",
    "VerificationError",
]


class LedgerError(Exception):
    """Base of every CaseLedger error. ``str(err)`` is one sentence a person can act on.

    ``zh`` is the same sentence for counter staff in Chinese, where the error has one (the pages show it).
    """

    code: str = "ledger_error"
    zh: str | None = None


class InputError(LedgerError):
    """Bad input: names the offending ``field``; ``message`` in English, ``zh`` the same in Chinese when given."""

    code = "invalid_input"

    def __init__(self, field: str, message: str, *, zh: str | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.zh = zh


class NotFoundError(LedgerError):
    code = "not_found"


class ConflictError(LedgerError):
    """The request is well formed but the case's state does not allow it now (HTTP 409).

    ``str(err)`` is the staff sentence, zh-CN first then English (``"…。 / …"``).
    """

    code = "conflict"


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


class CaseHeldError(LedgerError):
    """The chain refused this case's INTAKE (its serial belongs to another case on chain): the case takes
    no further events until an administrator reissues it under a new serial (HTTP 409)."""

    code = "case_held"
    zh = "该办件的受理事件被链上拒绝（编号与链上已有办件冲突），已暂停；请受理窗口人员按运维手册为其重新编号"

    def __init__(self, serial: str, why: dict[str, object]) -> None:
        super().__init__(
            f"case {serial} is held: the chain refused its INTAKE ({why.get('rule')}); a counter clerk reissues it "
            f"under a new serial (POST /admin/cases/{serial}/reissue)"
        )
        self.serial = serial


class ConfigError(LedgerError):
    code = "config_error"


class StoreError(LedgerError):
    code = "store_error"


class StoreDamagedError(StoreError):
    """The store on disk is missing, damaged or not this hall's: the node does not use it (HTTP 503, exit 2)."""

    code = "store_damaged"
    zh = "本厅数据存储损坏或缺失，暂停服务；请联系系统管理员按运维手册从备份恢复或从其他大厅重新获取"


class StorageFullError(StoreError):
    """The disk is full: nothing new can be saved until space returns; reads keep working (HTTP 503)."""

    code = "storage_full"
    zh = (
        "本厅存储空间已满，新的办件和操作暂时无法保存（已保存的办件可照常查看）；"
        "请联系系统管理员清理磁盘，空间恢复后自动继续"
    )
    retry_after = 30


class UnavailableError(LedgerError):
    """The hall cannot take this request right now and says why in staff words (HTTP 503, ``Retry-After``)."""

    code = "unavailable"

    def __init__(self, message: str, *, zh: str, code: str | None = None, retry_after: int = 10) -> None:
        super().__init__(message)
        self.zh = zh
        if code is not None:
            self.code = code
        self.retry_after = retry_after


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
