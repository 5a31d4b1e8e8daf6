"""Strict value types of the evidence format, one spelling per kind of value (docs/verification.md §hex).

* ``HEX32_0X``: 32-byte values and transaction hashes, ``0x`` + 64 lowercase hex;
* ``HEX32``: salts and withheld leaf hashes (inside hashed JSON), 64 lowercase hex, no ``0x``;
* ``ADDRESS``: ``0x`` + 40 hex, any case (EIP-55 in output), compared case-insensitively;
* ``BASE64``: RFC 4648 §4 with padding, no line breaks;
* ``FIELD_NAME``: a record field name;
* ``SAFE_INT``: an integer in [-(2^53-1), 2^53-1]; ``Scalar``: what a record field may hold.

Integers are strict (a JSON number, never a string or a boolean).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt, StrictStr, StringConstraints

__all__ = [
    "ADDRESS",
    "BASE64",
    "FIELD_NAME",
    "FIELD_NAME_PATTERN",
    "HEX32",
    "HEX32_0X",
    "MAX_SAFE_INT",
    "SAFE_INT",
    "UINT32",
    "UINT64",
    "Scalar",
]

MAX_SAFE_INT = 2**53 - 1
FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"

HEX32_0X = Annotated[str, StringConstraints(strict=True, pattern=r"^0x[0-9a-f]{64}$")]
HEX32 = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9a-f]{64}$")]
ADDRESS = Annotated[str, StringConstraints(strict=True, pattern=r"^0x[0-9a-fA-F]{40}$")]
BASE64 = Annotated[
    str, StringConstraints(strict=True, pattern=r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
]
FIELD_NAME = Annotated[str, StringConstraints(strict=True, pattern=FIELD_NAME_PATTERN)]
SAFE_INT = Annotated[StrictInt, Field(ge=-MAX_SAFE_INT, le=MAX_SAFE_INT)]
UINT32 = Annotated[StrictInt, Field(ge=0, le=2**32 - 1)]
UINT64 = Annotated[StrictInt, Field(ge=0, le=MAX_SAFE_INT)]
Scalar = StrictStr | SAFE_INT | StrictBool | None
