"""Behind a reverse proxy: the caller's address is read from X-Forwarded-For of trusted proxies.

A second app on the same database is served with `LEADGATE_TRUSTED_PROXIES=127.0.0.1` (the test
calls from 127.0.0.1, as nginx would); the session's own server trusts no proxy.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Backend, ServerThread, app_server
from tests.factories import create_api_key, create_tenant


@pytest.fixture(scope="module")
def behind_proxy(backend: Backend) -> Iterator[ServerThread]:
    with app_server(backend, trusted_proxies=["127.0.0.1"], auth_failure_limit=3) as server:
        yield server


def _address() -> str:
    return f"198.51.{random.randint(0, 255)}.{random.randint(1, 254)}"


def _last_used_ip(backend: Backend, headers: dict[str, str], key_id: str) -> str | None:
    deadline = time.monotonic() + 30  # written by a background flush every 0.2 s here
    while time.monotonic() < deadline:
        shown = httpx.get(f"{backend.url}/api/v1/api-keys/{key_id}", headers=headers)
        assert shown.status_code == 200
        if shown.json()["lastUsedIp"] is not None:
            return str(shown.json()["lastUsedIp"])
        time.sleep(0.1)
    return None


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("198.51.100.7", "198.51.100.7"),
        # The nearest untrusted hop: entries left of it may have been written by the client.
        ("203.0.113.5, 198.51.100.8, 127.0.0.1", "198.51.100.8"),
        ("not-an-address", "127.0.0.1"),
    ],
)
def test_the_address_comes_from_a_trusted_proxys_header(
    backend: Backend, behind_proxy: ServerThread, forwarded: str, expected: str
) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:read"])
    response = httpx.get(
        f"{behind_proxy.url}/api/v1/api-keys/self",
        headers=key.headers | {"X-Forwarded-For": forwarded},
    )
    assert response.status_code == 200
    assert _last_used_ip(backend, tenant.headers, key.id) == expected


def test_the_header_is_ignored_from_anyone_else(backend: Backend) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:read"])
    response = httpx.get(
        f"{backend.url}/api/v1/api-keys/self",
        headers=key.headers | {"X-Forwarded-For": "198.51.100.9"},
    )
    assert response.status_code == 200
    assert _last_used_ip(backend, tenant.headers, key.id) == "127.0.0.1"


def test_failed_authentications_are_throttled_per_client_not_per_proxy(
    backend: Backend, behind_proxy: ServerThread
) -> None:
    """Every request reaches leadgate from the proxy's address; one client's bad keys must not
    lock out the others."""
    tenant = create_tenant(backend)
    attacker, bystander = _address(), _address()
    url = f"{behind_proxy.url}/api/v1/api-keys/self"
    bad = {"X-API-Key": "lg_" + "x" * 38, "X-Forwarded-For": attacker}
    statuses = [httpx.get(url, headers=bad).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    refused = httpx.get(url, headers=tenant.headers | {"X-Forwarded-For": attacker})
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    allowed = httpx.get(url, headers=tenant.headers | {"X-Forwarded-For": bystander})
    assert allowed.status_code == 200
