"""The tags API: list, create, get, rename/recolour, delete; unique names per tenant."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from leadgate.models import ApiKey, LeadTag, Tag, utcnow
from tests.conftest import Backend
from tests.factories import count_rows, create_api_key, create_tenant, unique_lead, update_row


def test_tag_lifecycle(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    created = client.post(
        "/api/v1/tags", json={"name": "  Hot   Lead ", "color": "#FF8800"}, headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    tag = created.json()
    assert tag["id"].startswith("tag_")
    assert tag["name"] == "Hot Lead"
    assert tag["color"] == "#ff8800"
    assert tag["createdAt"].endswith("Z")

    other = client.post("/api/v1/tags", json={"name": "Another"}, headers=tenant.headers).json()
    assert other["color"] is None
    listed = client.get("/api/v1/tags", headers=tenant.headers).json()["data"]
    assert [t["name"] for t in listed] == ["Another", "Hot Lead"]
    assert client.get(f"/api/v1/tags/{tag['id']}", headers=tenant.headers).json() == tag

    renamed = client.patch(
        f"/api/v1/tags/{tag['id']}", json={"name": "Warm"}, headers=tenant.headers
    )
    assert renamed.status_code == 200
    assert renamed.json() == {**tag, "name": "Warm"}
    recoloured = client.patch(
        f"/api/v1/tags/{tag['id']}", json={"color": None}, headers=tenant.headers
    )
    assert recoloured.json()["color"] is None
    same = client.patch(f"/api/v1/tags/{tag['id']}", json={}, headers=tenant.headers)
    assert same.json() == recoloured.json()

    lead = client.post(
        "/api/v1/leads", json=unique_lead(tagIds=[tag["id"]]), headers=tenant.headers
    ).json()
    assert [t["name"] for t in lead["tags"]] == ["Warm"]
    deleted = client.delete(f"/api/v1/tags/{tag['id']}", headers=tenant.headers)
    assert deleted.json() == {"id": tag["id"], "deleted": True}
    assert client.get(f"/api/v1/tags/{tag['id']}", headers=tenant.headers).status_code == 404
    assert client.get(f"/api/v1/leads/{lead['id']}", headers=tenant.headers).json()["tags"] == []
    assert count_rows(backend, LeadTag, tenant.id) == 0


def test_names_are_unique_per_tenant(backend: Backend, client: httpx.Client) -> None:
    tenant, other = create_tenant(backend), create_tenant(backend)
    assert (
        client.post("/api/v1/tags", json={"name": "VIP"}, headers=tenant.headers).status_code == 201
    )
    taken = client.post("/api/v1/tags", json={"name": " vip "}, headers=tenant.headers)
    assert taken.status_code == 409
    assert taken.json()["error"] == "tag_name_taken"
    assert count_rows(backend, Tag, tenant.id) == 1
    assert (
        client.post("/api/v1/tags", json={"name": "VIP"}, headers=other.headers).status_code == 201
    )

    second = client.post("/api/v1/tags", json={"name": "Cold"}, headers=tenant.headers).json()
    clash = client.patch(
        f"/api/v1/tags/{second['id']}", json={"name": "Vip"}, headers=tenant.headers
    )
    assert clash.status_code == 409
    assert clash.json()["error"] == "tag_name_taken"
    assert client.get(f"/api/v1/tags/{second['id']}", headers=tenant.headers).json() == second


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 61}, "name"),
        ({"name": "A", "color": "red"}, "color"),
        ({"name": "A", "color": "#12345"}, "color"),
        ({"name": "A", "colour": "#123456"}, "colour"),
    ],
)
def test_create_validation(
    backend: Backend, client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    tenant = create_tenant(backend)
    response = client.post("/api/v1/tags", json=body, headers=tenant.headers)
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == field
    assert count_rows(backend, Tag, tenant.id) == 0


def test_update_validation(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    tag = client.post("/api/v1/tags", json={"name": "Keep"}, headers=tenant.headers).json()
    for body in ({"name": None}, {"color": "blue"}):
        response = client.patch(f"/api/v1/tags/{tag['id']}", json=body, headers=tenant.headers)
        assert response.status_code == 400
    assert client.get(f"/api/v1/tags/{tag['id']}", headers=tenant.headers).json() == tag


@pytest.mark.parametrize(
    ("method", "path", "body", "scope"),
    [
        ("GET", "/api/v1/tags", None, "tags:read"),
        ("GET", "/api/v1/tags/{id}", None, "tags:read"),
        ("POST", "/api/v1/tags", {"name": "New"}, "tags:write"),
        ("PATCH", "/api/v1/tags/{id}", {"name": "Renamed"}, "tags:write"),
        ("DELETE", "/api/v1/tags/{id}", None, "tags:write"),
    ],
)
def test_auth_matrix(
    backend: Backend,
    client: httpx.Client,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    scope: str,
) -> None:
    tenant, other = create_tenant(backend), create_tenant(backend)
    tag = client.post("/api/v1/tags", json={"name": "Orig"}, headers=tenant.headers).json()
    url = path.format(id=tag["id"])
    wrong = create_api_key(
        backend, tenant, ["tags:read" if scope == "tags:write" else "leads:read"]
    )
    right = create_api_key(backend, tenant, [scope])
    expired = create_api_key(backend, tenant, [scope])
    update_row(backend, ApiKey, expired.id, expires_at=utcnow() - timedelta(minutes=1))

    def call(headers: dict[str, str]) -> httpx.Response:
        return client.request(method, url, json=body, headers=headers)

    for headers, status, code in (
        ({}, 401, "invalid_api_key"),
        ({"X-API-Key": "lg_" + "b" * 38}, 401, "invalid_api_key"),
        (expired.headers, 401, "api_key_expired"),
        (wrong.headers, 403, "insufficient_scope"),
    ):
        response = call(headers)
        assert response.status_code == status
        assert response.json()["error"] == code
    foreign = call(other.headers)
    if "{id}" in path:
        assert foreign.status_code == 404
    elif method == "GET":
        assert foreign.json()["data"] == []
    assert count_rows(backend, Tag, tenant.id) == 1
    assert count_rows(backend, Tag, tenant.id, name="Orig") == 1
    assert call(right.headers).status_code in (200, 201)
