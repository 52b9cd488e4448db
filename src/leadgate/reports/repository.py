"""The reports' queries: grouped and counted by the database, periods cut in its own date
functions (PostgreSQL `date_trunc` in UTC, SQLite `date`/`strftime` on its UTC text)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from leadgate.db import TenantScopedRepository
from leadgate.models import Contact, Deal, Lead, Stage, UsageCount
from leadgate.sql import dialect_name

Period = Literal["day", "week", "month"]
LeadDimension = Literal["source", "status", "team"]


class ReportRepository(TenantScopedRepository):
    def _period(self, column: Any, period: Period) -> tuple[Any, sa.ColumnElement[str]]:
        """What to group by for the column's day, ISO week (Monday) or month, and that period's
        first day as `YYYY-MM-DD`. PostgreSQL groups by the truncated time and formats each group
        once, not each row."""
        if dialect_name(self.session) == "postgresql":
            # Inline constants (never user text: `period` is one of three words), so the GROUP BY
            # and the SELECT spell the same expression rather than two sets of parameters.
            utc = sa.func.timezone(sa.literal_column("'UTC'"), column)
            bucket = sa.func.date_trunc(sa.literal_column(f"'{period}'"), utc)
            return bucket, sa.func.to_char(bucket, sa.literal_column("'YYYY-MM-DD'"))
        if period == "day":
            day = sa.func.date(column)
        elif period == "week":
            day = sa.func.date(column, "weekday 0", "-6 days")
        else:
            day = sa.func.strftime("%Y-%m-01", column)
        return day, day

    @staticmethod
    def _between(
        column: Any, start: datetime | None, end: datetime | None
    ) -> list[sa.ColumnElement[bool]]:
        conditions = []
        if start is not None:
            conditions.append(column >= start)
        if end is not None:
            conditions.append(column < end)
        return conditions

    async def leads_over_time(
        self, dimension: LeadDimension, period: Period, start: datetime | None, end: datetime | None
    ) -> Sequence[sa.Row[Any]]:
        key = {"source": Lead.source, "status": Lead.status, "team": Lead.team_id}[dimension]
        bucket, label = self._period(Lead.created_at, period)
        statement = (
            sa.select(label.label("period"), key.label("key"), sa.func.count().label("count"))
            .where(self._tenant_filter(Lead), Lead.deleted_at.is_(None))
            .where(*self._between(Lead.created_at, start, end))
            .group_by(bucket, key)
            .order_by(bucket, key)
        )
        return (await self.session.execute(statement)).all()

    async def funnel(self, start: datetime | None, end: datetime | None) -> dict[str, int]:
        """Leads created in the range, and how many of them became contacts, deals, won deals."""
        leads = (
            sa.select(Lead.id)
            .where(self._tenant_filter(Lead))
            .where(*self._between(Lead.created_at, start, end))
        )
        lead_count = (
            sa.select(sa.func.count())
            .select_from(Lead)
            .where(self._tenant_filter(Lead), Lead.deleted_at.is_(None))
            .where(*self._between(Lead.created_at, start, end))
            .scalar_subquery()
        )
        contacts = (
            sa.select(sa.func.count())
            .select_from(Contact)
            .where(self._tenant_filter(Contact), Contact.lead_id.in_(leads))
            .scalar_subquery()
        )
        deals = (
            sa.select(sa.func.count(sa.distinct(Deal.lead_id)))
            .where(self._tenant_filter(Deal), Deal.lead_id.in_(leads))
            .scalar_subquery()
        )
        won = (
            sa.select(sa.func.count(sa.distinct(Deal.lead_id)))
            .where(self._tenant_filter(Deal), Deal.lead_id.in_(leads), Deal.status == "won")
            .scalar_subquery()
        )
        row = (await self.session.execute(sa.select(lead_count, contacts, deals, won))).one()
        return {"leads": row[0], "contacts": row[1], "deals": row[2], "won": row[3]}

    async def pipeline_value(self, pipeline_id: str) -> Sequence[sa.Row[Any]]:
        """Per stage and currency: deals, their amount, and the amount weighted by the stage's
        probability (minor units, rounded down)."""
        statement = (
            sa.select(
                Stage.id,
                Stage.name,
                Stage.position,
                Stage.kind,
                Stage.probability,
                Deal.currency,
                sa.func.count(Deal.id).label("deals"),
                sa.func.coalesce(sa.func.sum(Deal.amount), 0).label("amount"),
                sa.func.coalesce(sa.func.sum(Deal.amount * Stage.probability / 100), 0).label(
                    "weighted"
                ),
            )
            .select_from(Stage)
            .outerjoin(Deal, sa.and_(Deal.stage_id == Stage.id, Deal.tenant_id == Stage.tenant_id))
            .where(self._tenant_filter(Stage), Stage.pipeline_id == pipeline_id)
            .group_by(
                Stage.id, Stage.name, Stage.position, Stage.kind, Stage.probability, Deal.currency
            )
            .order_by(Stage.position, Deal.currency)
        )
        return (await self.session.execute(statement)).all()

    async def won_revenue(
        self, period: Period, start: datetime | None, end: datetime | None
    ) -> Sequence[sa.Row[Any]]:
        bucket, label = self._period(Deal.closed_at, period)
        statement = (
            sa.select(
                label.label("period"),
                Deal.currency,
                sa.func.count().label("deals"),
                sa.func.sum(Deal.amount).label("amount"),
            )
            .where(self._tenant_filter(Deal), Deal.status == "won")
            .where(*self._between(Deal.closed_at, start, end))
            .group_by(bucket, Deal.currency)
            .order_by(bucket, Deal.currency)
        )
        return (await self.session.execute(statement)).all()

    async def api_usage(
        self, period: Period, start: datetime | None, end: datetime | None
    ) -> Sequence[sa.Row[Any]]:
        bucket, label = self._period(UsageCount.hour, period)
        statement = (
            sa.select(
                label.label("period"),
                UsageCount.status_class,
                sa.func.sum(UsageCount.count).label("requests"),
            )
            .where(self._tenant_filter(UsageCount))
            .where(*self._between(UsageCount.hour, start, end))
            .group_by(bucket, UsageCount.status_class)
            .order_by(bucket, UsageCount.status_class)
        )
        return (await self.session.execute(statement)).all()
