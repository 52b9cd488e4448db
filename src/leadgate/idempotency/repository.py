"""Every query on idempotency records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadgate.db import TenantScopedRepository
from leadgate.models import IdempotencyRecord
from leadgate.sql import insert_ignoring_conflicts


@dataclass(frozen=True, slots=True)
class Completion:
    """The response a claimed `Idempotency-Key` records, for a repository that writes it in the
    same statement as the work it answers (`leads.repository.LeadWriter`)."""

    record_id: str
    status: int
    body: str
    at: datetime


class IdempotencyRepository(TenantScopedRepository):
    async def claim(self, values: dict[str, Any]) -> bool:
        """Inserts the record unless the key exists: the unique index picks one winner."""
        statement = (
            insert_ignoring_conflicts(IdempotencyRecord)
            .values(**values, tenant_id=self.tenant_id)
            .returning(IdempotencyRecord.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def by_key(self, key: str) -> IdempotencyRecord | None:
        statement = self._scoped(IdempotencyRecord).where(IdempotencyRecord.key == key)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def complete(self, record_id: str, status: int, body: str, at: datetime) -> None:
        await self.session.execute(
            self._scoped_update(IdempotencyRecord)
            .where(IdempotencyRecord.id == record_id)
            .values(response_status=status, response_body=body, completed_at=at)
        )

    async def release(self, record_id: str) -> None:
        """Forgets an in-flight claim (a completed record is never released)."""
        await self.session.execute(
            self._scoped_delete(IdempotencyRecord)
            .where(IdempotencyRecord.id == record_id)
            .where(IdempotencyRecord.completed_at.is_(None))
        )

    async def take_over(self, record_id: str, created_at: datetime) -> None:
        """Forgets an abandoned claim, unless it finished or was re-claimed meanwhile."""
        await self.session.execute(
            self._scoped_delete(IdempotencyRecord)
            .where(IdempotencyRecord.id == record_id)
            .where(IdempotencyRecord.completed_at.is_(None))
            .where(IdempotencyRecord.created_at == created_at)
        )

    async def delete_expired(self, now: datetime, record_id: str | None = None) -> int:
        statement = self._scoped_delete(IdempotencyRecord).where(
            IdempotencyRecord.expires_at <= now
        )
        if record_id is not None:
            statement = statement.where(IdempotencyRecord.id == record_id)
        result: Any = await self.session.execute(statement)
        return int(result.rowcount or 0)

    async def count(self) -> int:
        statement = (
            sa.select(sa.func.count())
            .select_from(IdempotencyRecord)
            .where(self._tenant_filter(IdempotencyRecord))
        )
        return int((await self.session.execute(statement)).scalar_one())
