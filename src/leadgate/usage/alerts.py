"""Alerts when a key nears its per-minute limit or monthly quota (event + console notice).

The limiter reports every decision here. Crossing the threshold schedules one write in its own
transaction, off the request's path (a request that later fails must not take the alert with it).
A per-process memory of alerts already sent keeps the database out of the hot path, and the
notices' unique (key, kind, period) index keeps it to once per key per window across processes.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import structlog

from leadgate.auth.principal import Principal
from leadgate.db import Database
from leadgate.models import utcnow
from leadgate.ratelimit.gcra import Decision
from leadgate.usage.service import record_threshold_reached

log = structlog.get_logger("leadgate.usage")


class UsageAlerts:
    def __init__(self, database: Database, threshold: float) -> None:
        self.database = database
        self.threshold = threshold
        self._sent: set[tuple[str, str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def observe(
        self, principal: Principal, decision: Decision, now: datetime | None = None
    ) -> None:
        now = now or utcnow()
        if decision.used >= self.threshold * decision.limit:
            self._alert(principal, "rate_limit", now.strftime("%Y-%m-%dT%H:%M"), decision.used,
                        decision.limit)  # fmt: skip
        quota = principal.monthly_quota
        used = decision.quota_used
        if quota and used is not None and used >= self.threshold * quota:
            self._alert(principal, "monthly_quota", now.strftime("%Y-%m"), used, quota)

    def _alert(self, principal: Principal, kind: str, period: str, used: int, limit: int) -> None:
        marker = (principal.api_key_id, kind, period)
        if marker in self._sent:
            return
        if len(self._sent) > 10_000:
            self._sent.clear()
        self._sent.add(marker)
        task = asyncio.create_task(self._write(principal, kind, period, used, limit))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(
        self, principal: Principal, kind: str, period: str, used: int, limit: int
    ) -> None:
        try:
            async with self.database.sessionmaker() as session, session.begin():
                await record_threshold_reached(
                    session,
                    principal.tenant_id,
                    key_id=principal.api_key_id,
                    key_name=principal.api_key_name,
                    kind=kind,
                    period=period,
                    used=used,
                    limit=limit,
                    threshold=self.threshold,
                )
        except Exception:
            self._sent.discard((principal.api_key_id, kind, period))  # retried on the next request
            log.exception("usage_alert_failed", api_key_id=principal.api_key_id, kind=kind)

    async def drain(self) -> None:
        """Waits for alerts still being written (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
