"""Every query on the tenants table (tenants are the scope, so these are not tenant-scoped)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.db import TenantScopedRepository
from leadgate.models import Team, Tenant


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, tenant: Tenant) -> None:
        self.session.add(tenant)
        # Flushed so a taken slug fails here, before the first key is issued.
        await self.session.flush()

    async def by_slug(self, slug: str) -> Tenant | None:
        result = await self.session.execute(sa.select(Tenant).where(Tenant.slug == slug))
        return result.scalar_one_or_none()

    async def by_id(self, tenant_id: str) -> Tenant | None:
        return await self.session.get(Tenant, tenant_id)

    async def list(self) -> Sequence[Tenant]:
        result = await self.session.execute(sa.select(Tenant).order_by(Tenant.created_at))
        return result.scalars().all()


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

    async def list(self) -> Sequence[Team]:
        result = await self.session.execute(self._scoped(Team).order_by(Team.name))
        return result.scalars().all()
