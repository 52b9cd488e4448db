"""A revoke, roll or narrowing through one `leadgate serve` process reaches another (PostgreSQL +
Redis) through the invalidation channel, not through cache expiry: the processes here trust a
cached key for an hour. How long it took is printed (docs/api-keys.md records it), not asserted:
an idle machine takes milliseconds, a loaded one may take seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Backend
from tests.factories import create_api_key, create_tenant, unique_lead
from tests.processes import leadgate_env, servers


@pytest.fixture
def two_servers(backend: Backend, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if backend.name != "postgres":
        pytest.skip("several server processes need PostgreSQL and Redis")
    env = leadgate_env(backend.env(), access_log="false", key_cache_ttl_seconds="3600")
    with servers(env, 2, tmp_path) as started:
        yield started[0].url, started[1].url
    for server in started:
        assert "Traceback" not in server.output()


def _post(url: str, key: str) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/leads", json=unique_lead(), headers={"X-API-Key": key})


def _answered(url: str, key: str, status: int, timeout: float = 30) -> float:
    """Seconds until `url` answers `status` for `key`; fails the test after `timeout`."""
    start = time.monotonic()
    while _post(url, key).status_code != status:
        assert time.monotonic() - start < timeout, f"{url} never answered {status}"
        time.sleep(0.02)
    return time.monotonic() - start


@pytest.mark.slow
def test_revoke_through_one_process_rejects_on_the_other(
    backend: Backend, two_servers: tuple[str, str]
) -> None:
    first, second = two_servers
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write"])
    # Warm both processes' caches: from here on, neither reads the database to verify the key.
    for url in (first, second):
        for _ in range(3):
            assert _post(url, key.key).status_code == 201
    revoked = httpx.delete(f"{first}/api/v1/api-keys/{key.id}", headers=tenant.headers)
    assert revoked.status_code == 200
    took = _answered(second, key.key, 401)
    print(f"revocation reached the other process after {took * 1000:.0f} ms")
    assert _post(first, key.key).status_code == 401


@pytest.mark.slow
def test_roll_and_scope_change_reach_the_other_process(
    backend: Backend, two_servers: tuple[str, str]
) -> None:
    first, second = two_servers
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write", "leads:read"])
    for url in (first, second):
        assert _post(url, key.key).status_code == 201
    narrowed = httpx.patch(
        f"{first}/api/v1/api-keys/{key.id}",
        json={"permissions": ["leads:read"]},
        headers=tenant.headers,
    )
    assert narrowed.status_code == 200
    print(f"narrowing reached the other process after {_answered(second, key.key, 403):.3f} s")

    other = create_api_key(backend, tenant, ["leads:write"])
    assert _post(second, other.key).status_code == 201
    rolled = httpx.post(
        f"{first}/api/v1/api-keys/{other.id}/roll",
        json={"gracePeriodMinutes": 0},
        headers=tenant.headers,
    )
    assert rolled.status_code == 200
    print(f"the roll reached the other process after {_answered(second, other.key, 401):.3f} s")
    assert _post(second, rolled.json()["apiKey"]).status_code == 201
