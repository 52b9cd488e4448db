"""The intake fast path (leads/fastpath.py) answers exactly as the route does, and hands on
everything it does not serve without counting a request twice."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from leadgate.models import Event, IdempotencyRecord, Lead
from tests.conftest import Backend, app_server
from tests.factories import (
    count_rows,
    create_api_key,
    create_tenant,
    fast_path_counts,
    fetch_rows,
    unique_lead,
    warm_fast_path,
)

VOLATILE = {"id", "createdAt", "updatedAt", "firstName", "email"}


@contextmanager
def _server(backend: Backend, **overrides: Any) -> Iterator[httpx.Client]:
    with (
        app_server(backend, **overrides) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        yield http


def test_fast_path_and_route_answer_the_same(backend: Backend) -> None:
    tenant = create_tenant(backend)
    bodies = {}
    for fast in (True, False):
        with _server(backend, intake_fast_path=fast) as http:
            if fast:
                warm_fast_path(http, tenant.headers)
            before = fast_path_counts(str(http.base_url))
            response = http.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers)
            after = fast_path_counts(str(http.base_url))
            assert response.status_code == 201, response.text
            assert response.headers["content-type"] == "application/json"
            assert response.headers["x-ratelimit-limit"]
            assert response.headers["x-request-id"]
            bodies[fast] = response.json()
            if fast:
                assert after.get("served", 0) == before.get("served", 0) + 1
    assert {k: v for k, v in bodies[True].items() if k not in VOLATILE} == {
        k: v for k, v in bodies[False].items() if k not in VOLATILE
    }
    assert bodies[True].keys() == bodies[False].keys()
    # The event the fast path wrote is the route's event: same type, same data.
    events = {e.data["id"]: e for e in fetch_rows(backend, Event, tenant.id)}
    assert events[bodies[True]["id"]].type == "lead.created"
    assert events[bodies[True]["id"]].data["firstName"] == bodies[True]["firstName"]
    # Both paths' event data is the lead as its response showed it (lead_event_data).
    assert events[bodies[True]["id"]].data == bodies[True]
    assert events[bodies[False]["id"]].data == bodies[False]
    stored = {lead.id: lead for lead in fetch_rows(backend, Lead, tenant.id)}
    fast, routed = stored[bodies[True]["id"]], stored[bodies[False]["id"]]
    for column in ("status", "request_source", "created_by", "claims_duplicates", "custom_fields"):
        assert getattr(fast, column) == getattr(routed, column), column


def test_a_duplicate_is_refused_and_counted_once(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write"], rate_limit_per_minute=50)
    lead = unique_lead()
    first = client.post("/api/v1/leads", json=lead, headers=key.headers)
    assert first.status_code == 201
    remaining = int(first.headers["x-ratelimit-remaining"])
    again = client.post("/api/v1/leads", json=lead, headers=key.headers)
    assert again.status_code == 409
    assert again.json()["existingLeadId"] == first.json()["id"]
    # Admitted once by the fast path, answered by the route: one request off the allowance.
    assert int(again.headers["x-ratelimit-remaining"]) == remaining - 1
    assert count_rows(backend, Lead, tenant.id) == 1
    assert count_rows(backend, Event, tenant.id, type="lead.created") == 1


def test_the_rate_limit_refuses_on_the_fast_path(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write"], rate_limit_per_minute=3)
    statuses = [
        client.post("/api/v1/leads", json=unique_lead(), headers=key.headers) for _ in range(4)
    ]
    assert [r.status_code for r in statuses] == [201, 201, 201, 429]
    refused = statuses[-1]
    assert refused.json()["error"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert count_rows(backend, Lead, tenant.id) == 3


def test_idempotent_retries_on_the_fast_path(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    warm_ups = warm_fast_path(client, tenant.headers)
    lead = unique_lead()
    headers = {**tenant.headers, "Idempotency-Key": f"fast-{uuid.uuid4().hex}"}
    before = fast_path_counts(str(client.base_url))
    first = client.post("/api/v1/leads", json=lead, headers=headers)
    assert first.status_code == 201
    assert fast_path_counts(str(client.base_url)).get("served", 0) >= before.get("served", 0) + 1
    replay = client.post("/api/v1/leads", json=lead, headers=headers)
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    reused = client.post("/api/v1/leads", json=unique_lead(), headers=headers)
    assert reused.status_code == 422
    assert reused.json()["error"] == "idempotency_key_reused"
    assert count_rows(backend, Lead, tenant.id) == warm_ups + 1
    assert count_rows(backend, IdempotencyRecord, tenant.id) == 1


def test_a_keyed_duplicate_releases_its_claim(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    lead = unique_lead()
    assert client.post("/api/v1/leads", json=lead, headers=tenant.headers).status_code == 201
    headers = {**tenant.headers, "Idempotency-Key": f"dup-{uuid.uuid4().hex}"}
    for _ in range(2):  # a non-2xx answer is not recorded: the retry is refused afresh
        again = client.post("/api/v1/leads", json=lead, headers=headers)
        assert again.status_code == 409
        assert again.json()["error"] == "duplicate_lead"
        assert "idempotent-replayed" not in again.headers
    assert count_rows(backend, IdempotencyRecord, tenant.id) == 0
    assert count_rows(backend, Lead, tenant.id) == 1


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"params": {"dryRun": "true"}}, "a query string"),
        ({"tags": ["vip"]}, "tags"),
        ({"content": "firstName=Ann&lastName=Lee", "form": True}, "a form post"),
        ({"body_key": True}, "a key in the body"),
    ],
)
def test_requests_it_does_not_serve_reach_the_route(
    backend: Backend, client: httpx.Client, change: dict[str, Any], why: str
) -> None:
    tenant = create_tenant(backend)
    warm_fast_path(client, tenant.headers)
    before = fast_path_counts(str(client.base_url))
    body = unique_lead(**({"tags": change["tags"]} if "tags" in change else {}))
    if change.get("body_key"):
        response = client.post("/api/v1/leads", json={**body, "api_key": tenant.key})
    elif change.get("form"):
        response = client.post(
            "/api/v1/leads",
            content=f"{change['content']}{uuid.uuid4().hex[:6]}",
            headers={**tenant.headers, "Content-Type": "application/x-www-form-urlencoded"},
        )
    else:
        response = client.post(
            "/api/v1/leads", json=body, headers=tenant.headers, params=change.get("params")
        )
    assert response.status_code in (200, 201), (why, response.text)
    after = fast_path_counts(str(client.base_url))
    if "params" not in change:  # a query string never reaches the fast path's counters
        assert after.get("handed_on", 0) >= before.get("handed_on", 0) + 1, why


def test_invalid_bodies_get_the_routes_errors(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    warm_ups = warm_fast_path(client, tenant.headers)
    missing = client.post("/api/v1/leads", json={"firstName": "Ann"}, headers=tenant.headers)
    assert missing.status_code == 400
    assert missing.json()["details"][0]["field"] == "lastName"
    broken = client.post(
        "/api/v1/leads",
        content=b'{"firstName": "Ann",',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.json()["error"] == "invalid_request"
    assert broken.json()["details"][0]["type"] == "json_invalid"
    assert count_rows(backend, Lead, tenant.id) == warm_ups
