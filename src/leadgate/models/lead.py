"""Leads, tags and the links between them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.models.base import Base, TenantScoped, utcnow

_LIVE_CLAIM = "claims_duplicates AND deleted_at IS NULL"


class Lead(TenantScoped, Base):
    __tablename__ = "leads"
    __table_args__ = (
        # The duplicate rule lives in the database: a lead that claims its email and name holds
        # them against every concurrent insert. Leads let in by the `allow` policy claim nothing.
        sa.Index(
            "uq_leads_email_claim",
            "tenant_id",
            "email_key",
            unique=True,
            sqlite_where=sa.text(f"{_LIVE_CLAIM} AND email_key IS NOT NULL"),
            postgresql_where=sa.text(f"{_LIVE_CLAIM} AND email_key IS NOT NULL"),
        ),
        sa.Index(
            "uq_leads_name_claim",
            "tenant_id",
            "name_key",
            unique=True,
            sqlite_where=sa.text(f"{_LIVE_CLAIM} AND name_key IS NOT NULL"),
            postgresql_where=sa.text(f"{_LIVE_CLAIM} AND name_key IS NOT NULL"),
        ),
        sa.Index(
            "uq_leads_phone_claim",
            "tenant_id",
            "phone_key",
            unique=True,
            sqlite_where=sa.text(f"{_LIVE_CLAIM} AND phone_key IS NOT NULL"),
            postgresql_where=sa.text(f"{_LIVE_CLAIM} AND phone_key IS NOT NULL"),
        ),
        sa.Index("ix_leads_tenant_created", "tenant_id", "created_at", "id"),
        sa.Index("ix_leads_tenant_email_key", "tenant_id", "email_key"),
        sa.Index("ix_leads_tenant_name_key", "tenant_id", "name_key"),
        # Purging soft-deleted leads past the retention period.
        sa.Index("ix_leads_tenant_deleted", "tenant_id", "deleted_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    team_id: Mapped[str | None] = mapped_column(
        sa.String(40), sa.ForeignKey("teams.id", ondelete="SET NULL")
    )
    first_name: Mapped[str] = mapped_column(sa.String(80))
    last_name: Mapped[str] = mapped_column(sa.String(80))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    company: Mapped[str | None] = mapped_column(sa.String(255))
    website: Mapped[str | None] = mapped_column(sa.String(2048))
    source: Mapped[str | None] = mapped_column(sa.String(80))
    address: Mapped[str | None] = mapped_column(sa.String(255))
    city: Mapped[str | None] = mapped_column(sa.String(120))
    state: Mapped[str | None] = mapped_column(sa.String(120))
    zipcode: Mapped[str | None] = mapped_column(sa.String(20))
    country: Mapped[str | None] = mapped_column(sa.String(80))
    status: Mapped[str] = mapped_column(sa.String(16), default="new")
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_source: Mapped[str] = mapped_column(sa.String(32), default="api_native")
    # Where the visitor came from ({"firstTouch", "lastTouch"}: UTM parameters, click ids,
    # referrer, landing page), as web forms record it.
    attribution: Mapped[dict[str, Any] | None] = mapped_column()
    email_key: Mapped[str | None] = mapped_column(sa.String(254))
    # NULL: the tenant does not match duplicates on the name (leads.matching).
    name_key: Mapped[str | None] = mapped_column(sa.String(170))
    phone_key: Mapped[str | None] = mapped_column(sa.String(32))
    claims_duplicates: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class Tag(TenantScoped, Base):
    __tablename__ = "tags"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name_key"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    name_key: Mapped[str] = mapped_column(sa.String(60))
    color: Mapped[str | None] = mapped_column(sa.String(7))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeadTag(TenantScoped, Base):
    __tablename__ = "lead_tags"

    lead_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("leads.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )
