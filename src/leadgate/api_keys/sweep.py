"""The periodic expiry sweep: `api_key.expiring` 7 days ahead, the `api_key.expired` audit event."""

from __future__ import annotations

import asyncio

import structlog

from leadgate.api_keys.service import sweep_expiring_keys
from leadgate.background import log_failure
from leadgate.db import Database

log = structlog.get_logger("leadgate.api_keys")


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
