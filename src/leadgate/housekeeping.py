"""Periodic clean-up: expired idempotency records, leads deleted past the retention period, and
every other kind of record past its retention (privacy.retention: events, attempts, inbound
sources' payloads, quarantined and expired form submissions, ...)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from leadgate.background import log_failure
from leadgate.db import Database
from leadgate.idempotency.service import purge_expired
from leadgate.leads.service import purge_deleted
from leadgate.models import utcnow
from leadgate.privacy.retention import purge_tenant
from leadgate.settings import Settings
from leadgate.tenants.repository import TenantRepository

log = structlog.get_logger("leadgate.housekeeping")


@dataclass(frozen=True, slots=True)
class Purged:
    leads: int
    idempotency_records: int
    # Rows purged by retention, by kind (privacy.retention).
    retention: dict[str, int] = field(default_factory=dict)


async def purge_once(
    database: Database,
    settings: Settings,
    *,
    retention_days: float | None = None,
    now: datetime | None = None,
) -> Purged:
    """One pass, short transactions per tenant (so SQLite's writer lock is never held long).

    `now` is the pass's clock: tests move it instead of waiting.
    """
    now = now or utcnow()
    days = settings.lead_retention_days if retention_days is None else retention_days
    cutoff = now - timedelta(days=days)
    async with database.sessionmaker() as session:
        tenants = [
            (tenant.id, dict(tenant.settings)) for tenant in await TenantRepository(session).list()
        ]
    leads = records = 0
    retention: dict[str, int] = {}
    for tenant_id, tenant_settings in tenants:
        async with database.sessionmaker() as session, session.begin():
            leads += await purge_deleted(session, tenant_id, cutoff)
            records += await purge_expired(session, tenant_id, now)
        purged = await purge_tenant(database, settings, tenant_id, tenant_settings, now)
        for kind, count in purged.items():
            retention[kind] = retention.get(kind, 0) + count
    return Purged(leads=leads, idempotency_records=records, retention=retention)


class Housekeeper:
    """The lifespan task: a pass every `housekeeping_interval_seconds`.

    Stopping waits for a pass in progress to end instead of cancelling it halfway through a
    transaction (on SQLite that could strand the writer lock until the connection is dropped).
    """

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), self.settings.housekeeping_interval_seconds
                )
            if self._stopping.is_set():
                return
            try:
                purged = await purge_once(self.database, self.settings)
            except Exception as error:  # a failed pass must not end the task; the next retries
                log_failure(log, "housekeeping_failed", error)
                continue
            if purged.leads or purged.idempotency_records or any(purged.retention.values()):
                log.info(
                    "housekeeping",
                    leads=purged.leads,
                    records=purged.idempotency_records,
                    retention=purged.retention,
                )

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
