"""deploy/nginx.conf in front of two leadgate processes on PostgreSQL + Redis, over real TLS.

The shipped config is rendered (its `${…}` placeholders) and run by Debian's nginx; the leadgate
processes are started with the image's own commands (deploy/entrypoint.sh `migrate`, `serve`,
`worker`). Proves: load is spread over both processes, a key's rate limit holds across them, a key
bound to a client certificate works only with that certificate, and a revoke made through nginx
reaches both processes through Redis (their caches would trust the key for an hour).
"""

from __future__ import annotations

import asyncio
import math
import shutil
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from leadgate.models import Lead
from tests.certs import Pki, client_context, make_pki
from tests.conftest import IN_CI, Backend
from tests.factories import count_rows, create_api_key, create_tenant, unique_lead
from tests.processes import (
    ENTRYPOINT,
    NGINX,
    Nginx,
    Server,
    entrypoint_env,
    leadgate_env,
    nginx,
    servers,
    start_entrypoint,
    stop,
)
from tests.receiver import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("nginx")]


@dataclass
class Stack:
    nginx: Nginx
    upstreams: list[Server]
    pki: Pki

    def client(self, cert: str = "none", source: str | None = None) -> httpx.Client:
        """An HTTPS client of nginx presenting `cert` (an attribute of Pki) or no certificate,
        connecting from the loopback address `source` if given."""
        issued = None if cert == "none" else getattr(self.pki, cert)
        context = client_context(self.pki.ca, issued)
        transport = httpx.HTTPTransport(verify=context, local_address=source)
        return httpx.Client(base_url=self.nginx.url, transport=transport, timeout=30)


def _require_nginx() -> None:
    if shutil.which(NGINX) is None and not Path(NGINX).exists():
        if IN_CI:
            pytest.fail("nginx is missing; `make test` installs it (apt-get install nginx)")
        pytest.skip("nginx is not installed (make test installs it)")


@pytest.fixture(scope="module")
def stack(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if backend.name != "postgres":
        pytest.skip("nginx in front of several processes: the PostgreSQL + Redis backend only")
    _require_nginx()
    root = tmp_path_factory.mktemp("nginx-stack")
    pki = make_pki(root)
    env = leadgate_env(
        backend.env(),
        trusted_proxies="127.0.0.1",
        webhooks_worker_enabled="false",  # the `worker` service delivers, as in compose
        # A key change reaches the processes through Redis, never by cache expiry.
        key_cache_ttl_seconds="3600",
    )
    migrated = subprocess.run(
        [str(ENTRYPOINT), "migrate"],
        env=entrypoint_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "database at head" in migrated.stdout
    worker_log = root / "worker.log"
    worker = start_entrypoint(["worker"], env, worker_log)
    try:
        with servers(env, 2, root, entrypoint=True) as upstreams:
            addresses = [server.url.removeprefix("http://") for server in upstreams]
            with nginx(
                root / "nginx", addresses, pki.server.cert, pki.server.key, pki.ca.path
            ) as proxy:
                yield Stack(proxy, upstreams, pki)
            for server in upstreams:
                assert "Traceback" not in server.output()
    finally:
        assert stop(worker) == 0, worker_log.read_text()
    assert "webhook worker started" in worker_log.read_text()
    assert "webhook worker stopped" in worker_log.read_text()


def test_load_is_spread_over_both_processes(backend: Backend, stack: Stack) -> None:
    tenant = create_tenant(backend)
    marker = f"spread-{uuid.uuid4().hex[:10]}"
    total = 40
    with stack.client() as http:
        for index in range(total):
            response = http.get(
                "/api/v1/api-keys/self",
                headers={**tenant.headers, "X-Request-Id": f"{marker}-{index}"},
            )
            assert response.status_code == 200, response.text
            assert response.headers["X-Request-Id"] == f"{marker}-{index}"

    def shares() -> list[int]:
        return [server.output().count(marker) for server in stack.upstreams]

    # A process writes a request's log line after the response has left: wait for the last.
    wait_until(lambda: sum(shares()) == total, timeout=10)
    shares_seen = shares()
    print(f"{total} requests through nginx: {shares_seen} per process")
    assert all(share >= 0.3 * total for share in shares_seen), shares_seen


def test_nginx_hides_metrics_and_answers_its_own_errors_as_json(stack: Stack) -> None:
    with stack.client() as http:
        metrics = http.get("/metrics")
        assert metrics.status_code == 404
        assert metrics.json()["error"] == "not_found"
        too_big = http.post(
            "/api/v1/leads",
            content=b"x" * (1_048_576 + 1),
            headers={"Content-Type": "application/json", "X-API-Key": "lg_whatever"},
        )
        assert too_big.status_code == 413
        assert too_big.json()["error"] == "payload_too_large"
        assert http.get("/healthz").status_code == 200
    # Each process still serves its own metrics to a scraper on the private network.
    assert httpx.get(f"{stack.upstreams[0].url}/metrics").status_code == 200


async def _burst(stack: Stack, headers: dict[str, str], total: int) -> list[int]:
    """`total` requests at once through nginx (which spreads them over both processes)."""
    context = client_context(stack.pki.ca)
    limits = httpx.Limits(max_connections=30, max_keepalive_connections=30)
    async with httpx.AsyncClient(
        base_url=stack.nginx.url, verify=context, timeout=60, limits=limits
    ) as http:

        async def one() -> int:
            response = await http.get("/api/v1/api-keys/self", headers=headers)
            return response.status_code

        return await asyncio.gather(*(one() for _ in range(total)))


def test_a_keys_rate_limit_holds_across_both_processes(backend: Backend, stack: Stack) -> None:
    """3 x limit requests at once: exactly `limit` admitted, plus the refills (one every 60/limit
    seconds) that the burst's own duration earns — nothing for there being two processes."""
    tenant = create_tenant(backend)
    limit = 20
    key = create_api_key(backend, tenant, ["leads:read"], rate_limit_per_minute=limit)
    started = time.monotonic()
    statuses = asyncio.run(_burst(stack, key.headers, 3 * limit))
    elapsed = time.monotonic() - started
    admitted, refused = statuses.count(200), statuses.count(429)
    print(f"limit {limit}/min via nginx: {admitted} admitted, {refused} refused, {elapsed:.2f}s")
    assert admitted + refused == 3 * limit, statuses
    refills = math.floor(elapsed / (60 / limit))
    assert limit <= admitted <= limit + refills
    # Both processes took part in refusing it.
    for server in stack.upstreams:
        assert key.id in server.output()


def _escaped_pem(path: Path) -> str:
    return quote(path.read_text(), safe="")


def test_an_mtls_key_works_through_nginx_only_with_its_certificate(
    backend: Backend, stack: Stack
) -> None:
    tenant = create_tenant(backend)
    pki = stack.pki
    key = create_api_key(
        backend,
        tenant,
        ["leads:write"],
        enforce_mtls=True,
        mtls_thumbprints=[pki.client.thumbprint],
    )
    with stack.client("client") as http:
        made = http.post("/api/v1/leads", json=unique_lead(), headers=key.headers)
    assert made.status_code == 201, made.text
    before = count_rows(backend, Lead, tenant.id)

    forged = {
        # What a client might send hoping leadgate trusts it: nginx replaces both headers.
        "X-Client-Cert-Sha256": pki.client.thumbprint,
        "X-Client-Cert": _escaped_pem(pki.client.cert),
    }
    with stack.client() as http:
        without = http.post("/api/v1/leads", json=unique_lead(), headers=key.headers)
        injected = http.post("/api/v1/leads", json=unique_lead(), headers=key.headers | forged)
    for response in (without, injected):
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "mtls_required"

    with stack.client("unpinned") as http:
        unpinned = http.post("/api/v1/leads", json=unique_lead(), headers=key.headers | forged)
    assert unpinned.status_code == 401
    assert unpinned.json()["error"] == "mtls_required"

    # A certificate from another CA: nginx refuses it before leadgate sees the request.
    with stack.client("foreign") as http:
        foreign = http.post("/api/v1/leads", json=unique_lead(), headers=key.headers)
    assert foreign.status_code == 400
    assert foreign.json()["error"] == "invalid_request"
    assert count_rows(backend, Lead, tenant.id) == before

    # Keys without mTLS work with or without a certificate.
    for cert in ("none", "client"):
        with stack.client(cert) as http:
            plain = http.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers)
        assert plain.status_code == 201, plain.text


def _refused_after(url: str, key: str, timeout: float = 30) -> float:
    """Seconds until `url` refuses `key`; fails the test after `timeout`."""
    start = time.monotonic()
    while httpx.get(f"{url}/api/v1/api-keys/self", headers={"X-API-Key": key}).status_code != 401:
        assert time.monotonic() - start < timeout, f"{url} still accepts the revoked key"
        time.sleep(0.02)
    return time.monotonic() - start


def test_a_revoke_through_nginx_reaches_both_processes(backend: Backend, stack: Stack) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:read"])
    # Warm both processes' key caches: from here on neither reads the database for this key.
    for server in stack.upstreams:
        for _ in range(3):
            assert httpx.get(f"{server.url}/api/v1/api-keys/self", headers=key.headers).is_success
    with stack.client() as http:
        revoked = http.delete(f"/api/v1/api-keys/{key.id}", headers=tenant.headers)
    assert revoked.status_code == 200, revoked.text
    for server in stack.upstreams:
        took = _refused_after(server.url, key.key)
        print(f"revocation seen by {server.url} after {took * 1000:.0f} ms")


def _last_used_ip(backend: Backend, tenant_headers: dict[str, str], key_id: str) -> str | None:
    """The key's `lastUsedIp` once written (last use is flushed about once a second)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown = httpx.get(f"{backend.url}/api/v1/api-keys/{key_id}", headers=tenant_headers)
        if shown.json()["lastUsedIp"] is not None:
            return str(shown.json()["lastUsedIp"])
        time.sleep(0.2)
    return None


def test_the_client_address_is_taken_from_the_trusted_proxy_only(
    backend: Backend, stack: Stack
) -> None:
    """Behind nginx every connection comes from the proxy; leadgate takes the caller's address
    from X-Forwarded-For — which nginx sets, replacing the client's own — only from a trusted
    proxy. (The client connects from 127.0.0.2; nginx and the processes trust 127.0.0.1.)"""
    tenant = create_tenant(backend)
    forged = {"X-Forwarded-For": "203.0.113.9"}
    through_proxy = create_api_key(backend, tenant, ["leads:read"])
    with stack.client(source="127.0.0.2") as http:
        response = http.get("/api/v1/api-keys/self", headers=through_proxy.headers | forged)
    assert response.status_code == 200
    assert _last_used_ip(backend, tenant.headers, through_proxy.id) == "127.0.0.2"

    direct = create_api_key(backend, tenant, ["leads:read"])
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=stack.upstreams[0].url, transport=transport) as http:
        response = http.get("/api/v1/api-keys/self", headers=direct.headers | forged)
    assert response.status_code == 200
    assert _last_used_ip(backend, tenant.headers, direct.id) == "127.0.0.2"


def test_tls_is_required_and_verified(stack: Stack) -> None:
    plain = httpx.get(stack.nginx.url.replace("https://", "http://") + "/healthz")
    assert plain.status_code == 400
    untrusting = ssl.create_default_context()  # does not know the test CA
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{stack.nginx.url}/healthz", verify=untrusting)
