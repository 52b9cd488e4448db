"""API-key lifecycle: addresses each key was used from, and the once-only expiry audit mark.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 08:48:13.506630
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from leadgate.models.base import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_key_ips",
        sa.Column("api_key_id", sa.String(length=40), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_api_key_ips_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_api_key_ips_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", "ip", name=op.f("pk_api_key_ips")),
    )
    with op.batch_alter_table("api_key_ips", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_key_ips_tenant_id"), ["tenant_id"], unique=False)

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("expired_recorded_at", UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("expired_recorded_at")

    with op.batch_alter_table("api_key_ips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_ips_tenant_id"))

    op.drop_table("api_key_ips")
