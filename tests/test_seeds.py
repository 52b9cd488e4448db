"""The seeds' conformance suite: every request and behaviour the five seed documents show, copied
as a user copies a cURL (host and key swapped), against a real server on both backends.

One section per seed, in the order of the documents: SnapCRM's API usage guide, Lead Fuel's API
access page, HREF's API overview, Snappy's create-API-key reference, SmartLead's authentication
page. Where leadgate answers differently from the seed's own system (its error body shape), the
test says so.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.models import ApiKey, ApiKeySecret, Lead
from leadgate.tenants.service import provision_tenant, update_tenant
from tests.conftest import BASE_DOMAIN, Backend
from tests.factories import (
    TenantInfo,
    count_rows,
    create_api_key,
    create_tenant,
    fetch_rows,
    unique_slug,
    update_row,
)

SNAPPY_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z$")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _close_to(value: str, expected: datetime) -> bool:
    # Generous: the server's clock is this process's, but the machine may be slow.
    return abs(_parse(value) - expected) < timedelta(minutes=10)


# --- SnapCRM: API usage guide ----------------------------------------------------------------

SNAPCRM_LEAD = {
    "firstName": "Jane",
    "lastName": "Smith",
    "email": "jane@example.com",
    "phone": "+1 555-123-4567",
    "company": "Acme Inc",
    "website": "https://acme.com",
    "source": "website",
    "address": "123 Main St",
    "city": "New York",
    "state": "NY",
    "zipcode": "10001",
}


def test_snapcrm_create_a_lead_with_x_api_key(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    response = client.post(
        "/api/v1/leads",
        headers={"Content-Type": "application/json", "X-API-Key": tenant.key},
        json=SNAPCRM_LEAD,
    )
    assert response.status_code == 201, response.text
    lead = response.json()
    assert lead["id"].startswith("lead_")
    assert (lead["firstName"], lead["lastName"], lead["email"]) == (
        "Jane",
        "Smith",
        SNAPCRM_LEAD["email"],
    )
    assert lead["status"] == "new"
    assert lead["createdBy"]["id"] == tenant.key_id
    assert lead["tags"] == []
    # The documented headers of a rate-limited key (default 200 a minute).
    assert response.headers["X-RateLimit-Limit"] == "200"
    assert int(response.headers["X-RateLimit-Remaining"]) < 200


def test_snapcrm_curl_example_with_bearer(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    # curl -X POST ".../api/v1/leads" -H "Content-Type: application/json" -H "X-API-Key: …"
    curl = client.post(
        "/api/v1/leads",
        headers={"Content-Type": "application/json", "X-API-Key": tenant.key},
        content=b'{"firstName":"Jane","lastName":"Smith","email":"jane@example.com"}',
    )
    assert curl.status_code == 201, curl.text
    # Option B: Authorization: Bearer
    bearer = client.post(
        "/api/v1/leads",
        headers={"Authorization": f"Bearer {tenant.key}"},
        json={"firstName": "John", "lastName": "Doe"},
    )
    assert bearer.status_code == 201, bearer.text
    assert count_rows(backend, Lead, tenant.id) == 2


def test_snapcrm_optional_tag_id(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    tag = client.post("/api/v1/tags", headers=tenant.headers, json={"name": "website"})
    assert tag.status_code == 201
    response = client.post(
        "/api/v1/leads",
        headers=tenant.headers,
        json={"firstName": "Jane", "lastName": "Smith", "tagId": tag.json()["id"]},
    )
    assert response.status_code == 201, response.text
    assert [t["name"] for t in response.json()["tags"]] == ["website"]


def test_snapcrm_lead_goes_to_the_keys_team(backend: Backend, client: httpx.Client) -> None:
    """ "The lead is created under your account (and your team, if you have one)."""
    tenant = create_tenant(backend)
    team = client.post("/api/v1/teams", headers=tenant.headers, json={"name": "East"})
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]
    key = create_api_key(
        backend, tenant, ["leads:write"], team_scope="specific-accounts", team_ids=[team_id]
    )
    response = client.post(
        "/api/v1/leads", headers=key.headers, json={"firstName": "Jane", "lastName": "Smith"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["teamId"] == team_id
    assert response.json()["createdBy"]["id"] == key.id


def test_snapcrm_errors(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    # 401: missing or invalid API key
    missing = client.post("/api/v1/leads", json={"firstName": "Jane", "lastName": "Smith"})
    assert (missing.status_code, missing.json()["error"]) == (401, "invalid_api_key")
    wrong = client.post(
        "/api/v1/leads",
        headers={"X-API-Key": "snap_your_api_key_here"},
        json={"firstName": "Jane", "lastName": "Smith"},
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_api_key")
    # 400: invalid JSON or missing required fields
    bad_json = client.post(
        "/api/v1/leads",
        headers={**tenant.headers, "Content-Type": "application/json"},
        content=b'{"firstName": "Jane",',
    )
    assert (bad_json.status_code, bad_json.json()["error"]) == (400, "invalid_request")
    no_last = client.post("/api/v1/leads", headers=tenant.headers, json={"firstName": "Jane"})
    assert no_last.status_code == 400
    assert {d["field"] for d in no_last.json()["details"]} == {"lastName"}
    assert count_rows(backend, Lead, tenant.id) == 0
    # 409: the same email, or the same name, already exists in the account
    first = client.post("/api/v1/leads", headers=tenant.headers, json=SNAPCRM_LEAD)
    assert first.status_code == 201
    same_email = {**SNAPCRM_LEAD, "firstName": "Janet"}
    assert client.post("/api/v1/leads", headers=tenant.headers, json=same_email).status_code == 409
    same_name = {"firstName": "Jane", "lastName": "Smith", "email": "other@example.com"}
    conflict = client.post("/api/v1/leads", headers=tenant.headers, json=same_name)
    assert (conflict.status_code, conflict.json()["error"]) == (409, "duplicate_lead")
    assert count_rows(backend, Lead, tenant.id) == 1


def test_snapcrm_rate_limit_429_with_retry_after(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write"], rate_limit_per_minute=1)
    first = client.post(
        "/api/v1/leads", headers=key.headers, json={"firstName": "A", "lastName": "One"}
    )
    assert first.status_code == 201
    assert first.headers["X-RateLimit-Limit"] == "1"
    limited = client.post(
        "/api/v1/leads", headers=key.headers, json={"firstName": "B", "lastName": "Two"}
    )
    assert (limited.status_code, limited.json()["error"]) == (429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    assert count_rows(backend, Lead, tenant.id) == 1


# --- Lead Fuel: API access -------------------------------------------------------------------


def _lead_fuel(tenant: TenantInfo) -> dict[str, str]:
    # Step 1: Authorization: Bearer YOUR_API_KEY; Step 2: Content-Type: application/json
    return {"Authorization": f"Bearer {tenant.key}", "Content-Type": "application/json"}


def test_lead_fuel_v1_base_url(backend: Backend, client: httpx.Client) -> None:
    """Step 3: send requests to https://api.leadfuelcrm.com/v1/"""
    tenant = create_tenant(backend)
    created = client.post(
        "/v1/leads", headers=_lead_fuel(tenant), json={"firstName": "Jane", "lastName": "Smith"}
    )
    assert created.status_code == 201, created.text
    listed = client.get("/v1/leads", headers=_lead_fuel(tenant))
    assert listed.status_code == 200
    assert [lead["id"] for lead in listed.json()["data"]] == [created.json()["id"]]
    fetched = client.get(f"/v1/leads/{created.json()['id']}", headers=_lead_fuel(tenant))
    assert fetched.json() == created.json()
    # "Monitoring usage: current hour and month request counts"
    usage = client.get("/v1/usage", headers=_lead_fuel(tenant))
    assert usage.status_code == 200, usage.text


def test_lead_fuel_expiration_periods(backend: Backend, client: httpx.Client) -> None:
    """Step 5: choose an expiration period (30, 90, 180 days, or no expiration)."""
    tenant = create_tenant(backend)
    now = datetime.now(UTC)
    for days in (30, 90, 180, None):
        response = client.post(
            "/v1/api-keys",
            headers=_lead_fuel(tenant),
            json={
                "name": f"Sales Dashboard Integration {days}",
                "permissions": ["leads:read"],
                "expirationInDays": days,
            },
        )
        assert response.status_code == 201, response.text
        expiry = response.json()["expirationDate"]
        if days is None:
            assert expiry is None
        else:
            assert _close_to(expiry, now + timedelta(days=days))


def test_lead_fuel_users_read_lists_team_members(backend: Backend, client: httpx.Client) -> None:
    """users:read: list team members and their information."""
    from tests.console_helpers import invite, join, sign_up, tenant_id_of

    owner = sign_up(backend)
    link = invite(owner.client, "member")
    _member, member_email = join(backend, link)
    invite(owner.client, "admin")  # not accepted: its e-mail must not show
    tenant = TenantInfo(id=tenant_id_of(backend, owner.slug), slug=owner.slug, key="", key_id="")
    reader = create_api_key(backend, tenant, ["users:read"])
    response = client.get("/v1/users", headers={"Authorization": f"Bearer {reader.key}"})
    assert response.status_code == 200, response.text
    members = response.json()["data"]
    assert [(m["email"], m["role"]) for m in members] == [
        (owner.email, "owner"),
        (member_email, "member"),
    ]
    for member in members:
        assert set(member) == {"id", "name", "email", "role", "memberSince"}
    # Without the scope: 403 naming it
    other = create_api_key(backend, tenant, ["leads:read"])
    refused = client.get("/v1/users", headers={"Authorization": f"Bearer {other.key}"})
    assert (refused.status_code, refused.json()["error"]) == (403, "insufficient_scope")
    assert "users:read" in refused.text


def test_lead_fuel_expired_key_401_then_rolled(backend: Backend, client: httpx.Client) -> None:
    """Step 4: handle 401 by verifying the key is current and not expired; an expired key is
    rolled into one that works, for the period it was issued for."""
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:read"], expiration_in_days=30)
    past = datetime.now(UTC) - timedelta(days=1)
    update_row(backend, ApiKey, key.id, expires_at=past, created_at=past - timedelta(days=30))
    expired = client.get("/v1/leads", headers={"Authorization": f"Bearer {key.key}"})
    assert (expired.status_code, expired.json()["error"]) == (401, "api_key_expired")
    assert "roll" in expired.json()["message"]
    rolled = client.post(f"/v1/api-keys/{key.id}/roll", headers=_lead_fuel(tenant))
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["status"] == "active"
    assert _close_to(rolled.json()["expirationDate"], datetime.now(UTC) + timedelta(days=30))
    works = client.get("/v1/leads", headers={"Authorization": f"Bearer {rolled.json()['apiKey']}"})
    assert works.status_code == 200, works.text
    old = client.get("/v1/leads", headers={"Authorization": f"Bearer {key.key}"})
    assert old.status_code == 401


def test_lead_fuel_lost_key_delete_and_regenerate(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    lost = create_api_key(backend, tenant, ["leads:read"], name="Sales Dashboard Integration")
    deleted = client.delete(f"/v1/api-keys/{lost.id}", headers=_lead_fuel(tenant))
    assert (deleted.status_code, deleted.json()["status"]) == (200, "revoked")
    regenerated = client.post(
        "/v1/api-keys",
        headers=_lead_fuel(tenant),
        json={"name": "Sales Dashboard Integration", "permissions": ["leads:read"]},
    )
    assert regenerated.status_code == 201, regenerated.text
    headers = {"Authorization": f"Bearer {regenerated.json()['apiKey']}"}
    assert client.get("/v1/leads", headers=headers).status_code == 200
    assert (
        client.get("/v1/leads", headers={"Authorization": f"Bearer {lost.key}"}).status_code == 401
    )


# --- HREF: API overview ----------------------------------------------------------------------


def _href_tenant(backend: Backend, slug: str, **tenant_settings: Any) -> TenantInfo:
    """Provisioned as HREF provisions: its own `hcrm` prefix, the key shown once."""

    async def work(session: AsyncSession) -> TenantInfo:
        provisioned = await provision_tenant(
            session, backend.settings, slug=slug, name=slug.title(), key_prefix="hcrm"
        )
        for name, value in tenant_settings.items():
            setattr(provisioned.tenant, name, value)
        return TenantInfo(
            provisioned.tenant.id,
            slug,
            provisioned.first_key.plaintext,
            provisioned.first_key.key.id,
        )

    return backend.transaction(work)


def _tenant_host(backend: Backend, slug: str) -> dict[str, str]:
    # http://<tenant>.localtest.me:<port>/api/... : the name resolves to 127.0.0.1; the test
    # connects there itself and sends the Host a browser or curl would send.
    return {"Host": f"{slug}.{BASE_DOMAIN}:{backend.server.port}"}


def test_href_intake_on_the_tenant_subdomain(backend: Backend, client: httpx.Client) -> None:
    acme = _href_tenant(backend, unique_slug("acme"))
    assert re.fullmatch(r"hcrm_[0-9A-Za-z]{38}", acme.key)
    response = client.post(
        "/api/leads/intake",
        headers={**_tenant_host(backend, acme.slug), "X-API-Key": acme.key},
        json={"firstName": "Jane", "lastName": "Smith", "email": "jane@example.com"},
    )
    assert response.status_code == 201, response.text
    assert count_rows(backend, Lead, acme.id) == 1
    # Stored as a hash: nothing in the database holds the key itself.
    secrets = fetch_rows(backend, ApiKeySecret, acme.id)
    assert [len(s.secret_hash) for s in secrets] == [64]
    assert acme.key not in {s.secret_hash for s in secrets}


def test_href_keys_are_tenant_scoped(backend: Backend, client: httpx.Client) -> None:
    acme = _href_tenant(backend, unique_slug("acme"))
    bigfirm = _href_tenant(backend, unique_slug("bigfirm"))
    response = client.post(
        "/api/leads/intake",
        headers={**_tenant_host(backend, bigfirm.slug), "X-API-Key": acme.key},
        json={"firstName": "Jane", "lastName": "Smith"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_api_key"
    assert set(response.json()) >= {"error", "message"}
    assert count_rows(backend, Lead, bigfirm.id) == count_rows(backend, Lead, acme.id) == 0


def test_href_documented_errors(backend: Backend, client: httpx.Client) -> None:
    acme = _href_tenant(backend, unique_slug("acme"))
    host = _tenant_host(backend, acme.slug)
    invalid = client.post(
        "/api/leads/intake", headers={**host, "X-API-Key": acme.key}, json={"firstName": ""}
    )
    assert (invalid.status_code, invalid.json()["error"]) == (400, "invalid_request")
    assert isinstance(invalid.json()["details"], list)
    assert invalid.json()["details"]
    missing = client.post("/api/leads/intake", headers=host, json={"firstName": "J"})
    assert missing.json() | {"requestId": None, "details": None} == {
        "error": "invalid_api_key",
        "message": "API key is missing or does not match.",
        "requestId": None,
        "details": None,
    }
    assert missing.status_code == 401
    unknown = client.post(
        "/api/leads/intake",
        headers={**_tenant_host(backend, unique_slug("nobody")), "X-API-Key": acme.key},
        json={"firstName": "Jane", "lastName": "Smith"},
    )
    assert (unknown.status_code, unknown.json()["error"]) == (404, "tenant_not_found")
    assert count_rows(backend, Lead, acme.id) == 0


def test_href_no_idempotency_two_posts_two_leads(backend: Backend, client: httpx.Client) -> None:
    """ "If you POST the same lead twice, you get two leads" (a tenant allowing duplicates)."""
    acme = _href_tenant(backend, unique_slug("acme"), duplicate_policy="allow")
    headers = {**_tenant_host(backend, acme.slug), "X-API-Key": acme.key}
    lead = {"firstName": "Jane", "lastName": "Smith", "email": "jane@example.com"}
    first = client.post("/api/leads/intake", headers=headers, json=lead)
    second = client.post("/api/leads/intake", headers=headers, json=lead)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


def test_href_api_is_the_v1_alias(backend: Backend, client: httpx.Client) -> None:
    acme = _href_tenant(backend, unique_slug("acme"))
    headers = {**_tenant_host(backend, acme.slug), "X-API-Key": acme.key}
    created = client.post("/api/leads", headers=headers, json={"firstName": "J", "lastName": "S"})
    assert created.status_code == 201
    unversioned = client.get("/api/leads", headers=headers)
    versioned = client.get("/api/v1/leads", headers=headers)
    assert unversioned.status_code == versioned.status_code == 200
    assert unversioned.json() == versioned.json()


def test_href_rotate_a_lost_key(backend: Backend, client: httpx.Client) -> None:
    acme = _href_tenant(backend, unique_slug("acme"))
    host = _tenant_host(backend, acme.slug)
    rolled = client.post(
        f"/api/api-keys/{acme.key_id}/roll", headers={**host, "X-API-Key": acme.key}
    )
    assert rolled.status_code == 200, rolled.text
    new_key = rolled.json()["apiKey"]
    assert new_key.startswith("hcrm_")
    lead = {"firstName": "Jane", "lastName": "Smith"}
    old = client.post("/api/leads/intake", headers={**host, "X-API-Key": acme.key}, json=lead)
    assert old.status_code == 401
    new = client.post("/api/leads/intake", headers={**host, "X-API-Key": new_key}, json=lead)
    assert new.status_code == 201


def test_keys_keep_working_after_the_prefix_changes(backend: Backend, client: httpx.Client) -> None:
    """`snap_…` and `hcrm_…` keys: a tenant's prefix changes, its earlier keys keep working."""
    tenant = create_tenant(backend)
    old = tenant.key
    assert old.startswith(backend.settings.key_prefix + "_")

    async def set_prefix(session: AsyncSession) -> None:
        await update_tenant(session, tenant.slug, key_prefix="snap")

    backend.transaction(set_prefix)
    new = create_api_key(backend, tenant, ["leads:read"])
    assert new.key.startswith("snap_")
    for key in (old, new.key):
        assert client.get("/api/v1/leads", headers={"X-API-Key": key}).status_code == 200


# --- Snappy: create an API key ---------------------------------------------------------------

SNAPPY_PATH = "/public-api/v2/authentication/apiKeys"
SNAPPY_BODY = '{\n"name": "My API",\n"expirationInDays": 90,\n"enforceMtls": false\n}\n'


def _snappy(tenant: TenantInfo) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Api-Key": tenant.key}


def test_snappy_create_api_key_as_documented(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    response = client.post(SNAPPY_PATH, headers=_snappy(tenant), content=SNAPPY_BODY.encode())
    assert response.status_code == 201, response.text
    key = response.json()
    for name in (
        "id",
        "expirationDate",
        "createdAt",
        "enforceMtls",
        "name",
        "companyId",
        "apiKey",
        "permissions",
        "accountsAccess",
    ):
        assert name in key, name
    assert key["name"] == "My API"
    assert key["enforceMtls"] is False
    assert key["companyId"] == key["tenantId"] == tenant.id
    assert SNAPPY_DATE.match(key["expirationDate"])
    assert SNAPPY_DATE.match(key["createdAt"])
    assert _close_to(key["expirationDate"], _parse(key["createdAt"]) + timedelta(days=90))
    # No permissions given: the documented least privilege (pushing leads).
    assert key["permissions"] == ["leads:write"]
    assert key["accountsAccess"] == {"scope": "all-accounts", "ids": []}
    # The key authenticates as the seed shows, in X-Api-Key.
    lead = client.post(
        "/api/v1/leads",
        headers={"X-Api-Key": key["apiKey"]},
        json={"firstName": "Jane", "lastName": "Smith"},
    )
    assert lead.status_code == 201, lead.text
    assert client.get("/api/v1/leads", headers={"X-Api-Key": key["apiKey"]}).status_code == 403


def test_snappy_full_response_example_body(backend: Backend, client: httpx.Client) -> None:
    """The response example's fields sent back as a request: accountsAccess with ids."""
    tenant = create_tenant(backend)
    body = {
        "name": "My API key",
        "expirationInDays": 90,
        "enforceMtls": False,
        "permissions": ["leads:write"],
        "accountsAccess": {"scope": "all-accounts", "ids": ["<string>"]},
    }
    response = client.post(SNAPPY_PATH, headers=_snappy(tenant), json=body)
    assert response.status_code == 201, response.text
    assert response.json()["accountsAccess"] == {"scope": "all-accounts", "ids": []}


def test_snappy_name_unique_and_expirations(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    first = client.post(SNAPPY_PATH, headers=_snappy(tenant), content=SNAPPY_BODY.encode())
    assert first.status_code == 201
    again = client.post(SNAPPY_PATH, headers=_snappy(tenant), content=SNAPPY_BODY.encode())
    assert (again.status_code, again.json()["error"]) == (409, "api_key_name_taken")
    for days in (30, 60, 90, 180, 365):
        ok = client.post(
            SNAPPY_PATH,
            headers=_snappy(tenant),
            json={"name": f"d{days}", "expirationInDays": days},
        )
        assert ok.status_code == 201, ok.text
    bad = client.post(
        SNAPPY_PATH, headers=_snappy(tenant), json={"name": "d45", "expirationInDays": 45}
    )
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_request")
    assert count_rows(backend, ApiKey, tenant.id) == 7  # the first key, "My API", five periods


def test_snappy_list_get_delete_siblings(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    created = client.post(SNAPPY_PATH, headers=_snappy(tenant), content=SNAPPY_BODY.encode())
    key_id = created.json()["id"]
    listed = client.get(SNAPPY_PATH, headers=_snappy(tenant))
    assert listed.status_code == 200
    assert key_id in [k["id"] for k in listed.json()["data"]]
    assert all("apiKey" not in k for k in listed.json()["data"])
    fetched = client.get(f"{SNAPPY_PATH}/{key_id}", headers=_snappy(tenant))
    assert (fetched.status_code, fetched.json()["companyId"]) == (200, tenant.id)
    deleted = client.delete(f"{SNAPPY_PATH}/{key_id}", headers=_snappy(tenant))
    assert (deleted.status_code, deleted.json()["status"]) == (200, "revoked")
    gone = client.get("/api/v1/leads", headers={"X-Api-Key": created.json()["apiKey"]})
    assert gone.status_code == 401


def test_aliases_are_not_in_the_openapi_document(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/api-keys" in paths
    assert "/api/v1/teams" in paths
    assert "/api/v1/users" in paths
    assert all(path.startswith("/api/v1/") for path in paths), sorted(paths)


# --- SmartLead: authentication ---------------------------------------------------------------


def test_smartlead_query_parameter_with_trailing_slash(
    backend: Backend, client: httpx.Client
) -> None:
    """curl -X GET ".../api/v1/campaigns/?api_key=YOUR_API_KEY": served, never redirected."""
    tenant = create_tenant(backend)
    response = client.get(
        f"/api/v1/leads/?api_key={tenant.key}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert "location" not in response.headers
    assert response.json()["data"] == []
    for path in ("/api/v1/tags/", "/api/v1/api-keys/", "/v1/leads/", "/api/leads/"):
        answer = client.get(f"{path}?api_key={tenant.key}")
        assert answer.status_code == 200, (path, answer.status_code)


def test_smartlead_request_body_method(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    response = client.post(
        "/api/v1/leads/",
        json={"api_key": tenant.key, "firstName": "Jane", "lastName": "Smith"},
    )
    assert response.status_code == 201, response.text
    assert count_rows(backend, Lead, tenant.id) == 1


def test_smartlead_invalid_or_missing_key_401(backend: Backend, client: httpx.Client) -> None:
    # SmartLead's body is {"success": false, "error": {...}}; leadgate's is its own error shape.
    for query in ("", "?api_key=YOUR_API_KEY"):
        response = client.get(f"/api/v1/leads/{query}")
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_api_key"
        assert "location" not in response.headers


def test_smartlead_multiple_keys_and_regenerate(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    production = create_api_key(backend, tenant, ["leads:read"], name="Production Key")
    development = create_api_key(backend, tenant, ["leads:read"], name="Development Key")
    for key in (production, development):
        assert client.get(f"/api/v1/leads/?api_key={key.key}").status_code == 200
    # "Regenerating an API key will immediately invalidate the old key."
    regenerated = client.post(f"/api/v1/api-keys/{production.id}/roll", headers=tenant.headers)
    assert regenerated.status_code == 200
    assert client.get(f"/api/v1/leads/?api_key={production.key}").status_code == 401
    new_key = regenerated.json()["apiKey"]
    assert client.get(f"/api/v1/leads/?api_key={new_key}").status_code == 200
    assert client.get(f"/api/v1/leads/?api_key={development.key}").status_code == 200


def test_smartlead_console_regenerate_ends_the_old_key_at_once(
    backend: Backend, client: httpx.Client
) -> None:
    from tests.console_helpers import generate_key, key_from_page, sign_up

    account = sign_up(backend)
    name = f"key-{uuid.uuid4().hex[:6]}"
    created = generate_key(account.client, name=name, scopes=["leads:read"])
    old = key_from_page(created.text)
    page = account.client.get("/console/settings/api-keys")
    match = re.search(
        rf'data-key-id="(key_[0-9a-z]+)">\s*<td data-label="Name"><strong>{name}<', page.text
    )
    assert match is not None
    roll_page = account.client.get(f"/console/settings/api-keys/{match.group(1)}/roll")
    assert re.search(r'<option value="0"\s+selected>', roll_page.text), "no grace by default"
    rolled = account.client.post(f"/console/settings/api-keys/{match.group(1)}/roll", {})
    assert rolled.status_code == 201, rolled.text[:2000]
    assert client.get(f"/api/v1/leads/?api_key={old}").status_code == 401
    new = key_from_page(rolled.text)
    assert client.get(f"/api/v1/leads/?api_key={new}").status_code == 200


def test_no_redirect_ever_carries_a_key(backend: Backend, client: httpx.Client) -> None:
    """Trailing slashes are served, not redirected, everywhere; a redirect that remains (the
    console's sign-in, `/` to the console) drops the key."""
    tenant = create_tenant(backend)
    for path in ("/docs/", "/healthz/", "/openapi.json/", "/api/v1/api-keys/self/"):
        response = client.get(f"{path}?api_key={tenant.key}")
        assert response.status_code == 200, (path, response.status_code)
    for path in ("/", "/console/", "/console/settings/api-keys/", "/console/leads"):
        response = client.get(f"{path}?api_key={tenant.key}&q=jane")
        assert response.status_code in (303, 307), (path, response.status_code)
        assert tenant.key not in response.headers["location"], path
    back = client.get(f"/console/leads?api_key={tenant.key}&q=jane")
    assert back.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fleads%3Fq%3Djane"
