"""Where a verifier gets Merkle-mode batch manifests: a hall's public route or a directory (stdlib only).

Any hall serves every manifest it has fetched (its own batches and every other hall's) at
``GET <hall URL>/public/batches/<hall>/<seq>/manifest``; a directory holds files ``<hall>-<seq>.manifest``.
What a source answers is not trusted: the verifier checks every manifest against its batch's on-chain
root before using it (:meth:`ledger.core.batches.Manifest.check`), so a wrong or missing one only makes
the case unprovable (``manifest_unavailable``), never a match::

    source = manifest_source(["http://127.0.0.1:8101", "/srv/manifests"])
    raw = source(1, 7)        # bytes, or None when no source has hall 1's batch 7
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from ledger.core.batches import MAX_LEAVES
from ledger.errors import InputError

__all__ = ["MAX_MANIFEST_BYTES", "DirectoryManifests", "HttpManifests", "manifest_path", "manifest_source"]

MAX_MANIFEST_BYTES = 32 + MAX_LEAVES * (2 + 174 + 64)
"""largest manifest read from a source"""


def manifest_path(hall_id: int, seq: int) -> str:
    """The route (and, without the prefix, the file name) of a batch's manifest."""
    return f"/public/batches/{int(hall_id)}/{int(seq)}/manifest"


class HttpManifests:
    """A hall's public manifest route; counts requests."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise InputError("manifests", "manifest_source_invalid", source=url)
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.requests = 0

    def __call__(self, hall_id: int, seq: int) -> bytes | None:
        self.requests += 1
        req = urllib.request.Request(
            self.url + manifest_path(hall_id, seq), headers={"Accept": "application/octet-stream"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 (scheme checked above)
                raw: bytes = resp.read(MAX_MANIFEST_BYTES + 1)
        except (urllib.error.URLError, TimeoutError, OSError):
            return None  # not found, or the hall is down: another source may have it
        return raw if len(raw) <= MAX_MANIFEST_BYTES else None


class DirectoryManifests:
    """Files ``<hall>-<seq>.manifest`` in a directory (a mirror copied from a hall, or an auditor's archive)."""

    def __init__(self, path: Path) -> None:
        if not path.is_dir():
            raise InputError("manifests", "manifest_dir_invalid", path=str(path))
        self.path = path

    def __call__(self, hall_id: int, seq: int) -> bytes | None:
        f = self.path / f"{int(hall_id)}-{int(seq)}.manifest"
        try:
            if f.stat().st_size > MAX_MANIFEST_BYTES:
                return None
            return f.read_bytes()
        except OSError:
            return None


class _First:
    def __init__(self, sources: Sequence[HttpManifests | DirectoryManifests]) -> None:
        self.sources = list(sources)

    def __call__(self, hall_id: int, seq: int) -> bytes | None:
        for s in self.sources:
            raw = s(hall_id, seq)
            if raw is not None:
                return raw
        return None


def manifest_source(specs: Sequence[str]) -> _First:
    """Sources tried in order: each an http(s):// URL of a hall or a directory."""
    return _First([HttpManifests(s) if "://" in s else DirectoryManifests(Path(s)) for s in specs])
