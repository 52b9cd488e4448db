"""Web forms that visitors fill in on tenants' websites, and the submissions held in quarantine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.models.base import Base, JSONType, TenantScoped, utcnow


class WebForm(TenantScoped, Base):
    """A form: the fields it takes, where it may be posted from and what it does with a lead.
    Its id (`form_…`) is public; it can only create leads by these rules."""

    __tablename__ = "forms"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    # [{"name", "label", "required", "type"}]: lead fields by their API name, others custom.
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    hidden_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[str]] = mapped_column(default=list)
    team_id: Mapped[str | None] = mapped_column(
        sa.String(40), sa.ForeignKey("teams.id", ondelete="SET NULL")
    )
    allowed_origins: Mapped[list[str]] = mapped_column(default=list)
    redirect_url: Mapped[str | None] = mapped_column(sa.Text())
    success_message: Mapped[str] = mapped_column(sa.String(500))
    # {"honeypot": bool, "minFillSeconds": int}
    spam: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuarantinedSubmission(TenantScoped, Base):
    """A submission that looked like a bot's: kept, not turned into a lead, until a person
    releases (the lead is created then) or deletes it."""

    __tablename__ = "form_quarantine"
    __table_args__ = (sa.Index("ix_form_quarantine_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    form_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("forms.id", ondelete="CASCADE"), index=True
    )
    # The lead as the form would create it (API field names), validated.
    lead: Mapped[dict[str, Any]] = mapped_column()
    reasons: Mapped[list[str]] = mapped_column(default=list)
    client_address: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
