"""One error tree for the whole library, and how every error says what went wrong, in Chinese and English.

The tree (HTTP status as the node API maps it, once, in ``node_api/api/errors.py``)::

    LedgerError                     500  base; never raised itself
    ├── InputError                  422  bad input; names the ``field`` (may carry several ``problems``)
    ├── NotFoundError               404  no such case, file, account, dispute …
    │   └── DataErasedError         404  erased after its retention period (the case's data key destroyed)
    ├── ConflictError               409  the case's state does not allow it now ("already decided",
    │   │                                "package not received yet"); retrying the same request will not help
    │   └── CaseHeldError           409  the chain refused the case's INTAKE: held until a clerk reissues it
    ├── AuthError                   401  not signed in: missing, wrong, expired or ended credentials
    │   ├── RateLimitedError        429  too many failed attempts; ``retry_after`` seconds
    │   └── PeerAuthError           401  a peer request not signed by a registered hall key
    ├── ForbiddenError              403  signed in, but not allowed to do this
    │   ├── CsrfError               403  a cookie request without the session's CSRF token
    │   └── PeerForbiddenError      403  a registered hall key that may not have this
    ├── ConfigError                 500  the node or a command is configured wrongly (operator)
    ├── UnavailableError            503  the hall cannot take this now (clock off, serial check after a
    │                                    restore); ``code`` names why, ``retry_after`` seconds
    ├── StoreError                  500  the hall's store cannot be read or written
    │   ├── StoreDamagedError       503  the store is missing, damaged or not this hall's (exit 2 at start)
    │   ├── StorageFullError        503  the disk is full; reads keep working, writes resume by themselves
    │   └── SecretError             500  a sealed value (a TOTP secret) does not open with this node's key
    ├── ChainError                  502  the chain answered, but not as hoped
    │   ├── ChainUnavailableError   503  no chain node reachable (retry later)
    │   └── ChainRuleError          409  the contract refused with a named custom error
    ├── TransferError               502  a peer hall did not send a usable package
    └── VerificationError           409  something does not match what the chain says (expected vs found)

Third-party exceptions (``ValueError`` from a parser, web3's, plyvel's, httpx's) are translated at the
boundary with ``raise … from``; a bare ``ValueError``/``IndexError`` never leaves the library.

How an error speaks — the message catalogue (:mod:`ledger.messages`)
-------------------------------------------------------------------
Every error names a **message code** from :data:`ledger.messages.MESSAGES`, where each code has a
zh-CN and an English sentence for staff (plain words, no internals), with ``{name}`` placeholders
filled from keyword parameters given at the raise site::

    raise InputError("materials.tax_receipt", "material_missing", material_zh="完税凭证", material_en="tax receipt")
    raise NotFoundError("case_not_found", serial=serial)
    raise ConflictError("acceptance_already_decided", serial=serial)

``str(err)`` is the English sentence (logs, the CLI); ``err.message("zh")`` the Chinese one. The node API
answers ``{"error": {"code": <kind>, "message_code", "field", "params", "message", "message_zh"}}``
(``code`` is the class's kind, e.g. ``invalid_input``; ``message_code`` the catalogue entry), and the pages
show the sentence of their language next to ``field``.

To add an error: pick the class from the tree above, add the code with both sentences to
``ledger/messages.py`` (in its section), raise it with the parameters the sentences use.
``tests/unit/test_error_catalogue.py`` walks every raise site of the code base and every class here and
fails on a code without both sentences, a placeholder no raise site fills, a free-text message where a
staff-facing error is raised, or an error class defined outside this module.

Operator errors (``ConfigError``, ``StoreError``, ``ChainError``, ``TransferError``, ``VerificationError``)
may instead carry an English ``detail`` for logs and the CLI (``ConfigError(detail="…")``, or a free
sentence as the first argument); staff then see the class's own sentence, never the detail.
"""

from __future__ import annotations

from typing import ClassVar

from ledger.messages import MESSAGES, Param, render

__all__ = [
    "AuthError",
    "CaseHeldError",
    "ChainError",
    "ChainRuleError",
    "ChainUnavailableError",
    "ConfigError",
    "ConflictError",
    "CsrfError",
    "DataErasedError",
    "ForbiddenError",
    "InputError",
    "LedgerError",
    "NotFoundError",
    "PeerAuthError",
    "PeerForbiddenError",
    "RateLimitedError",
    "SecretError",
    "StorageFullError",
    "StoreDamagedError",
    "StoreError",
    "TransferError",
    "UnavailableError",
    "VerificationError",
]


class LedgerError(Exception):
    """Base of every CaseLedger error. ``str(err)`` is one English sentence a person can act on.

    ``code`` is the kind (one per class); ``message_code`` the catalogue entry; ``params`` fill its
    placeholders; ``detail`` is optional English operator text (never shown on the staff pages).
    """

    #: the kind (one per class; an :class:`UnavailableError` may name its reason instead)
    code: str = "ledger_error"
    default_message: ClassVar[str] = "internal_error"
    #: classes whose raise sites may pass free English text (operator errors), see the module docstring
    free_text: ClassVar[bool] = False

    def __init__(self, message_code: str | None = None, /, *, detail: str = "", **params: Param) -> None:
        #: the English text given instead of a catalogue code (operator errors, the CLI's tools), if any
        self.free_sentence = ""
        if message_code is not None and message_code not in MESSAGES:
            self.free_sentence, message_code = message_code, None
        self.message_code: str = message_code or self.default_message
        self.params: dict[str, Param] = params
        self.detail = detail
        super().__init__(self.message("en") + (f" ({detail})" if detail else ""))

    def message(self, lang: str = "en") -> str:
        """The staff sentence in ``lang`` (``zh`` or ``en``); free English text stands for itself in English."""
        if self.free_sentence and not lang.startswith("zh"):
            return self.free_sentence
        return render(self.message_code, self.params, lang)


class InputError(LedgerError):
    """Bad input: names the offending ``field``; ``problems`` lists every fault when there are several."""

    code = "invalid_input"
    default_message = "invalid_input"

    def __init__(self, field: str, message_code: str, /, *, detail: str = "", **params: Param) -> None:
        self.field = field
        self.problems: list[InputError] = []
        super().__init__(message_code, detail=detail, **params)
        # the sentence without the field name (the pages put it next to the field)
        self.text = self.message("en")
        self.args = (f"{field}: {self.text}",)

    @classmethod
    def several(cls, problems: list[InputError]) -> InputError:
        """One error for several faults (all missing materials at once); a single fault stays itself."""
        if len(problems) == 1:
            return problems[0]
        err = cls(problems[0].field, "several_problems", count=len(problems))
        err.problems = list(problems)
        err.args = ("; ".join(str(p) for p in problems),)
        return err


class NotFoundError(LedgerError):
    code = "not_found"
    default_message = "not_found"


class DataErasedError(NotFoundError):
    """The value was erased after its retention period: its data key is destroyed (HTTP 404)."""

    code = "personal_data_erased"
    default_message = "personal_data_erased"


class ConflictError(LedgerError):
    """The request is well formed but the case's state does not allow it now (HTTP 409)."""

    code = "conflict"
    default_message = "conflict"


class CaseHeldError(ConflictError):
    """The chain refused this case's INTAKE (its serial belongs to another case on chain): the case takes
    no further events until a counter clerk reissues it under a new serial (HTTP 409)."""

    code = "case_held"
    default_message = "case_held"

    def __init__(self, serial: str, why: dict[str, object]) -> None:
        self.serial = serial
        super().__init__("case_held", serial=serial, rule=str(why.get("rule")))


class AuthError(LedgerError):
    """Not signed in: missing, wrong, expired or ended credentials (HTTP 401)."""

    code = "unauthenticated"
    default_message = "unauthenticated"


class RateLimitedError(AuthError):
    """Too many failed attempts; refused until ``retry_after`` seconds have passed (HTTP 429)."""

    code = "rate_limited"
    default_message = "rate_limited"

    def __init__(
        self, message_code: str | None = None, /, *, retry_after: int, detail: str = "", **params: Param
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message_code, detail=detail, retry_after=retry_after, **params)


class PeerAuthError(AuthError):
    """A peer-hall request that is not signed by a registered hall key (HTTP 401)."""

    code = "unauthenticated"
    default_message = "peer_unauthenticated"


class ForbiddenError(LedgerError):
    """Signed in, but not allowed to do this (HTTP 403)."""

    code = "forbidden"
    default_message = "forbidden"


class CsrfError(ForbiddenError):
    """A cookie-authenticated unsafe request without the session's CSRF token (HTTP 403)."""

    code = "csrf_failed"
    default_message = "csrf_failed"


class PeerForbiddenError(ForbiddenError):
    """A registered hall key that may not have this (suspended hall, or no right to the case) (HTTP 403)."""

    code = "forbidden"
    default_message = "peer_forbidden"


class ConfigError(LedgerError):
    code = "config_error"
    default_message = "config_error"
    free_text = True


class StoreError(LedgerError):
    code = "store_error"
    default_message = "store_error"
    free_text = True


class StoreDamagedError(StoreError):
    """The store on disk is missing, damaged or not this hall's: the node does not use it (HTTP 503, exit 2)."""

    code = "store_damaged"
    default_message = "store_damaged"


class StorageFullError(StoreError):
    """The disk is full: nothing new can be saved until space returns; reads keep working (HTTP 503)."""

    code = "storage_full"
    default_message = "storage_full"
    retry_after = 30


class SecretError(StoreError):
    """A sealed value that does not open: another key, another purpose, or altered (HTTP 500: an operator's matter)."""

    code = "secret_unreadable"
    default_message = "secret_unreadable"


class UnavailableError(LedgerError):
    """The hall cannot take this request right now and says why in staff words (HTTP 503, ``Retry-After``).

    ``kind`` replaces the class's ``code`` in the answer (``clock_skew``, ``serial_check``) so a page or a
    health check can tell the reasons apart.
    """

    code = "unavailable"
    default_message = "unavailable"

    def __init__(
        self,
        message_code: str | None = None,
        /,
        *,
        kind: str | None = None,
        retry_after: int = 10,
        detail: str = "",
        **params: Param,
    ) -> None:
        if kind is not None:
            self.code = kind
        self.retry_after = retry_after
        super().__init__(message_code, detail=detail, **params)


class ChainError(LedgerError):
    code = "chain_error"
    default_message = "chain_error"
    free_text = True


class ChainUnavailableError(ChainError):
    """The chain's JSON-RPC endpoint could not be reached (retry later)."""

    code = "chain_unavailable"
    default_message = "chain_unavailable"


class ChainRuleError(ChainError):
    """The contract refused a call with a named custom error (e.g. ``CaseLedgerOutOfOrder``)."""

    code = "chain_rule"
    default_message = "chain_rule"

    def __init__(self, rule: str, args: dict[str, object], message: str | None = None) -> None:
        self.rule = rule
        self.args_by_name = args
        super().__init__("chain_rule", detail=message or f"{rule}({_fmt(args)})", rule=rule)


class TransferError(LedgerError):
    code = "transfer_error"
    default_message = "transfer_error"
    free_text = True


class VerificationError(LedgerError):
    """Something did not match what the chain says; carries what was expected and found."""

    code = "verification_failed"
    default_message = "verification_failed"
    free_text = True

    def __init__(
        self,
        message_code: str | None = None,
        /,
        *,
        expected: object = None,
        found: object = None,
        where: str = "",
        detail: str = "",
        **params: Param,
    ) -> None:
        self.expected = expected
        self.found = found
        self.where = where
        super().__init__(message_code, detail=detail, **params)


def _fmt(args: dict[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items())
