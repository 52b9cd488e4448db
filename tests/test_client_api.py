"""`leadgate.client.Client` for API keys, the audit log, webhooks and usage, end to end against
the running server (and a real local receiver for webhooks)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from leadgate.api_keys.schemas import ApiKeyCreated, ApiKeySelf
from leadgate.client import (
    AuthenticationError,
    Client,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from leadgate.models import ApiKey, Lead, WebhookDelivery, WebhookEndpoint
from leadgate.webhooks.schemas import EndpointWithSecret
from tests.conftest import Backend
from tests.factories import count_rows, create_api_key, create_tenant, unique_lead
from tests.receiver import running_receiver

T = TypeVar("T")


def eventually(probe: Callable[[], T], timeout: float = 30.0) -> T:
    """Calls `probe` until it stops raising AssertionError (or time runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def rejected(client: Client) -> AuthenticationError:
    """The 401 a revoked or rolled-over key gets (revocation reaches every server within 1 s)."""

    def probe() -> AuthenticationError:
        try:
            client.list_tags()
        except AuthenticationError as error:
            return error
        raise AssertionError("the key is still accepted")

    return eventually(probe)


def test_client_api_keys_lifecycle(backend: Backend) -> None:
    tenant = create_tenant(backend)
    other = create_tenant(backend)
    with Client(tenant.key, backend.url) as admin:
        created = admin.create_api_key("ci", ["leads:read"], expiration_in_days=30)
        assert isinstance(created, ApiKeyCreated)
        assert created.api_key.startswith("lg_")
        assert created.status == "active"
        assert created.permissions == ["leads:read"]
        assert created.expiration_date is not None
        assert created.id in [key.id for key in admin.list_api_keys()]
        assert admin.get_api_key(created.id).name == "ci"

        with Client(created.api_key, backend.url) as ci:
            own = ci.get_own_api_key()
            assert isinstance(own, ApiKeySelf)
            assert own.id == created.id
            assert ci.list_leads().data == []
            keys_before = count_rows(backend, ApiKey, tenant.id)
            with pytest.raises(PermissionDeniedError) as denied:
                ci.create_api_key("escalate", ["keys:write"])
            assert denied.value.status_code == 403
            assert denied.value.error == "insufficient_scope"
            assert denied.value.body["requiredScope"] == "keys:write"
            assert count_rows(backend, ApiKey, tenant.id) == keys_before
            with pytest.raises(PermissionDeniedError) as denied_read:
                ci.list_api_keys()
            assert denied_read.value.error == "insufficient_scope"

        updated = admin.update_api_key(created.id, name="ci-2", permissions=["tags:read"])
        assert (updated.name, updated.permissions) == ("ci-2", ["tags:read"])

        rolled = admin.roll_api_key(created.id, grace_period_minutes=0)
        assert rolled.id == created.id
        assert rolled.api_key != created.api_key
        with Client(created.api_key, backend.url, max_retries=0) as old:
            assert rejected(old).error
        with Client(rolled.api_key, backend.url) as new:
            assert new.list_tags() == []

        revoked = admin.revoke_api_key(created.id)
        assert revoked.status == "revoked"
        assert revoked.revoked_at is not None
        assert admin.revoke_api_key(created.id).status == "revoked"  # repeatable
        with Client(rolled.api_key, backend.url, max_retries=0) as new:
            assert rejected(new).status_code == 401

        actions = [event.action for event in admin.list_audit_events(api_key_id=created.id)]
        assert actions[0] == "api_key.revoked"
        assert {"api_key.created", "api_key.rolled", "api_key.scopes_changed"} <= set(actions)
        assert len(admin.list_audit_events(limit=1)) == 1

        with pytest.raises(NotFoundError) as missing:
            admin.get_api_key(other.key_id)  # another tenant's key is not there
        assert missing.value.error == "not_found"
        keys_before = count_rows(backend, ApiKey, tenant.id)
        with pytest.raises(InvalidRequestError) as invalid:
            admin.create_api_key("bad", ["no:such-scope"])
        assert invalid.value.status_code in (400, 422)
        assert invalid.value.error
        assert count_rows(backend, ApiKey, tenant.id) == keys_before
    with Client(other.key, backend.url) as theirs:
        assert created.id not in [key.id for key in theirs.list_api_keys()]


def test_client_webhooks_with_a_real_receiver(backend: Backend) -> None:
    tenant = create_tenant(backend)
    reader = create_api_key(backend, tenant, ["webhooks:read"])
    with running_receiver() as receiver, Client(tenant.key, backend.url) as leadgate:
        endpoint = leadgate.create_webhook_endpoint(
            receiver.url, description="crm", event_types=["lead.created"]
        )
        assert isinstance(endpoint, EndpointWithSecret)
        assert endpoint.secret.startswith("whsec_")
        assert endpoint.event_types == ["lead.created"]
        assert [e.id for e in leadgate.list_webhook_endpoints()] == [endpoint.id]
        assert leadgate.get_webhook_endpoint(endpoint.id).url == receiver.url

        tested = leadgate.test_webhook_endpoint(endpoint.id)
        assert tested.success is True
        assert tested.response.status_code == 200
        assert tested.request.url == receiver.url
        assert receiver.wait_for(1)[0].json["type"] == "webhook.test"

        lead = leadgate.create_lead(unique_lead())
        delivered = receiver.wait_for(2)
        assert delivered[1].json["type"] == "lead.created"
        assert delivered[1].json["data"]["id"] == lead.id
        events = leadgate.list_events(event_type="lead.created")
        assert [e.type for e in events.data] == ["lead.created"]
        assert events.has_more is False

        replay = leadgate.replay_event(events.data[0].id)
        assert replay.event_id == events.data[0].id
        assert len(replay.deliveries) == 1
        delivered = receiver.wait_for(3)
        assert delivered[2].webhook_id == delivered[1].webhook_id
        assert len(receiver.verify_all(endpoint.secret)) == 3
        only_this = leadgate.replay_event(events.data[0].id, endpoint_id=endpoint.id)
        assert len(only_this.deliveries) == 1
        receiver.wait_for(4)

        def settled() -> list[str]:
            deliveries = leadgate.list_webhook_deliveries(endpoint.id, limit=10)
            assert {d.status for d in deliveries.data} == {"succeeded"}, deliveries
            return sorted(d.trigger for d in deliveries.data)

        assert eventually(settled) == ["event", "replay", "replay", "test"]
        page = leadgate.list_webhook_deliveries(endpoint.id, limit=1)
        assert page.has_more is True
        assert page.data[0].attempt_log[0].status_code == 200

        rotated = leadgate.rotate_webhook_secret(endpoint.id)
        assert rotated.id == endpoint.id
        assert rotated.secret.startswith("whsec_")
        assert rotated.secret != endpoint.secret
        assert leadgate.test_webhook_endpoint(endpoint.id).success is True
        delivered = receiver.wait_for(5)
        assert delivered[4].json["type"] == "webhook.test"

        assert "lead.created" in [t.type for t in leadgate.list_event_types()]
        paused = leadgate.update_webhook_endpoint(endpoint.id, enabled=False, description="off")
        assert (paused.enabled, paused.description) == (False, "off")

        with Client(reader.key, backend.url) as read_only:
            assert [e.id for e in read_only.list_webhook_endpoints()] == [endpoint.id]
            with pytest.raises(PermissionDeniedError) as denied:
                read_only.create_webhook_endpoint(receiver.url)
            assert denied.value.error == "insufficient_scope"
            assert denied.value.body["requiredScope"] == "webhooks:write"
            with pytest.raises(PermissionDeniedError):
                read_only.replay_event(events.data[0].id)
        assert count_rows(backend, WebhookEndpoint, tenant.id) == 1
        deliveries_before = count_rows(backend, WebhookDelivery, tenant.id)
        with pytest.raises(NotFoundError):
            leadgate.replay_event("evt_missing")
        with pytest.raises(InvalidRequestError):
            leadgate.create_webhook_endpoint("not a url")
        assert count_rows(backend, WebhookEndpoint, tenant.id) == 1
        assert count_rows(backend, WebhookDelivery, tenant.id) == deliveries_before

        leadgate.delete_webhook_endpoint(endpoint.id)
        with pytest.raises(NotFoundError) as gone:
            leadgate.get_webhook_endpoint(endpoint.id)
        assert gone.value.error == "not_found"
        with pytest.raises(NotFoundError):
            leadgate.delete_webhook_endpoint(endpoint.id)
    assert count_rows(backend, WebhookEndpoint, tenant.id) == 0


def test_client_usage_and_notices(backend: Backend) -> None:
    tenant = create_tenant(backend)
    counted = create_api_key(backend, tenant, ["leads:write", "usage:read"], monthly_quota=5)
    reader = create_api_key(backend, tenant, ["usage:read"])
    writer = create_api_key(backend, tenant, ["leads:write"])
    with Client(counted.key, backend.url) as leadgate:
        for _ in range(4):
            leadgate.create_lead(unique_lead())
    with Client(reader.key, backend.url) as usage:

        def flushed() -> list[str]:
            report = usage.get_usage(key_id=counted.id)
            assert sum(point.total for point in report.hourly) == 4, report.hourly
            return [f"{e.method} {e.route}" for e in report.top_endpoints]

        assert eventually(flushed) == ["POST /api/v1/leads"]
        report = usage.get_usage(key_id=counted.id)
        assert report.key_id == counted.id
        assert sum(point.success for point in report.daily) == 4
        assert report.current_hour.total in (0, 4)  # 0 only if the hour turned since
        assert sum(point.total for point in usage.get_usage().daily) >= 4

        def noticed() -> list[str]:
            notices = usage.list_usage_notices(key_id=counted.id)
            assert notices, "no notice yet"
            return [n.kind for n in notices]

        assert eventually(noticed) == ["monthly_quota"]
    # The 6th request is over the quota: raised at once (no retry can help until next month).
    waits: list[float] = []
    with Client(counted.key, backend.url, sleep=waits.append) as leadgate:
        leadgate.create_lead(unique_lead())
        with pytest.raises(RateLimitedError) as over:
            leadgate.create_lead(unique_lead())
    assert over.value.error == "quota_exceeded"
    assert waits == []
    assert count_rows(backend, Lead, tenant.id) == 5
    with Client(writer.key, backend.url) as no_scope:
        with pytest.raises(PermissionDeniedError) as denied:
            no_scope.get_usage()
        assert denied.value.error == "insufficient_scope"
        with pytest.raises(PermissionDeniedError):
            no_scope.list_usage_notices()
