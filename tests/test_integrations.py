"""REST hooks as Zapier, Make and n8n call them: subscribe, receive signed deliveries,
perform list, unsubscribe (idempotent), and "find or create lead" as one idempotent action."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from leadgate.models import AuditEvent, Lead, WebhookEndpoint
from tests.conftest import Backend
from tests.factories import count_rows, create_api_key, create_tenant, unique_lead
from tests.receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


# How each platform's app sends the tenant's API key.
AUTH: dict[str, Callable[[str], dict[str, str]]] = {
    "zapier": lambda key: {"X-API-Key": key},
    "make": lambda key: {"Authorization": f"Bearer {key}"},
    "n8n": lambda key: {"X-API-Key": key},
}


@pytest.mark.parametrize("app", ["zapier", "make", "n8n"])
def test_rest_hook_lifecycle(
    backend: Backend, client: httpx.Client, receiver: Receiver, app: str
) -> None:
    tenant = create_tenant(backend)
    headers = AUTH[app](tenant.key)

    # Setting up the trigger: the platform asks for samples before any event exists.
    first = client.get("/api/v1/hooks/samples", params={"event": "lead.created"}, headers=headers)
    assert first.status_code == 200
    [catalogue_sample] = first.json()
    assert catalogue_sample["email"] == "jane@example.com"
    assert catalogue_sample["id"].startswith("lead_")

    # Turning the Zap / scenario / workflow on subscribes its hook URL.
    subscribed = client.post(
        "/api/v1/hooks",
        json={"hookUrl": receiver.url, "event": "lead.created", "app": app},
        headers=headers,
    )
    assert subscribed.status_code == 201, subscribed.text
    hook = subscribed.json()
    assert hook["event"] == "lead.created"
    assert hook["secret"].startswith("whsec_")
    [endpoint] = client.get("/api/v1/webhook-endpoints", headers=headers).json()["data"]
    assert endpoint["id"] == hook["id"]
    assert endpoint["eventTypes"] == ["lead.created"]

    lead = client.post("/api/v1/leads", json=unique_lead(), headers=headers).json()
    client.post("/api/v1/tags", json={"name": "not-a-lead-event"}, headers=headers)
    [delivery] = receiver.wait_for(1)
    assert delivery.json["type"] == "lead.created"
    assert delivery.json["data"]["id"] == lead["id"]
    receiver.verify_all(hook["secret"])

    # perform list: the latest real events, newest first, shaped as a delivery's `data`.
    second = client.post("/api/v1/leads", json=unique_lead(), headers=headers).json()
    listed = client.get(
        "/api/v1/hooks/samples", params={"event": "lead.created", "limit": 5}, headers=headers
    )
    assert [s["id"] for s in listed.json()] == [second["id"], lead["id"]]
    assert listed.json()[1] == delivery.json["data"]
    receiver.wait_for(2)

    # Turning it off unsubscribes; a second unsubscribe finds nothing (404, which the
    # platforms' set-ups in docs/integrations.md treat as done).
    gone = client.delete(f"/api/v1/hooks/{hook['id']}", headers=headers)
    assert gone.status_code == 200
    assert gone.json() == {"id": hook["id"], "deleted": True}
    assert count_rows(backend, WebhookEndpoint, tenant.id) == 0
    again = client.delete(f"/api/v1/hooks/{hook['id']}", headers=headers)
    assert again.status_code == 404
    assert again.json()["error"] == "not_found"


def test_hook_refusals_write_nothing(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    other = create_tenant(backend)
    reader = create_api_key(backend, tenant, ["webhooks:read"])
    body = {"hookUrl": "https://hooks.zapier.com/hooks/standard/1/abc/", "event": "lead.created"}

    assert client.post("/api/v1/hooks", json=body).status_code == 401
    denied = client.post("/api/v1/hooks", json=body, headers=reader.headers)
    assert denied.status_code == 403
    assert denied.json()["error"] == "insufficient_scope"
    unknown = client.post(
        "/api/v1/hooks", json={**body, "event": "lead.exploded"}, headers=tenant.headers
    )
    assert unknown.status_code == 400
    assert unknown.json()["details"][0]["field"] == "event"
    unsafe = client.post(
        "/api/v1/hooks", json={**body, "hookUrl": "ftp://example.com/x"}, headers=tenant.headers
    )
    assert unsafe.status_code == 400
    missing = client.post("/api/v1/hooks", json={"event": "lead.created"}, headers=tenant.headers)
    assert missing.status_code == 400
    assert count_rows(backend, WebhookEndpoint, tenant.id) == 0
    assert count_rows(backend, AuditEvent, tenant.id, target_type="webhook_endpoint") == 0
    bad_list = client.get("/api/v1/hooks/samples", params={"event": "nope"}, headers=tenant.headers)
    assert bad_list.status_code == 400

    hook = client.post("/api/v1/hooks", json=body, headers=tenant.headers).json()
    # Another tenant cannot unsubscribe it.
    foreign = client.delete(f"/api/v1/hooks/{hook['id']}", headers=other.headers)
    assert foreign.status_code == 404
    assert count_rows(backend, WebhookEndpoint, tenant.id) == 1
    assert client.delete(f"/api/v1/hooks/{hook['id']}", headers=reader.headers).status_code == 403
    assert count_rows(backend, WebhookEndpoint, tenant.id) == 1


def test_find_or_create_lead_is_idempotent(backend: Backend, client: httpx.Client) -> None:
    # Even a tenant whose policy lets duplicates in gets one lead from this action.
    tenant = create_tenant(backend, duplicate_policy="allow")
    lead = unique_lead(requestSource="api_zapier")
    created = client.post("/api/v1/leads/find-or-create", json=lead, headers=tenant.headers)
    assert created.status_code == 201, created.text
    assert created.json()["created"] is True
    assert created.json()["requestSource"] == "api_zapier"
    found = client.post(
        "/api/v1/leads/find-or-create",
        json={**lead, "email": lead["email"].upper(), "company": "Other"},
        headers=tenant.headers,
    )
    assert found.status_code == 200
    assert found.json()["created"] is False
    assert found.json()["id"] == created.json()["id"]
    assert found.json()["company"] == "Acme Inc"
    assert count_rows(backend, Lead, tenant.id) == 1

    # The same action fired several times at once (a Zap replayed): one lead.
    racing = unique_lead()
    answers: list[httpx.Response] = []

    def call() -> None:
        with httpx.Client(base_url=backend.url, timeout=30) as own:
            answers.append(
                own.post("/api/v1/leads/find-or-create", json=racing, headers=tenant.headers)
            )

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert count_rows(backend, Lead, tenant.id) == 2

    invalid = client.post(
        "/api/v1/leads/find-or-create", json={"firstName": "A"}, headers=tenant.headers
    )
    assert invalid.status_code == 400
    assert invalid.json()["error"] == "invalid_request"
    reader = create_api_key(backend, tenant, ["leads:read"])
    denied = client.post("/api/v1/leads/find-or-create", json=unique_lead(), headers=reader.headers)
    assert denied.status_code == 403
    assert count_rows(backend, Lead, tenant.id) == 2
