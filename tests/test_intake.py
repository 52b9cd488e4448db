"""Lead intake (PRODUCT.md §4, SnapCRM seed): create, validate, normalise, refuse duplicates."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from leadgate.models import Event, Lead, LeadTag, Tag
from tests.conftest import Backend
from tests.factories import (
    count_rows,
    create_api_key,
    create_team_for,
    create_tenant,
    seed_lead,
    unique_lead,
)


def test_seed_curl_example_creates_then_conflicts(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    body = {"firstName": "Jane", "lastName": "Smith", "email": "jane@example.com"}

    created = client.post("/api/v1/leads", json=body, headers=tenant.headers)

    assert created.status_code == 201, created.text
    lead = created.json()
    assert lead["id"].startswith("lead_")
    assert lead["status"] == "new"
    assert lead["tags"] == []
    assert lead["createdBy"] == {"type": "api_key", "id": tenant.key_id, "name": "Default key"}
    assert lead["requestSource"] == "api_native"
    assert lead["createdAt"].endswith("Z")

    again = client.post("/api/v1/leads", json=body, headers=tenant.headers)
    assert again.status_code == 409
    error = again.json()
    assert error["error"] == "duplicate_lead"
    assert error["existingLeadId"] == lead["id"]
    assert error["matchedOn"] == "email"
    assert count_rows(backend, Lead, tenant.id) == 1


def test_full_seed_body_is_normalised(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    response = client.post(
        "/api/v1/leads",
        json=seed_lead(email="Jane.Smith@EXAMPLE.Com", website="acme.com"),
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    lead = response.json()
    assert lead["email"] == "Jane.Smith@example.com"
    assert lead["phone"] == "+15551234567"
    assert lead["website"] == "https://acme.com"
    for name in ("company", "source", "address", "city", "state", "zipcode"):
        assert lead[name] == seed_lead()[name]

    fetched = client.get(f"/api/v1/leads/{lead['id']}", headers=tenant.headers)
    assert fetched.status_code == 200
    assert fetched.json() == lead


def test_missing_last_name_names_the_field(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    response = client.post("/api/v1/leads", json={"firstName": "Jane"}, headers=tenant.headers)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request"
    assert [d["field"] for d in body["details"]] == ["lastName"]
    assert body["requestId"] == response.headers["x-request-id"]
    assert count_rows(backend, Lead, tenant.id) == 0


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"firstName": "   "}, "firstName"),
        ({"lastName": "x" * 81}, "lastName"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@" + "b" * 250 + ".com"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"phone": "call me"}, "phone"),
        ({"website": "ftp://acme.com"}, "website"),
        ({"website": "not a url"}, "website"),
        ({"company": "c" * 256}, "company"),
        ({"firstName": 42}, "firstName"),
        ({"status": "won"}, "status"),
        ({"nickname": "JJ"}, "nickname"),
        ({"customFields": {"nested": {"a": 1}}}, "customFields.nested"),
        ({"tags": ["ok", ""]}, "tags.1"),
    ],
)
def test_invalid_fields_are_400_with_details(
    backend: Backend, client: httpx.Client, override: dict[str, object], field: str
) -> None:
    tenant = create_tenant(backend)
    response = client.post("/api/v1/leads", json=unique_lead(**override), headers=tenant.headers)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    assert any(d["field"] and d["field"].startswith(field) for d in body["details"]), body
    assert count_rows(backend, Lead, tenant.id) == 0


def test_duplicate_by_name_is_case_insensitive(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    first = client.post(
        "/api/v1/leads", json={"firstName": "Ada", "lastName": "Lovelace"}, headers=tenant.headers
    )
    assert first.status_code == 201
    second = client.post(
        "/api/v1/leads",
        json={"firstName": " ada ", "lastName": "LOVELACE", "email": "ada@example.org"},
        headers=tenant.headers,
    )
    assert second.status_code == 409
    assert second.json()["matchedOn"] == "name"
    assert second.json()["existingLeadId"] == first.json()["id"]


def test_duplicate_email_compares_case_insensitively(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    assert client.post("/api/v1/leads", json=seed_lead(), headers=tenant.headers).status_code == 201
    again = client.post(
        "/api/v1/leads",
        json={"firstName": "Other", "lastName": "Person", "email": "JANE@example.com"},
        headers=tenant.headers,
    )
    assert again.status_code == 409
    assert again.json()["matchedOn"] == "email"


def test_duplicates_are_per_tenant(backend: Backend, client: httpx.Client) -> None:
    one, two = create_tenant(backend), create_tenant(backend)
    assert client.post("/api/v1/leads", json=seed_lead(), headers=one.headers).status_code == 201
    assert client.post("/api/v1/leads", json=seed_lead(), headers=two.headers).status_code == 201


def test_allow_policy_keeps_duplicates(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend, duplicate_policy="allow")
    for _ in range(2):
        response = client.post("/api/v1/leads", json=seed_lead(), headers=tenant.headers)
        assert response.status_code == 201
    assert count_rows(backend, Lead, tenant.id) == 2


def test_twenty_identical_concurrent_requests_create_one_lead(backend: Backend) -> None:
    tenant = create_tenant(backend)
    body = unique_lead()

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=backend.url, timeout=60) as http:
            responses = await asyncio.gather(
                *(http.post("/api/v1/leads", json=body, headers=tenant.headers) for _ in range(20))
            )
        return [r.status_code for r in responses]

    statuses = asyncio.run(burst())
    assert sorted(statuses) == [201] + [409] * 19
    assert count_rows(backend, Lead, tenant.id) == 1
    assert count_rows(backend, Event, tenant.id, type="lead.created") == 1


@pytest.mark.parametrize("path", ["/api/v1/leads", "/api/leads", "/api/leads/intake"])
def test_intake_aliases(backend: Backend, client: httpx.Client, path: str) -> None:
    tenant = create_tenant(backend)
    response = client.post(path, json=unique_lead(), headers=tenant.headers)
    assert response.status_code == 201, response.text


def test_html_form_post(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    response = client.post(
        "/api/leads/intake",
        data={
            "firstName": "Form",
            "lastName": "Filler",
            "email": "form@example.com",
            "tags": "webinar",
            "customFields[utm_source]": "newsletter",
            "api_key": tenant.key,
        },
    )
    assert response.status_code == 201, response.text
    lead = response.json()
    assert lead["requestSource"] == "web_form"
    assert lead["customFields"] == {"utm_source": "newsletter"}
    assert [t["name"] for t in lead["tags"]] == ["webinar"]


def test_tags_by_id_and_by_name(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    first = client.post(
        "/api/v1/leads", json=unique_lead(tags=["VIP", "Webinar"]), headers=tenant.headers
    )
    assert first.status_code == 201
    tags = {t["name"]: t["id"] for t in first.json()["tags"]}
    assert set(tags) == {"VIP", "Webinar"}
    assert all(tag_id.startswith("tag_") for tag_id in tags.values())

    by_id = client.post(
        "/api/v1/leads",
        json=unique_lead(tagId=tags["VIP"], tagIds=[tags["Webinar"]], tags=["vip"]),
        headers=tenant.headers,
    )
    assert by_id.status_code == 201
    assert sorted(t["id"] for t in by_id.json()["tags"]) == sorted(tags.values())
    assert count_rows(backend, Tag, tenant.id) == 2
    assert count_rows(backend, LeadTag, tenant.id) == 4


def test_unknown_tag_id_is_400(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    response = client.post(
        "/api/v1/leads", json=unique_lead(tagId="tag_missing"), headers=tenant.headers
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "tagId"
    assert count_rows(backend, Lead, tenant.id) == 0


def test_creating_tags_needs_tags_write(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    writer = create_api_key(backend, tenant, ["leads:write"])
    response = client.post("/api/v1/leads", json=unique_lead(tags=["new"]), headers=writer.headers)
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert "tags:write" in response.json()["message"]
    assert count_rows(backend, Lead, tenant.id) == 0
    assert count_rows(backend, Tag, tenant.id) == 0


def test_other_tenants_lead_is_not_found(backend: Backend, client: httpx.Client) -> None:
    one, two = create_tenant(backend), create_tenant(backend)
    lead = client.post("/api/v1/leads", json=unique_lead(), headers=one.headers).json()
    response = client.get(f"/api/v1/leads/{lead['id']}", headers=two.headers)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_team_limited_key_writes_and_reads_its_team_only(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    sales = create_team_for(backend, tenant, "Sales")
    support = create_team_for(backend, tenant, "Support")
    key = create_api_key(
        backend,
        tenant,
        ["leads:read", "leads:write"],
        team_scope="specific-accounts",
        team_ids=[sales],
    )
    created = client.post("/api/v1/leads", json=unique_lead(), headers=key.headers)
    assert created.status_code == 201
    assert created.json()["teamId"] == sales

    forbidden = client.post("/api/v1/leads", json=unique_lead(teamId=support), headers=key.headers)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "forbidden"

    other = client.post("/api/v1/leads", json=unique_lead(teamId=support), headers=tenant.headers)
    assert other.status_code == 201
    hidden = client.get(f"/api/v1/leads/{other.json()['id']}", headers=key.headers)
    assert hidden.status_code == 404
    unknown = client.post(
        "/api/v1/leads", json=unique_lead(teamId="team_x"), headers=tenant.headers
    )
    assert unknown.status_code == 400
    assert unknown.json()["details"][0]["field"] == "teamId"


def test_lead_created_event_is_recorded_with_the_lead(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    assert (
        client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers).status_code == 201
    )
    assert count_rows(backend, Event, tenant.id, type="lead.created") == 1
