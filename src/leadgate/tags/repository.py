"""Every query on tags and lead-tag links."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from leadgate.db import TenantScopedRepository
from leadgate.models import LeadTag, Tag, utcnow
from leadgate.sql import insert_ignoring_conflicts


class TagRepository(TenantScopedRepository):
    async def by_ids(self, tag_ids: Sequence[str]) -> list[Tag]:
        if not tag_ids:
            return []
        result = await self.session.execute(self._scoped(Tag).where(Tag.id.in_(tag_ids)))
        return list(result.scalars().all())

    async def by_name_keys(self, name_keys: Sequence[str]) -> list[Tag]:
        if not name_keys:
            return []
        result = await self.session.execute(self._scoped(Tag).where(Tag.name_key.in_(name_keys)))
        return list(result.scalars().all())

    async def matching(self, tag_ids: Sequence[str], name_keys: Sequence[str]) -> list[Tag]:
        """Tags by id or by name key, in one query."""
        if not tag_ids and not name_keys:
            return []
        match = sa.or_(Tag.id.in_(tag_ids), Tag.name_key.in_(name_keys))
        result = await self.session.execute(self._scoped(Tag).where(match))
        return list(result.scalars().all())

    async def insert_missing(self, tags: Sequence[tuple[str, str, str]]) -> None:
        """Inserts `(id, name, name_key)` rows; a name another request just created is kept."""
        if not tags:
            return
        now = utcnow()
        rows = [{"id": i, "name": n, "name_key": k, "created_at": now} for i, n, k in tags]
        await self.session.execute(insert_ignoring_conflicts(Tag), self._with_tenant(rows))

    async def link(self, lead_id: str, tag_ids: Sequence[str]) -> None:
        if not tag_ids:
            return
        rows = [{"lead_id": lead_id, "tag_id": tag_id} for tag_id in tag_ids]
        await self.session.execute(insert_ignoring_conflicts(LeadTag), self._with_tenant(rows))

    async def tags_of(self, lead_ids: Sequence[str]) -> dict[str, list[Tag]]:
        found: dict[str, list[Tag]] = defaultdict(list)
        if not lead_ids:
            return found
        statement = (
            self._scoped(Tag)
            .add_columns(LeadTag.lead_id)
            .join(LeadTag, LeadTag.tag_id == Tag.id)
            .where(LeadTag.lead_id.in_(lead_ids))
            .where(self._tenant_filter(LeadTag))
            .order_by(Tag.name_key)
        )
        for tag, lead_id in (await self.session.execute(statement)).all():
            found[lead_id].append(tag)
        return found

    async def list(self) -> Sequence[Tag]:
        statement = self._scoped(Tag).order_by(Tag.name_key)
        return (await self.session.execute(statement)).scalars().all()

    async def get(self, tag_id: str) -> Tag | None:
        statement = self._scoped(Tag).where(Tag.id == tag_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def insert(self, values: Mapping[str, Any]) -> bool:
        """Inserts a tag unless its name is taken in the tenant (the unique index decides)."""
        statement = (
            insert_ignoring_conflicts(Tag)
            .values(**values, tenant_id=self.tenant_id)
            .returning(Tag.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def update(self, tag_id: str, values: Mapping[str, Any]) -> None:
        await self.session.execute(
            self._scoped_update(Tag).where(Tag.id == tag_id).values(**values)
        )

    async def delete(self, tag_id: str) -> None:
        # Links first: SQLite enforces the cascade only with foreign keys on; be explicit.
        await self.session.execute(self._scoped_delete(LeadTag).where(LeadTag.tag_id == tag_id))
        await self.session.execute(self._scoped_delete(Tag).where(Tag.id == tag_id))

    async def unlink(self, lead_id: str, tag_ids: Sequence[str]) -> None:
        if not tag_ids:
            return
        await self.session.execute(
            self._scoped_delete(LeadTag)
            .where(LeadTag.lead_id == lead_id)
            .where(LeadTag.tag_id.in_(tag_ids))
        )

    async def count(self) -> int:
        statement = sa.select(sa.func.count()).select_from(Tag).where(self._tenant_filter(Tag))
        return int((await self.session.execute(statement)).scalar_one())
