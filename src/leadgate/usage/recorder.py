"""Usage counts gathered in memory and added to the database in the background.

The middleware calls `record_response` when a response starts; it only bumps a dict entry, so a
request never waits on a usage write. A lifespan task adds the counts to `usage_counts` every
`usage_flush_seconds` (one upsert per tenant, adding to what other processes wrote) and once more
on shutdown, so a clean stop loses nothing. A failed flush keeps its counts for the next one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from starlette.types import Scope

from leadgate.background import PeriodicFlush
from leadgate.db import Database
from leadgate.metrics import UNMATCHED, USAGE_FLUSHES, route_template
from leadgate.models import utcnow
from leadgate.usage.repository import UsageRepository

log = structlog.get_logger("leadgate.usage")

# (tenant id, key id, hour, method, route template, status class)
CountKey = tuple[str, str, datetime, str, str, str]


def status_class(status: int) -> str:
    """`2xx`, `3xx`, `4xx`, `5xx`; 429 is its own class so refusals can be told apart."""
    return "429" if status == 429 else f"{status // 100}xx"


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def usage_route(scope: Scope) -> str:
    """The route a usage count is kept under: the metrics' template (computed once a request)."""
    template = route_template(scope)
    return "(unmatched)" if template == UNMATCHED else template


class UsageRecorder(PeriodicFlush):
    flush_failed_event = "usage_flush_failed"

    def __init__(self) -> None:
        self._counts: Counter[CountKey] = Counter()

    def record(self, tenant_id: str, api_key_id: str, method: str, route: str, status: int) -> None:
        key = (tenant_id, api_key_id, hour_of(utcnow()), method, route, status_class(status))
        self._counts[key] += 1

    def record_response(self, scope: Scope, status: int) -> None:
        """Counts a response of an authenticated request (the key is in the request's state)."""
        state = scope.get("state") or {}
        api_key_id = state.get("api_key_id")
        if api_key_id is None:
            return
        self.record(state["tenant_id"], api_key_id, scope["method"], usage_route(scope), status)

    def pending(self) -> int:
        return sum(self._counts.values())

    async def write_out(self, database: Database) -> int:
        if not self._counts:
            return 0
        counts, self._counts = self._counts, Counter()
        by_tenant: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for (tenant_id, key_id, hour, method, route, status), count in counts.items():
            by_tenant[tenant_id].append(
                {
                    "api_key_id": key_id,
                    "hour": hour,
                    "method": method,
                    "route": route[:200],
                    "status_class": status,
                    "count": count,
                }
            )
        written = 0
        unwritten = set(by_tenant)
        for tenant_id, rows in by_tenant.items():
            try:
                async with database.sessionmaker() as session, session.begin():
                    await UsageRepository(session, tenant_id).add_counts(rows)
            except sa.exc.IntegrityError:
                # The key or tenant was deleted since: its counts have nowhere to go.
                log.warning("usage_counts_dropped", tenant_id=tenant_id, rows=len(rows))
                continue
            except BaseException:
                USAGE_FLUSHES.labels("failed").inc()
                # Kept for the next flush (the database may be back by then).
                self._counts.update(
                    {key: count for key, count in counts.items() if key[0] in unwritten}
                )
                raise
            finally:
                unwritten.discard(tenant_id)
            written += sum(row["count"] for row in rows)
        USAGE_FLUSHES.labels("ok").inc()
        return written
