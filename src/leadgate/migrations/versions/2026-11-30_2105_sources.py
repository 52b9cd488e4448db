"""Inbound lead sources and the payloads they sent; duplicates matched on the tenant's choice
of e-mail, phone and name (a phone claim key; the name key may be absent).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 21:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from leadgate.models.base import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
LIVE_CLAIM = "claims_duplicates AND deleted_at IS NULL"


def _claim_index(name: str, column: str, where: str) -> None:
    op.create_index(
        name,
        "leads",
        ["tenant_id", column],
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    op.create_table(
        "inbound_sources",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("verification", sa.String(length=10), nullable=False),
        sa.Column("secret", sa.String(length=255), nullable=False),
        sa.Column("mapping", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_received_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_inbound_sources_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_sources")),
    )
    with op.batch_alter_table("inbound_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_sources_tenant_id"), ["tenant_id"])

    op.create_table(
        "source_payloads",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("body", JSON, nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("error", JSON, nullable=True),
        sa.Column("lead_id", sa.String(length=40), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["inbound_sources.id"],
            name=op.f("fk_source_payloads_source_id_inbound_sources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_source_payloads_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_payloads")),
    )
    with op.batch_alter_table("source_payloads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_source_payloads_tenant_id"), ["tenant_id"])
        batch_op.create_index("ix_source_payloads_source_id_id", ["source_id", "id"])

    op.add_column(
        "tenants",
        sa.Column(
            "duplicate_fields",
            JSON,
            nullable=False,
            server_default=sa.text("""'["email", "name"]'"""),
        ),
    )
    # The partial indexes are dropped and made again around the batch (SQLite copies the table
    # and would not carry their WHERE clauses over).
    op.drop_index("uq_leads_name_claim", table_name="leads")
    op.drop_index("uq_leads_email_claim", table_name="leads")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_key", sa.String(length=32), nullable=True))
        batch_op.alter_column("name_key", existing_type=sa.String(length=170), nullable=True)
    _claim_index("uq_leads_email_claim", "email_key", f"{LIVE_CLAIM} AND email_key IS NOT NULL")
    _claim_index("uq_leads_name_claim", "name_key", f"{LIVE_CLAIM} AND name_key IS NOT NULL")
    _claim_index("uq_leads_phone_claim", "phone_key", f"{LIVE_CLAIM} AND phone_key IS NOT NULL")


def downgrade() -> None:
    op.drop_index("uq_leads_phone_claim", table_name="leads")
    op.drop_index("uq_leads_name_claim", table_name="leads")
    op.drop_index("uq_leads_email_claim", table_name="leads")
    # A lead without a name key gets one no name has (its id): nothing new is matched.
    op.execute("UPDATE leads SET name_key = id WHERE name_key IS NULL")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_column("phone_key")
        batch_op.alter_column("name_key", existing_type=sa.String(length=170), nullable=False)
    _claim_index("uq_leads_email_claim", "email_key", f"{LIVE_CLAIM} AND email_key IS NOT NULL")
    _claim_index("uq_leads_name_claim", "name_key", LIVE_CLAIM)
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("duplicate_fields")
    op.drop_table("source_payloads")
    op.drop_table("inbound_sources")
