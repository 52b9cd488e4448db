"""Keys a console member made are narrowed to the scopes a member may grant.

Before this release a member could put owner/admin scopes on a key (`keys:read` reads the audit
log, `keys:write` manages keys, `webhooks:write` subscribes endpoints to every lead). Such keys
keep their other scopes; each change is in the tenant's audit log (`api_key.scopes_changed`).
Not reversible in data: the downgrade leaves the narrowed scopes as they are.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 21:02:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from leadgate.ids import new_id
from leadgate.models.base import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# GRANTABLE_SCOPES["member"] (leadgate.api_keys.grantor) as of this release.
MEMBER_GRANTS = (
    "leads:read",
    "leads:write",
    "tags:read",
    "tags:write",
    "webhooks:read",
    "usage:read",
    "users:read",
)
ACTOR = {"type": "system", "id": "upgrade-0009", "name": "leadgate upgrade"}
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

api_keys = sa.table(
    "api_keys",
    sa.column("id", sa.String),
    sa.column("tenant_id", sa.String),
    sa.column("scopes", JSON),
    sa.column("created_by", JSON),
    sa.column("updated_at", UTCDateTime()),
)
audit_events = sa.table(
    "audit_events",
    sa.column("id", sa.String),
    sa.column("tenant_id", sa.String),
    sa.column("action", sa.String),
    sa.column("actor", JSON),
    sa.column("target_type", sa.String),
    sa.column("target_id", sa.String),
    sa.column("before", JSON),
    sa.column("after", JSON),
    sa.column("created_at", UTCDateTime()),
)


def _narrowed(created_by: Any, scopes: Any) -> list[str] | None:
    """The member key's scopes a member may grant, or None when nothing changes."""
    if not isinstance(created_by, dict) or created_by.get("type") != "user":
        return None
    if created_by.get("role") != "member" or not isinstance(scopes, list):
        return None
    kept = [scope for scope in scopes if scope in MEMBER_GRANTS]
    return None if kept == scopes else kept


def upgrade() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    rows = bind.execute(
        sa.select(api_keys.c.id, api_keys.c.tenant_id, api_keys.c.scopes, api_keys.c.created_by)
    ).all()
    for key_id, tenant_id, scopes, created_by in rows:
        kept = _narrowed(created_by, scopes)
        if kept is None:
            continue
        bind.execute(
            sa.update(api_keys).where(api_keys.c.id == key_id).values(scopes=kept, updated_at=now)
        )
        bind.execute(
            sa.insert(audit_events).values(
                id=new_id("aud"),
                tenant_id=tenant_id,
                action="api_key.scopes_changed",
                actor=ACTOR,
                target_type="api_key",
                target_id=key_id,
                before={"scopes": scopes},
                after={"scopes": kept, "reason": "beyond what a member may grant"},
                created_at=now,
            )
        )


def downgrade() -> None:
    """The scopes taken away are not given back: that would hand members those powers again."""
