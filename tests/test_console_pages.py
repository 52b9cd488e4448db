"""The console's working pages over HTTP: key edit and roll, usage, leads, tags, webhooks.

Every action: CSRF enforced, members kept from owner-only actions where it matters, and nothing
written when a form is refused.
"""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.models import (
    ApiKey,
    ApiKeySecret,
    AuditEvent,
    Event,
    Lead,
    Notice,
    Tag,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.conftest import Backend
from tests.console_helpers import (
    Account,
    ConsoleClient,
    generate_key,
    invite,
    join,
    key_from_page,
    sign_up,
    tenant_id_of,
)
from tests.factories import count_rows, eventually_status, unique_lead
from tests.receiver import always, running_receiver


@pytest.fixture(autouse=True)
def _close_browsers() -> Iterator[None]:
    yield
    ConsoleClient.close_all()


def _key_id(browser: ConsoleClient, name: str) -> str:
    page = browser.get("/console/settings/api-keys")
    match = re.search(
        rf'data-key-id="(key_[0-9a-z]+)">\s*<td data-label="Name"><strong>{name}<', page.text
    )
    assert match is not None, page.text[:3000]
    return match.group(1)


def _owner_with_key(backend: Backend, scopes: list[str] | None = None) -> tuple[Account, str, str]:
    account = sign_up(backend)
    name = f"key-{uuid.uuid4().hex[:6]}"
    created = generate_key(
        account.client, name=name, scopes=scopes or ["leads:write", "leads:read"]
    )
    assert created.status_code == 201
    return account, key_from_page(created.text), _key_id(account.client, name)


def _member_of(backend: Backend, owner: Account) -> ConsoleClient:
    browser, _email = join(backend, invite(owner.client, "member"))
    return browser


# --- API Access: edit ------------------------------------------------------------------------


def test_owner_edits_name_scopes_and_rate_limit(backend: Backend) -> None:
    account, _key, key_id = _owner_with_key(backend)
    browser = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    page = browser.get(f"/console/settings/api-keys/{key_id}/edit")
    assert page.status_code == 200
    assert 'name="rate_limit"' in page.text

    data = {"name": "Renamed", "scopes": ["leads:read", "usage:read"], "rate_limit": "42"}
    response = browser.post(f"/console/settings/api-keys/{key_id}/edit", data)
    assert response.status_code == 303
    listing = browser.follow(response).text
    assert "Renamed" in listing
    assert "42/min" in listing
    assert "usage:read" in listing
    assert count_rows(backend, AuditEvent, tenant_id, target_id=key_id) == 2  # created, changed

    # Clearing the limit goes back to the default.
    data = {"name": "Renamed", "scopes": ["leads:read"], "rate_limit": ""}
    assert browser.post(f"/console/settings/api-keys/{key_id}/edit", data).status_code == 303
    assert count_rows(backend, ApiKey, tenant_id, id=key_id, rate_limit_per_minute=None) == 1


def test_edit_refusals_write_nothing(backend: Backend) -> None:
    account, _key, key_id = _owner_with_key(backend)
    owner = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    other = generate_key(owner, name="Taken name")
    assert other.status_code == 201
    audits = count_rows(backend, AuditEvent, tenant_id)
    path = f"/console/settings/api-keys/{key_id}/edit"
    owner.get(path)

    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"name": "", "scopes": ["leads:read"]}, 400, "Give the key a name"),
        ({"name": "x", "scopes": []}, 400, "at least one permission"),
        ({"name": "x", "scopes": ["leads:fly"]}, 400, "Unknown permission"),
        ({"name": "x", "scopes": ["leads:read"], "rate_limit": "many"}, 400, "whole number"),
        ({"name": "Taken name", "scopes": ["leads:read"]}, 409, "already exists"),
    ]
    for data, status, message in cases:
        response = owner.post(path, data)
        assert response.status_code == status, (data, response.text[:500])
        assert message in response.text
    # No CSRF token: refused before the handler runs.
    response = owner.post(path, {"name": "Sneaky", "scopes": ["leads:read"]}, csrf=False)
    assert response.status_code == 403
    assert "Form expired" in response.text
    assert count_rows(backend, AuditEvent, tenant_id) == audits
    assert count_rows(backend, ApiKey, tenant_id, name="Sneaky") == 0
    # Another workspace's key is not found.
    stranger = sign_up(backend).client
    stranger.get("/console/settings/api-keys")
    assert stranger.post(path, {"name": "x", "scopes": ["leads:read"]}).status_code == 404


def test_member_edits_but_cannot_change_the_rate_limit(backend: Backend) -> None:
    account, _key, key_id = _owner_with_key(backend)
    tenant_id = tenant_id_of(backend, account.slug)
    member = _member_of(backend, account)
    path = f"/console/settings/api-keys/{key_id}/edit"
    page = member.get(path)
    assert page.status_code == 200
    assert 'name="rate_limit"' not in page.text
    audits = count_rows(backend, AuditEvent, tenant_id)

    forged = {"name": "Member rename", "scopes": ["leads:write"], "rate_limit": "5"}
    response = member.post(path, forged)
    assert response.status_code == 403
    assert "limit" in response.text
    assert count_rows(backend, AuditEvent, tenant_id) == audits
    assert count_rows(backend, ApiKey, tenant_id, name="Member rename") == 0

    response = member.post(path, {"name": "Member rename", "scopes": ["leads:write"]})
    assert response.status_code == 303
    assert count_rows(backend, ApiKey, tenant_id, name="Member rename") == 1


# --- API Access: roll ------------------------------------------------------------------------


def test_roll_shows_the_new_key_once_and_ends_the_old_one(backend: Backend) -> None:
    account, old_key, key_id = _owner_with_key(backend)
    browser = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    page = browser.get(f"/console/settings/api-keys/{key_id}/roll")
    assert page.status_code == 200
    for minutes in ("0", "60", "1440", "10080"):
        assert f'value="{minutes}"' in page.text

    response = browser.post(f"/console/settings/api-keys/{key_id}/roll", {"grace_period": "0"})
    assert response.status_code == 201
    assert "Your rolled API key" in response.text
    assert "It will not be shown again" in response.text
    new_key = key_from_page(response.text)
    assert new_key != old_key
    assert count_rows(backend, AuditEvent, tenant_id, action="api_key.rolled") == 1
    with httpx.Client(base_url=backend.url, timeout=30) as http:
        made = http.post("/api/v1/leads", json=unique_lead(), headers={"X-API-Key": new_key})
        assert made.status_code == 201
        old = eventually_status(
            lambda: http.post("/api/v1/leads", json=unique_lead(), headers={"X-API-Key": old_key}),
            401,
        )
        assert old is not None
    # The listing never shows the secret again.
    assert new_key not in browser.get("/console/settings/api-keys").text


def test_roll_refusals_write_nothing(backend: Backend) -> None:
    account, _key, key_id = _owner_with_key(backend)
    browser = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    path = f"/console/settings/api-keys/{key_id}/roll"
    browser.get(path)
    secrets = count_rows(backend, ApiKeySecret, tenant_id)
    response = browser.post(path, {"grace_period": "5"})
    assert response.status_code == 400
    assert "grace period" in response.text
    assert browser.post(path, {"grace_period": "0"}, csrf=False).status_code == 403
    assert count_rows(backend, ApiKeySecret, tenant_id) == secrets
    assert count_rows(backend, AuditEvent, tenant_id, action="api_key.rolled") == 0
    # A revoked key cannot be rolled.
    browser.post(f"/console/settings/api-keys/{key_id}/revoke", {})
    assert browser.post(path, {"grace_period": "0"}).status_code == 409
    assert count_rows(backend, ApiKeySecret, tenant_id) == secrets


# --- usage -----------------------------------------------------------------------------------


def _wait_for_usage(browser: ConsoleClient, path: str, pattern: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        page = browser.get(path)
        assert page.status_code == 200
        if re.search(pattern, page.text) or time.monotonic() > deadline:
            return page.text
        time.sleep(0.1)


def test_usage_page_for_the_tenant_and_one_key(backend: Backend) -> None:
    account, key, key_id = _owner_with_key(backend)
    browser = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    _other, other_key, other_id = _owner_with_key(backend)  # another workspace's traffic
    with httpx.Client(base_url=backend.url, timeout=30) as http:
        for _ in range(3):
            assert http.post(
                "/api/v1/leads", json=unique_lead(), headers={"X-API-Key": key}
            ).is_success
        assert http.get("/api/v1/leads/lead_nope", headers={"X-API-Key": key}).status_code == 404
        assert http.get("/api/v1/usage", headers={"X-API-Key": key}).status_code == 403
        http.post("/api/v1/leads", json=unique_lead(), headers={"X-API-Key": other_key})

    hour = r'data-stat="hour"><span class="label">This hour</span><strong>5</strong>'
    text = _wait_for_usage(browser, "/console/usage", hour)
    assert re.search(hour, text), text[:4000]
    assert "3 ok · 2 4xx · 0 429 · 0 5xx" in text
    assert "<svg" in text
    assert 'class="ok"' in text
    assert "Requests per hour, last 7 days" in text
    assert "Requests per day, last 90 days" in text
    assert "POST /api/v1/leads" in text
    assert "GET /api/v1/leads/{lead_id}" in text

    # One key's figures; another workspace's key is not there.
    per_key = browser.get(f"/console/usage?key={key_id}")
    assert per_key.status_code == 200
    assert "Usage of “" in per_key.text
    assert browser.get(f"/console/usage?key={other_id}").status_code == 400

    # The threshold notices of the rate-limit issue are listed.
    async def notice(session: AsyncSession) -> None:
        from leadgate.usage.service import record_threshold_reached

        await record_threshold_reached(
            session, tenant_id, key_id=key_id, key_name="the key", kind="monthly_quota",
            period="2026-11", used=80, limit=100, threshold=0.8,
        )  # fmt: skip

    backend.transaction(notice)
    assert count_rows(backend, Notice, tenant_id) == 1
    page = browser.get("/console/usage").text
    assert "has used 80 of its monthly quota of 100" in page
    assert 'data-notice="unread"' in page
    # Marking read: CSRF enforced, another tenant's key refused, then done.
    assert browser.post("/console/usage/notices/read", {}, csrf=False).status_code == 403
    assert browser.post(f"/console/usage/notices/read?key={other_id}", {}).status_code == 400
    assert count_rows(backend, Notice, tenant_id, read_at=None) == 1
    response = browser.post(f"/console/usage/notices/read?key={key_id}", {})
    assert response.status_code == 303
    assert count_rows(backend, Notice, tenant_id, read_at=None) == 0
    page = browser.follow(response).text
    assert 'data-notice="read"' in page
    assert "Mark all read" not in page


# --- leads -----------------------------------------------------------------------------------


def _create_leads(key: str, backend: Backend, leads: list[dict[str, Any]]) -> list[str]:
    with httpx.Client(base_url=backend.url, timeout=30) as http:
        response = http.post(
            "/api/v1/leads/batch", json={"leads": leads}, headers={"X-API-Key": key}
        )
        assert response.status_code == 207, response.text
        results = response.json()["results"]
        assert [item["status"] for item in results] == ["created"] * len(leads), results
        return [item["lead"]["id"] for item in response.json()["results"]]


def test_leads_table_search_filters_pages_and_export(backend: Backend) -> None:
    account, key, _key_id = _owner_with_key(backend, ["leads:write", "tags:write"])
    browser = account.client
    ids = _create_leads(
        key, backend, [unique_lead(source="website") for _ in range(26)] + [
            unique_lead(firstName="Zelda", email="zelda@findme.example.com", source="expo",
                        tags=["vip"]),
        ],
    )  # fmt: skip
    zelda = ids[-1]
    page = browser.get("/console/leads")
    assert page.status_code == 200
    assert page.text.count('data-lead-id="') == 25
    assert zelda in page.text  # newest first
    next_link = re.search(r'href="/console/leads(\?[^"]*cursor=[^"]+)"', page.text)
    assert next_link is not None
    second = browser.get("/console/leads" + next_link.group(1).replace("&amp;", "&"))
    assert second.text.count('data-lead-id="') == 2
    assert ids[0] in second.text

    assert browser.get("/console/leads?q=findme").text.count('data-lead-id="') == 1
    assert browser.get("/console/leads?source=expo").text.count('data-lead-id="') == 1
    assert browser.get("/console/leads?tag=vip").text.count('data-lead-id="') == 1
    assert browser.get("/console/leads?status=converted").text.count('data-lead-id="') == 0
    assert browser.get("/console/leads?status=new").text.count('data-lead-id="') == 25
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert browser.get(f"/console/leads?from={today}&to={today}").text.count('data-lead-id="') == 25
    assert browser.get("/console/leads?to=2000-01-01").text.count('data-lead-id="') == 0
    assert browser.get("/console/leads?from=yesterday").status_code == 400
    assert browser.get("/console/leads?status=sideways").status_code == 400

    export = browser.get("/console/leads/export.csv?source=expo")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [row["email"] for row in rows] == ["zelda@findme.example.com"]
    assert (
        len(list(csv.DictReader(io.StringIO(browser.get("/console/leads/export.csv").text)))) == 27
    )

    # Another workspace sees none of them.
    stranger = sign_up(backend).client
    assert 'data-lead-id="' not in stranger.get("/console/leads").text
    assert stranger.get(f"/console/leads/{zelda}").status_code == 404


def test_lead_detail_status_tags_and_history(backend: Backend) -> None:
    account, key, _key_id = _owner_with_key(backend)
    browser = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    (lead_id,) = _create_leads(key, backend, [unique_lead(company="Hopper Legal")])
    page = browser.get(f"/console/leads/{lead_id}")
    assert page.status_code == 200
    assert "Hopper Legal" in page.text
    assert 'data-event-type="lead.created"' in page.text
    assert "api key" in page.text  # who/what created it
    for allowed in ("contacted", "qualified", "converted", "lost"):
        assert f'<option value="{allowed}">' in page.text

    response = browser.post(f"/console/leads/{lead_id}/status", {"status": "qualified"})
    assert response.status_code == 303
    assert count_rows(backend, Lead, tenant_id, id=lead_id, status="qualified") == 1
    response = browser.post(f"/console/leads/{lead_id}/tags", {"tags": "vip, follow up"})
    assert response.status_code == 303
    detail = browser.follow(response).text
    assert detail.count('data-event-type="lead.updated"') == 2
    assert "new → qualified" in detail
    assert "vip" in detail
    assert "follow up" in detail

    events = count_rows(backend, Event, tenant_id)
    # Not an allowed transition (qualified → new): 409, nothing written.
    response = browser.post(f"/console/leads/{lead_id}/status", {"status": "new"})
    assert response.status_code == 409
    assert "cannot become new" in response.text
    response = browser.post(f"/console/leads/{lead_id}/tags", {"tags": "x" * 61})
    assert response.status_code == 400
    assert (
        browser.post(f"/console/leads/{lead_id}/status", {"status": "lost"}, csrf=False).status_code
        == 403
    )
    assert browser.post("/console/leads/lead_nope/status", {"status": "lost"}).status_code == 404
    assert count_rows(backend, Lead, tenant_id, id=lead_id, status="qualified") == 1
    assert count_rows(backend, Event, tenant_id) == events
    assert count_rows(backend, Tag, tenant_id) == 2

    # A member works on leads too.
    member = _member_of(backend, account)
    member.get(f"/console/leads/{lead_id}")
    assert (
        member.post(f"/console/leads/{lead_id}/status", {"status": "converted"}).status_code == 303
    )
    assert "is done" in member.get(f"/console/leads/{lead_id}").text


# --- tags ------------------------------------------------------------------------------------


def test_tags_create_rename_recolor_delete(backend: Backend) -> None:
    account = sign_up(backend)
    browser = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    browser.get("/console/tags")
    assert browser.post("/console/tags", {"name": "Hot", "color": "#FF0000"}).status_code == 303
    page = browser.get("/console/tags")
    tag_id = re.search(r'data-tag-id="(tag_[0-9a-z]+)"', page.text)
    assert tag_id is not None
    assert 'fill="#ff0000"' in page.text

    for data, status in [
        ({"name": "hot", "color": ""}, 409),
        ({"name": "", "color": ""}, 400),
        ({"name": "Warm", "color": "red"}, 400),
    ]:
        response = browser.post("/console/tags", data)
        assert response.status_code == status, response.text[:500]
    assert browser.post("/console/tags", {"name": "Cold"}, csrf=False).status_code == 403
    assert count_rows(backend, Tag, tenant_id) == 1

    path = f"/console/tags/{tag_id.group(1)}"
    assert browser.post(path, {"name": "Very hot", "color": "#00aa00"}).status_code == 303
    assert count_rows(backend, Tag, tenant_id, name="Very hot", color="#00aa00") == 1
    assert browser.post("/console/tags", {"name": "Other"}).status_code == 303
    assert (
        browser.post(path, {"name": "Very hot", "color": "#00aa00", "no_color": "on"}).status_code
        == 303
    )
    assert count_rows(backend, Tag, tenant_id, name="Very hot", color=None) == 1
    assert browser.post(path, {"name": "other", "color": ""}).status_code == 409
    assert count_rows(backend, Tag, tenant_id, name="Very hot") == 1
    assert browser.post(path + "/delete", {}, csrf=False).status_code == 403
    assert browser.post(path + "/delete", {}).status_code == 303
    assert count_rows(backend, Tag, tenant_id) == 1
    assert browser.post(path + "/delete", {}).status_code == 404


# --- webhooks --------------------------------------------------------------------------------


def _endpoint_id(page: str) -> str:
    match = re.search(r'href="/console/webhooks/(whep_[0-9a-z]+)"', page)
    assert match is not None, page[:3000]
    return match.group(1)


def test_webhook_endpoints_tester_deliveries_and_replay(backend: Backend) -> None:
    account, key, _key_id = _owner_with_key(backend)
    owner = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    with running_receiver(always(202, b'{"received": true}')) as receiver:
        owner.get("/console/webhooks")
        data = {"url": receiver.url, "description": "CRM", "event_types": ["lead.created"]}
        created = owner.post("/console/webhooks", data)
        assert created.status_code == 201
        secret = re.search(
            r'id="signing-secret" class="mono" readonly value="(whsec_[^"]+)"', created.text
        )
        assert secret is not None
        endpoint_id = _endpoint_id(created.text)
        assert secret.group(1) not in owner.get("/console/webhooks").text

        # The tester sends the chosen type's sample and shows both sides.
        path = f"/console/webhooks/{endpoint_id}"
        owner.get(path)
        sent = owner.post(path + "/test", {"event_type": "lead.created"})
        assert sent.status_code == 303  # post/redirect/get: a reload shows the same result
        assert sent.headers["location"].startswith(f"{path}?tested=whd_")
        tested = owner.follow(sent)
        assert tested.status_code == 200
        assert 'data-tester-result="ok"' in tested.text
        assert "webhook-signature" in tested.text
        assert "jane@example.com" in tested.text
        assert "{&#34;received&#34;: true}" in tested.text
        assert '<option value="lead.created" selected>' in tested.text
        (request,) = receiver.wait_for(1)
        assert request.json["type"] == "lead.created"
        assert request.json["data"]["email"] == "jane@example.com"
        # The request shown is the one sent, signature included.
        assert request.headers["webhook-signature"] in tested.text
        assert owner.get(sent.headers["location"]).text.count("webhook-signature") == 1
        receiver.verify_all(secret.group(1))
        assert owner.post(path + "/test", {"event_type": "nope"}).status_code == 400

        # A real event is delivered by the worker; its delivery is listed and can be replayed.
        _create_leads(key, backend, [unique_lead()])
        receiver.wait_for(2)
        deadline = time.monotonic() + 30
        while "succeeded" not in (page := owner.get(path).text).split("<h2>Deliveries")[1]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        event_id = re.search(r'name="event_id" value="(evt_[0-9a-z]+)"', page)
        assert event_id is not None
        assert "202" in page
        replay = owner.post(path + "/replay", {"event_id": event_id.group(1)})
        assert replay.status_code == 303
        assert count_rows(backend, WebhookDelivery, tenant_id, event_id=event_id.group(1)) == 2
        receiver.wait_for(3)

        # Edit, disable, enable, rotate.
        owner.get(path)
        edited = owner.post(path, {"url": receiver.url, "description": "CRM v2", "event_types": []})
        assert edited.status_code == 303
        assert count_rows(backend, WebhookEndpoint, tenant_id, description="CRM v2") == 1
        assert owner.post(path + "/enabled", {"enabled": "false"}).status_code == 303
        assert count_rows(backend, WebhookEndpoint, tenant_id, enabled=False) == 1
        assert owner.post(path + "/enabled", {"enabled": "true"}).status_code == 303
        assert count_rows(backend, WebhookEndpoint, tenant_id, enabled=True) == 1
        rotated = owner.post(path + "/rotate", {})
        assert rotated.status_code == 200
        new_secret = re.search(r'value="(whsec_[^"]+)"', rotated.text)
        assert new_secret is not None
        assert new_secret.group(1) != secret.group(1)
        assert "previous secret also signs deliveries until" in rotated.text


def test_webhook_refusals_and_members(backend: Backend) -> None:
    account = sign_up(backend)
    owner = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    owner.get("/console/webhooks")
    bad = owner.post("/console/webhooks", {"url": "ftp://example.com/x"})
    assert bad.status_code == 400
    assert (
        owner.post(
            "/console/webhooks", {"url": "https://example.com/x", "event_types": ["x.y"]}
        ).status_code
        == 400
    )
    assert (
        owner.post("/console/webhooks", {"url": "https://example.com/x"}, csrf=False).status_code
        == 403
    )
    assert count_rows(backend, WebhookEndpoint, tenant_id) == 0
    assert count_rows(backend, AuditEvent, tenant_id, target_type="webhook_endpoint") == 0

    created = owner.post("/console/webhooks", {"url": "https://example.com/hook"})
    assert created.status_code == 201
    endpoint_id = _endpoint_id(created.text)
    path = f"/console/webhooks/{endpoint_id}"
    audits = count_rows(backend, AuditEvent, tenant_id)
    owner.get(path)
    assert owner.post(path, {"url": "not a url"}).status_code == 400
    assert owner.post(path + "/replay", {"event_id": "evt_nope"}).status_code == 404
    assert owner.post("/console/webhooks/whep_nope/rotate", {}).status_code == 404
    assert count_rows(backend, AuditEvent, tenant_id) == audits

    member = _member_of(backend, account)
    page = member.get(path)
    assert page.status_code == 200
    assert "Only owners and admins send test events" in page.text
    for action, data in [
        ("", {"url": "https://example.com/other"}),
        ("/enabled", {"enabled": "false"}),
        ("/rotate", {}),
        ("/test", {"event_type": "webhook.test"}),
        ("/replay", {"event_id": "evt_x"}),
    ]:
        response = member.post(path + action, data)
        assert response.status_code == 403, action
    assert member.post("/console/webhooks", {"url": "https://example.com/m"}).status_code == 403
    assert count_rows(backend, WebhookEndpoint, tenant_id) == 1
    assert count_rows(backend, WebhookDelivery, tenant_id) == 0
    assert count_rows(backend, AuditEvent, tenant_id) == audits + 2  # the invitation, accepted


def test_new_pages_need_a_session(backend: Backend) -> None:
    anonymous = ConsoleClient(backend)
    for path in ("/console/usage", "/console/leads", "/console/tags", "/console/webhooks"):
        response = anonymous.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/console/sign-in?next=")
    with httpx.Client(base_url=backend.url, timeout=30) as http:
        assert http.get("/", follow_redirects=False).headers["location"] == "/console"
