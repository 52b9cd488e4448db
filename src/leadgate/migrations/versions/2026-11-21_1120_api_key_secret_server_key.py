"""API-key secrets record which server secret hashed them (server-secret rotation).

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-21 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_key_secrets") as batch:
        batch.add_column(sa.Column("server_key_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_key_secrets") as batch:
        batch.drop_column("server_key_id")
