"""Checks on uploaded files before they reach the case book: name, type allowlist, count.

Files are stored content-addressed (``blob/<sha256>``), so a file name never becomes a path; the
name is still refused when it carries path separators, ``..``, NUL or other control characters,
so nothing downstream (exports, downloads) can be tricked by it::

    check_upload("materials.id_card", "身份证.jpg", "image/jpeg", data)   # InputError naming the field

Allowed types (by extension *and* leading bytes): PDF, JPEG, PNG and OFD (GB/T 33190, a ZIP container).
"""

from __future__ import annotations

import unicodedata

from ledger.errors import InputError

__all__ = ["ALLOWED_TYPES", "check_upload", "check_upload_counts"]

# extension → (accepted declared content types, magic prefixes)
ALLOWED_TYPES: dict[str, tuple[frozenset[str], tuple[bytes, ...]]] = {
    "pdf": (frozenset({"application/pdf"}), (b"%PDF-",)),
    "jpg": (frozenset({"image/jpeg", "image/pjpeg"}), (b"\xff\xd8\xff",)),
    "jpeg": (frozenset({"image/jpeg", "image/pjpeg"}), (b"\xff\xd8\xff",)),
    "png": (frozenset({"image/png"}), (b"\x89PNG\r\n\x1a\n",)),
    "ofd": (frozenset({"application/ofd", "application/zip", "application/x-zip-compressed"}), (b"PK\x03\x04",)),
}
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
MAX_NAME = 200


def check_filename(field: str, name: str) -> str:
    if not name or len(name) > MAX_NAME:
        raise InputError(field, f"every file needs a name of at most {MAX_NAME} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        raise InputError(field, "the file name contains NUL or control characters")
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith(".."):
        raise InputError(field, "the file name must not contain a path ('/', '\\' or '..')")
    return name


def check_upload(field: str, filename: str, content_type: str | None, data: bytes) -> None:
    """Refuse (``InputError`` naming ``field``) a file whose name, type or content is not allowed."""
    name = check_filename(field, filename)
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in ALLOWED_TYPES:
        raise InputError(
            field, f"file {name!r}: only {', '.join(sorted(set(ALLOWED_TYPES) - {'jpeg'}))} files are accepted"
        )
    types, magics = ALLOWED_TYPES[ext]
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared not in _GENERIC_TYPES and declared not in types:
        raise InputError(field, f"file {name!r} is declared as {declared}, which does not match .{ext}")
    if not any(data.startswith(m) for m in magics):
        raise InputError(field, f"file {name!r} does not look like a .{ext} file (its content starts differently)")


def check_upload_counts(fields: list[str], *, max_files: int, max_per_field: int = 5) -> None:
    if len(fields) > max_files:
        raise InputError("materials", f"{len(fields)} files in one request; the limit is {max_files}")
    for f in set(fields):
        if fields.count(f) > max_per_field:
            raise InputError(f, f"at most {max_per_field} files per material")
