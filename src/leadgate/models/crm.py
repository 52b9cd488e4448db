"""Contacts, pipelines and their stages, deals and their stage history, activities, automations
and their runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leadgate.models.base import Base, JSONType, TenantScoped, utcnow

_LIVE_CLAIM = "claims_duplicates AND deleted_at IS NULL"


class Contact(TenantScoped, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        # The lead duplicate rule, for contacts: one live contact per email and per name.
        sa.Index(
            "uq_contacts_email_claim",
            "tenant_id",
            "email_key",
            unique=True,
            sqlite_where=sa.text(f"{_LIVE_CLAIM} AND email_key IS NOT NULL"),
            postgresql_where=sa.text(f"{_LIVE_CLAIM} AND email_key IS NOT NULL"),
        ),
        sa.Index(
            "uq_contacts_name_claim",
            "tenant_id",
            "name_key",
            unique=True,
            sqlite_where=sa.text(_LIVE_CLAIM),
            postgresql_where=sa.text(_LIVE_CLAIM),
        ),
        sa.Index("ix_contacts_tenant_created", "tenant_id", "created_at", "id"),
        # A lead becomes at most one contact.
        sa.UniqueConstraint("tenant_id", "lead_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    lead_id: Mapped[str | None] = mapped_column(
        sa.String(40), sa.ForeignKey("leads.id", ondelete="SET NULL")
    )
    team_id: Mapped[str | None] = mapped_column(
        sa.String(40), sa.ForeignKey("teams.id", ondelete="SET NULL")
    )
    owner_id: Mapped[str | None] = mapped_column(
        sa.String(40), sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    first_name: Mapped[str] = mapped_column(sa.String(80))
    last_name: Mapped[str] = mapped_column(sa.String(80))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    company: Mapped[str | None] = mapped_column(sa.String(255))
    title: Mapped[str | None] = mapped_column(sa.String(120))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[dict[str, Any]] = mapped_column(default=dict)
    email_key: Mapped[str | None] = mapped_column(sa.String(254))
    name_key: Mapped[str] = mapped_column(sa.String(170))
    claims_duplicates: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class Pipeline(TenantScoped, Base):
    __tablename__ = "pipelines"
    # `default_key` is "default" on the tenant's default pipeline and NULL elsewhere: the unique
    # constraint admits one default per tenant (NULLs are distinct on both backends).
    __table_args__ = (sa.UniqueConstraint("tenant_id", "default_key"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    default_key: Mapped[str | None] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Stage(TenantScoped, Base):
    __tablename__ = "pipeline_stages"
    __table_args__ = (sa.Index("ix_pipeline_stages_pipeline", "tenant_id", "pipeline_id"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("pipelines.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(sa.String(120))
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(8))  # open | won | lost
    probability: Mapped[int]  # percent, 0-100
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Deal(TenantScoped, Base):
    __tablename__ = "deals"
    __table_args__ = (
        sa.Index("ix_deals_tenant_created", "tenant_id", "created_at", "id"),
        # Pipeline value by stage and won revenue per period.
        sa.Index("ix_deals_tenant_stage", "tenant_id", "stage_id"),
        sa.Index("ix_deals_tenant_status_closed", "tenant_id", "status", "closed_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # minor units
    currency: Mapped[str] = mapped_column(sa.String(3))
    pipeline_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("pipelines.id", ondelete="RESTRICT")
    )
    stage_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("pipeline_stages.id", ondelete="RESTRICT")
    )
    status: Mapped[str] = mapped_column(sa.String(8), default="open")  # the stage's kind
    contact_id: Mapped[str | None] = mapped_column(
        sa.String(40), sa.ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    lead_id: Mapped[str | None] = mapped_column(
        sa.String(40), sa.ForeignKey("leads.id", ondelete="SET NULL")
    )
    team_id: Mapped[str | None] = mapped_column(
        sa.String(40), sa.ForeignKey("teams.id", ondelete="SET NULL")
    )
    owner_id: Mapped[str | None] = mapped_column(
        sa.String(40), sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    expected_close_date: Mapped[date | None] = mapped_column(sa.Date)
    closed_at: Mapped[datetime | None]
    created_by: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DealStageChange(TenantScoped, Base):
    """Every stage a deal entered, in order: its history."""

    __tablename__ = "deal_stage_changes"
    __table_args__ = (sa.Index("ix_deal_stage_changes_deal", "tenant_id", "deal_id", "changed_at"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    deal_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("deals.id", ondelete="CASCADE")
    )
    from_stage_id: Mapped[str | None] = mapped_column(sa.String(40))
    to_stage_id: Mapped[str] = mapped_column(sa.String(40))
    actor: Mapped[dict[str, Any]] = mapped_column(default=dict)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Activity(TenantScoped, Base):
    __tablename__ = "activities"
    __table_args__ = (
        sa.Index("ix_activities_record", "tenant_id", "record_type", "record_id", "created_at"),
        sa.Index("ix_activities_tenant_created", "tenant_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10))  # note | call | meeting | email | task
    record_type: Mapped[str] = mapped_column(sa.String(10))  # lead | contact | deal
    record_id: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str | None] = mapped_column(sa.Text)
    due_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    created_by: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Automation(TenantScoped, Base):
    __tablename__ = "automations"
    __table_args__ = (sa.Index("ix_automations_tenant_event", "tenant_id", "event_type"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    event_type: Mapped[str] = mapped_column(sa.String(60))
    conditions: Mapped[list[Any]] = mapped_column(JSONType)
    actions: Mapped[list[Any]] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AutomationRun(TenantScoped, Base):
    """One evaluation of a rule on one event. The unique (automation, event) pair makes the
    worker's at-least-once delivery run each rule once per event."""

    __tablename__ = "automation_runs"
    __table_args__ = (
        sa.UniqueConstraint("automation_id", "event_id"),
        sa.Index("ix_automation_runs_rule", "tenant_id", "automation_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    automation_id: Mapped[str] = mapped_column(
        sa.String(40), sa.ForeignKey("automations.id", ondelete="CASCADE")
    )
    # NULL for a run by hand (`POST /automations/{id}/trigger`).
    event_id: Mapped[str | None] = mapped_column(sa.String(40))
    record_type: Mapped[str | None] = mapped_column(sa.String(10))
    record_id: Mapped[str | None] = mapped_column(sa.String(40))
    matched: Mapped[bool]
    actions_taken: Mapped[list[Any]] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
