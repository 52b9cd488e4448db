"""Limits shared through Redis: several real server processes, and Redis going away and back."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import Backend, ServerThread, app_server
from tests.factories import create_api_key, create_tenant
from tests.processes import free_port, leadgate_env, metric, servers, start_redis, stop


def _needs_redis(backend: Backend) -> None:
    if not backend.settings.redis_url:
        pytest.skip("the PostgreSQL + Redis backend only")


async def _burst(urls: list[str], headers: dict[str, str], total: int) -> list[int]:
    """`total` requests at once, spread round-robin over the servers."""
    # No kept-alive connections: a loaded server closing an idle one just as the client reuses
    # it would fail a request that never reached the limiter.
    limits = httpx.Limits(max_connections=60, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        # Warm every process's connections first (another key: not part of the count).
        semaphore = asyncio.Semaphore(60)

        async def one(index: int) -> int:
            async with semaphore:
                url = urls[index % len(urls)]
                # A cached key's own record: no database work, so the burst measures the
                # shared limiter rather than how fast a loaded machine answers queries.
                response = await http.get(f"{url}/api/v1/api-keys/self", headers=headers)
                return response.status_code

        return await asyncio.gather(*(one(i) for i in range(total)))


@pytest.mark.slow
def test_three_processes_share_one_limit(backend: Backend, tmp_path: Path) -> None:
    """3 x limit requests at once through 3 processes: the limit holds as in one process.

    GCRA refills one request every 60/limit seconds, so a burst that lasts longer than that
    earns refills; the bound below is the limit plus the refills the burst's duration allows,
    and nothing for the number of processes.
    """
    _needs_redis(backend)
    tenant = create_tenant(backend)
    results = []
    env = leadgate_env(backend.env(), access_log="false")
    with servers(env, 3, tmp_path) as running:
        urls = [server.url for server in running]
        # Warm each process (pools, script cache) with another key.
        for url in urls:
            for _ in range(5):
                httpx.get(f"{url}/api/v1/leads/lead_x", headers=tenant.headers, timeout=10)
        for limit in (20, 100):
            key = create_api_key(backend, tenant, ["leads:read"], rate_limit_per_minute=limit)
            started = time.monotonic()
            statuses = asyncio.run(_burst(urls, key.headers, 3 * limit))
            elapsed = time.monotonic() - started
            results.append((limit, statuses.count(200), statuses.count(429), elapsed))
    for limit, admitted, refused, elapsed in results:
        print(
            f"limit {limit}/min: {3 * limit} requests over 3 processes in {elapsed:.2f}s, "
            f"{admitted} admitted, {refused} refused"
        )
        assert admitted + refused == 3 * limit
        refills = math.floor(elapsed / (60 / limit))
        assert limit <= admitted <= limit + refills
        if refills == 0:  # the burst fit in one refill interval: exact
            assert admitted == limit


def _command_stats(port: int) -> dict[str, int]:
    import redis

    client = redis.Redis(port=port)
    try:
        info = client.info("commandstats")
    finally:
        client.close()
    stats = {}
    for name, values in info.items():
        command = name.removeprefix("cmdstat_")
        stats[command] = int(values["calls"])
        stats[f"{command}_failed"] = int(values.get("failed_calls", 0))
    return stats


@contextmanager
def _app_on(backend: Backend, **overrides: object) -> Iterator[ServerThread]:
    prefix = f"lgtest:{uuid.uuid4().hex[:8]}:"
    with app_server(backend, **{"redis_prefix": prefix, **overrides}) as server:
        yield server


@pytest.mark.slow
def test_redis_outage_fails_open_and_limiting_resumes(backend: Backend) -> None:
    _needs_redis(backend)
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:read"], rate_limit_per_minute=5)
    port = free_port()
    redis = start_redis(port)
    try:
        with (
            _app_on(
                backend,
                redis_url=f"redis://127.0.0.1:{port}/0",
                rate_limit_redis_retry_seconds=0.2,
            ) as server,
            httpx.Client(base_url=server.url, timeout=30) as http,
        ):

            def get() -> httpx.Response:
                return http.get("/api/v1/leads/lead_x", headers=key.headers)

            assert [get().status_code for _ in range(6)] == [404] * 5 + [429]
            # One round trip per request: one EVALSHA each (plus loading the script once).
            stats = _command_stats(port)
            assert stats.get("evalsha", 0) - stats.get("evalsha_failed", 0) == 6
            assert stats.get("script|load", 0) <= 1
            assert "eval" not in stats
            assert stats["time"] == 6  # the script's clock read: it ran once per request

            stop(redis)
            failures = metric(server.url, "leadgate_ratelimit_redis_failures_total")
            unchecked = metric(server.url, "leadgate_ratelimit_unchecked_requests_total")
            during = [get() for _ in range(20)]
            assert [r.status_code for r in during] == [404] * 20  # still served
            assert all("X-RateLimit-Limit" not in r.headers for r in during)
            assert metric(server.url, "leadgate_ratelimit_redis_failures_total") > failures
            assert (
                metric(server.url, "leadgate_ratelimit_unchecked_requests_total") >= unchecked + 20
            )

            redis = start_redis(port)
            time.sleep(0.3)  # past the retry pause
            # The new Redis is empty: the key has its whole allowance again, then is limited.
            statuses = []
            deadline = time.monotonic() + 10
            while 429 not in statuses and time.monotonic() < deadline:
                response = get()
                if "X-RateLimit-Limit" in response.headers:
                    statuses.append(response.status_code)
                else:
                    time.sleep(0.25)  # the pool's stale connection failed once; retry
            assert statuses == [404] * 5 + [429]
    finally:
        if redis.poll() is None:
            stop(redis)


def test_fail_closed_refuses_with_503(backend: Backend) -> None:
    tenant = create_tenant(backend)
    with (
        _app_on(
            backend, redis_url=f"redis://127.0.0.1:{free_port()}/0", rate_limit_fail_open=False
        ) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        response = http.get("/api/v1/leads/lead_x", headers=tenant.headers)
        assert response.status_code == 503
        assert response.json()["error"] == "service_unavailable"
        assert response.headers["Retry-After"] == "1"


def test_a_keys_limit_and_quota_share_one_redis_cluster_slot(backend: Backend) -> None:
    """The GCRA script touches a key's limit and its monthly quota at once; in Redis Cluster both
    must hash to one slot, so both names carry the key id as hash tag `{key_…}`."""
    _needs_redis(backend)
    from redis import Redis
    from redis.crc import key_slot

    from leadgate.ratelimit.service import auth_failure_key

    tenant = create_tenant(backend)
    key = create_api_key(
        backend, tenant, ["leads:read"], rate_limit_per_minute=50, monthly_quota=1000
    )
    assert httpx.get(f"{backend.url}/api/v1/api-keys/self", headers=key.headers).is_success
    client = Redis.from_url(backend.settings.redis_url or "")
    try:
        prefix = backend.settings.redis_prefix
        names = sorted(name.decode() for name in client.scan_iter(match=f"{prefix}*{key.id}*"))
    finally:
        client.close()
    month = time.strftime("%Y%m", time.gmtime())
    assert names == [f"{prefix}quota:{{{key.id}}}:{month}", f"{prefix}rl:{{{key.id}}}"]
    assert len({key_slot(name.encode()) for name in names}) == 1
    # The failed-authentication counter is one key per address, the script's only KEYS[1].
    assert auth_failure_key(backend.settings, "::1") == f"{prefix}authfail:{{::1}}"
