"""`leadgate automations worker` processes on PostgreSQL: one is SIGKILLed while it holds a round
of events, another finishes the work, and every rule still ran exactly once per event.

The leadgate server these tests use has its in-process automation worker off
(`LEADGATE_AUTOMATIONS_WORKER_ENABLED=false`): every run here is made by the worker processes.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.models import Activity, AutomationRun, Event, LeadTag
from tests.conftest import BACKENDS, Backend, running_backend
from tests.factories import TenantInfo, count_rows, create_tenant, unique_lead
from tests.processes import leadgate_env, start_leadgate, stop
from tests.receiver import wait_until

pytestmark = pytest.mark.slow
LEADS = 100


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    if "postgres" not in BACKENDS:
        pytest.skip("worker processes need the PostgreSQL backend")
    data_dir = tmp_path_factory.mktemp("data-automation-workers")
    with running_backend("postgres", data_dir, automations_worker_enabled=False) as backend:
        yield backend


def claimed_by_a_worker(backend: Backend, tenant: TenantInfo) -> int:
    """Unevaluated events some transaction holds locked: a worker's round in flight."""

    async def work(session: AsyncSession) -> int:
        pending = sa.select(Event.id).where(
            Event.tenant_id == tenant.id, Event.automated_at.is_(None)
        )
        total = len((await session.execute(pending)).all())
        free = len((await session.execute(pending.with_for_update(skip_locked=True))).all())
        return total - free

    return backend.transaction(work)


def unevaluated(backend: Backend, tenant: TenantInfo) -> int:
    return count_rows(backend, Event, tenant.id, automated_at=None)


def test_sigkilled_worker_runs_each_rule_once_per_event(pg: Backend, tmp_path: Path) -> None:
    tenant = create_tenant(pg)
    log = tmp_path / "automation-workers.log"
    with httpx.Client(base_url=pg.url, timeout=30) as client:
        rule = client.post(
            "/api/v1/automations",
            json={
                "name": "Website leads",
                "eventType": "lead.created",
                "conditions": [{"field": "source", "value": "website"}],
                "actions": [
                    {"type": "add_tags", "tags": ["website"]},
                    {"type": "create_task", "subject": "Call back", "dueInDays": 1},
                ],
            },
            headers=tenant.headers,
        ).json()
        created = []
        for _ in range(LEADS):
            response = client.post(
                "/api/v1/leads", json=unique_lead(source="website"), headers=tenant.headers
            )
            assert response.status_code == 201, response.text
            created.append(response.json()["id"])

    first = start_leadgate(["automations", "worker"], leadgate_env(pg.env()), log)
    try:
        # Kill only while the worker holds a claimed round, however slowly it got there.
        deadline = time.monotonic() + 60
        while (held := claimed_by_a_worker(pg, tenant)) == 0:
            assert time.monotonic() < deadline, "the worker never held a round"
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop(first, signal.SIGKILL)
    assert first.returncode == -signal.SIGKILL
    assert held > 0
    assert unevaluated(pg, tenant) > 0  # the killed round committed nothing

    second = start_leadgate(["automations", "worker"], leadgate_env(pg.env()), log)
    try:
        wait_until(lambda: unevaluated(pg, tenant) == 0, timeout=90)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert second.returncode == 0

    async def runs_per_record(session: AsyncSession) -> Counter[str]:
        statement = sa.select(AutomationRun.record_id).where(
            AutomationRun.automation_id == rule["id"]
        )
        return Counter(row[0] for row in (await session.execute(statement)).all())

    runs = pg.transaction(runs_per_record)
    assert runs == Counter({lead_id: 1 for lead_id in created})
    assert count_rows(pg, LeadTag, tenant.id) == LEADS
    assert count_rows(pg, Activity, tenant.id, kind="task") == LEADS
