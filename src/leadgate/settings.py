"""leadgate's configuration: one settings class, read from `LEADGATE_*` environment variables."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path("data")
SECRET_FILE_NAME = "server-secret"  # noqa: S105 - a file name, not a secret


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


def server_key_id(secret: bytes) -> str:
    return hmac.new(secret, b"leadgate:server-key-id", hashlib.sha256).hexdigest()[:16]


class LogFormat(StrEnum):
    json = "json"
    console = "console"


DEVELOPMENT_BASE_DOMAIN = "localtest.me"


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
    previous_secret_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Server secrets being rotated out, newest first (JSON list). API keys "
        "hashed under one still verify and are re-hashed under LEADGATE_SECRET_KEY when used; "
        "webhook signing secrets sealed under one still decrypt. See docs/operations.md.",
    )
    key_prefix: str = Field(
        "lg",
        pattern=r"^[a-z][a-z0-9]{1,11}$",
        description="Prefix of issued API keys (`lg_…`, `snap_…`, `hcrm_…`).",
    )
    base_domain: str | None = Field(
        None,
        description="Base domain for tenant subdomains: `acme.<base_domain>` is tenant `acme`. "
        "Default: `localtest.me` in development (empty turns it off), none elsewhere.",
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
    body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="How long a client may take to send a request body; a slower one gets 408 "
        "and its connection is closed (a trickled body cannot hold a request open for long).",
    )
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="`leadgate serve`: how long a connection may take to send a request's head "
        "(request line and headers); one that sends nothing, or trickles, is closed. nginx's "
        "`client_header_timeout` does this when it is in front.",
    )
    keep_alive_seconds: int = Field(
        5,
        ge=1,
        description="`leadgate serve`: how long an idle keep-alive connection stays open after a "
        "response. nginx's `keepalive_timeout` when it is in front.",
    )
    public_url: str = Field(
        "http://127.0.0.1:8000", description="Where this deployment is reached, for docs and links."
    )
    db_pool_size: int = Field(10, ge=1, description="Connections per process (PostgreSQL).")
    db_pool_pre_ping: bool = Field(
        False,
        description="Test each pooled PostgreSQL connection with a round trip before use. Off: a "
        "connection lost while pooled fails one request (503) and the pool is renewed.",
    )
    # --- the database: bounded waits, 503 while it is away ---
    db_connect_timeout_seconds: float = Field(
        5.0, gt=0, description="Longest wait for a new PostgreSQL connection to open."
    )
    db_command_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="Longest wait for one PostgreSQL statement; past it the request fails (503).",
    )
    db_pool_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Longest wait for a free connection of the process's pool (PostgreSQL).",
    )
    db_retry_after_seconds: int = Field(
        2,
        ge=1,
        description="`Retry-After` of the 503 `service_unavailable` answered while the database "
        "cannot be reached.",
    )
    access_log: bool = Field(
        True, description="Write one line per request to stderr (in LEADGATE_LOG_FORMAT)."
    )
    log_level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING or ERROR.")
    log_format: LogFormat = Field(
        LogFormat.json,
        description="json: one JSON object per line (for log shippers; the default outside "
        "development); console: readable lines for a terminal (the development default). "
        "Either way each line made while serving a request carries its `request_id` and "
        "`tenant_id`.",
    )
    graceful_timeout_seconds: int = Field(
        30,
        ge=1,
        description="On SIGTERM, how long `leadgate serve` lets requests in flight finish before "
        "closing their connections (then buffered usage and last-used times are written).",
    )
    last_used_flush_seconds: float = Field(
        1.0, gt=0, description="How often `lastUsedAt`/`lastUsedIp` of keys are written."
    )

    # --- the web console ---
    console_session_days: int = Field(
        14, ge=1, description="How long a console sign-in lasts before signing in again."
    )
    console_secure_cookies: bool | None = Field(
        None,
        description="Mark console cookies Secure. Empty: when the request or LEADGATE_PUBLIC_URL "
        "is https (plain http://127.0.0.1 in development gets non-Secure cookies).",
    )
    console_login_max_failures_per_account: int = Field(
        5, ge=1, description="Failed sign-ins to one account, within the window, before a pause."
    )
    console_login_max_failures_per_ip: int = Field(
        20, ge=1, description="Failed sign-ins from one IP, within the window, before a pause."
    )
    console_login_window_seconds: int = Field(
        900, ge=1, description="The window over which failed sign-ins are counted."
    )
    console_invitation_days: int = Field(
        7, ge=1, description="How long a team invitation link stays valid."
    )

    # --- rate limits, quotas and usage ---
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

    # --- leads API, idempotency, export ---
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
        description="How often expired idempotency records, deleted leads and old source "
        "payloads are purged.",
    )
    export_batch_size: int = Field(
        1000, ge=10, le=10_000, description="Leads read per query while streaming a CSV export."
    )

    # --- web forms ---
    forms_rate_limit_per_minute: int = Field(
        60, ge=1, description="Submissions one form accepts per minute (all visitors together)."
    )
    forms_address_rate_limit_per_minute: int = Field(
        10, ge=1, description="Form submissions one client address may make per minute."
    )
    forms_proof_of_work_cost: int = Field(
        200,
        ge=1,
        description="SHA-256 rounds per attempt of a form's proof-of-work challenge (ALTCHA); "
        "a browser makes about 128 attempts on average (about a second at 200 in chromium).",
    )
    forms_turnstile_secret: SecretStr | None = Field(
        None, description="Cloudflare Turnstile secret key: lets forms use `captcha: turnstile`."
    )
    forms_turnstile_verify_url: str = Field(
        "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        description="Where Turnstile answers are verified.",
    )
    forms_hcaptcha_secret: SecretStr | None = Field(
        None, description="hCaptcha secret key: lets forms use `captcha: hcaptcha`."
    )
    forms_hcaptcha_verify_url: str = Field(
        "https://api.hcaptcha.com/siteverify", description="Where hCaptcha answers are verified."
    )
    forms_recaptcha_secret: SecretStr | None = Field(
        None, description="Google reCAPTCHA (v2) secret key: lets forms use `captcha: recaptcha`."
    )
    forms_recaptcha_verify_url: str = Field(
        "https://www.google.com/recaptcha/api/siteverify",
        description="Where reCAPTCHA answers are verified.",
    )
    forms_confirmation_hours: float = Field(
        48, gt=0, description="How long a double opt-in confirmation link works."
    )
    smtp_host: str | None = Field(
        None, description="SMTP server for e-mail leadgate sends (double opt-in). Unset: none."
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port.")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str | None = Field(None, description="SMTP user name, if it asks for one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_from: str = Field(
        "leadgate <no-reply@localhost>", description="The From of e-mail leadgate sends."
    )
    forms_proof_of_work_seconds: int = Field(
        600, ge=10, description="How long a form's proof-of-work challenge may be solved and used."
    )

    # --- privacy: retention defaults (a tenant may set its own, docs/privacy.md) ---
    retention_event_payload_days: float = Field(
        30, gt=0, description="Days an event keeps its payload (`data`); then it is emptied."
    )
    retention_event_days: float = Field(
        90, gt=0, description="Days an event and its deliveries are kept at all."
    )
    retention_delivery_attempt_days: float = Field(
        30, gt=0, description="Days a webhook delivery attempt (with its response snippet) is kept."
    )
    retention_idempotency_days: float | None = Field(
        None,
        gt=0,
        description="Days an idempotency record may be kept at most. Empty: until it expires "
        "(LEADGATE_IDEMPOTENCY_TTL_HOURS).",
    )
    retention_usage_days: float = Field(400, gt=0, description="Days hourly usage counts are kept.")
    retention_form_quarantine_days: float = Field(
        30,
        gt=0,
        description="Days a quarantined form submission waits to be released or deleted; then "
        "it is purged.",
    )
    retention_audit_days: float = Field(
        730,
        gt=0,
        description="Days audit events are kept; the longest period (no tenant may set it "
        "below any of its other periods).",
    )
    retention_batch_size: int = Field(
        500, ge=1, le=10_000, description="Rows purged per statement (and transaction)."
    )

    @model_validator(mode="after")
    def _audit_kept_longest(self) -> Settings:
        others = [
            self.retention_event_payload_days,
            self.retention_event_days,
            self.retention_delivery_attempt_days,
            self.retention_usage_days,
            self.retention_idempotency_days or 0,
        ]
        if self.retention_audit_days < max(others):
            raise ValueError("LEADGATE_RETENTION_AUDIT_DAYS must be at least every other period")
        return self

    @field_validator("base_domain")
    @classmethod
    def _normalise_domain(cls, value: str | None) -> str | None:
        if not value:
            return None
        return value.strip(".").lower() or None

    @model_validator(mode="after")
    def _development_defaults(self) -> Settings:
        """Development works as the HREF seed shows it out of the box: tenants at
        `<slug>.localtest.me` (which resolves to 127.0.0.1) and readable log lines. Anything set
        explicitly, even to empty, wins; other environments keep the plain defaults."""
        if self.environment is Environment.development:
            if "base_domain" not in self.model_fields_set:
                self.base_domain = DEVELOPMENT_BASE_DOMAIN
            if "log_format" not in self.model_fields_set:
                self.log_format = LogFormat.console
        return self

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

    @property
    def previous_secret_bytes(self) -> list[bytes]:
        return [secret.get_secret_value().encode() for secret in self.previous_secret_keys]

    @cached_property
    def secret_key_id(self) -> str:
        """A name for the current server secret that reveals nothing of it (stored next to the
        hashes made under it, so an operator can count keys still on an older secret)."""
        return server_key_id(self.secret_bytes)

    # --- API-key lifecycle ---
    key_cache_ttl_seconds: float | None = Field(
        None,
        gt=0,
        description="How long a verified key is trusted from memory before it is re-read. "
        "Empty: 30 s with Redis (changes arrive over pub/sub at once; the TTL only caps a lost "
        "message) and 1 s without (bounds changes made by another process, e.g. the CLI).",
    )
    key_expiry_sweep_seconds: float = Field(
        60.0, gt=0, description="How often keys nearing or past expiry are looked for."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or CIDR ranges of reverse proxies trusted to forward the verified "
        "client certificate (or its thumbprint) and the client's address in X-Forwarded-For "
        "(comma-separated or a JSON list).",
    )
    mtls_thumbprint_header: str = Field(
        "X-Client-Cert-Sha256",
        description="Header in which a trusted proxy forwards the client certificate's SHA-256.",
    )
    mtls_certificate_header: str = Field(
        "X-Client-Cert",
        description="Header in which a trusted proxy forwards the verified client certificate "
        "as URL-encoded PEM (nginx `$ssl_client_escaped_cert`).",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def resolved_key_cache_ttl(self) -> float:
        if self.key_cache_ttl_seconds is not None:
            return self.key_cache_ttl_seconds
        return 30.0 if self.redis_url else 1.0

    # --- webhooks ---
    webhooks_worker_enabled: bool = Field(
        True,
        description="Run the webhook delivery worker inside `leadgate serve`. Turn it off when "
        "separate `leadgate worker` processes deliver.",
    )
    automations_worker_enabled: bool = Field(
        True,
        description="Run the automation worker (rules evaluated from the event outbox) inside "
        "`leadgate serve`. Turn it off when separate `leadgate worker` processes run them.",
    )
    automations_poll_seconds: float = Field(
        1.0, gt=0, description="How long an idle automation worker waits before looking again."
    )
    webhooks_poll_seconds: float = Field(
        1.0, gt=0, description="How long an idle worker waits before looking for work again."
    )
    webhooks_batch_size: int = Field(
        50, ge=1, le=1000, description="Events fanned out, or attempts sent, per worker round."
    )
    webhooks_timeout_seconds: float = Field(
        10.0, gt=0, description="Timeout of one delivery request (connect, send and read)."
    )
    webhooks_lease_seconds: float = Field(
        60.0,
        gt=0,
        description="A claimed attempt that no worker records within this span (the worker "
        "died) is sent again. Must exceed the timeout.",
    )
    webhooks_retry_schedule: list[float] = Field(
        [5.0, 300.0, 1800.0, 7200.0, 18000.0],
        description="Seconds to wait before each retry after the first attempt; its length is "
        "the number of retries (JSON list).",
    )
    webhooks_retry_after_max_seconds: float = Field(
        3600.0, ge=0, description="Cap on a receiver's `Retry-After` (429 and 503)."
    )
    webhooks_disable_after_seconds: float = Field(
        432_000.0,
        gt=0,
        description="An endpoint whose every attempt has failed for this long is disabled.",
    )
    webhooks_secret_grace_seconds: float = Field(
        86_400.0, ge=0, description="How long the old secret keeps signing after a rotation."
    )
    webhooks_allow_private: bool | None = Field(
        None,
        description="Allow http URLs and private, loopback and link-local targets. "
        "Default: allowed in development and test, refused in production.",
    )
    sources_payload_retention_days: float = Field(
        30.0, gt=0, description="How long an inbound source's received payloads are kept."
    )
    sources_payloads_kept: int = Field(
        1000, ge=10, description="The most payloads kept per inbound source (the newest)."
    )

    @property
    def webhooks_private_allowed(self) -> bool:
        if self.webhooks_allow_private is not None:
            return self.webhooks_allow_private
        return self.environment is not Environment.production

    @model_validator(mode="after")
    def _check_webhook_timings(self) -> Settings:
        if self.webhooks_lease_seconds <= self.webhooks_timeout_seconds:
            raise ValueError("LEADGATE_WEBHOOKS_LEASE_SECONDS must exceed the timeout")
        if any(delay < 0 for delay in self.webhooks_retry_schedule):
            raise ValueError("LEADGATE_WEBHOOKS_RETRY_SCHEDULE delays must be 0 or more")
        return self

    # --- leaked keys ---
    leak_report_limit_per_minute: int = Field(
        30,
        ge=1,
        description="Requests per minute one address may make to `POST /api-keys/revoke-leaked` "
        "(it needs no authentication).",
    )
    github_secret_scanning_keys: dict[str, str] = Field(
        default_factory=dict,
        description="GitHub secret-scanning public keys, JSON: key identifier → PEM "
        "(from https://api.github.com/meta/public_keys/secret_scanning). Empty: "
        "`POST /secret-scanning/github` refuses every report (401).",
    )

    @field_validator("github_secret_scanning_keys")
    @classmethod
    def _check_scanning_keys(cls, value: dict[str, str]) -> dict[str, str]:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        for identifier, pem in value.items():
            try:
                key = load_pem_public_key(pem.encode())
            except ValueError:
                raise ValueError(f"public key {identifier!r} is not a PEM public key") from None
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise ValueError(f"public key {identifier!r} is not an ECDSA key")
        return value
