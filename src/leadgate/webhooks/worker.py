"""The delivery worker: fans outbox events out to endpoints and sends due attempts.

Runs inside `leadgate serve` (a lifespan task) and as `leadgate worker`; any number of workers
share a PostgreSQL database, claiming rows with `FOR UPDATE SKIP LOCKED`. Each round is:

1. one transaction: claim undispatched events, create their deliveries, mark them dispatched;
2. one transaction: claim due deliveries, leasing them (`next_attempt_at` = now + lease);
3. no transaction: send the claimed attempts concurrently;
4. one transaction per attempt: log it and schedule the retry (or finish the delivery).

A worker killed between 2 and 4 loses nothing: its leased deliveries come due again when the
lease runs out, and another round sends them (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

import httpx
import structlog

from leadgate.background import log_failure
from leadgate.db import Database
from leadgate.metrics import WEBHOOK_DELIVERIES, WEBHOOK_QUEUE_DEPTH
from leadgate.models import utcnow
from leadgate.settings import Settings
from leadgate.webhooks import delivery, service
from leadgate.webhooks.repository import Job, WebhookQueueRepository

log = structlog.get_logger("leadgate.webhooks")
# The queue depth is counted at most this often (one indexed COUNT), not at every busy round.
QUEUE_DEPTH_EVERY_SECONDS = 1.0


class WebhookWorker:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.stopping = asyncio.Event()
        self._depth_counted_at = -QUEUE_DEPTH_EVERY_SECONDS

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """One round; returns how much it did (0: idle)."""
        async with self.database.sessionmaker() as session, session.begin():
            dispatched = await service.dispatch_events(session, self.settings.webhooks_batch_size)
        now = utcnow()
        lease_until = now + timedelta(seconds=self.settings.webhooks_lease_seconds)
        async with self.database.sessionmaker() as session, session.begin():
            jobs = await WebhookQueueRepository(session).claim_due(
                now, lease_until, self.settings.webhooks_batch_size
            )
        outcomes = await asyncio.gather(
            *(self._deliver(client, job) for job in jobs), return_exceptions=True
        )
        for job, outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, Exception):
                # Not recorded: the lease runs out and the attempt is made again.
                log.error(
                    "webhook_attempt_not_recorded", delivery_id=job.delivery_id, exc_info=outcome
                )
        await self._count_queue()
        return dispatched + len(jobs)

    async def _count_queue(self) -> None:
        now = time.monotonic()
        if now - self._depth_counted_at < QUEUE_DEPTH_EVERY_SECONDS:
            return
        self._depth_counted_at = now
        async with self.database.sessionmaker() as session:
            WEBHOOK_QUEUE_DEPTH.set(await WebhookQueueRepository(session).count_pending())

    async def _deliver(self, client: httpx.AsyncClient, job: Job) -> None:
        result = await delivery.attempt(client, self.settings, job)
        async with self.database.sessionmaker() as session, session.begin():
            await service.apply_attempt(session, self.settings, job, result)
        if result.succeeded:
            WEBHOOK_DELIVERIES.labels("success").inc()
        else:
            WEBHOOK_DELIVERIES.labels("failure" if result.status_code else "error").inc()
        log.info(
            "webhook_attempt",
            delivery_id=job.delivery_id,
            endpoint_id=job.endpoint_id,
            event_id=job.event_id,
            attempt=job.attempts + 1,
            status=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
        )

    async def run(self) -> None:
        """Rounds until `stop()`; a round in progress (attempts in flight) is finished first."""
        async with delivery.new_client(self.settings) as client:
            while not self.stopping.is_set():
                try:
                    worked = await self.run_once(client)
                except Exception as error:  # the database may be briefly away; keep running
                    log_failure(log, "webhook_worker_round_failed", error)
                    worked = 0
                if not worked:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self.stopping.wait(), self.settings.webhooks_poll_seconds
                        )

    def stop(self) -> None:
        self.stopping.set()

    async def shutdown(self, task: asyncio.Task[None]) -> None:
        """Stops the worker, waiting for in-flight attempts up to one timeout and a margin."""
        self.stop()
        try:
            await asyncio.wait_for(task, self.settings.webhooks_timeout_seconds + 5)
        except TimeoutError:
            log.warning("webhook_worker_stop_timed_out")
