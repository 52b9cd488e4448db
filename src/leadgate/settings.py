"""leadgate's configuration: one settings class, read from `LEADGATE_*` environment variables."""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")
SECRET_FILE_NAME = "server-secret"  # noqa: S105 - a file name, not a secret


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    """Every setting of a leadgate deployment. `docs/operations.md` lists them for operators."""

    model_config = SettingsConfigDict(env_prefix="LEADGATE_", extra="ignore")

    environment: Environment = Field(
        Environment.development,
        description="development, test or production. Production refuses generated secrets.",
    )
    data_dir: Path = Field(
        DEFAULT_DATA_DIR,
        description="Where the embedded SQLite database and the development secret live.",
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy async URL. Empty: a SQLite file `leadgate.db` in the data dir.",
    )
    redis_url: str | None = Field(
        None,
        description="Redis URL for shared rate limits and key-cache invalidation. "
        "Empty: in-process (one server process only).",
    )
    redis_prefix: str = Field("lg:", description="Prefix for every Redis key leadgate writes.")
    secret_key: SecretStr | None = Field(
        None,
        description="Server secret that keys API-key HMACs. Development generates one into "
        "the data dir; production requires it (32+ characters).",
    )
    key_prefix: str = Field(
        "lg",
        pattern=r"^[a-z][a-z0-9]{1,11}$",
        description="Prefix of issued API keys (`lg_…`, `snap_…`, `hcrm_…`).",
    )
    base_domain: str | None = Field(
        None,
        description="Base domain for tenant subdomains: `acme.<base_domain>` is tenant `acme`.",
    )
    default_phone_region: str = Field(
        "US", description="Region for phone numbers given without a country code."
    )
    default_rate_limit_per_minute: int = Field(
        200, ge=1, description="Per-key requests per minute unless the key or plan says otherwise."
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted.")
    max_header_bytes: int = Field(
        16_384, ge=1024, description="Largest total size of request headers accepted (431 past it)."
    )
    public_url: str = Field(
        "http://127.0.0.1:8000", description="Where this deployment is reached, for docs and links."
    )
    db_pool_size: int = Field(10, ge=1, description="Connections per process (PostgreSQL).")
    access_log: bool = Field(True, description="Write one JSON line per request to stderr.")
    log_level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING or ERROR.")
    last_used_flush_seconds: float = Field(
        1.0, gt=0, description="How often `lastUsedAt`/`lastUsedIp` of keys are written."
    )

    # --- issue 6: leads API, idempotency, export ---
    idempotency_ttl_hours: float = Field(
        24, gt=0, description="How long the first response to an `Idempotency-Key` is kept."
    )
    idempotency_abandoned_after_seconds: float = Field(
        300,
        gt=0,
        description="A keyed request still unfinished after this long is taken as abandoned "
        "(its server died), and its key may be claimed again.",
    )
    lead_retention_days: float = Field(
        30, ge=0, description="Soft-deleted leads are purged this many days after deletion."
    )
    housekeeping_interval_seconds: float = Field(
        3600,
        gt=0,
        description="How often expired idempotency records and deleted leads are purged.",
    )
    export_batch_size: int = Field(
        1000, ge=10, le=10_000, description="Leads read per query while streaming a CSV export."
    )

    @field_validator("base_domain")
    @classmethod
    def _normalise_domain(cls, value: str | None) -> str | None:
        if not value:
            return None
        return value.strip(".").lower() or None

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment is Environment.production:
            if self.secret_key is None or len(self.secret_key.get_secret_value()) < 32:
                raise ValueError(
                    "LEADGATE_SECRET_KEY must be set to 32+ random characters in production"
                )
            if not self.database_url:
                raise ValueError("LEADGATE_DATABASE_URL must be set in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'leadgate.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @cached_property
    def secret_bytes(self) -> bytes:
        """The server secret; in development, generated once and kept in the data dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / SECRET_FILE_NAME
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()
