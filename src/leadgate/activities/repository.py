"""Every query on activities, and the events a record's timeline shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadgate.db import TenantScopedRepository
from leadgate.leads.repository import Position
from leadgate.models import Activity, Event


@dataclass(frozen=True, slots=True)
class ActivityFilters:
    record_type: str | None = None
    record_id: str | None = None
    kind: str | None = None
    open_tasks: bool | None = None
    due_before: datetime | None = None


class ActivityRepository(TenantScopedRepository):
    async def insert(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(Activity).values(**values, tenant_id=self.tenant_id))

    async def get(self, activity_id: str) -> Activity | None:
        statement = self._scoped(Activity).where(Activity.id == activity_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def update(self, activity_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            self._scoped_update(Activity).where(Activity.id == activity_id).values(**values)
        )

    async def delete(self, activity_id: str) -> None:
        await self.session.execute(self._scoped_delete(Activity).where(Activity.id == activity_id))

    async def page(
        self, filters: ActivityFilters, *, after: Position | None, limit: int
    ) -> Sequence[Activity]:
        statement = self._scoped(Activity)
        if filters.record_type is not None:
            statement = statement.where(Activity.record_type == filters.record_type)
        if filters.record_id is not None:
            statement = statement.where(Activity.record_id == filters.record_id)
        if filters.kind is not None:
            statement = statement.where(Activity.kind == filters.kind)
        if filters.open_tasks is not None:
            done = (
                Activity.done_at.is_(None) if filters.open_tasks else Activity.done_at.is_not(None)
            )
            statement = statement.where(Activity.kind == "task", done)
        if filters.due_before is not None:
            statement = statement.where(Activity.due_at < filters.due_before)
        if after is not None:
            statement = statement.where(
                sa.tuple_(Activity.created_at, Activity.id)
                < sa.tuple_(
                    sa.literal(after.created_at, Activity.created_at.type), sa.literal(after.id)
                )
            )
        statement = statement.order_by(Activity.created_at.desc(), Activity.id.desc()).limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def events_about(self, record_type: str, record_id: str, limit: int) -> Sequence[Event]:
        """The record's own events (`<type>.*` whose `id` is the record) and conversions that
        name it, newest first."""
        own = sa.and_(
            Event.type.like(f"{record_type}.%"), Event.data["id"].as_string() == record_id
        )
        converted = sa.and_(
            Event.type == "lead.converted",
            Event.data[f"{record_type}Id"].as_string() == record_id,
        )
        statement = (
            self._scoped(Event)
            .where(sa.or_(own, converted))
            .order_by(Event.created_at.desc(), Event.id.desc())
            .limit(limit)
        )
        return (await self.session.execute(statement)).scalars().all()
