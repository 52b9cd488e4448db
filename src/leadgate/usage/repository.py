"""Every query on usage counters and notices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from leadgate.db import TenantScopedRepository
from leadgate.models import Notice, UsageCount
from leadgate.sql import dialect_name, insert_ignoring_conflicts

COUNT_KEY = ["api_key_id", "hour", "method", "route", "status_class"]


class UsageRepository(TenantScopedRepository):
    async def add_counts(self, rows: list[dict[str, Any]]) -> None:
        """Adds counts to the stored ones: INSERT … ON CONFLICT DO UPDATE SET count = count + n,
        so processes flushing the same hour never overwrite each other."""
        insert = postgresql.insert if dialect_name(self.session) == "postgresql" else sqlite.insert
        statement = insert(UsageCount).values(self._with_tenant(rows))
        statement = statement.on_conflict_do_update(
            index_elements=COUNT_KEY,
            set_={"count": UsageCount.count + statement.excluded.count},
        )
        await self.session.execute(statement)

    async def admitted_since(self, api_key_id: str, since: datetime) -> int:
        """Requests of a key since `since` that were not refused with 429 (what quotas count)."""
        statement = sa.select(sa.func.coalesce(sa.func.sum(UsageCount.count), 0)).where(
            self._tenant_filter(UsageCount),
            UsageCount.api_key_id == api_key_id,
            UsageCount.hour >= since,
            UsageCount.status_class != "429",
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def hourly(
        self, since: datetime, api_key_id: str | None
    ) -> Sequence[tuple[datetime, str, int]]:
        """(hour, status class, count) since `since`, for one key or the whole tenant."""
        statement = (
            sa.select(UsageCount.hour, UsageCount.status_class, sa.func.sum(UsageCount.count))
            .where(self._tenant_filter(UsageCount), UsageCount.hour >= since)
            .group_by(UsageCount.hour, UsageCount.status_class)
        )
        if api_key_id is not None:
            statement = statement.where(UsageCount.api_key_id == api_key_id)
        rows = (await self.session.execute(statement)).all()
        return [(hour, status_class, int(count)) for hour, status_class, count in rows]

    async def by_route(
        self, since: datetime, api_key_id: str | None
    ) -> Sequence[tuple[str, str, str, int]]:
        """(method, route, status class, count) since `since`."""
        statement = (
            sa.select(
                UsageCount.method,
                UsageCount.route,
                UsageCount.status_class,
                sa.func.sum(UsageCount.count),
            )
            .where(self._tenant_filter(UsageCount), UsageCount.hour >= since)
            .group_by(UsageCount.method, UsageCount.route, UsageCount.status_class)
        )
        if api_key_id is not None:
            statement = statement.where(UsageCount.api_key_id == api_key_id)
        rows = (await self.session.execute(statement)).all()
        return [(m, r, s, int(c)) for m, r, s, c in rows]


class NoticeRepository(TenantScopedRepository):
    async def insert_once(self, row: dict[str, Any]) -> bool:
        """True when the notice is new; the (key, kind, period) unique index makes a second
        process's identical notice a no-op."""
        statement = insert_ignoring_conflicts(Notice).values(self._with_tenant([row]))
        result = await self.session.execute(statement.returning(Notice.id))
        return result.first() is not None

    async def list(self, *, api_key_id: str | None, limit: int) -> Sequence[Notice]:
        statement = self._scoped(Notice).order_by(Notice.created_at.desc(), Notice.id.desc())
        if api_key_id is not None:
            statement = statement.where(Notice.api_key_id == api_key_id)
        return (await self.session.execute(statement.limit(limit))).scalars().all()

    async def mark_read(self, *, api_key_id: str | None, at: datetime) -> int:
        """Marks the unread notices (of one key, or all) read; how many it marked."""
        statement = self._scoped_update(Notice).where(Notice.read_at.is_(None)).values(read_at=at)
        if api_key_id is not None:
            statement = statement.where(Notice.api_key_id == api_key_id)
        result = await self.session.execute(statement)
        return int(result.rowcount)  # type: ignore[attr-defined]
