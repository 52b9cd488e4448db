"""Web forms, their quarantine of suspect submissions, and leads' attribution.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 21:03:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from leadgate.models.base import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attribution", JSON, nullable=True))

    op.create_table(
        "forms",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("hidden_fields", JSON, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=True),
        sa.Column("allowed_origins", JSON, nullable=False),
        sa.Column("redirect_url", sa.Text(), nullable=True),
        sa.Column("success_message", sa.String(length=500), nullable=False),
        sa.Column("spam", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("consent_version", sa.Integer(), nullable=False),
        sa.Column("double_opt_in", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_forms_team_id_teams"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_forms_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forms")),
    )
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_forms_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "form_quarantine",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("form_id", sa.String(length=40), nullable=False),
        sa.Column("lead", JSON, nullable=False),
        sa.Column("consent", JSON, nullable=True),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["forms.id"],
            name=op.f("fk_form_quarantine_form_id_forms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_form_quarantine_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_quarantine")),
    )
    with op.batch_alter_table("form_quarantine", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_form_quarantine_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_form_quarantine_form_id"), ["form_id"], unique=False)
        batch_op.create_index(
            "ix_form_quarantine_tenant_created", ["tenant_id", "created_at"], unique=False
        )

    op.create_table(
        "form_confirmations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("form_id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("lead", JSON, nullable=False),
        sa.Column("consent", JSON, nullable=True),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["forms.id"],
            name=op.f("fk_form_confirmations_form_id_forms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_form_confirmations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_confirmations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_form_confirmations_token_hash")),
    )
    with op.batch_alter_table("form_confirmations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_form_confirmations_form_id"), ["form_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_form_confirmations_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "lead_consents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("lead_id", sa.String(length=40), nullable=False),
        sa.Column("form_id", sa.String(length=40), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("given_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("page_url", sa.String(length=2048), nullable=True),
        sa.Column("confirmed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["forms.id"],
            name=op.f("fk_lead_consents_form_id_forms"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_consents_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_lead_consents_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_consents")),
    )
    with op.batch_alter_table("lead_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_consents_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lead_consents_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lead_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_consents_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_lead_consents_lead_id"))
    op.drop_table("lead_consents")
    with op.batch_alter_table("form_confirmations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_confirmations_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_form_confirmations_form_id"))
    op.drop_table("form_confirmations")
    with op.batch_alter_table("form_quarantine", schema=None) as batch_op:
        batch_op.drop_index("ix_form_quarantine_tenant_created")
        batch_op.drop_index(batch_op.f("ix_form_quarantine_form_id"))
        batch_op.drop_index(batch_op.f("ix_form_quarantine_tenant_id"))
    op.drop_table("form_quarantine")
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forms_tenant_id"))
    op.drop_table("forms")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_column("attribution")
