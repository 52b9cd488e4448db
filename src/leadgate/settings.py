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

    # --- issue 4: rate limits, quotas and usage ---
    plan_rate_limits: dict[str, int] = Field(
        default_factory=dict,
        description='Per-minute limit by tenant plan, JSON (`{"pro": 1000}`); a key\'s own limit '
        "wins, plans not listed use the default.",
    )
    plan_monthly_quotas: dict[str, int] = Field(
        default_factory=dict,
        description='Monthly request quota by tenant plan, JSON (`{"free": 10000}`); a key\'s own '
        "quota wins; plans not listed have none.",
    )
    rate_limit_fail_open: bool = Field(
        True,
        description="When Redis is unreachable, serve requests unlimited (true) or refuse them "
        "with 503 (false).",
    )
    rate_limit_redis_retry_seconds: float = Field(
        1.0,
        gt=0,
        description="After a Redis failure, how long limiting skips Redis before retrying.",
    )
    auth_failure_limit: int = Field(
        20, ge=1, description="Failed authentications from one address allowed per window."
    )
    auth_failure_window_seconds: float = Field(
        60.0, gt=0, description="Window of the failed-authentication throttle."
    )
    usage_flush_seconds: float = Field(
        5.0, gt=0, description="How often usage counters are written to the database."
    )
    usage_alert_threshold: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Share of a key's per-minute limit or monthly quota that raises an alert.",
    )

    def rate_limit_for_plan(self, plan: str) -> int:
        return self.plan_rate_limits.get(plan, self.default_rate_limit_per_minute)

    def monthly_quota_for_plan(self, plan: str) -> int | None:
        return self.plan_monthly_quotas.get(plan)

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
