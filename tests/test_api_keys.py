"""The key-management API (PRODUCT.md §2, the Snappy seed's `apiKeys`), scopes, teams and audit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from leadgate.models import ApiKey, ApiKeySecret, AuditEvent, Event, Lead, utcnow
from tests.conftest import Backend
from tests.factories import (
    count_rows,
    create_api_key,
    create_team_for,
    create_tenant,
    fetch_rows,
    unique_lead,
    update_row,
)


def _key_changes(backend: Backend, tenant_id: str) -> int:
    """Audit events that record a change (first use from a new address is not one)."""
    rows = fetch_rows(backend, AuditEvent, tenant_id)
    return len([e for e in rows if e.action != "api_key.used_from_new_ip"])


def clear_key_cache(backend: Backend) -> None:
    async def clear() -> None:
        backend.app.state.key_cache.clear()

    backend.run(clear())


SNAPPY_BODY = {"name": "My API", "expirationInDays": 90, "enforceMtls": False}


def _create(client: httpx.Client, headers: dict[str, str], **body: Any) -> httpx.Response:
    payload = {"name": f"k-{utcnow().timestamp()}", "permissions": ["leads:write"], **body}
    return client.post("/api/v1/api-keys", json=payload, headers=headers)


def test_create_with_the_snappy_body(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    response = client.post(
        "/api/v1/api-keys",
        json={
            **SNAPPY_BODY,
            "permissions": ["leads:write", "leads:read"],
            "accountsAccess": {"scope": "all-accounts", "ids": []},
            "rateLimitPerMinute": 50,
        },
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id"].startswith("key_")
    assert body["name"] == "My API"
    assert body["apiKey"].startswith("lg_")
    assert body["hint"] == body["apiKey"][:7]
    assert body["permissions"] == ["leads:read", "leads:write"]
    assert body["accountsAccess"] == {"scope": "all-accounts", "ids": []}
    assert body["tenantId"] == tenant.id
    assert body["enforceMtls"] is False
    assert body["rateLimitPerMinute"] == 50
    assert body["createdBy"]["id"] == tenant.key_id
    assert body["status"] == "active"
    created = utcnow()
    expires = body["expirationDate"]
    assert expires.startswith((created + timedelta(days=90)).date().isoformat())
    new_key = {"X-API-Key": body["apiKey"]}
    assert client.post("/api/v1/leads", json=unique_lead(), headers=new_key).status_code == 201
    # The secret is shown once: never in the list or the get.
    listed = client.get("/api/v1/api-keys", headers=tenant.headers)
    assert listed.status_code == 200
    assert body["apiKey"] not in listed.text
    assert {k["id"] for k in listed.json()["data"]} == {tenant.key_id, body["id"]}
    got = client.get(f"/api/v1/api-keys/{body['id']}", headers=tenant.headers)
    assert got.status_code == 200
    assert "apiKey" not in got.json()
    events = [e for e in fetch_rows(backend, Event, tenant.id) if e.type == "api_key.created"]
    assert [e.data["id"] for e in events if e.data["id"] == body["id"]] == [body["id"]]
    assert body["apiKey"] not in str([e.data for e in events])


def test_expiration_default_null_and_bad_values(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    never = _create(client, tenant.headers, expirationInDays=None)
    assert never.status_code == 201
    assert never.json()["expirationDate"] is None
    for days in (30, 60, 180, 365):
        assert _create(client, tenant.headers, expirationInDays=days).status_code == 201
    before = count_rows(backend, ApiKey, tenant.id)
    bad = _create(client, tenant.headers, expirationInDays=45)
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_request"
    assert bad.json()["details"][0]["field"] == "expirationInDays"
    unknown = _create(client, tenant.headers, permissions=["leads:write", "gifts:create"])
    assert unknown.status_code == 400
    assert unknown.json()["details"][0]["message"] == "unknown: gifts:create"
    assert count_rows(backend, ApiKey, tenant.id) == before


def test_duplicate_name_is_409(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    assert _create(client, tenant.headers, name="Zapier").status_code == 201
    before = count_rows(backend, ApiKey, tenant.id)
    again = _create(client, tenant.headers, name="Zapier")
    assert again.status_code == 409
    assert again.json()["error"] == "api_key_name_taken"
    assert count_rows(backend, ApiKey, tenant.id) == before


def test_a_key_cannot_mint_a_broader_key(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    limited = create_api_key(backend, tenant, ["keys:write", "leads:read"])
    before = count_rows(backend, ApiKey, tenant.id)
    broader = _create(client, limited.headers, permissions=["leads:write"])
    assert broader.status_code == 403
    assert broader.json()["error"] == "insufficient_scope"
    assert "leads:write" in broader.json()["message"]
    assert count_rows(backend, ApiKey, tenant.id) == before
    narrower = _create(client, limited.headers, permissions=["leads:read"])
    assert narrower.status_code == 201
    # Nor roll, revoke or widen a key broader than itself.
    assert (
        client.post(f"/api/v1/api-keys/{tenant.key_id}/roll", json={}, headers=limited.headers)
    ).status_code == 403
    assert (
        client.delete(f"/api/v1/api-keys/{tenant.key_id}", headers=limited.headers).status_code
        == 403
    )
    widen = client.patch(
        f"/api/v1/api-keys/{narrower.json()['id']}",
        json={"permissions": ["leads:read", "webhooks:write"]},
        headers=limited.headers,
    )
    assert widen.status_code == 403
    assert count_rows(backend, ApiKeySecret, tenant.id) == before + 1


def test_a_team_key_cannot_mint_broader_team_access(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    north = create_team_for(backend, tenant, "North")
    south = create_team_for(backend, tenant, "South")
    team_key = create_api_key(
        backend,
        tenant,
        ["keys:write", "leads:write"],
        team_scope="specific-accounts",
        team_ids=[north],
    )
    before = count_rows(backend, ApiKey, tenant.id)
    for access in (
        {"scope": "all-accounts", "ids": []},
        {"scope": "specific-accounts", "ids": [north, south]},
    ):
        response = _create(client, team_key.headers, accountsAccess=access)
        assert response.status_code == 403, access
        assert response.json()["error"] == "forbidden"
    assert count_rows(backend, ApiKey, tenant.id) == before
    inherited = _create(client, team_key.headers)
    assert inherited.status_code == 201
    assert inherited.json()["accountsAccess"] == {"scope": "specific-accounts", "ids": [north]}
    unknown = _create(
        client, tenant.headers, accountsAccess={"scope": "specific-accounts", "ids": ["team_nope"]}
    )
    assert unknown.status_code == 400
    empty = _create(
        client, tenant.headers, accountsAccess={"scope": "specific-accounts", "ids": []}
    )
    assert empty.status_code == 400
    # Snappy's documented example sends ids with "all-accounts": accepted, the ids ignored.
    stray = _create(
        client, tenant.headers, accountsAccess={"scope": "all-accounts", "ids": [north]}
    )
    assert stray.status_code == 201
    assert stray.json()["accountsAccess"] == {"scope": "all-accounts", "ids": []}


def test_team_limited_key_writes_and_reads_only_its_teams(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    north = create_team_for(backend, tenant, "North")
    south = create_team_for(backend, tenant, "South")
    key = create_api_key(
        backend,
        tenant,
        ["leads:write", "leads:read"],
        team_scope="specific-accounts",
        team_ids=[north],
    )
    own = client.post("/api/v1/leads", json=unique_lead(), headers=key.headers)
    assert own.status_code == 201
    assert own.json()["teamId"] == north
    named = client.post("/api/v1/leads", json=unique_lead(teamId=north), headers=key.headers)
    assert named.status_code == 201
    before = count_rows(backend, Lead, tenant.id)
    other = client.post("/api/v1/leads", json=unique_lead(teamId=south), headers=key.headers)
    assert other.status_code == 403
    assert other.json()["error"] == "forbidden"
    assert count_rows(backend, Lead, tenant.id) == before
    theirs = client.post("/api/v1/leads", json=unique_lead(teamId=south), headers=tenant.headers)
    assert theirs.status_code == 201
    assert (
        client.get(f"/api/v1/leads/{theirs.json()['id']}", headers=key.headers).status_code == 404
    )
    assert client.get(f"/api/v1/leads/{own.json()['id']}", headers=key.headers).status_code == 200


def test_narrowing_scopes_takes_effect_without_reissuing(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write", "leads:read"])
    assert client.post("/api/v1/leads", json=unique_lead(), headers=key.headers).status_code == 201
    narrowed = client.patch(
        f"/api/v1/api-keys/{key.id}", json={"permissions": ["leads:read"]}, headers=tenant.headers
    )
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["permissions"] == ["leads:read"]
    before = count_rows(backend, Lead, tenant.id)
    denied = client.post("/api/v1/leads", json=unique_lead(), headers=key.headers)
    assert denied.status_code == 403
    assert denied.json()["error"] == "insufficient_scope"
    assert "leads:write" in denied.json()["message"]
    assert count_rows(backend, Lead, tenant.id) == before
    audit = client.get("/api/v1/audit-events", params={"apiKeyId": key.id}, headers=tenant.headers)
    changed = [e for e in audit.json()["data"] if e["action"] == "api_key.scopes_changed"]
    assert changed[0]["before"]["scopes"] == ["leads:read", "leads:write"]
    assert changed[0]["after"]["scopes"] == ["leads:read"]
    assert changed[0]["actor"]["id"] == tenant.key_id


def test_patch_name_conflicts_and_unknown_key(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    first = create_api_key(backend, tenant, ["leads:read"], name="one")
    create_api_key(backend, tenant, ["leads:read"], name="two")
    taken = client.patch(
        f"/api/v1/api-keys/{first.id}", json={"name": "two"}, headers=tenant.headers
    )
    assert taken.status_code == 409
    renamed = client.patch(
        f"/api/v1/api-keys/{first.id}", json={"name": "uno"}, headers=tenant.headers
    )
    assert renamed.json()["name"] == "uno"
    same = client.patch(
        f"/api/v1/api-keys/{first.id}", json={"name": "uno"}, headers=tenant.headers
    )
    assert same.status_code == 200
    assert (
        client.patch(
            "/api/v1/api-keys/key_nope", json={"name": "x"}, headers=tenant.headers
        ).status_code
        == 404
    )
    other = create_tenant(backend)
    # Another tenant's key is not found, whichever route names it.
    assert client.get(f"/api/v1/api-keys/{first.id}", headers=other.headers).status_code == 404
    assert client.delete(f"/api/v1/api-keys/{first.id}", headers=other.headers).status_code == 404
    mtls_without_pin = client.patch(
        f"/api/v1/api-keys/{first.id}", json={"enforceMtls": True}, headers=tenant.headers
    )
    assert mtls_without_pin.status_code == 400
    assert mtls_without_pin.json()["details"][0]["field"] == "mtlsThumbprints"
    bad_pin = client.patch(
        f"/api/v1/api-keys/{first.id}", json={"mtlsThumbprints": ["zz"]}, headers=tenant.headers
    )
    assert bad_pin.status_code == 400
    client.delete(f"/api/v1/api-keys/{first.id}", headers=tenant.headers)
    gone = client.patch(f"/api/v1/api-keys/{first.id}", json={"name": "x"}, headers=tenant.headers)
    assert gone.status_code == 409
    assert (
        client.post(
            f"/api/v1/api-keys/{first.id}/roll", json={}, headers=tenant.headers
        ).status_code
        == 409
    )


def test_rate_limit_changes_only_on_an_owners_behalf(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)  # its first key was made by an operator: owner's behalf
    target = create_api_key(backend, tenant, ["leads:write"])
    minted = _create(client, tenant.headers, permissions=["keys:write", "leads:write"])
    delegated = {"X-API-Key": minted.json()["apiKey"]}
    before = _key_changes(backend, tenant.id)
    denied = client.patch(
        f"/api/v1/api-keys/{target.id}", json={"rateLimitPerMinute": 5}, headers=delegated
    )
    assert denied.status_code == 403
    assert denied.json()["error"] == "forbidden"
    assert _create(client, delegated, rateLimitPerMinute=5).status_code == 403
    assert _key_changes(backend, tenant.id) == before
    allowed = client.patch(
        f"/api/v1/api-keys/{target.id}",
        json={"rateLimitPerMinute": 5, "monthlyQuota": 1000},
        headers=tenant.headers,
    )
    assert allowed.status_code == 200
    assert allowed.json()["rateLimitPerMinute"] == 5
    audit = client.get(
        "/api/v1/audit-events", params={"apiKeyId": target.id}, headers=tenant.headers
    )
    change = next(e for e in audit.json()["data"] if e["action"] == "api_key.limit_changed")
    assert change["before"]["rateLimitPerMinute"] is None
    assert change["after"]["rateLimitPerMinute"] == 5
    assert change["after"]["monthlyQuota"] == 1000


def test_revoke_is_immediate_here_and_audited(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write"])
    assert client.post("/api/v1/leads", json=unique_lead(), headers=key.headers).status_code == 201
    revoked = client.delete(f"/api/v1/api-keys/{key.id}", headers=tenant.headers)
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    refused = client.post("/api/v1/leads", json=unique_lead(), headers=key.headers)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_api_key"
    assert "revoked" in refused.json()["message"]
    again = client.delete(f"/api/v1/api-keys/{key.id}", headers=tenant.headers)
    assert again.status_code == 200
    revocations = [
        e for e in fetch_rows(backend, AuditEvent, tenant.id)
        if e.action == "api_key.revoked" and e.target_id == key.id
    ]  # fmt: skip
    [revocation] = revocations
    assert revocation.before is not None
    assert revocation.after is not None
    assert revocation.before["revokedAt"] is None
    assert revocation.after["revokedAt"] is not None
    assert count_rows(backend, Event, tenant.id, type="api_key.revoked") == 1
    # A revoked key's name may be used again.
    name = revoked.json()["name"]
    assert _create(client, tenant.headers, name=name).status_code == 201


def test_roll_without_grace_ends_the_old_secret_at_once(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write"])
    assert client.post("/api/v1/leads", json=unique_lead(), headers=key.headers).status_code == 201
    rolled = client.post(
        f"/api/v1/api-keys/{key.id}/roll", json={"gracePeriodMinutes": 0}, headers=tenant.headers
    )
    assert rolled.status_code == 200, rolled.text
    body = rolled.json()
    assert body["id"] == key.id
    assert body["apiKey"] != key.key
    assert body["hint"] == body["apiKey"][:7]
    old = client.post("/api/v1/leads", json=unique_lead(), headers=key.headers)
    assert old.status_code == 401
    assert old.json()["error"] == "invalid_api_key"
    new = {"X-API-Key": body["apiKey"]}
    assert client.post("/api/v1/leads", json=unique_lead(), headers=new).status_code == 201
    assert count_rows(backend, Event, tenant.id, type="api_key.rolled") == 1
    rolled_audit = [
        e for e in fetch_rows(backend, AuditEvent, tenant.id) if e.action == "api_key.rolled"
    ]
    assert rolled_audit[0].after is not None
    assert rolled_audit[0].after["gracePeriodMinutes"] == 0
    assert body["apiKey"] not in str(rolled_audit[0].after)


def test_roll_with_grace_keeps_both_secrets_until_it_ends(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write"])
    rolled = client.post(
        f"/api/v1/api-keys/{key.id}/roll", json={"gracePeriodMinutes": 60}, headers=tenant.headers
    )
    assert rolled.status_code == 200
    new = {"X-API-Key": rolled.json()["apiKey"]}
    assert client.post("/api/v1/leads", json=unique_lead(), headers=key.headers).status_code == 201
    assert client.post("/api/v1/leads", json=unique_lead(), headers=new).status_code == 201
    secrets = {
        s.hint: s for s in fetch_rows(backend, ApiKeySecret, tenant.id) if s.api_key_id == key.id
    }
    old_secret = secrets[key.key[:7]]
    assert old_secret.expires_at is not None
    assert timedelta(minutes=59) < old_secret.expires_at - utcnow() <= timedelta(minutes=60)
    # The grace period ending is simulated by moving its end into the past. Cached entries carry
    # the end time, so only this out-of-band edit (not the passing of time) needs the cache cleared.
    update_row(backend, ApiKeySecret, old_secret.id, expires_at=utcnow() - timedelta(seconds=1))
    clear_key_cache(backend)
    refused = client.post("/api/v1/leads", json=unique_lead(), headers=key.headers)
    assert refused.status_code == 401
    assert client.post("/api/v1/leads", json=unique_lead(), headers=new).status_code == 201
    for bad in (-1, 10081, "soon"):
        response = client.post(
            f"/api/v1/api-keys/{key.id}/roll",
            json={"gracePeriodMinutes": bad},
            headers=tenant.headers,
        )
        assert response.status_code == 400
    assert (
        client.post("/api/v1/api-keys/key_nope/roll", json={}, headers=tenant.headers).status_code
        == 404
    )


def test_self_tells_a_key_about_itself(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(
        backend, tenant, ["leads:write"], expiration_in_days=30, rate_limit_per_minute=20
    )
    response = client.get("/api/v1/api-keys/self", headers=key.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == key.id
    assert body["permissions"] == ["leads:write"]
    assert body["rateLimitPerMinute"] == 20
    assert body["effectiveRateLimitPerMinute"] == 20
    assert body["expirationDate"] is not None
    assert body["keySource"] == "header"
    assert "apiKey" not in body
    plain = create_api_key(backend, tenant, ["leads:read"])
    default = client.get("/api/api-keys/self", headers=plain.headers).json()
    assert default["effectiveRateLimitPerMinute"] == backend.settings.default_rate_limit_per_minute


def test_audit_events_filter_by_key(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    made = _create(client, tenant.headers, name="audited")
    key_id = made.json()["id"]
    client.patch(f"/api/v1/api-keys/{key_id}", json={"name": "audited-2"}, headers=tenant.headers)
    client.delete(f"/api/v1/api-keys/{key_id}", headers=tenant.headers)
    response = client.get(
        "/api/v1/audit-events", params={"apiKeyId": key_id}, headers=tenant.headers
    )
    assert response.status_code == 200
    actions = [e["action"] for e in response.json()["data"]]
    assert actions == ["api_key.revoked", "api_key.updated", "api_key.created"]
    assert all(e["targetId"] == key_id for e in response.json()["data"])
    assert response.json()["data"][0]["actor"]["id"] == tenant.key_id
    everything = client.get("/api/v1/audit-events", params={"limit": 500}, headers=tenant.headers)
    assert len(everything.json()["data"]) > len(actions)
    other = create_tenant(backend)
    theirs = client.get("/api/v1/audit-events", params={"apiKeyId": key_id}, headers=other.headers)
    assert theirs.json()["data"] == []


def test_the_key_may_ride_in_the_body(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    response = client.post(
        "/api/v1/api-keys",
        json={"api_key": tenant.key, "name": "body", "permissions": ["leads:read"]},
    )
    assert response.status_code == 201, response.text
    rolled = client.post(f"/api/v1/api-keys/{response.json()['id']}/roll", headers=tenant.headers)
    assert rolled.status_code == 200
    unknown = _create(client, tenant.headers, color="red")
    assert unknown.status_code == 400
    assert unknown.json()["details"][0]["field"] == "color"
