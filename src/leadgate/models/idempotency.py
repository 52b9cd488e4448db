"""Idempotency records: the first response to a write, kept so a retry gets it back."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.models.base import Base, TenantScoped, utcnow


class IdempotencyRecord(TenantScoped, Base):
    """One `Idempotency-Key` of a tenant. In flight while `completed_at` is empty."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        # The claim: of two concurrent requests with one key, this index lets exactly one in.
        sa.UniqueConstraint("tenant_id", "key"),
        sa.Index("ix_idempotency_records_tenant_expires", "tenant_id", "expires_at"),
        # Retention (a tenant's period may be shorter than the records' own expiry).
        sa.Index("ix_idempotency_records_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255))
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    method: Mapped[str] = mapped_column(sa.String(10))
    path: Mapped[str] = mapped_column(sa.String(2048))
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(sa.Text())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
