"""Where the contracts live: the deployment file written by ``caseledger deploy`` and read by every node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ledger.errors import ConfigError

__all__ = ["FORMAT_VERSION", "Deployment"]

FORMAT_VERSION = 2


class Deployment(BaseModel):
    """Where the contracts live: written by ``caseledger deploy``, read by every node."""

    model_config = ConfigDict(frozen=True)

    chain_id: int
    registry: str
    ledger: str
    deployed_block: int
    admin: str
    # hash of block 0 of the chain deployed to (for the record; files written before deployed_block_hash
    # existed are checked by it)
    genesis_hash: str | None = None
    # hash of block ``deployed_block``: a chain restarted from nothing (state lost) has another block there even
    # where the contracts could be deployed again at the same addresses. Not block 0: anvil restarted from its
    # state file keeps a new genesis block beside the old one and may answer either for block 0
    deployed_block_hash: str | None = None
    format_version: int = FORMAT_VERSION
    suite: Literal["intl", "gm"] = "intl"

    @classmethod
    def load(cls, path: Path) -> Deployment:
        """Read ``deployment.json``; :class:`ConfigError` (one sentence, with the way out) for another format."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"no deployment file at {path}: run `caseledger deploy` first") from exc
        except ValueError as exc:
            raise ConfigError(f"deployment file {path} is not valid JSON: {exc}") from exc
        version = raw.get("format_version", 1) if isinstance(raw, dict) else None
        if version != FORMAT_VERSION:
            raise ConfigError(
                f"{path} is a format-{version} deployment and this release runs format {FORMAT_VERSION}: on a "
                "development machine run `caseledger reset`; in a pilot, export the bundles of disputed cases and "
                "deploy afresh"
            )
        try:
            return cls.model_validate(raw)
        except ValueError as exc:
            raise ConfigError(f"deployment file {path} is not valid: {exc}") from exc

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
