"""Every query on pipelines, stages, deals and deals' stage history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from leadgate.db import TenantScopedRepository
from leadgate.leads.repository import Position
from leadgate.models import Deal, DealStageChange, Pipeline, Stage
from leadgate.sql import insert_ignoring_conflicts


@dataclass(frozen=True, slots=True)
class DealFilters:
    status: str | None = None
    pipeline_id: str | None = None
    stage_id: str | None = None
    contact_id: str | None = None
    team_id: str | None = None
    owner_id: str | None = None
    close_after: date | None = None
    close_before: date | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    team_ids: tuple[str, ...] | None = None


class PipelineRepository(TenantScopedRepository):
    async def insert_default(self, pipeline: dict[str, Any], stages: list[dict[str, Any]]) -> bool:
        """Creates the default pipeline unless the tenant has one (a concurrent request may be
        creating it too: the unique (tenant, default_key) admits one)."""
        statement = (
            insert_ignoring_conflicts(Pipeline)
            .values(**pipeline, tenant_id=self.tenant_id)
            .returning(Pipeline.id)
        )
        if (await self.session.execute(statement)).first() is None:
            return False
        await self.session.execute(sa.insert(Stage), self._with_tenant(stages))
        return True

    async def add(self, pipeline: dict[str, Any], stages: list[dict[str, Any]]) -> None:
        await self.session.execute(sa.insert(Pipeline).values(**pipeline, tenant_id=self.tenant_id))
        await self.session.execute(sa.insert(Stage), self._with_tenant(stages))

    async def default(self) -> Pipeline | None:
        statement = self._scoped(Pipeline).where(Pipeline.default_key == "default")
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get(self, pipeline_id: str) -> Pipeline | None:
        statement = self._scoped(Pipeline).where(Pipeline.id == pipeline_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list(self) -> Sequence[Pipeline]:
        statement = self._scoped(Pipeline).order_by(Pipeline.created_at, Pipeline.id)
        return (await self.session.execute(statement)).scalars().all()

    async def update(self, pipeline_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            self._scoped_update(Pipeline).where(Pipeline.id == pipeline_id).values(**values)
        )

    async def clear_default(self) -> None:
        await self.session.execute(
            self._scoped_update(Pipeline)
            .where(Pipeline.default_key == "default")
            .values(default_key=None)
        )

    async def delete(self, pipeline_id: str) -> None:
        await self.session.execute(self._scoped_delete(Pipeline).where(Pipeline.id == pipeline_id))

    async def stages_of(self, pipeline_ids: Sequence[str]) -> Sequence[Stage]:
        statement = (
            self._scoped(Stage)
            .where(Stage.pipeline_id.in_(pipeline_ids))
            .order_by(Stage.pipeline_id, Stage.position)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def stage(self, stage_id: str) -> Stage | None:
        statement = self._scoped(Stage).where(Stage.id == stage_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def stages_by_id(self, stage_ids: Sequence[str]) -> dict[str, Stage]:
        if not stage_ids:
            return {}
        statement = self._scoped(Stage).where(Stage.id.in_(stage_ids))
        return {s.id: s for s in (await self.session.execute(statement)).scalars().all()}

    async def add_stage(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(Stage).values(**values, tenant_id=self.tenant_id))

    async def update_stage(self, stage_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            self._scoped_update(Stage).where(Stage.id == stage_id).values(**values)
        )

    async def delete_stage(self, stage_id: str) -> None:
        await self.session.execute(self._scoped_delete(Stage).where(Stage.id == stage_id))

    async def deals_in(self, *, pipeline_id: str | None = None, stage_id: str | None = None) -> int:
        statement = sa.select(sa.func.count()).select_from(Deal).where(self._tenant_filter(Deal))
        if pipeline_id is not None:
            statement = statement.where(Deal.pipeline_id == pipeline_id)
        if stage_id is not None:
            statement = statement.where(Deal.stage_id == stage_id)
        return int((await self.session.execute(statement)).scalar_one())


class DealRepository(TenantScopedRepository):
    async def insert(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(Deal).values(**values, tenant_id=self.tenant_id))

    async def get(self, deal_id: str) -> Deal | None:
        statement = self._scoped(Deal).where(Deal.id == deal_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def of_lead(self, lead_id: str) -> Deal | None:
        statement = self._scoped(Deal).where(Deal.lead_id == lead_id).limit(1)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def update(self, deal_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            self._scoped_update(Deal).where(Deal.id == deal_id).values(**values)
        )

    async def delete(self, deal_id: str) -> None:
        await self.session.execute(self._scoped_delete(Deal).where(Deal.id == deal_id))

    async def page(
        self, filters: DealFilters, *, after: Position | None, limit: int
    ) -> Sequence[Deal]:
        """Deals newest first, strictly after `after` (keyset paging)."""
        statement = self._scoped(Deal)
        for column, value in (
            (Deal.status, filters.status),
            (Deal.pipeline_id, filters.pipeline_id),
            (Deal.stage_id, filters.stage_id),
            (Deal.contact_id, filters.contact_id),
            (Deal.team_id, filters.team_id),
            (Deal.owner_id, filters.owner_id),
        ):
            if value is not None:
                statement = statement.where(column == value)
        if filters.team_ids is not None:
            statement = statement.where(Deal.team_id.in_(filters.team_ids))
        if filters.close_after is not None:
            statement = statement.where(Deal.expected_close_date >= filters.close_after)
        if filters.close_before is not None:
            statement = statement.where(Deal.expected_close_date < filters.close_before)
        if filters.created_after is not None:
            statement = statement.where(Deal.created_at >= filters.created_after)
        if filters.created_before is not None:
            statement = statement.where(Deal.created_at < filters.created_before)
        if after is not None:
            statement = statement.where(
                sa.tuple_(Deal.created_at, Deal.id)
                < sa.tuple_(
                    sa.literal(after.created_at, Deal.created_at.type), sa.literal(after.id)
                )
            )
        statement = statement.order_by(Deal.created_at.desc(), Deal.id.desc()).limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def add_stage_change(self, values: dict[str, Any]) -> None:
        await self.session.execute(
            sa.insert(DealStageChange).values(**values, tenant_id=self.tenant_id)
        )

    async def history(self, deal_id: str) -> Sequence[DealStageChange]:
        statement = (
            self._scoped(DealStageChange)
            .where(DealStageChange.deal_id == deal_id)
            .order_by(DealStageChange.changed_at, DealStageChange.id)
        )
        return (await self.session.execute(statement)).scalars().all()
