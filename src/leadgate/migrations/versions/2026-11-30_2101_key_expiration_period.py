"""API keys remember the period they were issued for, so rolling an expired key renews it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 21:01:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Keys issued before this column have none: their period is worked out from
    # `expires_at - created_at` when one is rolled (api_keys.service.expiration_period).
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("expiration_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("expiration_days")
