"""Every query on the audit log."""

from __future__ import annotations

from collections.abc import Sequence

from leadgate.db import TenantScopedRepository
from leadgate.models import AuditEvent


class AuditRepository(TenantScopedRepository):
    def add(self, event: AuditEvent) -> None:
        self.session.add(event)

    async def list(self, *, target_id: str | None = None, limit: int = 100) -> Sequence[AuditEvent]:
        statement = self._scoped(AuditEvent).order_by(
            AuditEvent.created_at.desc(), AuditEvent.id.desc()
        )
        if target_id is not None:
            statement = statement.where(AuditEvent.target_id == target_id)
        return (await self.session.execute(statement.limit(limit))).scalars().all()
