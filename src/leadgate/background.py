"""In-memory buffers a lifespan task writes out every few seconds, and once more at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from leadgate.db import Database, database_unavailable

log = structlog.get_logger("leadgate.background")


def log_failure(logger: Any, event: str, error: BaseException, **fields: Any) -> None:
    """A background task's failed round. A database that is away is expected now and then (one
    line, no traceback: the next round retries); anything else is a bug worth its traceback."""
    if database_unavailable(error):
        logger.warning(event, reason="database_unavailable", error=type(error).__name__, **fields)
    else:
        logger.error(event, exc_info=error, **fields)


class PeriodicFlush:
    """Subclasses gather work in memory and write it in `flush`; `run` and `stop` schedule it."""

    flush_failed_event = "flush_failed"
    _flushing: asyncio.Lock | None = None

    async def flush(self, database: Database) -> int:
        """Writes out what was gathered. One flush at a time: a flush asked for while the
        periodic one writes returns once that one (and its own) is done, so "after a flush"
        means everything gathered before it is in the database."""
        if self._flushing is None:
            self._flushing = asyncio.Lock()
        async with self._flushing:
            return await self.write_out(database)

    async def write_out(self, database: Database) -> int:
        raise NotImplementedError

    async def run(self, database: Database, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush(database)
            except Exception as error:  # a failed flush must not stop later ones
                log_failure(log, self.flush_failed_event, error)

    async def stop(self, task: asyncio.Task[None], database: Database) -> None:
        """Cancels the loop, then writes what is left: nothing is lost on a clean stop (unless the
        database is away then too: logged, and the rest of the shutdown still runs)."""
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            await self.flush(database)
        except Exception as error:
            log_failure(log, self.flush_failed_event, error, at="shutdown")
