"""API-key authentication (PRODUCT.md §2) and tenancy by subdomain (§3)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.models import ApiKey, Lead
from tests.conftest import BASE_DOMAIN, Backend
from tests.factories import (
    RequestParts,
    count_rows,
    create_api_key,
    create_tenant,
    unique_lead,
)


def test_key_in_each_of_the_four_places(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    ways: list[RequestParts] = [
        {"headers": {"X-API-Key": tenant.key}, "json": unique_lead()},
        {"headers": {"Authorization": f"Bearer {tenant.key}"}, "json": unique_lead()},
        {"params": {"api_key": tenant.key}, "json": unique_lead()},
        {"json": {**unique_lead(), "api_key": tenant.key}},
    ]
    for way in ways:
        response = client.post("/api/v1/leads", **way)
        assert response.status_code == 201, response.text
    assert count_rows(backend, Lead, tenant.id) == 4


def test_same_key_in_two_places_is_fine(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    response = client.post(
        "/api/v1/leads",
        json=unique_lead(),
        headers={"X-API-Key": tenant.key, "Authorization": f"Bearer {tenant.key}"},
    )
    assert response.status_code == 201


def test_different_keys_in_different_places_are_ambiguous(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    other = create_api_key(backend, tenant, ["leads:write"])
    response = client.post(
        "/api/v1/leads",
        json={**unique_lead(), "api_key": other.key},
        headers=tenant.headers,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert count_rows(backend, Lead, tenant.id) == 0


def _bad_keys(good: str) -> dict[str, dict[str, str]]:
    body = good.split("_", 1)[1]
    flipped = body[:5] + ("A" if body[5] != "A" else "B") + body[6:]
    return {
        "empty header": {"X-API-Key": ""},
        "malformed": {"X-API-Key": "not-a-key"},
        "bad checksum": {"X-API-Key": f"lg_{flipped}"},
        "other prefix": {"X-API-Key": "zz" + good[2:]},
        "basic auth": {"Authorization": "Basic dXNlcjpwYXNz"},
        "huge": {"X-API-Key": "lg_" + "a" * 4000},
    }


@pytest.mark.parametrize(
    "case",
    ["empty header", "malformed", "bad checksum", "other prefix", "basic auth",
     "huge"],
)  # fmt: skip
def test_bad_keys_get_401_and_write_nothing(
    backend: Backend, client: httpx.Client, case: str
) -> None:
    tenant = create_tenant(backend)
    response = client.post("/api/v1/leads", json=unique_lead(), headers=_bad_keys(tenant.key)[case])
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_api_key"
    assert count_rows(backend, Lead, tenant.id) == 0


def test_last_used_is_recorded_in_the_background(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write"])
    assert client.post("/api/v1/leads", json=unique_lead(), headers=key.headers).status_code == 201
    backend.run(backend.app.state.key_usage.flush(backend.app.state.database))

    async def read(session: AsyncSession) -> ApiKey:
        stored = await session.get(ApiKey, key.id)
        assert stored is not None
        return stored

    stored = backend.transaction(read)
    assert stored.last_used_at is not None
    assert stored.last_used_ip == "127.0.0.1"


class TestSubdomainTenancy:
    def test_own_subdomain_works(self, backend: Backend, client: httpx.Client) -> None:
        tenant = create_tenant(backend)
        response = client.post(
            "/api/leads/intake",
            json=unique_lead(),
            headers={**tenant.headers, "Host": f"{tenant.slug}.{BASE_DOMAIN}:3001"},
        )
        assert response.status_code == 201

    def test_unknown_subdomain_is_404(self, backend: Backend, client: httpx.Client) -> None:
        tenant = create_tenant(backend)
        response = client.post(
            "/api/leads/intake",
            json=unique_lead(),
            headers={**tenant.headers, "Host": f"nobody-here.{BASE_DOMAIN}"},
        )
        assert response.status_code == 404
        assert response.json()["error"] == "tenant_not_found"
        assert count_rows(backend, Lead, tenant.id) == 0

    def test_key_of_another_tenant_is_401(self, backend: Backend, client: httpx.Client) -> None:
        acme, bigfirm = create_tenant(backend), create_tenant(backend)
        response = client.post(
            "/api/leads/intake",
            json=unique_lead(),
            headers={**bigfirm.headers, "Host": f"{acme.slug}.{BASE_DOMAIN}"},
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_api_key"
        assert count_rows(backend, Lead, acme.id) == 0
        assert count_rows(backend, Lead, bigfirm.id) == 0

    def test_other_hosts_use_the_keys_tenant(self, backend: Backend, client: httpx.Client) -> None:
        tenant = create_tenant(backend)
        for host in (BASE_DOMAIN, "crm.example.org", f"a.b.{BASE_DOMAIN}"):
            response = client.post(
                "/api/v1/leads", json=unique_lead(), headers={**tenant.headers, "Host": host}
            )
            assert response.status_code == 201, host


def test_use_does_not_touch_updated_at(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write"])

    async def read(session: AsyncSession) -> ApiKey:
        stored = await session.get(ApiKey, key.id)
        assert stored is not None
        return stored

    before = backend.transaction(read).updated_at
    assert client.post("/api/v1/leads", json=unique_lead(), headers=key.headers).status_code == 201
    backend.run(backend.app.state.key_usage.flush(backend.app.state.database))
    after = backend.transaction(read)
    assert after.last_used_at is not None
    assert after.updated_at == before


def test_body_key_with_an_idempotency_key(backend: Backend, client: httpx.Client) -> None:
    """The idempotency claim and the scope check both authenticate: both see the body's key,
    and the lead stored (and replayed) never carries it."""
    tenant = create_tenant(backend)
    body = {**unique_lead(), "api_key": tenant.key}
    headers = {"Idempotency-Key": "body-key-1"}
    first = client.post("/api/v1/leads", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/leads", json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert tenant.key not in first.text
    assert count_rows(backend, Lead, tenant.id) == 1
