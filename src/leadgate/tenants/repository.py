"""Every query on the tenants table (tenants are the scope, so these are not tenant-scoped)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.models import Tenant
from leadgate.teams.repository import TeamRepository

__all__ = ["TeamRepository", "TenantRepository"]


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
