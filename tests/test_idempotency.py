"""Idempotency-Key on every lead and tag write (PRODUCT.md §4): replay, reuse, in flight."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest

from leadgate.models import Event, IdempotencyRecord, Lead, Tag, utcnow
from tests.conftest import Backend
from tests.factories import count_rows, create_api_key, create_tenant, unique_lead, update_row


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key or f"k-{uuid.uuid4().hex}"}


def test_retry_replays_the_first_response(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    headers = keyed(tenant.headers)
    body = unique_lead()

    first = client.post("/api/v1/leads", json=body, headers=headers)
    again = client.post("/api/v1/leads", json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert count_rows(backend, Lead, tenant.id) == 1
    assert count_rows(backend, Event, tenant.id, type="lead.created") == 1


def test_the_same_key_with_another_body_is_422(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    headers = keyed(tenant.headers)
    assert client.post("/api/v1/leads", json=unique_lead(), headers=headers).status_code == 201

    reused = client.post("/api/v1/leads", json=unique_lead(), headers=headers)

    assert reused.status_code == 422
    assert reused.json()["error"] == "idempotency_key_reused"
    assert count_rows(backend, Lead, tenant.id) == 1


def test_keys_are_per_tenant(backend: Backend, client: httpx.Client) -> None:
    acme, bigfirm = create_tenant(backend), create_tenant(backend)
    key = f"shared-{uuid.uuid4().hex}"
    body = unique_lead()
    for tenant in (acme, bigfirm):
        response = client.post("/api/v1/leads", json=body, headers=keyed(tenant.headers, key))
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
        assert count_rows(backend, Lead, tenant.id) == 1


def test_another_key_of_the_tenant_cannot_replay(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    other = create_api_key(backend, tenant, ["leads:write"])
    key, body = f"k-{uuid.uuid4().hex}", unique_lead()
    assert (
        client.post("/api/v1/leads", json=body, headers=keyed(tenant.headers, key)).status_code
        == 201
    )
    response = client.post("/api/v1/leads", json=body, headers=keyed(other.headers, key))
    assert response.status_code == 422
    assert response.json()["error"] == "idempotency_key_reused"


def test_a_failed_request_releases_its_key(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    headers = keyed(tenant.headers)
    bad = client.post("/api/v1/leads", json={"firstName": "Only"}, headers=headers)
    assert bad.status_code == 400
    assert count_rows(backend, IdempotencyRecord, tenant.id) == 0

    fixed = client.post("/api/v1/leads", json=unique_lead(), headers=headers)
    assert fixed.status_code == 201
    assert count_rows(backend, Lead, tenant.id) == 1
    assert count_rows(backend, IdempotencyRecord, tenant.id) == 1


def test_a_duplicate_409_is_not_stored(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    body = unique_lead()
    assert client.post("/api/v1/leads", json=body, headers=tenant.headers).status_code == 201
    conflict = client.post("/api/v1/leads", json=body, headers=keyed(tenant.headers))
    assert conflict.status_code == 409
    assert count_rows(backend, IdempotencyRecord, tenant.id) == 0


def test_an_expired_record_no_longer_replays(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    headers = keyed(tenant.headers)
    first = client.post("/api/v1/leads", json=unique_lead(), headers=headers)
    assert first.status_code == 201
    (record,) = _records(backend, tenant.id)
    assert record.expires_at - record.created_at == timedelta(hours=24)
    update_row(backend, IdempotencyRecord, record.id, expires_at=utcnow() - timedelta(seconds=1))

    later = client.post("/api/v1/leads", json=unique_lead(), headers=headers)
    assert later.status_code == 201
    assert "idempotent-replayed" not in later.headers
    assert count_rows(backend, Lead, tenant.id) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "ünïcode".encode()])
def test_malformed_keys_are_400(backend: Backend, client: httpx.Client, key: str | bytes) -> None:
    tenant = create_tenant(backend)
    value = key if isinstance(key, bytes) else key.encode()
    headers = {name.encode(): given.encode() for name, given in tenant.headers.items()}
    response = client.post(
        "/api/v1/leads",
        content=json.dumps(unique_lead()).encode(),
        headers={**headers, b"Idempotency-Key": value, b"Content-Type": b"application/json"},
    )
    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "Idempotency-Key"
    assert count_rows(backend, Lead, tenant.id) == 0


def test_unauthenticated_requests_claim_nothing(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    key = f"k-{uuid.uuid4().hex}"
    response = client.post(
        "/api/v1/leads",
        json=unique_lead(),
        headers={"X-API-Key": "lg_nope", "Idempotency-Key": key},
    )
    assert response.status_code == 401
    assert count_rows(backend, IdempotencyRecord, tenant.id) == 0


def test_tag_writes_and_deletes_replay(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    headers = keyed(tenant.headers)
    created = client.post("/api/v1/tags", json={"name": "VIP"}, headers=headers)
    replayed = client.post("/api/v1/tags", json={"name": "VIP"}, headers=headers)
    assert created.status_code == replayed.status_code == 201
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json() == created.json()
    assert count_rows(backend, Tag, tenant.id) == 1

    delete_headers = keyed(tenant.headers)
    url = f"/api/v1/tags/{created.json()['id']}"
    assert client.delete(url, headers=delete_headers).status_code == 200
    again = client.delete(url, headers=delete_headers)
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"


def test_the_version_alias_is_the_same_request(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    headers, body = keyed(tenant.headers), unique_lead()
    first = client.post("/api/v1/leads", json=body, headers=headers)
    second = client.post("/api/leads", json=body, headers=headers)
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]


def test_fifty_concurrent_posts_with_one_key_create_one_lead(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    headers = keyed(tenant.headers)
    body = unique_lead()

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=backend.url, timeout=60) as http:
            return http.post("/api/v1/leads", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(post, range(50)))

    statuses = sorted(r.status_code for r in responses)
    originals = [
        r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers
    ]
    replays = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
    in_flight = [r for r in responses if r.status_code == 409]
    assert len(originals) == 1, statuses
    assert len(originals) + len(replays) + len(in_flight) == 50, statuses
    lead_id = originals[0].json()["id"]
    assert all(r.status_code == 201 and r.json()["id"] == lead_id for r in replays)
    assert all(r.json()["error"] == "idempotency_key_in_use" for r in in_flight)
    assert count_rows(backend, Lead, tenant.id) == 1
    # Retrying after the first finished always gets the lead back.
    retry = client.post("/api/v1/leads", json=body, headers=headers)
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == lead_id


def _records(backend: Backend, tenant_id: str) -> list[IdempotencyRecord]:
    from tests.factories import fetch_rows

    return fetch_rows(backend, IdempotencyRecord, tenant_id)


def test_openapi_documents_the_header_on_writes(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in (
        ("/api/v1/leads", "post"),
        ("/api/v1/leads/batch", "post"),
        ("/api/v1/leads/{lead_id}", "patch"),
        ("/api/v1/leads/{lead_id}", "delete"),
        ("/api/v1/tags", "post"),
        ("/api/v1/tags/{tag_id}", "delete"),
    ):
        names = [p["name"] for p in paths[path][method].get("parameters", [])]
        assert names.count("Idempotency-Key") == 1, (path, method)
    assert "Idempotency-Key" not in str(paths["/api/v1/leads"]["get"])


def test_an_abandoned_claim_is_taken_over(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    headers, body = keyed(tenant.headers), unique_lead()
    assert client.post("/api/v1/leads", json=body, headers=headers).status_code == 201
    (record,) = _records(backend, tenant.id)
    # As if the server had died between claiming the key and finishing the request.
    update_row(backend, IdempotencyRecord, record.id, completed_at=None, response_status=None)

    in_flight = client.post("/api/v1/leads", json=body, headers=headers)
    assert in_flight.status_code == 409
    assert in_flight.json()["error"] == "idempotency_key_in_use"
    assert in_flight.headers["retry-after"] == "1"

    update_row(backend, IdempotencyRecord, record.id, created_at=utcnow() - timedelta(hours=1))
    taken_over = client.post("/api/v1/leads", json=body, headers=headers)
    # The work runs again; here it meets the lead the dead request had already committed.
    assert taken_over.status_code == 409
    assert taken_over.json()["error"] == "duplicate_lead"
    assert count_rows(backend, IdempotencyRecord, tenant.id) == 0
    assert count_rows(backend, Lead, tenant.id) == 1
