"""The automation worker: runs the tenants' rules on committed events from the outbox.

Runs inside `leadgate serve` (a lifespan task) and in `leadgate worker`. Each round is one
transaction: claim the oldest events not yet evaluated (`FOR UPDATE SKIP LOCKED`, so several
workers take disjoint events), run the matching rules (their actions, run rows and the events
they cause), and mark the events evaluated. A worker killed mid-round commits nothing: the events
stay unevaluated and the next round runs them again (at least once); a rule that already ran on
an event is skipped (the unique (automation, event) run), so each runs once per event.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from leadgate.automations.repository import AutomationQueueRepository
from leadgate.automations.service import process_event
from leadgate.background import log_failure
from leadgate.db import Database
from leadgate.models import utcnow
from leadgate.settings import Settings

log = structlog.get_logger("leadgate.automations")
BATCH_SIZE = 50


class AutomationWorker:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.stopping = asyncio.Event()

    async def run_once(self) -> int:
        """One round; returns how many events it evaluated (0: idle)."""
        async with self.database.sessionmaker() as session, session.begin():
            queue = AutomationQueueRepository(session)
            await queue.pass_over_unwatched(utcnow())
            events = await queue.claim(BATCH_SIZE)
            runs = 0
            for event in events:
                runs += await process_event(session, event)
            await queue.mark_automated([e.id for e in events], utcnow())
        if runs:
            log.info("automation_round", events=len(events), runs=runs)
        return len(events)

    async def run(self) -> None:
        while not self.stopping.is_set():
            try:
                worked = await self.run_once()
            except Exception as error:  # the database may be briefly away; keep running
                log_failure(log, "automation_worker_round_failed", error)
                worked = 0
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self.stopping.wait(), self.settings.automations_poll_seconds
                    )

    def stop(self) -> None:
        self.stopping.set()

    async def shutdown(self, task: asyncio.Task[None]) -> None:
        self.stop()
        try:
            await asyncio.wait_for(task, 30)
        except TimeoutError:
            log.warning("automation_worker_stop_timed_out")
