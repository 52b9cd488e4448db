"""Usage counters per key x hour x route x status class, the usage API and CLI (PRODUCT.md §5)."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from leadgate.cli import app as cli_app
from leadgate.leads.auth import LeadsRead
from leadgate.models import UsageCount, utcnow
from tests.conftest import Backend, ServerThread
from tests.factories import (
    count_rows,
    create_api_key,
    create_tenant,
    fetch_rows,
    unique_lead,
)


def _rows(backend: Backend, tenant_id: str, key_id: str) -> Counter[tuple[str, str, str]]:
    counts: Counter[tuple[str, str, str]] = Counter()
    for row in fetch_rows(backend, UsageCount, tenant_id):
        if row.api_key_id == key_id:
            counts[(row.method, row.route, row.status_class)] += row.count
    return counts


def _wait_for_total(backend: Backend, tenant_id: str, key_id: str, total: int) -> None:
    deadline = time.monotonic() + 10
    while sum(_rows(backend, tenant_id, key_id).values()) < total:
        assert time.monotonic() < deadline, "usage was not flushed"
        time.sleep(0.05)


def _send_mix(client: httpx.Client, headers: dict[str, str]) -> Counter[tuple[str, str, str]]:
    """A known mix of requests; returns what the usage counters must say."""
    sent: Counter[tuple[str, str, str]] = Counter()
    lead = unique_lead()
    created = []
    for body in (lead, unique_lead(), unique_lead()):
        response = client.post("/api/v1/leads", json=body, headers=headers)
        assert response.status_code == 201
        created.append(response.json()["id"])
    sent[("POST", "/api/v1/leads", "2xx")] += 3
    assert client.post("/api/v1/leads", json=lead, headers=headers).status_code == 409
    sent[("POST", "/api/v1/leads", "4xx")] += 1
    assert client.post("/api/leads/intake", json=unique_lead(), headers=headers).status_code == 201
    # A path alias counts under the route it stands for.
    sent[("POST", "/api/v1/leads/intake", "2xx")] += 1
    for lead_id in created[:2]:
        assert client.get(f"/api/v1/leads/{lead_id}", headers=headers).status_code == 200
    sent[("GET", "/api/v1/leads/{lead_id}", "2xx")] += 2
    assert client.get("/api/v1/leads/lead_missing", headers=headers).status_code == 404
    sent[("GET", "/api/v1/leads/{lead_id}", "4xx")] += 1
    assert client.get("/api/v1/usage", headers=headers).status_code == 403
    sent[("GET", "/api/v1/usage", "4xx")] += 1
    # The key's limit is 9: the 10th request is refused.
    refused = client.post("/api/v1/leads", json=unique_lead(), headers=headers)
    assert refused.status_code == 429
    sent[("POST", "/api/v1/leads", "429")] += 1
    return sent


def test_usage_equals_the_requests_sent(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(
        backend, tenant, ["leads:read", "leads:write"], rate_limit_per_minute=9, name="counted"
    )
    reader = create_api_key(backend, tenant, ["usage:read"])
    started_hour = utcnow().hour
    sent = _send_mix(client, key.headers)
    # Unauthenticated requests are not anyone's usage.
    assert client.get("/api/v1/leads/x", headers={"X-API-Key": "lg_x"}).status_code == 401

    _wait_for_total(backend, tenant.id, key.id, sum(sent.values()))
    time.sleep(0.3)  # one more flush period: nothing beyond what was sent arrives
    assert _rows(backend, tenant.id, key.id) == sent

    response = client.get("/api/v1/usage", params={"keyId": key.id}, headers=reader.headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["keyId"] == key.id
    month = report["currentMonth"]
    assert month == {
        "total": 10,
        "success": 6,
        "clientErrors": 4,
        "rateLimited": 1,
        "serverErrors": 0,
    }
    assert sum(p["total"] for p in report["hourly"]) == 10
    assert sum(p["total"] for p in report["daily"]) == 10
    assert len(report["hourly"]) == 7 * 24
    assert len(report["daily"]) == 90
    assert report["daily"][-1]["start"].startswith(utcnow().strftime("%Y-%m-%d"))
    if utcnow().hour == started_hour:  # unless the test straddled an hour
        assert report["currentHour"] == month
    top = {(e["method"], e["route"]): e for e in report["topEndpoints"]}
    assert top[("POST", "/api/v1/leads")]["total"] == 5
    assert top[("POST", "/api/v1/leads")]["rateLimited"] == 1
    assert top[("GET", "/api/v1/leads/{lead_id}")]["clientErrors"] == 1
    assert report["topEndpoints"][0]["route"] == "/api/v1/leads"

    whole = client.get("/api/v1/usage", headers=reader.headers).json()
    # The tenant's figure includes the reader's own earlier call (flushed or not yet).
    assert whole["keyId"] is None
    assert whole["currentMonth"]["total"] >= 10


def test_another_tenants_key_id_shows_nothing(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    other = create_tenant(backend)
    reader = create_api_key(backend, tenant, ["usage:read"])
    client.post("/api/v1/leads", json=unique_lead(), headers=other.headers)
    _wait_for_total(backend, other.id, other.key_id, 1)
    theirs = client.get(
        "/api/v1/usage", params={"keyId": other.key_id}, headers=reader.headers
    ).json()
    assert theirs["currentMonth"]["total"] == 0
    assert theirs["topEndpoints"] == []
    assert count_rows(backend, UsageCount, tenant.id, api_key_id=other.key_id) == 0


def test_usage_cli(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    for _ in range(3):
        client.get("/api/v1/leads/lead_x", headers=tenant.headers)
    _wait_for_total(backend, tenant.id, tenant.key_id, 3)
    runner = CliRunner()
    env = backend.env()
    result = runner.invoke(cli_app, ["usage", "--tenant", tenant.slug, "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["currentMonth"]["total"] == 3
    assert report["currentMonth"]["clientErrors"] == 3
    text = runner.invoke(
        cli_app, ["usage", "--tenant", tenant.slug, "--key", tenant.key_id], env=env
    )
    assert text.exit_code == 0
    assert "GET /api/v1/leads/{lead_id}" in text.stdout
    assert "this month" in text.stdout
    missing = runner.invoke(cli_app, ["usage", "--tenant", "no-such-tenant"], env=env)
    assert missing.exit_code == 1


def test_counts_are_flushed_on_a_clean_stop(backend: Backend) -> None:
    """With a flush interval far beyond the test, only the shutdown flush can write the counts."""
    from leadgate.app import create_app

    tenant = create_tenant(backend)
    overrides: dict[str, Any] = {"usage_flush_seconds": 3600}
    if backend.settings.redis_url:
        overrides["redis_prefix"] = f"{backend.settings.redis_prefix}{uuid.uuid4().hex[:6]}:"
    server = ServerThread(create_app(backend.settings.model_copy(update=overrides)))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            for _ in range(4):
                http.get("/api/v1/leads/lead_x", headers=tenant.headers)
        time.sleep(0.3)
        assert count_rows(backend, UsageCount, tenant.id) == 0
    finally:
        server.stop()
    assert _rows(backend, tenant.id, tenant.key_id) == {
        ("GET", "/api/v1/leads/{lead_id}", "4xx"): 4
    }


@pytest.mark.parametrize("status", [200, 302, 404, 429, 500, 503])
def test_status_classes(status: int) -> None:
    from leadgate.usage.recorder import status_class

    expected = {200: "2xx", 302: "3xx", 404: "4xx", 429: "429", 500: "5xx", 503: "5xx"}
    assert status_class(status) == expected[status]


def test_a_failed_flush_keeps_its_counts_and_a_deleted_key_is_dropped(
    backend: Backend, tmp_path: Any
) -> None:
    from leadgate.db import Database
    from leadgate.usage.recorder import UsageRecorder

    tenant = create_tenant(backend)
    recorder = UsageRecorder()
    recorder.record(tenant.id, tenant.key_id, "GET", "/api/v1/usage", 200)
    recorder.record(tenant.id, tenant.key_id, "GET", "/api/v1/usage", 200)
    unreachable = Database(
        backend.settings.model_copy(
            update={"database_url": f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db"}
        )
    )
    with pytest.raises(Exception, match="unable to open"):
        backend.run(recorder.flush(unreachable))
    backend.run(unreachable.dispose())
    assert recorder.pending() == 2

    other = create_tenant(backend)
    recorder.record(other.id, "key_deleted_meanwhile", "GET", "/api/v1/usage", 200)
    assert backend.run(recorder.flush(backend.app.state.database)) == 2
    assert recorder.pending() == 0
    assert _rows(backend, tenant.id, tenant.key_id) == {("GET", "/api/v1/usage", "2xx"): 2}
    assert count_rows(backend, UsageCount, other.id) == 0


async def _fails(principal: LeadsRead) -> None:
    raise RuntimeError("an authenticated handler that fails")


def test_server_errors_are_counted_and_carry_limit_headers(backend: Backend) -> None:
    from leadgate.app import create_app

    tenant = create_tenant(backend)
    overrides: dict[str, Any] = {}
    if backend.settings.redis_url:
        overrides["redis_prefix"] = f"{backend.settings.redis_prefix}{uuid.uuid4().hex[:6]}:"
    app = create_app(backend.settings.model_copy(update=overrides))
    app.add_api_route("/__test__/fails", _fails, include_in_schema=False)
    server = ServerThread(app)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            response = http.get("/__test__/fails", headers=tenant.headers)
        assert response.status_code == 500
        assert response.json()["error"] == "internal_error"
        assert response.headers["X-RateLimit-Limit"] == "200"
        assert response.headers["X-RateLimit-Remaining"] == "199"
    finally:
        server.stop()
    assert _rows(backend, tenant.id, tenant.key_id) == {("GET", "/__test__/fails", "5xx"): 1}
