"""The tags API: list, create, get, rename/recolour, delete; unique names per tenant."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from leadgate.models import LeadTag, Tag
from tests.conftest import Backend
from tests.factories import count_rows, create_tenant, unique_lead


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
