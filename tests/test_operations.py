"""Operating leadgate: readiness, migrations from several processes, metrics, logs."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from leadgate.cli import app as cli_app
from leadgate.metrics import MULTIPROC_ENV
from leadgate.migrate import head_revision
from leadgate.settings import Settings
from tests.conftest import Backend, pg_admin, pg_url, running_backend
from tests.factories import create_api_key, create_tenant, unique_lead
from tests.processes import (
    free_port,
    leadgate_env,
    start_leadgate,
    start_server,
    stop,
    wait_until_up,
)
from tests.receiver import running_receiver, wait_until

ROOT = Path(__file__).resolve().parent.parent
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: httpx.Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- readiness and liveness ------------------------------------------------------------------


def test_ready_when_database_redis_and_schema_are(backend: Backend, client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    expected = {"database", "redis"} if backend.settings.redis_url else {"database"}
    assert set(body["checks"]) == expected
    assert body["checks"]["database"]["revision"] == head_revision(backend.settings)
    assert all(check["status"] == "ok" for check in body["checks"].values())


@pytest.mark.slow
def test_not_ready_while_the_schema_is_behind_head(tmp_path: Path) -> None:
    with running_backend("sqlite", tmp_path) as backend:
        runner = CliRunner()
        down = runner.invoke(cli_app, ["db", "downgrade", "-1"], env=backend.env())
        assert down.exit_code == 0, down.output
        with httpx.Client(base_url=backend.url, timeout=30) as client:
            response = client.get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert body["error"] == "service_unavailable"
            assert [d["check"] for d in body["details"]] == ["database"]
            assert body["checks"]["database"]["head"] == head_revision(backend.settings)
            assert "leadgate db upgrade" in body["details"][0]["message"]
            assert client.get("/healthz").status_code == 200  # alive, just not ready

            up = runner.invoke(cli_app, ["db", "upgrade"], env=backend.env())
            assert up.exit_code == 0, up.output
            assert client.get("/readyz").status_code == 200


@pytest.mark.slow
def test_not_ready_while_redis_is_unreachable(tmp_path: Path) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with (
        running_backend("sqlite", tmp_path, redis_url=closed) as backend,
        httpx.Client(base_url=backend.url, timeout=30) as client,
    ):
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["error"] == "service_unavailable"
        assert [d["check"] for d in body["details"]] == ["redis"]
        assert body["checks"]["database"]["status"] == "ok"
        assert body["checks"]["redis"]["durationMs"] < 10_000  # bounded, never a hung probe


# --- migrations ------------------------------------------------------------------------------


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    database = f"lg_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{database}"'))
    try:
        yield pg_url(database)
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
def test_two_upgrades_at_once_take_turns(kind: str, tmp_path: Path, request: Any) -> None:
    url = request.getfixturevalue("fresh_postgres") if kind == "postgres" else ""
    env = leadgate_env(environment="test", data_dir=str(tmp_path), database_url=url)
    upgrades = [
        start_leadgate(["db", "upgrade"], env, tmp_path / f"upgrade-{n}.log") for n in range(2)
    ]
    codes = [stop_after(process) for process in upgrades]
    logs = [(tmp_path / f"upgrade-{n}.log").read_text() for n in range(2)]
    assert codes == [0, 0], logs

    result = CliRunner().invoke(cli_app, ["db", "current"], env=env)
    assert result.output.strip().endswith("(head)"), result.output
    settings = Settings(environment="test", data_dir=tmp_path, database_url=url)
    assert version_rows(settings) == [head_revision(settings)]


def stop_after(process: Any, timeout: float = 120) -> int:
    process.wait(timeout=timeout)
    return stop(process)


def version_rows(settings: Settings) -> list[str]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def read() -> list[str]:
        engine = create_async_engine(settings.resolved_database_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
                return [row[0] for row in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


# --- metrics ---------------------------------------------------------------------------------


def test_metrics_after_traffic(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    before = scrape(client)
    for _ in range(2):
        created = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers)
        assert created.status_code == 201, created.text
    lead_id = created.json()["id"]
    assert client.get(f"/api/v1/leads/{lead_id}", headers=tenant.headers).status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/static/swagger/swagger-ui.css").status_code == 200
    limited = create_api_key(backend, tenant, ["leads:read"], rate_limit_per_minute=1)
    statuses = [client.get("/api/v1/leads", headers=limited.headers).status_code for _ in range(2)]
    assert statuses == [200, 429]
    after = scrape(client)

    def grew(name: str, by: float = 1, **labels: str) -> bool:
        return value(after, name, **labels) - value(before, name, **labels) >= by

    assert grew("leadgate_http_requests_total", 2, method="POST", route="/api/v1/leads",
                status="201")  # fmt: skip
    # The route template, never the raw path (one series per lead would be unbounded).
    assert grew("leadgate_http_requests_total", method="GET", route="/api/v1/leads/{lead_id}",
                status="200")  # fmt: skip
    assert not any(lead_id in str(labels) for (_name, labels) in after)
    assert grew("leadgate_http_requests_total", method="GET", route="unmatched", status="404")
    assert grew("leadgate_http_requests_total", method="GET", route="/static/{path}", status="200")
    assert grew("leadgate_http_requests_total", method="GET", route="/api/v1/leads", status="429")
    histogram = "leadgate_http_request_duration_seconds"
    assert grew(f"{histogram}_count", 2, method="POST", route="/api/v1/leads")
    buckets = {
        labels: sample
        for (name, labels), sample in after.items()
        if name == f"{histogram}_bucket" and ("route", "/api/v1/leads") in labels
    }
    bounds = {dict(labels)["le"] for labels in buckets}
    assert {"0.001", "0.01", "0.1", "1.0", "10.0", "+Inf"} <= bounds
    assert grew("leadgate_ratelimit_decisions_total", 3, outcome="allowed")
    assert grew("leadgate_ratelimit_decisions_total", outcome="limited")
    assert ("leadgate_ratelimit_decisions_total", frozenset({("outcome", "quota")})) in after
    # The second request with the same key is answered from the key cache.
    assert grew("leadgate_key_cache_requests_total", result="miss")
    assert grew("leadgate_key_cache_requests_total", result="hit")
    for existing in (
        "leadgate_ratelimit_redis_failures_total",
        "leadgate_ratelimit_unchecked_requests_total",
        "leadgate_webhook_queue_depth",
    ):
        assert (existing, frozenset()) in after, existing


def test_webhook_delivery_metrics(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    before = scrape(client)
    with running_receiver() as receiver:
        endpoint = client.post(
            "/api/v1/webhook-endpoints", json={"url": receiver.url}, headers=tenant.headers
        )
        assert endpoint.status_code == 201, endpoint.text
        created = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers)
        assert created.status_code == 201
        receiver.wait_for(1)

        def counted() -> bool:
            after = scrape(client)
            success = value(after, "leadgate_webhook_deliveries_total", outcome="success")
            return success > value(before, "leadgate_webhook_deliveries_total", outcome="success")

        wait_until(counted)
    after = scrape(client)
    assert after[("leadgate_webhook_queue_depth", frozenset())] >= 0


# --- logs ------------------------------------------------------------------------------------


def test_log_lines_inside_a_request_carry_request_and_tenant_ids(
    backend: Backend, client: httpx.Client, server_log: Path
) -> None:
    tenant = create_tenant(backend)
    request_id = f"req-logs-{uuid.uuid4().hex[:8]}"
    response = client.get("/__test__/log", headers={**tenant.headers, "X-Request-Id": request_id})
    assert response.status_code == 200

    def lines() -> list[dict[str, Any]]:
        found = []
        for line in server_log.read_text().splitlines():
            if request_id in line:
                found.append(json.loads(line))  # every line is one JSON object
        return found

    wait_until(lambda: {line["event"] for line in lines()} >= {"inside_request", "request"})
    for line in lines():
        assert line["request_id"] == request_id
        assert line["tenant_id"] == tenant.id
    app_line = next(line for line in lines() if line["event"] == "inside_request")
    assert app_line["marker"] == "log-context"
    assert app_line["level"] == "info"


@pytest.mark.slow
def test_metrics_add_up_across_serve_workers(tmp_path: Path) -> None:
    """`serve --workers 2`: whichever process answers `/metrics` reports every process's counts."""
    env = leadgate_env(environment="test", data_dir=str(tmp_path))
    env.pop(MULTIPROC_ENV, None)
    upgrade = start_leadgate(["db", "upgrade"], env, tmp_path / "upgrade.log")
    assert stop_after(upgrade) == 0
    server = start_server(env, tmp_path / "serve.log", ["--workers", "2"])
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            sent = 40
            for _ in range(sent):
                # A fresh connection each time, so the kernel spreads them over both workers.
                assert httpx.get(f"{server.url}/readyz", timeout=30).status_code == 200

            def total() -> float:
                return sum(
                    count
                    for (name, labels), count in scrape(client).items()
                    if name == "leadgate_http_requests_total" and ("route", "/readyz") in labels
                )

            # A request is counted after its response has left: wait for the last one.
            wait_until(lambda: total() == sent, timeout=10)
            for _ in range(4):  # then every scrape, whichever worker answers, has them all
                assert total() == sent
    finally:
        assert stop(server.process) in (0, -15)
    assert "Traceback" not in server.output()


@pytest.mark.slow
def test_worker_serves_its_metrics(tmp_path: Path) -> None:
    env = leadgate_env(environment="test", data_dir=str(tmp_path))
    upgrade = start_leadgate(["db", "upgrade"], env, tmp_path / "upgrade.log")
    assert stop_after(upgrade) == 0
    port = free_port()
    worker = start_leadgate(["worker", "--metrics-port", str(port)], env, tmp_path / "worker.log")
    try:
        wait_until_up(f"http://127.0.0.1:{port}", worker, path="/metrics")

        def depth_reported() -> bool:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            return "\nleadgate_webhook_queue_depth 0.0" in text

        wait_until(depth_reported)
    finally:
        assert stop(worker) == 0


# --- the sample Grafana dashboard ------------------------------------------------------------

HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def test_grafana_dashboard_queries_only_exported_metrics(client: httpx.Client) -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    exported: set[str] = set()
    for family in text_string_to_metric_families(client.get("/metrics").text):
        if family.type == "counter":
            exported.add(f"{family.name}_total")
        elif family.type == "histogram":
            exported.update(family.name + suffix for suffix in HISTOGRAM_SUFFIXES)
        else:
            exported.add(family.name)
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    used = {name for expr in expressions for name in re.findall(r"\bleadgate_\w+", expr)}
    assert used, "the dashboard queries no leadgate metric"
    assert used - exported == set()
    titles = " / ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for topic in ("request rate", "p99", "5xx", "429", "cache hit", "queue depth", "delivery",
                  "fail-open"):  # fmt: skip
        assert topic in titles, topic


def test_operations_doc_lists_every_leadgate_metric(client: httpx.Client) -> None:
    documented = (ROOT / "docs" / "operations.md").read_text()
    families = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in text_string_to_metric_families(client.get("/metrics").text)
        if family.name.startswith("leadgate_")
    }
    assert families
    assert {name for name in families if f"`{name}`" not in documented} == set()
