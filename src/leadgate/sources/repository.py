"""Every query on inbound sources and the payloads they sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.db import TenantScopedRepository
from leadgate.models import InboundSource, SourcePayload


class SourceRepository(TenantScopedRepository):
    def add(self, source: InboundSource) -> None:
        self.session.add(source)

    async def get(self, source_id: str) -> InboundSource | None:
        statement = self._scoped(InboundSource).where(InboundSource.id == source_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list(self) -> Sequence[InboundSource]:
        statement = self._scoped(InboundSource).order_by(InboundSource.id)
        return (await self.session.execute(statement)).scalars().all()

    async def delete(self, source_id: str) -> None:
        await self.session.execute(
            self._scoped_delete(InboundSource).where(InboundSource.id == source_id)
        )

    async def touch_received(self, source_id: str, at: datetime) -> None:
        await self.session.execute(
            self._scoped_update(InboundSource)
            .where(InboundSource.id == source_id)
            .values(last_received_at=at)
        )


class SourcePayloadRepository(TenantScopedRepository):
    def add(self, payload: SourcePayload) -> None:
        self.session.add(payload)

    async def get(self, source_id: str, payload_id: str) -> SourcePayload | None:
        statement = self._scoped(SourcePayload).where(
            SourcePayload.source_id == source_id, SourcePayload.id == payload_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def latest(self, source_id: str) -> SourcePayload | None:
        statement = (
            self._scoped(SourcePayload)
            .where(SourcePayload.source_id == source_id)
            .order_by(SourcePayload.id.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self, source_id: str, *, outcome: str | None, before: str | None, limit: int
    ) -> Sequence[SourcePayload]:
        """Newest first."""
        statement = (
            self._scoped(SourcePayload)
            .where(SourcePayload.source_id == source_id)
            .order_by(SourcePayload.id.desc())
            .limit(limit)
        )
        if outcome is not None:
            statement = statement.where(SourcePayload.outcome == outcome)
        if before is not None:
            statement = statement.where(SourcePayload.id < before)
        return (await self.session.execute(statement)).scalars().all()

    async def claim_for_replay(self, source_id: str, payload_id: str) -> bool:
        """Counts a replay of a payload that made no lead. The row lock this UPDATE takes makes a
        concurrent replay wait and then find the lead already made (False): one lead, once."""
        result = await self.session.execute(
            self._scoped_update(SourcePayload)
            .where(
                SourcePayload.source_id == source_id,
                SourcePayload.id == payload_id,
                SourcePayload.lead_id.is_(None),
                SourcePayload.outcome.in_(("failed", "duplicate")),
            )
            .values(attempts=SourcePayload.attempts + 1)
        )
        return bool(getattr(result, "rowcount", 0))

    async def record_outcome(self, payload_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            self._scoped_update(SourcePayload).where(SourcePayload.id == payload_id).values(values)
        )

    async def prune(self, source_id: str, *, received_before: datetime, keep: int) -> int:
        """Drops the source's payloads past the retention period or beyond the newest `keep`."""
        cutoff = (
            sa.select(SourcePayload.id)
            .where(self._tenant_filter(SourcePayload), SourcePayload.source_id == source_id)
            .order_by(SourcePayload.id.desc())
            .offset(keep)
            .limit(1)
            .scalar_subquery()
        )
        result = await self.session.execute(
            self._scoped_delete(SourcePayload).where(
                SourcePayload.source_id == source_id,
                sa.or_(SourcePayload.received_at < received_before, SourcePayload.id <= cutoff),
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


class SourceLookupRepository:
    """Finds the source a provider's request names, before its tenant is known."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, source_id: str) -> InboundSource | None:
        statement = sa.select(InboundSource).where(InboundSource.id == source_id)
        return (await self.session.execute(statement)).scalar_one_or_none()
