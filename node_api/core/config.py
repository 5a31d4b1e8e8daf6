"""Node settings, from ``CASELEDGER_*`` environment variables (pydantic-settings).

A hall directory made by ``caseledger up`` / ``ensure_halls`` (``keystore.json``,
``keystore.password``, ``hall.json``) can be named with ``CASELEDGER_HALL_DIR`` alone; every path
defaults to a file inside it.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.errors import ConfigError

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASELEDGER_", extra="ignore")

    hall_id: int | None = Field(default=None, description="expected hall id (checked against the registry)")
    hall_dir: Path | None = Field(
        default=None, description="directory holding keystore.json, keystore.password, store/"
    )
    keystore: Path | None = None
    password_file: Path | None = None
    password_env: str | None = Field(default=None, description="name of an environment variable holding the password")
    rpc_url: str = Field(default="http://127.0.0.1:8545", description="chain JSON-RPC URL(s), comma-separated")
    deployment_file: Path | None = None
    data_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8601
    confirmations: int = Field(default=0, ge=0)
    poll_interval: float = Field(default=1.0, gt=0)
    outbox_interval: float = Field(default=0.5, gt=0)
    outbox_batch_max: int = Field(default=50, ge=1, le=500)
    max_file_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    staff_token: str | None = Field(
        default=None, description="demo staff token; generated into data_dir/staff.token if unset"
    )
    peer_window: float = Field(default=120.0, gt=0, description="accepted clock skew of signed peer requests, seconds")
    startup_timeout: float = Field(default=30.0, ge=0)
    environment: str = "development"

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if self.hall_dir is not None:
            self.keystore = self.keystore or self.hall_dir / "keystore.json"
            if self.password_file is None and self.password_env is None:
                self.password_file = self.hall_dir / "keystore.password"
            self.data_dir = self.data_dir or self.hall_dir
            self.deployment_file = self.deployment_file or self.hall_dir.parent.parent / "deployment.json"
        if self.environment != "development" and self.staff_token in (None, "", "changeme"):
            raise ValueError("set CASELEDGER_STAFF_TOKEN to a real secret outside development")
        return self

    @property
    def rpc_urls(self) -> list[str]:
        return [u.strip() for u in self.rpc_url.split(",") if u.strip()]

    def require(self) -> tuple[Path, Path, Path]:
        """(keystore, deployment file, data dir), or a ConfigError saying what is missing."""
        if self.keystore is None:
            raise ConfigError("no hall keystore configured: set CASELEDGER_KEYSTORE or CASELEDGER_HALL_DIR")
        if self.deployment_file is None:
            raise ConfigError("no deployment file configured: set CASELEDGER_DEPLOYMENT_FILE")
        if self.data_dir is None:
            raise ConfigError("no data directory configured: set CASELEDGER_DATA_DIR or CASELEDGER_HALL_DIR")
        return self.keystore, self.deployment_file, self.data_dir

    def resolve_staff_token(self) -> str:
        if self.staff_token:
            return self.staff_token
        _, _, data_dir = self.require()
        path = data_dir / "staff.token"
        if path.exists():
            return path.read_text().strip()
        token = secrets.token_urlsafe(16)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(token + "\n")
        path.chmod(0o600)
        return token
