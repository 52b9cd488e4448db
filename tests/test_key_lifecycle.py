"""Expiry warnings and the expiry sweep, first use from a new address, and the key cache."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from leadgate.api_keys.sweep import sweep_once
from leadgate.models import ApiKey, AuditEvent, Event, utcnow
from tests.conftest import Backend
from tests.factories import create_api_key, create_tenant, fetch_rows, unique_lead, update_row


def _audits(backend: Backend, tenant_id: str, action: str, key_id: str) -> list[AuditEvent]:
    return [
        e
        for e in fetch_rows(backend, AuditEvent, tenant_id)
        if e.action == action and e.target_id == key_id
    ]


def test_a_key_expiring_within_7_days_warns_in_headers(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    soon = create_api_key(backend, tenant, ["leads:read"], expiration_in_days=30)
    expires = utcnow() + timedelta(days=3)
    update_row(backend, ApiKey, soon.id, expires_at=expires)
    response = client.get("/api/v1/api-keys/self", headers=soon.headers)
    assert response.status_code == 200
    assert response.headers["Deprecation"] == f"@{int((expires - timedelta(days=7)).timestamp())}"
    assert parsedate_to_datetime(response.headers["Sunset"]) == expires.replace(microsecond=0)
    assert response.headers["Warning"].startswith('299 leadgate "API key ' + soon.id)
    # Every response of the key carries them: a created lead (its recorded body) and a 403.
    writer = create_api_key(backend, tenant, ["leads:write"], expiration_in_days=30)
    update_row(backend, ApiKey, writer.id, expires_at=expires)
    created = client.post("/api/v1/leads", json=unique_lead(), headers=writer.headers)
    assert created.status_code == 201
    assert created.headers["Sunset"] == response.headers["Sunset"]
    refused = client.get("/api/v1/leads", headers=writer.headers)
    assert refused.status_code == 403
    assert refused.headers["Sunset"] == response.headers["Sunset"]
    later = create_api_key(backend, tenant, ["leads:read"], expiration_in_days=30)
    quiet = client.get("/api/v1/api-keys/self", headers=later.headers)
    assert "Deprecation" not in quiet.headers
    assert "Sunset" not in quiet.headers
    assert "Deprecation" not in client.get("/api/v1/api-keys/self", headers=tenant.headers).headers


def test_expiry_sweep_announces_once_and_audits_expiry_once(backend: Backend) -> None:
    tenant = create_tenant(backend)
    soon = create_api_key(backend, tenant, ["leads:read"], expiration_in_days=30)
    far = create_api_key(backend, tenant, ["leads:read"], expiration_in_days=30)
    update_row(backend, ApiKey, soon.id, expires_at=utcnow() + timedelta(days=6))
    database = backend.app.state.database
    backend.run(sweep_once(database))
    backend.run(sweep_once(database))
    expiring = [e for e in fetch_rows(backend, Event, tenant.id) if e.type == "api_key.expiring"]
    assert [e.data["id"] for e in expiring] == [soon.id]
    assert "apiKey" not in expiring[0].data
    assert len(_audits(backend, tenant.id, "api_key.expiring", soon.id)) == 1
    assert _audits(backend, tenant.id, "api_key.expiring", far.id) == []

    update_row(backend, ApiKey, soon.id, expires_at=utcnow() - timedelta(seconds=1))
    backend.run(sweep_once(database))
    backend.run(sweep_once(database))
    expired = _audits(backend, tenant.id, "api_key.expired", soon.id)
    assert len(expired) == 1
    assert expired[0].actor["id"] == "expiry-sweep"
    assert _audits(backend, tenant.id, "api_key.expired", far.id) == []


def test_first_use_from_a_new_address_is_audited_once(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:read"])
    recorder = backend.app.state.key_usage
    database = backend.app.state.database
    for _ in range(3):
        assert client.get("/api/v1/api-keys/self", headers=key.headers).status_code == 200
    backend.run(recorder.flush(database))
    # Another address, as a proxy-less second client would be seen.
    recorder.touch(tenant.id, key.id, "203.0.113.7")
    recorder.touch(tenant.id, key.id, "127.0.0.1")
    backend.run(recorder.flush(database))
    backend.run(recorder.flush(database))
    seen = _audits(backend, tenant.id, "api_key.used_from_new_ip", key.id)
    assert sorted((e.after or {})["ip"] for e in seen) == ["127.0.0.1", "203.0.113.7"]
    row = next(k for k in fetch_rows(backend, ApiKey, tenant.id) if k.id == key.id)
    assert row.last_used_at is not None


@pytest.fixture
def key_lookups(backend: Backend) -> Iterator[list[str]]:
    """Every statement that reads a key by its secret's HMAC, while the test runs."""
    seen: list[str] = []
    engine = backend.app.state.database.engine.sync_engine

    def record(*args: Any) -> None:
        statement = args[2]
        if "api_key_secrets.secret_hash" in statement:
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_a_verified_key_costs_no_database_round_trip(
    backend: Backend, client: httpx.Client, key_lookups: list[str]
) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["tags:read"])
    cache = backend.app.state.key_cache
    ttl, cache.ttl = cache.ttl, 60.0  # so a slow, loaded machine cannot outlive the 1 s TTL
    try:
        # A route the key lacks the scope for: authentication is all the request does.
        for _ in range(5):
            response = client.get("/api/v1/api-keys", headers=key.headers)
            assert response.status_code == 403
    finally:
        cache.ttl = ttl
    assert len(key_lookups) == 1
    # A change to the key drops it from the cache: the next use reads the database again.
    client.patch(f"/api/v1/api-keys/{key.id}", json={"name": "renamed"}, headers=tenant.headers)
    count = len(key_lookups)
    assert client.get("/api/v1/api-keys", headers=key.headers).status_code == 403
    assert len(key_lookups) == count + 1


def test_an_unchanged_patch_writes_nothing(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:read"], name="same")
    assert client.get("/api/v1/api-keys/self", headers=tenant.headers).status_code == 200
    backend.run(backend.app.state.key_usage.flush(backend.app.state.database))
    before = len(fetch_rows(backend, AuditEvent, tenant.id))
    response = client.patch(
        f"/api/v1/api-keys/{key.id}",
        json={"name": "same", "permissions": ["leads:read"]},
        headers=tenant.headers,
    )
    assert response.status_code == 200
    assert len(fetch_rows(backend, AuditEvent, tenant.id)) == before


def test_without_its_redis_subscription_the_cache_trusts_nothing() -> None:
    """If the invalidation channel is unreachable, every verification reads the database."""
    import asyncio

    from leadgate.api_keys.cache import KeyCache
    from leadgate.api_keys.repository import VerifiedKey
    from leadgate.redis import create_redis
    from leadgate.settings import Settings

    settings = Settings(
        secret_key="x" * 40, redis_url="redis://127.0.0.1:1/0", redis_prefix="lgtest:none:"
    )
    engine = sa.create_engine("sqlite://")
    entry = VerifiedKey(
        key_id="key_x", tenant_id="ten_x", tenant_slug="x", name="x", scopes=frozenset(),
        team_scope="all-accounts", team_ids=(), rate_limit_per_minute=None, monthly_quota=None,
        expires_at=None, revoked_at=None, secret_id="sec_x", secret_expires_at=None,
        enforce_mtls=False,
        mtls_thumbprints=frozenset(), phone_region=None, duplicate_policy="reject", plan="free",
        created_by={},
    )  # fmt: skip

    async def scenario() -> tuple[bool, VerifiedKey | None, int]:
        redis = create_redis(settings)
        assert redis is not None
        cache = KeyCache(settings, engine, redis)
        task = asyncio.create_task(cache.listen(retry_seconds=0.05))
        await asyncio.sleep(0.3)
        cache.put("h", entry, cache.generation)
        result = (cache.listening, cache.get("h"), len(cache))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await redis.aclose()
        return result

    listening, found, size = asyncio.run(scenario())
    assert (listening, found, size) == (False, None, 0)


def test_cache_entries_expire_after_the_ttl() -> None:
    import time

    from leadgate.api_keys.cache import KeyCache
    from leadgate.api_keys.repository import VerifiedKey
    from leadgate.settings import Settings

    cache = KeyCache(
        Settings(secret_key="x" * 40, key_cache_ttl_seconds=0.5), sa.create_engine("sqlite://")
    )
    entry = VerifiedKey(
        key_id="key_y", tenant_id="ten_y", tenant_slug="y", name="y", scopes=frozenset(),
        team_scope="all-accounts", team_ids=(), rate_limit_per_minute=None, monthly_quota=None,
        expires_at=None, revoked_at=None, secret_id="sec_x", secret_expires_at=None,
        enforce_mtls=False,
        mtls_thumbprints=frozenset(), phone_region=None, duplicate_policy="reject", plan="free",
        created_by={},
    )  # fmt: skip
    cache.put("a", entry, cache.generation)
    stale = cache.generation
    cache.invalidate_local(["key_other"])
    cache.put("b", entry, stale)  # read before an invalidation: not kept
    assert cache.get("a") is entry
    assert cache.get("b") is None
    time.sleep(0.6)
    assert cache.get("a") is None
    assert len(cache) == 0


def test_who_may_change_limits() -> None:
    from leadgate.api_keys.grantor import may_change_limits

    assert may_change_limits({"type": "system", "id": "cli"})
    assert may_change_limits({"type": "user", "id": "usr_1", "role": "owner"})
    assert may_change_limits({"type": "user", "id": "usr_1", "role": "admin"})
    assert not may_change_limits({"type": "user", "id": "usr_1", "role": "member"})
    assert not may_change_limits({"type": "api_key", "id": "key_1"})
    assert not may_change_limits({})
