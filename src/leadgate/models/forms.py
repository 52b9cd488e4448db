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
    # The consent a visitor gives with the form; its version goes up whenever its text changes.
    consent_text: Mapped[str] = mapped_column(sa.Text(), default="")
    consent_version: Mapped[int] = mapped_column(default=0)
    # Leads wait for the visitor to open a link sent to their e-mail address.
    double_opt_in: Mapped[bool] = mapped_column(default=False)
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
    consent: Mapped[dict[str, Any] | None] = mapped_column()
    reasons: Mapped[list[str]] = mapped_column(default=list)
    client_address: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PendingConfirmation(TenantScoped, Base):
    """A form's lead waiting for its visitor to confirm their e-mail address (double opt-in):
    no lead and no `lead.created` until the link is opened. Only the link token's hash is kept."""

    __tablename__ = "form_confirmations"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    form_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("forms.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    lead: Mapped[dict[str, Any]] = mapped_column()
    consent: Mapped[dict[str, Any] | None] = mapped_column()
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeadConsent(TenantScoped, Base):
    """What a visitor agreed to with a form: the text and its version, when, from where."""

    __tablename__ = "lead_consents"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    lead_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True
    )
    form_id: Mapped[str | None] = mapped_column(
        sa.String(40), sa.ForeignKey("forms.id", ondelete="SET NULL")
    )
    version: Mapped[int]
    text: Mapped[str] = mapped_column(sa.Text())
    given_at: Mapped[datetime]
    client_address: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(500))
    page_url: Mapped[str | None] = mapped_column(sa.String(2048))
    confirmed_at: Mapped[datetime | None]
