"""Privacy: purged event payloads, the suppression list, indexes for retention by age.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 21:06:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from leadgate.models.base import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("payload_purged_at", UTCDateTime(timezone=True), nullable=True))
        batch.create_index(
            "ix_events_tenant_payload_kept",
            ["tenant_id", "created_at"],
            sqlite_where=sa.text("payload_purged_at IS NULL"),
            postgresql_where=sa.text("payload_purged_at IS NULL"),
        )
    with op.batch_alter_table("webhook_attempts") as batch:
        batch.create_index("ix_webhook_attempts_tenant_attempted", ["tenant_id", "attempted_at"])
    with op.batch_alter_table("idempotency_records") as batch:
        batch.create_index("ix_idempotency_records_tenant_created", ["tenant_id", "created_at"])
    op.create_table(
        "suppressions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_suppressions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint(
            "tenant_id", "email_hash", name=op.f("uq_suppressions_tenant_id_email_hash")
        ),
    )
    with op.batch_alter_table("suppressions") as batch:
        batch.create_index(batch.f("ix_suppressions_tenant_id"), ["tenant_id"])


def downgrade() -> None:
    op.drop_table("suppressions")
    with op.batch_alter_table("idempotency_records") as batch:
        batch.drop_index("ix_idempotency_records_tenant_created")
    with op.batch_alter_table("webhook_attempts") as batch:
        batch.drop_index("ix_webhook_attempts_tenant_attempted")
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_tenant_payload_kept")
        batch.drop_column("payload_purged_at")
