"""The audit log and the event outbox: rows written in the same transaction as their cause."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.models.base import Base, JSONType, TenantScoped, utcnow


class AuditEvent(TenantScoped, Base):
    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    action: Mapped[str] = mapped_column(sa.String(60))
    actor: Mapped[dict[str, Any]] = mapped_column(default=dict)
    target_type: Mapped[str] = mapped_column(sa.String(40))
    target_id: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    request_id: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(TenantScoped, Base):
    """An outbox row: what happened, stored with the change; the webhook worker delivers it."""

    __tablename__ = "events"
    __table_args__ = (
        sa.Index("ix_events_tenant_created", "tenant_id", "created_at"),
        # Retention empties payloads oldest first: only events still holding one are indexed.
        sa.Index(
            "ix_events_tenant_payload_kept",
            "tenant_id",
            "created_at",
            sqlite_where=sa.text("payload_purged_at IS NULL"),
            postgresql_where=sa.text("payload_purged_at IS NULL"),
        ),
        # The worker's outbox queue: only events not yet fanned out to endpoints are indexed.
        sa.Index(
            "ix_events_undispatched",
            "created_at",
            sqlite_where=sa.text("dispatched_at IS NULL"),
            postgresql_where=sa.text("dispatched_at IS NULL"),
        ),
        # The automation worker's queue: events not yet evaluated against the rules.
        sa.Index(
            "ix_events_unautomated",
            "created_at",
            sqlite_where=sa.text("automated_at IS NULL"),
            postgresql_where=sa.text("automated_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(60))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set by the webhook worker once it has created the event's deliveries.
    dispatched_at: Mapped[datetime | None]
    # Set when retention or an erasure emptied `data`: the event is still listed, not replayable.
    payload_purged_at: Mapped[datetime | None]
    # Set by the automation worker once the tenant's rules have been run on the event.
    automated_at: Mapped[datetime | None]
