"""Inbound lead sources (form builders, ad platforms, any JSON sender) and what they sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.models.base import Base, JSONType, TenantScoped, utcnow


class InboundSource(TenantScoped, Base):
    __tablename__ = "inbound_sources"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(20))  # typeform|webflow|google_ads|json
    # json only: "hmac" (signed body) or "secret" (the secret itself in a header).
    verification: Mapped[str] = mapped_column(sa.String(10), default="hmac")
    # The signing secret or key, encrypted like webhook secrets (verifying needs it back).
    secret: Mapped[str] = mapped_column(sa.String(255))
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    last_received_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SourcePayload(TenantScoped, Base):
    """One verified delivery from a source, kept with what became of it, so a payload a wrong
    mapping could not turn into a lead can be replayed once the mapping is fixed."""

    __tablename__ = "source_payloads"
    __table_args__ = (sa.Index("ix_source_payloads_source_id_id", "source_id", "id"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    source_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("inbound_sources.id", ondelete="CASCADE")
    )
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # created|merged|duplicate|failed|test
    outcome: Mapped[str] = mapped_column(sa.String(10))
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    lead_id: Mapped[str | None] = mapped_column(sa.String(40))
    attempts: Mapped[int] = mapped_column(default=1)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)
