"""In-memory buffers a lifespan task writes out every few seconds, and once more at shutdown."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from leadgate.db import Database

log = structlog.get_logger("leadgate.background")


class PeriodicFlush:
    """Subclasses gather work in memory and write it in `flush`; `run` and `stop` schedule it."""

    flush_failed_event = "flush_failed"

    async def flush(self, database: Database) -> int:
        raise NotImplementedError

    async def run(self, database: Database, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush(database)
            except Exception:  # a failed flush must not stop later ones
                log.exception(self.flush_failed_event)

    async def stop(self, task: asyncio.Task[None], database: Database) -> None:
        """Cancels the loop, then writes what is left: nothing is lost on a clean stop."""
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self.flush(database)
