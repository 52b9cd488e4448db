"""Revocation everywhere within 1 s: two real `leadgate serve` processes on PostgreSQL + Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Backend
from tests.factories import create_api_key, create_tenant, unique_lead

LEADGATE = str(Path(sys.executable).with_name("leadgate"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[str]) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.communicate()[1]}")
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


@pytest.fixture
def two_servers(backend: Backend) -> Iterator[tuple[str, str]]:
    if backend.name != "postgres":
        pytest.skip("several server processes need PostgreSQL and Redis")
    env = {**os.environ, **backend.env(), "LEADGATE_ACCESS_LOG": "false"}
    processes, urls = [], []
    try:
        for _ in range(2):
            port = free_port()
            processes.append(
                subprocess.Popen(
                    [LEADGATE, "serve", "--port", str(port)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes, strict=True):
            wait_ready(url, process)
        yield urls[0], urls[1]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            _, errors = process.communicate(timeout=20)
            assert "Traceback" not in errors


def _post(url: str, key: str) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/leads", json=unique_lead(), headers={"X-API-Key": key})


def _rejected_within(url: str, key: str, status: int, seconds: float) -> float | None:
    """Seconds until `url` answers `status` for `key`, or None if not within `seconds`."""
    start = time.monotonic()
    while time.monotonic() - start <= seconds:
        if _post(url, key).status_code == status:
            return time.monotonic() - start
        time.sleep(0.02)
    return None


@pytest.mark.slow
def test_revoke_through_one_process_rejects_on_the_other_within_1s(
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
    took = _rejected_within(second, key.key, 401, 1.0)
    assert took is not None, "the other process still accepted the revoked key after 1 s"
    print(f"revocation reached the other process after {took * 1000:.0f} ms")
    assert _post(first, key.key).status_code == 401


@pytest.mark.slow
def test_roll_and_scope_change_reach_the_other_process_within_1s(
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
    assert _rejected_within(second, key.key, 403, 1.0) is not None

    other = create_api_key(backend, tenant, ["leads:write"])
    assert _post(second, other.key).status_code == 201
    rolled = httpx.post(
        f"{first}/api/v1/api-keys/{other.id}/roll",
        json={"gracePeriodMinutes": 0},
        headers=tenant.headers,
    )
    assert rolled.status_code == 200
    assert _rejected_within(second, other.key, 401, 1.0) is not None
    assert _post(second, rolled.json()["apiKey"]).status_code == 201
