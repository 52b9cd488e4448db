"""Writing audit events in the caller's transaction, so an undone change leaves no record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.audit.repository import AuditRepository
from leadgate.context import current_request_id
from leadgate.ids import new_id
from leadgate.models import AuditEvent, utcnow


async def record(
    session: AsyncSession,
    *,
    tenant_id: str,
    action: str,
    actor: dict[str, Any],
    target_type: str,
    target_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        id=new_id("aud"),
        tenant_id=tenant_id,
        action=action,
        actor=actor,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
        ip=ip,
        request_id=current_request_id(),
        created_at=utcnow(),
    )
    AuditRepository(session, tenant_id).add(event)
    return event


async def list_events(
    session: AsyncSession, tenant_id: str, *, target_id: str | None = None, limit: int = 100
) -> Sequence[AuditEvent]:
    return await AuditRepository(session, tenant_id).list(target_id=target_id, limit=limit)
