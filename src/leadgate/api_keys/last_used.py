"""`lastUsedAt` / `lastUsedIp` of keys, gathered in memory and written in the background.

Requests only touch a dict; a flush every `last_used_flush_seconds` (and at shutdown) writes one
bare UPDATE per key used since the last flush, so verification never waits on a write.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import structlog

from leadgate.api_keys.repository import ApiKeyRepository
from leadgate.db import Database
from leadgate.models import utcnow

log = structlog.get_logger("leadgate.api_keys")


class KeyUsageRecorder:
    def __init__(self) -> None:
        self._pending: dict[str, tuple[str, datetime, str | None]] = {}

    def touch(self, tenant_id: str, key_id: str, ip: str | None) -> None:
        self._pending[key_id] = (tenant_id, utcnow(), ip)

    async def flush(self, database: Database) -> int:
        if not self._pending:
            return 0
        pending, self._pending = self._pending, {}
        async with database.sessionmaker() as session, session.begin():
            for key_id, (tenant_id, used_at, ip) in pending.items():
                await ApiKeyRepository(session, tenant_id).record_use(key_id, used_at, ip)
        return len(pending)

    async def run(self, database: Database, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush(database)
            except Exception:  # a failed flush must not stop later ones
                log.exception("last_used_flush_failed")

    async def stop(self, task: asyncio.Task[None], database: Database) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self.flush(database)
