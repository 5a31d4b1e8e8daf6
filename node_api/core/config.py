"""Node settings, from ``CASELEDGER_*`` environment variables (pydantic-settings).

A hall directory made by ``caseledger up`` / ``ensure_halls`` (``keystore.json``,
``keystore.password``, ``hall.json``) can be named with ``CASELEDGER_HALL_DIR`` alone; every path
defaults to a file inside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

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
    rpc_url: str = Field(
        default="http://127.0.0.1:8545",
        description="chain JSON-RPC endpoints, comma-separated, this district's own node first; the others are "
        "used only while it is down or lagging (see docs/operations.md, 'Chain endpoints')",
    )
    rpc_max_lag: int = Field(
        default=5, ge=1, description="fail over when the endpoint in use is this many blocks behind the best one"
    )
    rpc_timeout: float = Field(default=10.0, gt=0, description="seconds to wait for one JSON-RPC answer")
    rpc_probe_interval: float = Field(default=2.0, gt=0, description="seconds between probes of every endpoint")
    rpc_return_after: int = Field(
        default=3, ge=1, description="switch back to an earlier endpoint after this many good probes in a row"
    )
    reorg_check_interval: float = Field(
        default=2.0, gt=0, description="seconds between the outbox's checks that its recent anchors are still on chain"
    )
    deployment_file: Path | None = None
    data_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8601
    confirmations: int = Field(
        default=0,
        ge=0,
        description="the indexer acts on a block only once this many blocks are on top of it (0 on QBFT, whose "
        "blocks are final; 2 on a Clique dev network, whose short reorganisations are seen otherwise)",
    )
    poll_interval: float = Field(default=1.0, gt=0)
    outbox_interval: float = Field(default=0.5, gt=0)
    outbox_batch_max: int = Field(default=50, ge=1, le=500)
    anchor_mode: Literal["event", "merkle"] = Field(
        default="event",
        description="how cases taken in at this hall are anchored: 'event' (one log per event, the contract checks "
        "each) or 'merkle' (one root per batch; the rules are checked by the verifier and every hall's indexer). "
        "A case keeps its mode for life; other halls' events of it follow it (docs/design/merkle-mode.md)",
    )
    merkle_batch_max: int = Field(default=20_000, ge=1, le=65_536, description="events in one Merkle batch, at most")
    merkle_in_flight: int = Field(default=2, ge=1, le=16, description="Merkle batch transactions in flight")
    merkle_linger: float = Field(
        default=0.0, ge=0, description="seconds a Merkle batch waits to fill up before it is sent (0: send at once)"
    )
    max_file_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_files: int = Field(default=20, ge=1, le=200, description="files in one upload request")
    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, description="request body limit (413 beyond)")
    max_json_depth: int = Field(default=64, ge=8, le=200, description="deepest nesting of a JSON body (422 beyond)")
    session_ttl: float = Field(default=8 * 3600, gt=0, description="staff session lifetime, seconds")
    login_max_failures: int = Field(default=5, ge=1, description="failed sign-ins of one account before it locks")
    login_max_failures_address: int = Field(
        default=20, ge=1, description="failed sign-ins from one client address before the address locks"
    )
    login_lockout_base: float = Field(default=30.0, gt=0, description="first lock, seconds; doubles per failure")
    login_lockout: float = Field(
        default=15 * 60, gt=0, le=15 * 60, description="longest lock, seconds (the back-off's cap; at most 15 min)"
    )
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is believed; "
        "empty (the default): none, the TCP peer is the client",
    )
    kek_file: Path | None = Field(
        default=None,
        description="key-encryption key file (sealed TOTP secrets); keep it outside the store and out of backups "
        "(default <hall_dir>/kek.json)",
    )
    data_keys_dir: Path | None = Field(
        default=None,
        description="the data-key store (each case's data key, wrapped by the KEK); like the KEK, outside the store "
        "and never in a backup; kept as it is, not as point-in-time copies (default: datakeys/ beside the KEK file)",
    )
    housekeeping_interval: float = Field(
        default=60.0, gt=0, description="seconds between prunes of expired sessions, old nonces and sign-in failures"
    )
    demo_accounts: bool = Field(
        default=False, description="development: create one account per role at first start (demo-accounts.json)"
    )
    access_anchor_interval: float = Field(
        default=300.0, ge=0, description="seconds between access-trail anchors (0: only on demand)"
    )
    tls_certfile: Path | None = Field(default=None, description="PEM certificate chain: serve HTTPS")
    tls_keyfile: Path | None = Field(default=None, description="PEM private key of the certificate")
    audit_scan_interval: float = Field(default=300.0, ge=0, description="anomaly scan period, s (0: off)")
    audit_full_scan_interval: float = Field(
        default=86400.0, gt=0, description="full anomaly scan period, s (the scans between are incremental)"
    )
    audit_pending_after: float = Field(default=600.0, gt=0, description="pending anchor age anomaly, s")
    audit_outbox_after: float = Field(default=600.0, gt=0, description="outbox entry age anomaly, s")
    peer_window: float = Field(default=120.0, gt=0, description="accepted clock skew of signed peer requests, seconds")
    startup_timeout: float = Field(default=30.0, ge=0)
    health_outbox_stale_after: float = Field(
        default=120.0, gt=0, description="/health: outbox_stale when the oldest pending event is older, s"
    )
    health_indexer_max_lag: int = Field(default=20, ge=0, description="/health: indexer_lagging beyond this, blocks")
    health_fork_window: float = Field(
        default=600.0, gt=0, description="/health: chain_fork_seen is shown this many seconds after a reorg/rollback"
    )
    health_transfer_attempts: int = Field(
        default=3, ge=1, description="/health: transfers_failing when a pull has failed this many times in a row"
    )
    init_store: bool = Field(
        default=False,
        description="first start of a new hall: create its store (never again: a missing store is damage)",
    )
    store_min_free_bytes: int = Field(
        default=8 * 1024 * 1024, ge=0, description="after a full disk, free space needed before the store takes writes"
    )
    clock_max_skew: float = Field(
        default=120.0, gt=0, description="beyond this clock offset from the chain (s), writes and anchoring are held"
    )
    clock_peer_interval: float = Field(default=60.0, gt=0, description="seconds between Date checks of peer halls")
    idempotency_ttl: float = Field(default=24 * 3600, gt=0, description="how long a first answer is kept, s")
    max_logs_range: int = Field(
        default=1000, ge=1, description="blocks per forward eth_getLogs (Besu: --rpc-max-logs-range, default 1,000)"
    )
    metrics_enabled: bool = Field(default=True, description="serve Prometheus metrics at GET /metrics")
    environment: str = "development"

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if self.hall_dir is not None:
            self.keystore = self.keystore or self.hall_dir / "keystore.json"
            if self.password_file is None and self.password_env is None:
                self.password_file = self.hall_dir / "keystore.password"
            self.data_dir = self.data_dir or self.hall_dir
            self.kek_file = self.kek_file or self.hall_dir / "kek.json"
            self.deployment_file = self.deployment_file or self.hall_dir.parent.parent / "deployment.json"
        if self.environment != "development" and self.demo_accounts:
            raise ValueError("CASELEDGER_DEMO_ACCOUNTS (printed passwords) is for development only")
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("set both CASELEDGER_TLS_CERTFILE and CASELEDGER_TLS_KEYFILE, or neither")
        return self

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def tls_enabled(self) -> bool:
        return self.tls_certfile is not None

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
