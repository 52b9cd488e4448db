"""Webhooks (PRODUCT.md §6) over HTTP, with real local receivers: signatures, retries, replay,
the tester, disabling, rotation, and the outbox's transactional guarantee."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from leadgate.events.service import EVENT_TYPES
from leadgate.models import (
    AuditEvent,
    Event,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from tests.conftest import Backend, Cli
from tests.factories import (
    TenantInfo,
    count_rows,
    create_tenant,
    unique_lead,
    update_row,
)
from tests.receiver import Received, Receiver, always, running_receiver, wait_until


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def make_endpoint(
    client: httpx.Client, tenant: TenantInfo, url: str, **fields: Any
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/webhook-endpoints", json={"url": url, **fields}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def create_lead(client: httpx.Client, tenant: TenantInfo) -> dict[str, Any]:
    response = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def deliveries(client: httpx.Client, tenant: TenantInfo, endpoint_id: str) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/v1/webhook-endpoints/{endpoint_id}/deliveries", headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def settled(
    client: httpx.Client, tenant: TenantInfo, endpoint_id: str, status: str, count: int = 1
) -> list[dict[str, Any]]:
    """Waits until `count` deliveries of the endpoint have `status`, and returns them."""
    found: list[dict[str, Any]] = []

    def check() -> bool:
        nonlocal found
        found = [d for d in deliveries(client, tenant, endpoint_id) if d["status"] == status]
        return len(found) >= count

    wait_until(check)
    return found


# --- endpoints API -------------------------------------------------------------------------


def test_endpoint_lifecycle(backend: Backend, client: httpx.Client, receiver: Receiver) -> None:
    tenant = create_tenant(backend)
    created = make_endpoint(
        client, tenant, receiver.url, description="CRM sync", eventTypes=["lead.created"]
    )
    assert created["id"].startswith("whep_")
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert created["eventTypes"] == ["lead.created"]
    assert created["enabled"] is True

    path = f"/api/v1/webhook-endpoints/{created['id']}"
    fetched = client.get(path, headers=tenant.headers)
    assert fetched.status_code == 200
    assert "secret" not in fetched.json()
    assert {k: v for k, v in created.items() if k != "secret"} == fetched.json()
    listed = client.get("/api/v1/webhook-endpoints", headers=tenant.headers).json()["data"]
    assert [e["id"] for e in listed] == [created["id"]]
    assert secret not in str(listed)

    patched = client.patch(
        path,
        json={"description": "All events", "eventTypes": None, "enabled": False},
        headers=tenant.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["eventTypes"] is None
    assert patched.json()["enabled"] is False
    assert patched.json()["disabledReason"] == "disabled by the tenant"
    again = client.patch(
        path, json={"enabled": True, "url": receiver.url + "2"}, headers=tenant.headers
    )
    assert again.json()["enabled"] is True
    assert again.json()["disabledReason"] is None
    assert again.json()["url"] == receiver.url + "2"

    assert client.delete(path, headers=tenant.headers).status_code == 204
    assert client.get(path, headers=tenant.headers).status_code == 404
    assert client.delete(path, headers=tenant.headers).status_code == 404
    actions = [
        e.action for e in fetch_audit(backend, tenant) if e.target_type == "webhook_endpoint"
    ]
    assert sorted(actions) == sorted(
        ["webhook_endpoint.created", "webhook_endpoint.updated", "webhook_endpoint.updated",
         "webhook_endpoint.deleted"]
    )  # fmt: skip
    assert secret not in str([(e.before, e.after) for e in fetch_audit(backend, tenant)])


def test_signing_secrets_are_encrypted_at_rest(
    backend: Backend, client: httpx.Client, receiver: Receiver
) -> None:
    from tests.factories import fetch_rows

    tenant = create_tenant(backend)
    endpoint = make_endpoint(client, tenant, receiver.url)
    [row] = fetch_rows(backend, WebhookEndpoint, tenant.id)
    assert endpoint["secret"] not in row.secret
    assert endpoint["secret"].removeprefix("whsec_") not in row.secret


def fetch_audit(backend: Backend, tenant: TenantInfo) -> list[AuditEvent]:
    from tests.factories import fetch_rows

    return fetch_rows(backend, AuditEvent, tenant.id)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/hook"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://user:pw@example.com/hook"}, "url"),
        ({"url": "https://example.com/hook", "eventTypes": ["lead.exploded"]}, "eventTypes"),
        ({"description": "no url"}, "url"),
        ({"url": "https://example.com/hook", "secret": "whsec_mine"}, "secret"),
    ],
)
def test_invalid_endpoints_are_refused(
    backend: Backend, client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    tenant = create_tenant(backend)
    response = client.post("/api/v1/webhook-endpoints", json=body, headers=tenant.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert field in [d["field"] for d in response.json()["details"]]
    assert count_rows(backend, WebhookEndpoint, tenant.id) == 0
    assert count_rows(backend, AuditEvent, tenant.id, target_type="webhook_endpoint") == 0


def test_invalid_patch_changes_nothing(
    backend: Backend, client: httpx.Client, receiver: Receiver
) -> None:
    tenant = create_tenant(backend)
    endpoint = make_endpoint(client, tenant, receiver.url)
    path = f"/api/v1/webhook-endpoints/{endpoint['id']}"
    for body in ({"url": "gopher://x"}, {"eventTypes": ["nope"]}, {"enabled": "maybe"}):
        response = client.patch(path, json=body, headers=tenant.headers)
        assert response.status_code == 400, body
    after = client.get(path, headers=tenant.headers).json()
    assert after == {k: v for k, v in endpoint.items() if k != "secret"}


def test_event_type_catalogue(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    response = client.get("/api/v1/event-types", headers=tenant.headers)
    assert response.status_code == 200
    catalogue = response.json()["data"]
    assert [t["type"] for t in catalogue] == list(EVENT_TYPES)
    assert set(EVENT_TYPES) == {
        "lead.created", "lead.updated", "lead.deleted", "api_key.created", "api_key.rolled",
        "api_key.revoked", "api_key.expiring", "team.created", "team.renamed", "team.deleted",
        "usage.threshold_reached", "person.erased", "webhook.test",
        "contact.created", "contact.updated", "contact.deleted", "lead.converted",
        "deal.created", "deal.updated", "deal.won", "deal.lost", "deal.deleted",
        "activity.created", "activity.updated", "automation.triggered",
    }  # fmt: skip
    for entry in catalogue:
        assert entry["description"]
        assert isinstance(entry["sample"], dict)
        assert entry["sample"]


# --- delivery ------------------------------------------------------------------------------


def test_lead_created_is_delivered_signed_to_subscribers_only(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    other = create_tenant(backend)
    with (
        running_receiver() as everything,
        running_receiver() as updates_only,
        running_receiver() as other_tenant,
    ):
        endpoint = make_endpoint(client, tenant, everything.url)
        filtered = make_endpoint(client, tenant, updates_only.url, eventTypes=["lead.updated"])
        make_endpoint(client, other, other_tenant.url)

        lead = create_lead(client, tenant)
        [request] = everything.wait_for(1)
        payloads = everything.verify_all(endpoint["secret"])
        assert payloads[0]["type"] == "lead.created"
        assert payloads[0]["data"] == lead
        assert payloads[0]["timestamp"].endswith("Z")
        assert request.headers["webhook-id"].startswith("evt_")
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"].startswith("leadgate-webhooks/")
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
        assert request.headers["webhook-signature"].startswith("v1,")
        with pytest.raises(WebhookVerificationError):
            Webhook(filtered["secret"]).verify(request.body, request.headers)

        [delivery] = settled(client, tenant, endpoint["id"], "succeeded")
        assert delivery["eventId"] == request.webhook_id
        assert delivery["eventType"] == "lead.created"
        assert delivery["trigger"] == "event"
        [attempt] = delivery["attemptLog"]
        assert attempt["statusCode"] == 200
        assert attempt["responseBody"] == "ok"
        assert attempt["latencyMs"] >= 0
        assert attempt["error"] is None
        # The fan-out made every delivery of the event at once: none for the filtered endpoint.
        assert deliveries(client, tenant, filtered["id"]) == []
        assert updates_only.received() == []
        assert other_tenant.received() == []


def test_five_failures_then_success_arrives_on_the_sixth_attempt(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)

    def fail_five(n: int, _request: Received) -> tuple[int, dict[str, str], bytes]:
        return (500, {}, b"down") if n < 5 else (200, {}, b"finally")

    with running_receiver(fail_five) as receiver:
        endpoint = make_endpoint(client, tenant, receiver.url)
        create_lead(client, tenant)
        requests = receiver.wait_for(6)
        [delivery] = settled(client, tenant, endpoint["id"], "succeeded")
        time.sleep(0.3)
        assert len(receiver.received()) == 6
    assert len({r.webhook_id for r in requests}) == 1
    assert len(receiver.verify_all(endpoint["secret"])) == 6
    assert delivery["attempts"] == 6
    log = delivery["attemptLog"]
    assert [a["attemptNumber"] for a in log] == [1, 2, 3, 4, 5, 6]
    assert [a["statusCode"] for a in log] == [500] * 5 + [200]
    assert [a["responseBody"] for a in log] == ["down"] * 5 + ["finally"]
    current = client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=tenant.headers)
    assert current.json()["failingSince"] is None


def test_always_failing_receiver_gets_exactly_six_attempts(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    with running_receiver(always(500, b"x" * 5000)) as receiver:
        endpoint = make_endpoint(client, tenant, receiver.url)
        create_lead(client, tenant)
        receiver.wait_for(6)
        [delivery] = settled(client, tenant, endpoint["id"], "failed")
        time.sleep(0.5)  # a seventh attempt would come within the 0.05 s schedule
        assert len(receiver.received()) == 6
    assert delivery["attempts"] == 6
    assert delivery["nextAttemptAt"] is None
    assert [len(a["responseBody"]) for a in delivery["attemptLog"]] == [2048] * 6
    assert count_rows(backend, WebhookAttempt, tenant.id) == 6
    current = client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=tenant.headers)
    assert current.json()["enabled"] is True
    assert current.json()["failingSince"] is not None


def test_retry_after_is_honoured_and_capped(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)

    def busy_once(n: int, _request: Received) -> tuple[int, dict[str, str], bytes]:
        return (429, {"Retry-After": "3600"}, b"slow down") if n == 0 else (200, {}, b"ok")

    with running_receiver(busy_once) as receiver:
        make_endpoint(client, tenant, receiver.url)
        create_lead(client, tenant)
        first, second = receiver.wait_for(2)
    # The schedule says 0.05 s; Retry-After says an hour, capped by the setting to 1.5 s.
    gap = second.at - first.at
    assert backend.settings.webhooks_retry_after_max_seconds == 1.5
    assert 1.4 <= gap < 10, gap


def test_gone_disables_the_endpoint(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    with running_receiver(always(410, b"gone")) as receiver:
        endpoint = make_endpoint(client, tenant, receiver.url)
        create_lead(client, tenant)
        receiver.wait_for(1)
        [delivery] = settled(client, tenant, endpoint["id"], "failed")
        assert delivery["attempts"] == 1
        current = client.get(f"/api/v1/webhook-endpoints/{endpoint['id']}", headers=tenant.headers)
        assert current.json()["enabled"] is False
        assert "410" in current.json()["disabledReason"]
        assert count_rows(backend, AuditEvent, tenant.id, action="webhook_endpoint.disabled") == 1
        create_lead(client, tenant)
        wait_until(lambda: count_rows(backend, Event, tenant.id, dispatched_at=None) == 0)
        time.sleep(0.2)
        assert len(receiver.received()) == 1


def test_endpoint_failing_for_the_whole_span_is_disabled_and_resumes_when_enabled(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    state = {"status": 500}

    def switchable(_n: int, _request: Received) -> tuple[int, dict[str, str], bytes]:
        return state["status"], {}, b""

    with running_receiver(switchable) as receiver:
        endpoint = make_endpoint(client, tenant, receiver.url)
        span = backend.settings.webhooks_disable_after_seconds
        update_row(
            backend,
            WebhookEndpoint,
            endpoint["id"],
            failing_since=utcnow() - timedelta(seconds=span + 60),
        )
        create_lead(client, tenant)
        receiver.wait_for(1)
        path = f"/api/v1/webhook-endpoints/{endpoint['id']}"
        wait_until(lambda: client.get(path, headers=tenant.headers).json()["enabled"] is False)
        [audit] = [
            e for e in fetch_audit(backend, tenant) if e.action == "webhook_endpoint.disabled"
        ]
        assert audit.target_id == endpoint["id"]
        assert audit.after is not None
        assert "every attempt failed" in audit.after["disabledReason"]
        time.sleep(0.3)
        assert len(receiver.received()) == 1  # a disabled endpoint's retries wait

        state["status"] = 200
        enabled = client.patch(path, json={"enabled": True}, headers=tenant.headers)
        assert enabled.json()["failingSince"] is None
        [delivery] = settled(client, tenant, endpoint["id"], "succeeded")
        assert [a["statusCode"] for a in delivery["attemptLog"]] == [500, 200]


def test_rotated_secret_signs_alongside_the_old_one_for_the_grace_period(
    backend: Backend, client: httpx.Client, receiver: Receiver
) -> None:
    tenant = create_tenant(backend)
    endpoint = make_endpoint(client, tenant, receiver.url)
    old_secret = endpoint["secret"]
    rotated = client.post(
        f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=tenant.headers
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != old_secret
    assert rotated.json()["previousSecretExpiresAt"].endswith("Z")

    create_lead(client, tenant)
    [request] = receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(new_secret).verify(request.body, request.headers)
    Webhook(old_secret).verify(request.body, request.headers)

    update_row(backend, WebhookEndpoint, endpoint["id"], previous_secret_expires_at=utcnow())
    create_lead(client, tenant)
    _, later = receiver.wait_for(2)
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    Webhook(new_secret).verify(later.body, later.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(later.body, later.headers)
    assert count_rows(backend, AuditEvent, tenant.id, action="webhook_endpoint.secret_rotated") == 1


def test_rolled_back_request_leaves_no_event(
    backend: Backend, client: httpx.Client, receiver: Receiver
) -> None:
    tenant = create_tenant(backend)
    make_endpoint(client, tenant, receiver.url)
    failed = client.post("/__test__/emit-then-fail", params={"tenant_id": tenant.id})
    assert failed.status_code == 409
    duplicate = unique_lead()
    assert client.post("/api/v1/leads", json=duplicate, headers=tenant.headers).status_code == 201
    assert client.post("/api/v1/leads", json=duplicate, headers=tenant.headers).status_code == 409
    receiver.wait_for(1)
    time.sleep(0.3)
    assert count_rows(backend, Event, tenant.id, type="lead.created") == 1
    [request] = receiver.received()
    assert request.json["data"]["id"] != "lead_rolled_back"


# --- tester, replay, inspection --------------------------------------------------------------


def test_tester_sends_a_signed_test_event_now(
    backend: Backend, client: httpx.Client, receiver: Receiver
) -> None:
    tenant = create_tenant(backend)
    endpoint = make_endpoint(client, tenant, receiver.url, eventTypes=["lead.created"])
    with running_receiver() as bystander:
        make_endpoint(client, tenant, bystander.url)
        response = client.post(
            f"/api/v1/webhook-endpoints/{endpoint['id']}/test", headers=tenant.headers
        )
        assert response.status_code == 200, response.text
        result = response.json()
        # Sent before the response: no waiting.
        [request] = receiver.received()
        time.sleep(0.3)
        assert bystander.received() == []
    assert result["success"] is True
    assert result["response"] == {
        "statusCode": 200, "body": "ok", "latencyMs": result["response"]["latencyMs"]
    }  # fmt: skip
    assert result["error"] is None
    assert result["request"]["url"] == receiver.url
    assert result["request"]["body"] == request.body.decode()
    assert result["request"]["headers"]["webhook-id"] == result["eventId"] == request.webhook_id
    payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "webhook.test"
    assert payload["data"]["endpointId"] == endpoint["id"]
    [delivery] = deliveries(client, tenant, endpoint["id"])
    assert delivery["trigger"] == "test"
    assert delivery["status"] == "succeeded"
    events = client.get("/api/v1/events", params={"type": "webhook.test"}, headers=tenant.headers)
    assert [e["id"] for e in events.json()["data"]] == [result["eventId"]]


def test_tester_sends_a_chosen_event_types_sample(
    backend: Backend, client: httpx.Client, receiver: Receiver
) -> None:
    tenant = create_tenant(backend)
    endpoint = make_endpoint(client, tenant, receiver.url)
    path = f"/api/v1/webhook-endpoints/{endpoint['id']}/test"
    events = count_rows(backend, Event, tenant.id)
    refused = client.post(path, params={"eventType": "lead.exploded"}, headers=tenant.headers)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"
    assert count_rows(backend, WebhookDelivery, tenant.id) == 0
    assert count_rows(backend, Event, tenant.id) == events

    response = client.post(path, params={"eventType": "lead.created"}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    [request] = receiver.wait_for(1)
    payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "lead.created"
    assert payload["data"]["email"] == "jane@example.com"  # the catalogue's sample
    [delivery] = deliveries(client, tenant, endpoint["id"])
    assert delivery["trigger"] == "test"
    assert delivery["eventType"] == "lead.created"


def test_tester_reports_failures_without_retrying(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    with running_receiver(always(500, b"e" * 3000)) as receiver:
        endpoint = make_endpoint(client, tenant, receiver.url)
        result = client.post(
            f"/api/v1/webhook-endpoints/{endpoint['id']}/test", headers=tenant.headers
        ).json()
        time.sleep(0.3)
        assert len(receiver.received()) == 1
    assert result["success"] is False
    assert result["response"]["statusCode"] == 500
    assert result["response"]["body"] == "e" * 2048
    [delivery] = deliveries(client, tenant, endpoint["id"])
    assert delivery["status"] == "failed"

    closed = Receiver()  # bound but never serving: connections are refused or hang
    url = closed.url
    closed.server.server_close()
    unreachable = make_endpoint(client, tenant, url)
    result = client.post(
        f"/api/v1/webhook-endpoints/{unreachable['id']}/test", headers=tenant.headers
    ).json()
    assert result["success"] is False
    assert result["response"]["statusCode"] is None
    assert result["error"]


def test_replay_sends_the_event_again_with_the_same_id(
    backend: Backend, client: httpx.Client, receiver: Receiver
) -> None:
    tenant = create_tenant(backend)
    endpoint = make_endpoint(client, tenant, receiver.url)
    create_lead(client, tenant)
    [first] = receiver.wait_for(1)
    event_id = first.webhook_id

    replayed = client.post(f"/api/v1/events/{event_id}/replay", headers=tenant.headers)
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["eventId"] == event_id
    assert len(replayed.json()["deliveries"]) == 1
    _, second = receiver.wait_for(2)
    assert second.webhook_id == event_id
    assert second.json == first.json
    receiver.verify_all(endpoint["secret"])
    found = settled(client, tenant, endpoint["id"], "succeeded", count=2)
    assert sorted(d["trigger"] for d in found) == ["event", "replay"]

    only = client.post(
        f"/api/v1/events/{event_id}/replay",
        json={"endpointId": endpoint["id"]},
        headers=tenant.headers,
    )
    assert only.status_code == 202
    receiver.wait_for(3)


def test_replay_errors_write_nothing(
    backend: Backend, client: httpx.Client, receiver: Receiver
) -> None:
    tenant = create_tenant(backend)
    other = create_tenant(backend)
    other_endpoint = make_endpoint(client, other, receiver.url)
    create_lead(client, tenant)  # no endpoint in this tenant
    [event] = client.get(
        "/api/v1/events", params={"type": "lead.created"}, headers=tenant.headers
    ).json()["data"]
    path = f"/api/v1/events/{event['id']}/replay"

    nothing_subscribed = client.post(path, headers=tenant.headers)
    assert nothing_subscribed.status_code == 400
    assert nothing_subscribed.json()["error"] == "invalid_request"
    foreign_endpoint = client.post(
        path, json={"endpointId": other_endpoint["id"]}, headers=tenant.headers
    )
    assert foreign_endpoint.status_code == 404
    foreign_event = client.post(path, headers=other.headers)
    assert foreign_event.status_code == 404
    assert foreign_event.json()["error"] == "not_found"
    assert count_rows(backend, WebhookDelivery, tenant.id) == 0
    assert count_rows(backend, WebhookDelivery, other.id) == 0


def test_events_list_pages_newest_first(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    leads = [create_lead(client, tenant) for _ in range(3)]
    only_leads: dict[str, str | int] = {"limit": 2, "type": "lead.created"}
    page = client.get("/api/v1/events", params=only_leads, headers=tenant.headers).json()
    assert page["hasMore"] is True
    assert [e["data"]["id"] for e in page["data"]] == [leads[2]["id"], leads[1]["id"]]
    assert all(e["type"] == "lead.created" for e in page["data"])
    rest = client.get(
        "/api/v1/events",
        params={**only_leads, "before": page["data"][-1]["id"]},
        headers=tenant.headers,
    ).json()
    assert rest["hasMore"] is False
    assert [e["data"]["id"] for e in rest["data"]] == [leads[0]["id"]]
    none = client.get("/api/v1/events", params={"type": "lead.deleted"}, headers=tenant.headers)
    assert none.json() == {"data": [], "hasMore": False}
    bad = client.get("/api/v1/events", params={"limit": 0}, headers=tenant.headers)
    assert bad.status_code == 400


def test_deliveries_page(backend: Backend, client: httpx.Client, receiver: Receiver) -> None:
    tenant = create_tenant(backend)
    endpoint = make_endpoint(client, tenant, receiver.url)
    for _ in range(3):
        create_lead(client, tenant)
    receiver.wait_for(3)
    path = f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries"
    page = client.get(path, params={"limit": 2}, headers=tenant.headers).json()
    assert page["hasMore"] is True
    assert len(page["data"]) == 2
    rest = client.get(
        path, params={"limit": 2, "before": page["data"][-1]["id"]}, headers=tenant.headers
    ).json()
    assert rest["hasMore"] is False
    assert len(rest["data"]) == 1
    other = create_tenant(backend)
    assert client.get(path, headers=other.headers).status_code == 404


# --- CLI -------------------------------------------------------------------------------------


def test_cli_lists_and_tests_endpoints(
    backend: Backend, client: httpx.Client, receiver: Receiver, cli: Cli
) -> None:
    import json

    tenant = create_tenant(backend)
    assert "(no webhook endpoints)" in cli("webhooks", "list", "--tenant", tenant.slug).stdout
    endpoint = make_endpoint(client, tenant, receiver.url, eventTypes=["lead.created"])
    listed = cli("webhooks", "list", "--tenant", tenant.slug, "--json")
    assert listed.exit_code == 0, listed.output
    assert [e["id"] for e in json.loads(listed.stdout)] == [endpoint["id"]]
    assert endpoint["secret"] not in listed.stdout
    text = cli("webhooks", "list", "--tenant", tenant.slug).stdout
    assert endpoint["id"] in text
    assert "lead.created" in text

    sent = cli("webhooks", "test", endpoint["id"])
    assert sent.exit_code == 0, sent.output
    assert "delivered: 200" in sent.stdout
    [request] = receiver.received()
    assert Webhook(endpoint["secret"]).verify(request.body, request.headers)["type"] == (
        "webhook.test"
    )
    as_json = json.loads(cli("webhooks", "test", endpoint["id"], "--json").stdout)
    assert as_json["success"] is True

    with running_receiver(always(503, b"maintenance")) as down:
        failing = make_endpoint(client, tenant, down.url)
        result = cli("webhooks", "test", failing["id"])
        assert result.exit_code == 1
        assert "FAILED: 503" in result.stdout
        assert "maintenance" in result.stdout

    missing = cli("webhooks", "test", "whep_nope")
    assert missing.exit_code == 1
    assert "no webhook endpoint whep_nope" in missing.output
    assert cli("webhooks", "list", "--tenant", "no-such-tenant").exit_code == 1


def test_endpoint_deleted_while_an_attempt_is_in_flight(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    with running_receiver(delay=0.5) as receiver:
        endpoint = make_endpoint(client, tenant, receiver.url)
        create_lead(client, tenant)
        receiver.wait_for(1)
        path = f"/api/v1/webhook-endpoints/{endpoint['id']}"
        assert client.delete(path, headers=tenant.headers).status_code == 204
        time.sleep(0.8)  # the attempt's response arrives; its delivery is gone
    assert count_rows(backend, WebhookDelivery, tenant.id) == 0
    assert count_rows(backend, WebhookAttempt, tenant.id) == 0
    # The worker carries on with other tenants' work.
    other = create_tenant(backend)
    with running_receiver() as next_receiver:
        make_endpoint(client, other, next_receiver.url)
        create_lead(client, other)
        next_receiver.wait_for(1)


def test_openapi_documents_the_webhook_routes(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/api/v1/webhook-endpoints"]) == {"get", "post"}
    assert set(paths["/api/v1/webhook-endpoints/{endpoint_id}"]) == {"get", "patch", "delete"}
    for path in (
        "/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
        "/api/v1/webhook-endpoints/{endpoint_id}/test",
        "/api/v1/events/{event_id}/replay",
    ):
        assert "post" in paths[path]
    for path in ("/api/v1/event-types", "/api/v1/events"):
        assert "get" in paths[path]
    assert "/api/webhook-endpoints" not in paths


def test_endpoint_writes_accept_the_key_in_the_body(
    backend: Backend, client: httpx.Client, receiver: Receiver
) -> None:
    """PRODUCT.md §2: a JSON body's `api_key` authenticates every route, webhooks included."""
    tenant = create_tenant(backend)
    created = client.post(
        "/api/v1/webhook-endpoints", json={"url": receiver.url, "api_key": tenant.key}
    )
    assert created.status_code == 201, created.text
    assert "api_key" not in created.json()
    endpoint_id = created.json()["id"]
    changed = client.patch(
        f"/api/v1/webhook-endpoints/{endpoint_id}",
        json={"description": "via body key", "api_key": tenant.key},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["description"] == "via body key"
    unknown = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": receiver.url, "api_key": tenant.key, "colour": "red"},
    )
    assert unknown.status_code == 400
    assert unknown.json()["details"][0]["field"] == "colour"
    assert count_rows(backend, WebhookEndpoint, tenant.id) == 1
