"""The expiry sweep: `api_key.expiring` 7 days ahead, the `api_key.expired` audit event, run at
start and then periodically by every server process (each key is claimed by one of them)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import audit
from leadgate.api_keys.repository import ApiKeyRepository, KeyExpiryScanRepository
from leadgate.api_keys.service import EXPIRY_WARNING, key_public, key_snapshot
from leadgate.background import log_failure
from leadgate.db import Database
from leadgate.events.service import emit
from leadgate.models import utcnow

log = structlog.get_logger("leadgate.api_keys")
SWEEP_ACTOR = {"type": "system", "id": "expiry-sweep", "name": "leadgate"}


async def sweep_expiring_keys(session: AsyncSession, now: datetime | None = None) -> int:
    """`api_key.expiring` once per key 7 days ahead; the `api_key.expired` audit once it has."""
    now = now or utcnow()
    scan = KeyExpiryScanRepository(session)
    done = 0
    for key in await scan.needing_notice(now, now + EXPIRY_WARNING):
        if await ApiKeyRepository(session, key.tenant_id).claim_expiring_notice(key.id, now):
            await emit(session, key.tenant_id, "api_key.expiring", key_public(key))
            await audit.record(
                session,
                tenant_id=key.tenant_id,
                action="api_key.expiring",
                actor=SWEEP_ACTOR,
                target_type="api_key",
                target_id=key.id,
                after=key_snapshot(key),
            )
            done += 1
    for key in await scan.newly_expired(now):
        if await ApiKeyRepository(session, key.tenant_id).claim_expired_record(key.id, now):
            await audit.record(
                session,
                tenant_id=key.tenant_id,
                action="api_key.expired",
                actor=SWEEP_ACTOR,
                target_type="api_key",
                target_id=key.id,
                before=None,
                after=key_snapshot(key),
            )
            done += 1
    return done


async def sweep_once(database: Database) -> int:
    async with database.sessionmaker() as session, session.begin():
        return await sweep_expiring_keys(session)


async def run_expiry_sweep(database: Database, interval: float) -> None:
    """Sweeps at start and then every `interval` seconds; each key is claimed by one process."""
    while True:
        try:
            await sweep_once(database)
        except Exception as error:  # a failed sweep must not stop later ones
            log_failure(log, "key_expiry_sweep_failed", error)
        await asyncio.sleep(interval)
