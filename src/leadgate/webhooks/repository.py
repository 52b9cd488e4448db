"""Every query on webhook endpoints, deliveries and attempts, and the worker's queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.db import TenantScopedRepository
from leadgate.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint


class WebhookEndpointRepository(TenantScopedRepository):
    def add(self, endpoint: WebhookEndpoint) -> None:
        self.session.add(endpoint)

    async def get(self, endpoint_id: str) -> WebhookEndpoint | None:
        statement = self._scoped(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list(self) -> Sequence[WebhookEndpoint]:
        statement = self._scoped(WebhookEndpoint).order_by(WebhookEndpoint.id)
        return (await self.session.execute(statement)).scalars().all()

    async def delete(self, endpoint_id: str) -> None:
        await self.session.execute(
            self._scoped_delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
        )

    async def mark_failing(self, endpoint_id: str, since: datetime) -> datetime:
        """Starts the endpoint's failing run unless one is running; returns the run's start."""
        await self.session.execute(
            self._scoped_update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_(None))
            .values(failing_since=since)
        )
        statement = sa.select(WebhookEndpoint.failing_since).where(
            WebhookEndpoint.id == endpoint_id, self._tenant_filter(WebhookEndpoint)
        )
        started: datetime | None = (await self.session.execute(statement)).scalar_one_or_none()
        return started or since

    async def mark_healthy(self, endpoint_id: str) -> None:
        # Guarded so a healthy endpoint's successes write nothing.
        await self.session.execute(
            self._scoped_update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_not(None))
            .values(failing_since=None)
        )

    async def disable(self, endpoint_id: str, reason: str, at: datetime) -> bool:
        """Disables an enabled endpoint; False if it was already disabled (or is gone)."""
        result = await self.session.execute(
            self._scoped_update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True))
            .values(enabled=False, disabled_reason=reason, updated_at=at)
        )
        return bool(getattr(result, "rowcount", 0))


class WebhookDeliveryRepository(TenantScopedRepository):
    def add(self, delivery: WebhookDelivery) -> None:
        self.session.add(delivery)

    async def insert_many(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(sa.insert(WebhookDelivery), self._with_tenant(rows))

    async def list_for_endpoint(
        self, endpoint_id: str, *, limit: int, before: str | None = None
    ) -> Sequence[tuple[WebhookDelivery, str]]:
        """Newest first, each with its event's type."""
        statement = (
            sa.select(WebhookDelivery, Event.type)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(self._tenant_filter(WebhookDelivery), WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
        if before is not None:
            statement = statement.where(WebhookDelivery.id < before)
        rows = (await self.session.execute(statement)).all()
        return [(row[0], row[1]) for row in rows]

    async def with_event(self, delivery_id: str) -> tuple[WebhookDelivery, Event] | None:
        statement = (
            sa.select(WebhookDelivery, Event)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(self._tenant_filter(WebhookDelivery), WebhookDelivery.id == delivery_id)
        )
        row = (await self.session.execute(statement)).first()
        return (row[0], row[1]) if row is not None else None

    async def attempts_of(self, delivery_ids: Sequence[str]) -> Sequence[WebhookAttempt]:
        statement = (
            self._scoped(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(delivery_ids))
            .order_by(WebhookAttempt.attempt_number, WebhookAttempt.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    def add_attempt(self, attempt: WebhookAttempt) -> None:
        self.session.add(attempt)

    async def record_outcome(
        self, delivery_id: str, *, status: str, next_attempt_at: datetime | None, at: datetime
    ) -> bool:
        """False when the delivery is gone (its endpoint was deleted while it was in flight)."""
        result = await self.session.execute(
            self._scoped_update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(
                attempts=WebhookDelivery.attempts + 1,
                status=status,
                next_attempt_at=next_attempt_at,
                last_attempt_at=at,
            )
        )
        return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed delivery with everything needed to send it."""

    delivery_id: str
    tenant_id: str
    endpoint_id: str
    url: str
    secrets: tuple[str, ...]  # sealed (encrypted); the sender opens them
    event_id: str
    event_type: str
    event_created_at: datetime
    data: dict[str, Any]
    attempts: int
    trigger: str


def job_of(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint, event: Event, now: datetime
) -> Job:
    signing = [endpoint.secret]
    if (
        endpoint.previous_secret is not None
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        signing.append(endpoint.previous_secret)
    return Job(
        delivery_id=delivery.id,
        tenant_id=delivery.tenant_id,
        endpoint_id=endpoint.id,
        url=endpoint.url,
        secrets=tuple(signing),
        event_id=event.id,
        event_type=event.type,
        event_created_at=event.created_at,
        data=event.data,
        attempts=delivery.attempts,
        trigger=delivery.trigger,
    )


class WebhookQueueRepository:
    """The delivery worker's queries. They cross tenants on purpose: one worker serves all.

    Claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers take disjoint rows;
    SQLite ignores the clause and serialises writers with `BEGIN IMMEDIATE` instead.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim_undispatched(
        self, limit: int
    ) -> Sequence[sa.Row[tuple[str, str, str, datetime]]]:
        """The oldest events not yet fanned out, locked for this transaction. Only what fan-out
        needs: an event's data is read when a delivery is sent, not here (decoding it for every
        event was a seventh of a busy server's CPU)."""
        statement = (
            sa.select(Event.id, Event.tenant_id, Event.type, Event.created_at)
            .where(Event.dispatched_at.is_(None))
            .order_by(Event.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.execute(statement)).all()

    async def enabled_endpoints(self, tenant_ids: Sequence[str]) -> Sequence[WebhookEndpoint]:
        statement = sa.select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id.in_(tenant_ids), WebhookEndpoint.enabled.is_(True)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def insert_deliveries(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(sa.insert(WebhookDelivery), rows)

    async def mark_dispatched(self, event_ids: Sequence[str], at: datetime) -> None:
        await self.session.execute(
            sa.update(Event).where(Event.id.in_(event_ids)).values(dispatched_at=at)
        )

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Job]:
        """Due pending deliveries to enabled endpoints, leased until `lease_until`: a worker that
        dies before recording the attempt leaves it to be sent again when the lease runs out."""
        statement = (
            sa.select(WebhookDelivery, WebhookEndpoint, Event)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.enabled.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
        rows = (await self.session.execute(statement)).all()
        if not rows:
            return []
        await self.session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.id.in_([row[0].id for row in rows]))
            .values(next_attempt_at=lease_until)
        )
        return [job_of(row[0], row[1], row[2], now) for row in rows]

    async def count_pending(self) -> int:
        """Deliveries not yet sent or awaiting a retry: the queue depth the worker reports."""
        statement = (
            sa.select(sa.func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status == "pending")
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def all_endpoints(self) -> Sequence[WebhookEndpoint]:
        """Every tenant's endpoints, for re-encrypting their secrets after a server-secret
        rotation (an operator's CLI command)."""
        statement = sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id)
        return (await self.session.execute(statement)).scalars().all()

    async def tenant_of_endpoint(self, endpoint_id: str) -> str | None:
        """For the operators' CLI, which names an endpoint by id alone."""
        statement = sa.select(WebhookEndpoint.tenant_id).where(WebhookEndpoint.id == endpoint_id)
        tenant_id: str | None = (await self.session.execute(statement)).scalar_one_or_none()
        return tenant_id
