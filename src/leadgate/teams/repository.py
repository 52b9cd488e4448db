"""Every query on teams, and on the leads and keys that name a team."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from leadgate.api_keys.scopes import SPECIFIC_TEAMS
from leadgate.db import TenantScopedRepository
from leadgate.models import ApiKey, Lead, Team


class TeamRepository(TenantScopedRepository):
    """Teams of one tenant."""

    async def existing_ids(self, team_ids: Sequence[str]) -> set[str]:
        if not team_ids:
            return set()
        result = await self.session.execute(self._scoped(Team).where(Team.id.in_(team_ids)))
        return {team.id for team in result.scalars().all()}

    async def add(self, team: Team) -> None:
        self.session.add(team)
        await self.session.flush()

    async def get(self, team_id: str) -> Team | None:
        result = await self.session.execute(self._scoped(Team).where(Team.id == team_id))
        return result.scalar_one_or_none()

    async def list(self, only: Sequence[str] | None = None) -> Sequence[Team]:
        query = self._scoped(Team).order_by(Team.name)
        if only is not None:
            query = query.where(Team.id.in_(only))
        result = await self.session.execute(query)
        return result.scalars().all()

    async def lead_counts(self) -> dict[str, int]:
        """Live (not deleted) leads per team."""
        result = await self.session.execute(
            sa.select(Lead.team_id, sa.func.count())
            .where(self._tenant_filter(Lead), Lead.team_id.is_not(None), Lead.deleted_at.is_(None))
            .group_by(Lead.team_id)
        )
        return {team_id: count for team_id, count in result.tuples().all() if team_id}

    async def move_leads(self, team_id: str, to_team_id: str | None) -> int:
        """Every lead of `team_id` (deleted ones too) into `to_team_id` (None: no team)."""
        result = await self.session.execute(
            self._scoped_update(Lead)
            .where(Lead.team_id == team_id)
            .values(team_id=to_team_id)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def team_limited_keys(self) -> Sequence[ApiKey]:
        """Keys limited to teams (revoked ones too: their team list is kept tidy as well)."""
        result = await self.session.execute(
            self._scoped(ApiKey).where(ApiKey.team_scope == SPECIFIC_TEAMS)
        )
        return result.scalars().all()

    async def delete(self, team_id: str) -> None:
        await self.session.execute(
            self._scoped_delete(Team)
            .where(Team.id == team_id)
            .execution_options(synchronize_session=False)
        )
