"""Per-key rate limits, monthly quotas, their headers and alerts, the failed-auth throttle
(PRODUCT.md §5), on the embedded (in-process) and the Redis backend."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadgate.models import Event, Lead, Notice, utcnow
from leadgate.ratelimit.gcra import MemoryStore, decide, interval_ms, step
from leadgate.ratelimit.headers import rate_limit_headers
from leadgate.ratelimit.service import next_month
from tests.conftest import Backend, ServerThread, app_server
from tests.factories import (
    count_rows,
    create_api_key,
    create_tenant,
    fetch_rows,
    unique_lead,
)

LIMIT_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
)


def test_limit_plus_one_gets_one_429_and_retry_after_is_right(
    backend: Backend, client: httpx.Client
) -> None:
    # One request frees every 10 s: a 7-request burst within that gets exact counts. A machine
    # too loaded to send it in 9 s gets another try with a fresh tenant and key.
    limit = 6
    interval = 60 / limit
    for _attempt in range(3):
        tenant = create_tenant(backend)
        key = create_api_key(backend, tenant, ["leads:write"], rate_limit_per_minute=limit)
        started = time.monotonic()
        responses = [
            client.post("/api/v1/leads", json=unique_lead(), headers=key.headers)
            for _ in range(limit + 1)
        ]
        elapsed = time.monotonic() - started
        if elapsed < interval - 1:
            break
    else:
        pytest.fail("no burst of 7 requests fitted in one refill interval (9 s)")
    statuses = [r.status_code for r in responses]
    assert statuses == [201] * limit + [429]
    # Remaining counts down 5 … 0; every response carries the same policy.
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in responses[:limit]] == list(
        range(limit - 1, -1, -1)
    )
    for response in responses:
        assert response.headers["X-RateLimit-Limit"] == str(limit)
        assert response.headers["RateLimit-Policy"] == f'"per-key";q={limit};w=60'
    refused = responses[-1]
    assert refused.json()["error"] == "rate_limited"
    retry_after = int(refused.headers["Retry-After"])
    # The 7th request waits for the first request's slot to free: 10 s after it was admitted,
    # less the time the burst took (rounded up to whole seconds).
    assert math.ceil(interval - elapsed) <= retry_after <= interval
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Reset"] == str(retry_after)
    assert refused.headers["RateLimit"] == f'"per-key";r=0;t={retry_after}'
    assert refused.json()["retryAfter"] == retry_after
    # The refused request did no work.
    assert count_rows(backend, Lead, tenant.id) == limit

    time.sleep(retry_after)
    again = client.post("/api/v1/leads", json=unique_lead(), headers=key.headers)
    assert again.status_code == 201, again.text
    assert again.headers["X-RateLimit-Remaining"] == "0"
    assert count_rows(backend, Lead, tenant.id) == limit + 1


def test_headers_are_on_errors_after_authentication_but_not_on_401(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    reader = create_api_key(backend, tenant, ["leads:read"], rate_limit_per_minute=50)
    missing = client.get("/api/v1/leads/lead_nope", headers=reader.headers)
    assert missing.status_code == 404
    no_scope = client.post("/api/v1/leads", json=unique_lead(), headers=reader.headers)
    assert no_scope.status_code == 403
    invalid = client.post("/api/v1/leads", json=unique_lead(), headers={"X-API-Key": "lg_x"})
    assert invalid.status_code == 401
    for response in (missing, no_scope):
        assert all(name in response.headers for name in LIMIT_HEADERS)
        assert response.headers["X-RateLimit-Limit"] == "50"
    assert [
        missing.headers["X-RateLimit-Remaining"],
        no_scope.headers["X-RateLimit-Remaining"],
    ] == [
        "49",
        "48",
    ]
    assert not any(name in invalid.headers for name in LIMIT_HEADERS)
    assert count_rows(backend, Lead, tenant.id) == 0


def test_default_limit_and_plan_default(backend: Backend, client: httpx.Client) -> None:
    plan = f"plan-{uuid.uuid4().hex[:8]}"
    backend.settings.plan_rate_limits[plan] = 7
    try:
        tenant = create_tenant(backend, plan=plan)
        plain = create_tenant(backend)
        own = create_api_key(backend, tenant, ["leads:read"], rate_limit_per_minute=9)
        response = client.get("/api/v1/leads/lead_x", headers=tenant.headers)
        assert response.headers["X-RateLimit-Limit"] == "7"
        response = client.get("/api/v1/leads/lead_x", headers=own.headers)
        assert response.headers["X-RateLimit-Limit"] == "9"
        response = client.get("/api/v1/leads/lead_x", headers=plain.headers)
        assert response.headers["X-RateLimit-Limit"] == "200"
    finally:
        del backend.settings.plan_rate_limits[plan]


def test_plan_monthly_quota_and_the_keys_own_quota_wins(
    backend: Backend, client: httpx.Client
) -> None:
    plan = f"plan-{uuid.uuid4().hex[:8]}"
    backend.settings.plan_monthly_quotas[plan] = 2
    try:
        tenant = create_tenant(backend, plan=plan)
        own = create_api_key(backend, tenant, ["leads:read"], monthly_quota=3)
        plan_statuses = [
            client.get("/api/v1/leads/lead_x", headers=tenant.headers).status_code for _ in range(3)
        ]
        assert plan_statuses == [404, 404, 429]
        own_statuses = [
            client.get("/api/v1/leads/lead_x", headers=own.headers).status_code for _ in range(4)
        ]
        assert own_statuses == [404, 404, 404, 429]
    finally:
        del backend.settings.plan_monthly_quotas[plan]


def _wait_for(check: Any, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_monthly_quota_then_quota_exceeded_until_the_month_turns(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write", "usage:read"], monthly_quota=5)
    for _ in range(5):
        assert (
            client.post("/api/v1/leads", json=unique_lead(), headers=key.headers).status_code == 201
        )
    refused = client.post("/api/v1/leads", json=unique_lead(), headers=key.headers)
    assert refused.status_code == 429
    assert refused.json()["error"] == "quota_exceeded"
    now = datetime.now(UTC)
    until_month_end = (next_month(now) - now).total_seconds()
    assert abs(int(refused.headers["Retry-After"]) - until_month_end) < 60
    assert "X-RateLimit-Limit" in refused.headers
    assert count_rows(backend, Lead, tenant.id) == 5
    # 80% of 5 is reached on the 4th request: one notice and one event for the month.
    notices = _wait_for(
        lambda: [n for n in fetch_rows(backend, Notice, tenant.id) if n.kind == "monthly_quota"]
    )
    assert len(notices) == 1
    assert notices[0].api_key_id == key.id
    assert notices[0].period == now.strftime("%Y-%m")
    listed = client.get("/api/v1/usage/notices", headers=key.headers)
    assert listed.status_code == 429  # the quota covers every route of the key
    reader = create_api_key(backend, tenant, ["usage:read"])
    listed = client.get("/api/v1/usage/notices", params={"keyId": key.id}, headers=reader.headers)
    assert listed.status_code == 200
    assert [n["kind"] for n in listed.json()["data"]] == ["monthly_quota"]
    assert "monthly quota" in listed.json()["data"][0]["message"]
    events = [
        e for e in fetch_rows(backend, Event, tenant.id) if e.type == "usage.threshold_reached"
    ]
    assert [(e.data["kind"], e.data["keyId"], e.data["limit"]) for e in events] == [
        ("monthly_quota", key.id, 5)
    ]


def test_quota_counts_flushed_usage_from_before_the_process_started(
    backend: Backend, client: httpx.Client
) -> None:
    """A restarted process starts the month's count from the usage table, not from zero."""
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:read"])
    for _ in range(3):
        assert client.get("/api/v1/leads/lead_x", headers=key.headers).status_code == 404
    _wait_for(lambda: _usage_total(backend, tenant.id) == 3)
    # Through the key API (an operator-created key may change limits), so every process's key
    # cache hears of it; a raw UPDATE would wait out the cache TTL.
    changed = client.patch(
        f"/api/v1/api-keys/{key.id}", json={"monthlyQuota": 4}, headers=tenant.headers
    )
    assert changed.status_code == 200, changed.text
    assert client.get("/api/v1/leads/lead_x", headers=key.headers).status_code == 404
    refused = client.get("/api/v1/leads/lead_x", headers=key.headers)
    assert refused.json()["error"] == "quota_exceeded"


def _usage_total(backend: Backend, tenant_id: str) -> int:
    from leadgate.models import UsageCount

    return sum(row.count for row in fetch_rows(backend, UsageCount, tenant_id))


def test_rate_limit_alert_once_per_key_per_minute(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:read"], rate_limit_per_minute=10)
    periods = set()
    for _ in range(10):
        periods.add(utcnow().strftime("%Y-%m-%dT%H:%M"))
        client.get("/api/v1/leads/lead_x", headers=key.headers)
    # 8 of 10 reached on the 8th request and on every one after it: still one notice.
    notices = _wait_for(
        lambda: [n for n in fetch_rows(backend, Notice, tenant.id) if n.kind == "rate_limit"]
    )
    time.sleep(0.3)
    notices = [n for n in fetch_rows(backend, Notice, tenant.id) if n.kind == "rate_limit"]
    assert 1 <= len(notices) <= len(periods)
    assert {n.period for n in notices} <= periods
    events = [
        e for e in fetch_rows(backend, Event, tenant.id) if e.type == "usage.threshold_reached"
    ]
    assert len(events) == len(notices)
    assert events[0].data["kind"] == "rate_limit"
    assert events[0].data["used"] >= 8


@contextmanager
def _server(backend: Backend, **overrides: Any) -> Iterator[ServerThread]:
    """A second leadgate on the same database (and a Redis prefix of its own)."""
    if backend.settings.redis_url and "redis_prefix" not in overrides:
        overrides["redis_prefix"] = f"{backend.settings.redis_prefix}{uuid.uuid4().hex[:6]}:"
    with app_server(backend, **overrides) as server:
        yield server


def test_failed_authentication_is_throttled_before_the_key_lookup(backend: Backend) -> None:
    tenant = create_tenant(backend)
    with (
        _server(backend, auth_failure_limit=3, auth_failure_window_seconds=30) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
    ):
        # Valid keys do not count against the address.
        for _ in range(5):
            assert http.get("/api/v1/leads/lead_x", headers=tenant.headers).status_code == 404
        bad = {"X-API-Key": "lg_" + "a" * 38}
        assert [http.get("/api/v1/leads/lead_x", headers=bad).status_code for _ in range(3)] == [
            401
        ] * 3
        # Throttled now, even with a good key: the request never reaches the lookup.
        throttled = http.get("/api/v1/leads/lead_x", headers=tenant.headers)
        assert throttled.status_code == 429
        assert throttled.json()["error"] == "rate_limited"
        assert 1 <= int(throttled.headers["Retry-After"]) <= 10
        assert http.post("/api/v1/leads", json=unique_lead(), headers=bad).status_code == 429
    assert count_rows(backend, Lead, tenant.id) == 0


# --- the algorithm ---------------------------------------------------------------------------


def test_gcra_has_no_double_burst_at_a_window_edge() -> None:
    """A fixed window admits 2 x limit around its edge; GCRA admits the limit once, then one
    request per interval."""
    limit, interval = 10, interval_ms(10)
    tat = None
    admitted = []
    # Idle, then 10 requests just before a minute boundary and 10 just after it.
    for now in [59_990] * limit + [60_010] * limit:
        ok, new_tat, _ = step(tat, now, limit, interval)
        if ok:
            tat = new_tat
        admitted.append(ok)
    assert admitted.count(True) == limit


def test_gcra_refills_one_request_per_interval() -> None:
    limit, interval = 4, interval_ms(4)  # 15 s
    tat = None
    for _ in range(limit):
        ok, tat, span = step(tat, 0, limit, interval)
        assert ok
    decision = decide(limit, interval, 1, span, -1)
    assert (decision.remaining, decision.reset_seconds) == (0, 15)
    ok, _, wait = step(tat, 5_000, limit, interval)
    assert not ok
    refused = decide(limit, interval, 0, wait, -1)
    assert (refused.allowed, refused.retry_after) == (False, 10)
    ok, tat, span = step(tat, 15_000, limit, interval)
    assert ok
    assert decide(limit, interval, 1, span, -1).remaining == 0


def test_memory_store_quota_and_headers() -> None:
    store = MemoryStore()
    raw = [store.consume("k", 100, 600, quota_key="q", quota=3, quota_seed=1) for _ in range(3)]
    assert [r[0] for r in raw] == [1, 1, 2]
    assert [r[2] for r in raw] == [2, 3, 3]
    decision = decide(100, 600, *raw[-1])
    assert decision.quota_exceeded
    assert not decision.allowed
    assert dict(rate_limit_headers(decision))[b"ratelimit"] == b'"per-key";r=97;t=1'


def test_next_month_turns_the_year() -> None:
    assert next_month(datetime(2026, 12, 31, 23, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert next_month(datetime(2026, 11, 21, tzinfo=UTC)) == datetime(2026, 12, 1, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=500),
    gaps=st.lists(st.integers(min_value=0, max_value=5_000), min_size=1, max_size=400),
)
def test_gcra_never_exceeds_its_rate(limit: int, gaps: list[int]) -> None:
    """Whatever the arrival pattern: at most `limit` at once, and over any stretch of time no
    more than the limit plus one request per interval elapsed."""
    interval = interval_ms(limit)
    tat, now, admitted_at = None, 1_000_000, []
    for gap in gaps:
        now += gap
        ok, new_tat, span = step(tat, now, limit, interval)
        decision = decide(limit, interval, 1 if ok else 0, span, -1)
        if ok:
            tat = new_tat
            admitted_at.append(now)
            assert 0 <= decision.remaining < limit
        else:
            assert decision.retry_after >= 1
            # Waiting Retry-After is always enough.
            assert step(tat, now + decision.retry_after * 1000, limit, interval)[0]
    for i, start in enumerate(admitted_at):
        for j in range(i, len(admitted_at)):
            elapsed = admitted_at[j] - start
            assert j - i + 1 <= limit + elapsed // interval
