"""Every query on the event outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadgate.db import TenantScopedRepository
from leadgate.models import Event


class EventRepository(TenantScopedRepository):
    async def insert(
        self,
        event_id: str,
        event_type: str,
        data: dict[str, Any],
        at: datetime,
        *,
        dispatched_at: datetime | None = None,
    ) -> None:
        # Core INSERT: one statement, no ORM bookkeeping on the intake path.
        await self.session.execute(
            sa.insert(Event).values(
                id=event_id,
                tenant_id=self.tenant_id,
                type=event_type,
                data=data,
                created_at=at,
                dispatched_at=dispatched_at,
            )
        )

    async def get(self, event_id: str) -> Event | None:
        statement = self._scoped(Event).where(Event.id == event_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list(
        self, *, event_type: str | None = None, before: str | None = None, limit: int = 100
    ) -> Sequence[Event]:
        """Newest first; `before` is an event id (ids sort by time) to page on from."""
        statement = self._scoped(Event).order_by(Event.id.desc())
        if event_type is not None:
            statement = statement.where(Event.type == event_type)
        if before is not None:
            statement = statement.where(Event.id < before)
        return (await self.session.execute(statement.limit(limit))).scalars().all()

    async def about(
        self, subject_id: str, types: Sequence[str], limit: int = 100
    ) -> Sequence[Event]:
        """Events of the given types whose `data.id` is the subject (a lead's history), newest
        first. Scans the tenant's events of those types: meant for one detail page."""
        statement = (
            self._scoped(Event)
            .where(Event.type.in_(list(types)), Event.data["id"].as_string() == subject_id)
            .order_by(Event.id.desc())
            .limit(limit)
        )
        return (await self.session.execute(statement)).scalars().all()
