"""Checks on uploaded files before they reach the case book: name, type allowlist, count.

Files are stored under their digest (a keyed MAC of it, :mod:`ledger.hall.atrest`), so a file name never
becomes a path; the name is still refused when it carries path separators, ``..``, NUL or other control
characters, so nothing downstream (exports, downloads) can be tricked by it::

    check_upload("materials.id_card", "身份证.jpg", "image/jpeg", data)   # InputError naming the field

Allowed types (by extension *and* leading bytes): PDF, JPEG, PNG and OFD (GB/T 33190, a ZIP container).
"""

from __future__ import annotations

import unicodedata

from ledger.errors import InputError

__all__ = ["ALLOWED_TYPES", "check_upload", "check_upload_counts", "check_upload_meta"]

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
        raise InputError(field, "file_name_invalid", max=MAX_NAME)
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        raise InputError(field, "file_name_control")
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith(".."):
        raise InputError(field, "file_name_path")
    return name


def check_upload_meta(field: str, filename: str, content_type: str | None) -> str:
    """The checks that need no content (name, extension, declared type); returns the extension.

    The intake page asks for them before uploading anything (``POST /cases/check``)."""
    name = check_filename(field, filename)
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in ALLOWED_TYPES:
        raise InputError(field, "file_type_not_allowed", name=name)
    types, _ = ALLOWED_TYPES[ext]
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared not in _GENERIC_TYPES and declared not in types:
        raise InputError(field, "file_type_mismatch", name=name, declared=declared, ext=ext)
    return ext


def check_upload(field: str, filename: str, content_type: str | None, data: bytes) -> None:
    """Refuse (``InputError`` naming ``field``) a file whose name, type or content is not allowed."""
    ext = check_upload_meta(field, filename, content_type)
    name = filename
    _, magics = ALLOWED_TYPES[ext]
    if not any(data.startswith(m) for m in magics):
        raise InputError(field, "file_content_mismatch", name=name, ext=ext)


def check_upload_counts(fields: list[str], *, max_files: int, max_per_field: int = 5) -> None:
    if len(fields) > max_files:
        raise InputError("materials", "too_many_files", count=len(fields), max=max_files)
    for f in set(fields):
        if fields.count(f) > max_per_field:
            raise InputError(f, "too_many_pages", max=max_per_field)
