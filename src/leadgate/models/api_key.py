"""API keys and their secrets (a key has several secrets while a roll's grace period runs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.models.base import Base, TenantScoped, utcnow


class ApiKey(TenantScoped, Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        # A name identifies a live key; a revoked key's name may be reused.
        sa.Index(
            "uq_api_keys_live_name",
            "tenant_id",
            "name",
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    hint: Mapped[str] = mapped_column(sa.String(24))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    expires_at: Mapped[datetime | None]
    # The period the key was issued for: rolling it once expired renews it for as long.
    expiration_days: Mapped[int | None]
    rate_limit_per_minute: Mapped[int | None]
    monthly_quota: Mapped[int | None]
    enforce_mtls: Mapped[bool] = mapped_column(default=False)
    mtls_thumbprints: Mapped[list[str]] = mapped_column(default=list)
    team_scope: Mapped[str] = mapped_column(sa.String(20), default="all-accounts")
    team_ids: Mapped[list[str]] = mapped_column(default=list)
    created_by: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(sa.String(45))
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(40))
    expiring_notified_at: Mapped[datetime | None]
    # Set once the expiry sweep has written the `api_key.expired` audit event.
    expired_recorded_at: Mapped[datetime | None]


class ApiKeySecret(TenantScoped, Base):
    __tablename__ = "api_key_secrets"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    api_key_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("api_keys.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # `Settings.secret_key_id` of the server secret `secret_hash` was made under (None: made
    # before leadgate recorded it, under the secret that was current then).
    server_key_id: Mapped[str | None] = mapped_column(sa.String(16))
    hint: Mapped[str] = mapped_column(sa.String(24))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the key is rolled: the old secret keeps working until then (grace period).
    expires_at: Mapped[datetime | None]


class ApiKeyIp(TenantScoped, Base):
    """An address a key has been used from: the first use from a new one is audited."""

    __tablename__ = "api_key_ips"

    api_key_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    ip: Mapped[str] = mapped_column(sa.String(45), primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
