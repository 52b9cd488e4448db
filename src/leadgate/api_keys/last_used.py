"""`lastUsedAt` / `lastUsedIp` of keys, gathered in memory and written in the background.

Requests only touch a dict; a flush every `last_used_flush_seconds` (and at shutdown) writes the
keys used since the last flush in one executemany of bare UPDATEs per tenant, so verification
never waits on a write. The flush also remembers each address a key was used from (one multi-row
INSERT per 1,000) and audits the first use from a new one. A crash loses what was gathered since
the last flush (docs/operations-failures.md).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import structlog

from leadgate import audit
from leadgate.api_keys.repository import ApiKeyRepository
from leadgate.background import PeriodicFlush
from leadgate.db import Database
from leadgate.models import utcnow

log = structlog.get_logger("leadgate.api_keys")


class KeyUsageRecorder(PeriodicFlush):
    flush_failed_event = "last_used_flush_failed"

    def __init__(self) -> None:
        self._pending: dict[str, tuple[str, datetime, str | None]] = {}
        # (key, address) pairs used since the last flush, with their first time.
        self._addresses: dict[tuple[str, str], tuple[str, datetime]] = {}

    def touch(self, tenant_id: str, key_id: str, ip: str | None) -> None:
        now = utcnow()
        self._pending[key_id] = (tenant_id, now, ip)
        if ip is not None:
            self._addresses.setdefault((key_id, ip), (tenant_id, now))

    async def write_out(self, database: Database) -> int:
        if not self._pending:
            return 0
        pending, self._pending = self._pending, {}
        addresses, self._addresses = self._addresses, {}
        try:
            await self._write(database, pending, addresses)
        except BaseException:
            # Kept for the next flush (the database may be back by then): a later use of a key
            # wins, and an address keeps its first time.
            self._pending = {**pending, **self._pending}
            self._addresses = {**self._addresses, **addresses}
            raise
        return len(pending)

    async def _write(
        self,
        database: Database,
        pending: dict[str, tuple[str, datetime, str | None]],
        addresses: dict[tuple[str, str], tuple[str, datetime]],
    ) -> None:
        uses: dict[str, list[tuple[str, datetime, str | None]]] = defaultdict(list)
        for key_id, (tenant_id, used_at, ip) in pending.items():
            uses[tenant_id].append((key_id, used_at, ip))
        seen: dict[str, list[tuple[str, str, datetime]]] = defaultdict(list)
        for (key_id, ip), (tenant_id, first_at) in addresses.items():
            seen[tenant_id].append((key_id, ip, first_at))
        async with database.sessionmaker() as session, session.begin():
            for tenant_id, used in uses.items():
                await ApiKeyRepository(session, tenant_id).record_uses(used)
            for tenant_id, rows in seen.items():
                first_seen = {(key_id, ip): at for key_id, ip, at in rows}
                # Batches bounded by what one statement may carry (SQLite: 32,766 variables).
                for start in range(0, len(rows), 1000):
                    new = await ApiKeyRepository(session, tenant_id).remember_ips(
                        rows[start : start + 1000]
                    )
                    for key_id, ip in new:
                        await audit.record(
                            session,
                            tenant_id=tenant_id,
                            action="api_key.used_from_new_ip",
                            actor={"type": "api_key", "id": key_id},
                            target_type="api_key",
                            target_id=key_id,
                            after={"ip": ip, "firstSeenAt": first_seen[key_id, ip].isoformat()},
                            ip=ip,
                        )
