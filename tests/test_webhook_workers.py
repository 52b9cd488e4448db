"""`leadgate worker` processes on PostgreSQL: killed mid-batch, run in pairs, stopped gently.

The leadgate server these tests use has its in-process worker off
(`LEADGATE_WEBHOOKS_WORKER_ENABLED=false`), so every delivery here is made by the worker
processes the test starts.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.events.service import emit
from leadgate.models import WebhookAttempt, WebhookDelivery, utcnow
from tests.conftest import BACKENDS, Backend, running_backend
from tests.factories import TenantInfo, count_rows, create_tenant, unique_lead
from tests.processes import leadgate_env, start_leadgate, stop
from tests.receiver import Receiver, running_receiver, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    if "postgres" not in BACKENDS:
        pytest.skip("worker processes need the PostgreSQL backend")
    data_dir = tmp_path_factory.mktemp("data-workers")
    with running_backend("postgres", data_dir, webhooks_worker_enabled=False) as backend:
        yield backend


def start_worker(backend: Backend, log: Path, **settings: str) -> subprocess.Popen[bytes]:
    return start_leadgate(["worker"], leadgate_env(backend.env(), **settings), log)


def make_endpoint(client: httpx.Client, tenant: TenantInfo, url: str) -> dict[str, Any]:
    # Only lead.created: key and usage events (e.g. usage.threshold_reached as a burst nears the
    # key's limit) are not what these tests count.
    response = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": url, "eventTypes": ["lead.created"]},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def leased_unrecorded(backend: Backend, tenant: TenantInfo) -> int:
    """Deliveries a worker claimed and has not recorded an attempt for yet."""

    async def work(session: AsyncSession) -> int:
        statement = sa.select(sa.func.count()).where(
            WebhookDelivery.tenant_id == tenant.id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.attempts == 0,
            WebhookDelivery.next_attempt_at > utcnow() + timedelta(seconds=0.5),
        )
        return int((await session.execute(statement)).scalar_one())

    return backend.transaction(work)


def attempts_per_event(backend: Backend, tenant: TenantInfo) -> Counter[str]:
    """How many attempts the delivery log holds for each event."""

    async def work(session: AsyncSession) -> Counter[str]:
        statement = (
            sa.select(WebhookDelivery.event_id, sa.func.count())
            .join(WebhookAttempt, WebhookAttempt.delivery_id == WebhookDelivery.id)
            .where(WebhookDelivery.tenant_id == tenant.id)
            .group_by(WebhookDelivery.event_id)
        )
        return Counter({row[0]: int(row[1]) for row in (await session.execute(statement)).all()})

    return backend.transaction(work)


def received_lead_ids(receiver: Receiver) -> set[str]:
    return {r.json["data"]["id"] for r in receiver.received()}


def test_sigkilled_worker_loses_no_lead_created(pg: Backend, tmp_path: Path) -> None:
    tenant = create_tenant(pg)
    log = tmp_path / "workers.log"
    with (
        running_receiver(delay=0.2) as receiver,
        httpx.Client(base_url=pg.url, timeout=30) as client,
    ):
        endpoint = make_endpoint(client, tenant, receiver.url)
        first = start_worker(pg, log)
        created: list[str] = []
        try:
            for number in range(200):
                response = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers)
                assert response.status_code == 201, response.text
                created.append(response.json()["id"])
                if number == 80:
                    receiver.wait_for(10)
                    # Kill only once the worker holds claimed deliveries it has not recorded
                    # (a batch in flight), however slowly a loaded machine got it there.
                    deadline = time.monotonic() + 30
                    while (killed_mid_batch := leased_unrecorded(pg, tenant)) == 0:
                        assert time.monotonic() < deadline, "the worker never had a batch in flight"
                        time.sleep(0.02)
                    first.send_signal(signal.SIGKILL)
                    first.wait(timeout=10)
        finally:
            stop(first, signal.SIGKILL)
        assert first.returncode == -signal.SIGKILL
        assert killed_mid_batch > 0  # claimed, sent or about to be, never recorded

        second = start_worker(pg, log)
        try:
            # Leased deliveries come due again when the 3 s lease runs out.
            wait_until(lambda: received_lead_ids(receiver) >= set(created), timeout=45)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=15)
        payloads = receiver.verify_all(endpoint["secret"])
    assert {p["data"]["id"] for p in payloads} == set(created)
    assert all(p["type"] == "lead.created" for p in payloads)
    assert second.returncode == 0


def test_two_workers_never_send_the_same_attempt_twice(pg: Backend, tmp_path: Path) -> None:
    tenant = create_tenant(pg)
    total = 500
    settings = {"webhooks_batch_size": "20", "webhooks_lease_seconds": "30"}
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    with (
        running_receiver(delay=0.005) as receiver,
        httpx.Client(base_url=pg.url, timeout=30) as client,
    ):
        endpoint = make_endpoint(client, tenant, receiver.url)
        workers = [start_worker(pg, log, **settings) for log in logs]
        try:
            for _ in range(5):

                async def hundred(session: AsyncSession) -> None:
                    for number in range(total // 5):
                        await emit(session, tenant.id, "lead.created", {"id": f"n{number}"})

                pg.transaction(hundred)
            receiver.wait_for(total, timeout=45)
            # Recording lags sending a little; on a loaded CI machine, by many seconds.
            wait_until(
                lambda: count_rows(pg, WebhookDelivery, tenant.id, status="succeeded") == total,
                timeout=60,
            )
            time.sleep(0.5)  # any duplicate would be in flight by now
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=15)
        received = receiver.received()
        receiver.verify_all(endpoint["secret"])

    ids = Counter(r.webhook_id for r in received)
    assert len(ids) == total
    logged = attempts_per_event(pg, tenant)
    # A webhook-id arrives more than once only where the log holds as many attempts (a retry,
    # e.g. after a timeout): never because two workers sent the same attempt.
    unexplained = {i: n for i, n in ids.items() if n > 1 and n > logged[i]}
    assert unexplained == {}
    duplicates = sum(n - 1 for n in ids.values())
    retries = sum(logged.values()) - total
    assert duplicates <= retries
    assert [w.returncode for w in workers] == [0, 0]
    # Both workers took part: the claims really were concurrent.
    for log in logs:
        assert log.read_text().count('"webhook_attempt"') > 0, log.read_text()[-2000:]


def test_sigterm_finishes_the_attempt_in_flight(pg: Backend, tmp_path: Path) -> None:
    tenant = create_tenant(pg)
    with (
        running_receiver(delay=1.0) as receiver,
        httpx.Client(base_url=pg.url, timeout=30) as client,
    ):
        make_endpoint(client, tenant, receiver.url)
        response = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers)
        assert response.status_code == 201
        worker = start_worker(pg, tmp_path / "worker.log")
        try:
            receiver.wait_for(1)
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=15)
        finally:
            stop(worker, signal.SIGKILL)
    assert worker.returncode == 0
    assert count_rows(pg, WebhookDelivery, tenant.id, status="succeeded") == 1
    assert count_rows(pg, WebhookAttempt, tenant.id) == 1
    assert "worker stopped" in (tmp_path / "worker.log").read_text()
