"""Webhook endpoints, the deliveries of events to them and the log of every attempt."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.models.base import Base, TenantScoped, utcnow


class WebhookEndpoint(TenantScoped, Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    url: Mapped[str] = mapped_column(sa.Text())
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    # Empty: every event type.
    event_types: Mapped[list[str]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(200))
    # Signing secrets, encrypted with a key derived from the server secret (webhooks.signing.seal).
    secret: Mapped[str] = mapped_column(sa.String(255))
    previous_secret: Mapped[str | None] = mapped_column(sa.String(255))
    previous_secret_expires_at: Mapped[datetime | None]
    # Start of the current run of failed attempts; cleared by any success.
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDelivery(TenantScoped, Base):
    """One event on its way to one endpoint: pending until it succeeds or runs out of attempts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
        # The worker's queue: only pending rows are indexed.
        sa.Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    event_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    trigger: Mapped[str] = mapped_column(sa.String(10), default="event")  # event|replay|test
    status: Mapped[str] = mapped_column(
        sa.String(10), default="pending"
    )  # pending|succeeded|failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookAttempt(TenantScoped, Base):
    """One HTTP request to an endpoint and what came back."""

    __tablename__ = "webhook_attempts"
    # Retention purges attempts by age, tenant by tenant.
    __table_args__ = (
        sa.Index("ix_webhook_attempts_tenant_attempted", "tenant_id", "attempted_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt_number: Mapped[int]
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    latency_ms: Mapped[int]
    response_body: Mapped[str | None] = mapped_column(sa.Text())
    error: Mapped[str | None] = mapped_column(sa.Text())
