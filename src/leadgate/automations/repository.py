"""Every query on automations and their runs, and the worker's queue over the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.db import TenantScopedRepository
from leadgate.leads.repository import Position
from leadgate.models import Automation, AutomationRun, Event


class AutomationRepository(TenantScopedRepository):
    async def insert(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(Automation).values(**values, tenant_id=self.tenant_id))

    async def get(self, automation_id: str) -> Automation | None:
        statement = self._scoped(Automation).where(Automation.id == automation_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list(self) -> Sequence[Automation]:
        statement = self._scoped(Automation).order_by(Automation.created_at, Automation.id)
        return (await self.session.execute(statement)).scalars().all()

    async def enabled_for(self, event_type: str) -> Sequence[Automation]:
        statement = (
            self._scoped(Automation)
            .where(Automation.event_type == event_type, Automation.enabled.is_(True))
            .order_by(Automation.created_at, Automation.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def update(self, automation_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            self._scoped_update(Automation).where(Automation.id == automation_id).values(**values)
        )

    async def delete(self, automation_id: str) -> None:
        await self.session.execute(
            self._scoped_delete(Automation).where(Automation.id == automation_id)
        )

    async def has_run(self, automation_id: str, event_id: str) -> bool:
        statement = (
            sa.select(AutomationRun.id)
            .where(self._tenant_filter(AutomationRun))
            .where(AutomationRun.automation_id == automation_id)
            .where(AutomationRun.event_id == event_id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def add_run(self, values: dict[str, Any]) -> None:
        await self.session.execute(
            sa.insert(AutomationRun).values(**values, tenant_id=self.tenant_id)
        )

    async def runs(
        self, automation_id: str, *, after: Position | None, limit: int
    ) -> Sequence[AutomationRun]:
        statement = self._scoped(AutomationRun).where(AutomationRun.automation_id == automation_id)
        if after is not None:
            statement = statement.where(
                sa.tuple_(AutomationRun.created_at, AutomationRun.id)
                < sa.tuple_(
                    sa.literal(after.created_at, AutomationRun.created_at.type),
                    sa.literal(after.id),
                )
            )
        statement = statement.order_by(
            AutomationRun.created_at.desc(), AutomationRun.id.desc()
        ).limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def mark_events(self, event_ids: Sequence[str], at: datetime) -> None:
        """Marks events as evaluated (the ones an automation's own actions caused)."""
        if event_ids:
            await self.session.execute(
                self._scoped_update(Event).where(Event.id.in_(event_ids)).values(automated_at=at)
            )


class AutomationQueueRepository:
    """The automation worker's queue. It crosses tenants on purpose: one worker serves all.
    Claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite serialises writers)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def pass_over_unwatched(self, at: datetime) -> int:
        """Marks, in one statement and without reading them, the events no enabled rule of
        their tenant listens for: most of the outbox (every lead of a tenant without rules),
        which the worker would otherwise load and mark one batch at a time."""
        watched = (
            sa.select(Automation.id)
            .where(
                Automation.tenant_id == Event.tenant_id,
                Automation.event_type == Event.type,
                Automation.enabled.is_(True),
            )
            .exists()
        )
        result: Any = await self.session.execute(
            sa.update(Event)
            .where(Event.automated_at.is_(None), ~watched)
            .values(automated_at=at)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)

    async def claim(self, limit: int) -> Sequence[Event]:
        statement = (
            sa.select(Event)
            .where(Event.automated_at.is_(None))
            .order_by(Event.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def mark_automated(self, event_ids: Sequence[str], at: datetime) -> None:
        if event_ids:
            await self.session.execute(
                sa.update(Event).where(Event.id.in_(event_ids)).values(automated_at=at)
            )
