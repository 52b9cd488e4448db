"""Periodic clean-up: expired idempotency records, leads deleted past the retention period, and
inbound sources' payloads past theirs."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta

import structlog

from leadgate.background import log_failure
from leadgate.db import Database
from leadgate.idempotency.service import purge_expired
from leadgate.leads.service import purge_deleted
from leadgate.models import utcnow
from leadgate.settings import Settings
from leadgate.sources.service import purge_payloads
from leadgate.tenants.repository import TenantRepository

log = structlog.get_logger("leadgate.housekeeping")


@dataclass(frozen=True, slots=True)
class Purged:
    leads: int
    idempotency_records: int
    source_payloads: int = 0


async def purge_once(
    database: Database, settings: Settings, *, retention_days: float | None = None
) -> Purged:
    """One pass, one short transaction per tenant (so SQLite's writer lock is never held long)."""
    days = settings.lead_retention_days if retention_days is None else retention_days
    cutoff = utcnow() - timedelta(days=days)
    async with database.sessionmaker() as session:
        tenant_ids = [tenant.id for tenant in await TenantRepository(session).list()]
    payloads_cutoff = utcnow() - timedelta(days=settings.sources_payload_retention_days)
    leads = records = payloads = 0
    for tenant_id in tenant_ids:
        async with database.sessionmaker() as session, session.begin():
            leads += await purge_deleted(session, tenant_id, cutoff)
            records += await purge_expired(session, tenant_id)
            payloads += await purge_payloads(session, tenant_id, payloads_cutoff)
    return Purged(leads=leads, idempotency_records=records, source_payloads=payloads)


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
            if purged.leads or purged.idempotency_records or purged.source_payloads:
                log.info(
                    "housekeeping",
                    leads=purged.leads,
                    records=purged.idempotency_records,
                    source_payloads=purged.source_payloads,
                )

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
