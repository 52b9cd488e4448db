"""Every query on leads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadgate.db import TenantScopedRepository
from leadgate.models import Lead, LeadTag
from leadgate.sql import insert_ignoring_conflicts


@dataclass(frozen=True, slots=True)
class LeadFilters:
    """What a list or an export selects. `team_ids` limits a team-scoped key to its teams."""

    status: str | None = None
    tag_id: str | None = None
    team_id: str | None = None
    source: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    q: str | None = None
    team_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """A place in the list order (newest first): the last lead a page returned."""

    created_at: datetime
    id: str


def _like_pattern(text: str) -> str:
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class LeadRepository(TenantScopedRepository):
    async def insert_claiming(self, values: dict[str, Any]) -> bool:
        """Inserts a lead unless a live lead already claims its email or name.

        The partial unique indexes decide, so concurrent identical submissions create one lead;
        False means a duplicate holds the claim.
        """
        statement = (
            insert_ignoring_conflicts(self.session, Lead)
            .values(**values, tenant_id=self.tenant_id)
            .returning(Lead.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def insert(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(Lead).values(**values, tenant_id=self.tenant_id))

    async def find_claim_holder(
        self, email_key: str | None, name_key: str, *, excluding: str | None = None
    ) -> tuple[str, str] | None:
        """The live lead holding this email or name, and which of the two matched."""
        match = Lead.name_key == name_key
        if email_key is not None:
            match = sa.or_(Lead.email_key == email_key, match)
        statement = (
            sa.select(Lead.id, Lead.email_key)
            .where(self._tenant_filter(Lead))
            .where(Lead.claims_duplicates.is_(True), Lead.deleted_at.is_(None))
            .where(match)
            .limit(2)
        )
        if excluding is not None:
            statement = statement.where(Lead.id != excluding)
        rows = (await self.session.execute(statement)).all()
        for lead_id, found_email_key in rows:
            if email_key is not None and found_email_key == email_key:
                return lead_id, "email"
        return (rows[0][0], "name") if rows else None

    async def get(self, lead_id: str) -> Lead | None:
        statement = self._scoped(Lead).where(Lead.id == lead_id).where(Lead.deleted_at.is_(None))
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def update(self, lead_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            self._scoped_update(Lead).where(Lead.id == lead_id).values(**values)
        )

    async def page(
        self, filters: LeadFilters, *, after: Position | None, limit: int
    ) -> Sequence[Lead]:
        """Live leads newest first, strictly after `after`: keyset paging, stable under inserts."""
        statement = self._scoped(Lead).where(Lead.deleted_at.is_(None))
        if filters.status is not None:
            statement = statement.where(Lead.status == filters.status)
        if filters.team_id is not None:
            statement = statement.where(Lead.team_id == filters.team_id)
        if filters.team_ids is not None:
            statement = statement.where(Lead.team_id.in_(filters.team_ids))
        if filters.source is not None:
            statement = statement.where(Lead.source == filters.source)
        if filters.created_after is not None:
            statement = statement.where(Lead.created_at >= filters.created_after)
        if filters.created_before is not None:
            statement = statement.where(Lead.created_at < filters.created_before)
        if filters.tag_id is not None:
            tagged = (
                sa.select(LeadTag.lead_id)
                .where(self._tenant_filter(LeadTag))
                .where(LeadTag.tag_id == filters.tag_id)
            )
            statement = statement.where(Lead.id.in_(tagged))
        if filters.q:
            pattern = _like_pattern(filters.q)
            searched = (
                Lead.first_name + " " + Lead.last_name,
                Lead.email,
                Lead.company,
                Lead.phone,
            )
            statement = statement.where(
                sa.or_(*(sa.func.lower(c).like(pattern, escape="\\") for c in searched))
            )
        if after is not None:
            # A row-value comparison, so PostgreSQL walks ix_leads_tenant_created to the spot.
            statement = statement.where(
                sa.tuple_(Lead.created_at, Lead.id)
                < sa.tuple_(
                    sa.literal(after.created_at, Lead.created_at.type), sa.literal(after.id)
                )
            )
        statement = statement.order_by(Lead.created_at.desc(), Lead.id.desc()).limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def purge_deleted(self, before: datetime) -> int:
        """Removes leads soft-deleted before `before` (their tag links go by cascade)."""
        result: Any = await self.session.execute(
            self._scoped_delete(Lead)
            .where(Lead.deleted_at.is_not(None))
            .where(Lead.deleted_at < before)
        )
        return int(result.rowcount or 0)

    async def count(self) -> int:
        statement = sa.select(sa.func.count()).select_from(Lead).where(self._tenant_filter(Lead))
        return int((await self.session.execute(statement)).scalar_one())
