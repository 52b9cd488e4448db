"""Automations through HTTP: rules run by the worker from the outbox, once per event (also when
an event is delivered again), loops cut at depth 1, run history, errors and triggering by hand."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest

from leadgate.models import Automation, AutomationRun, Event
from tests.conftest import Backend
from tests.factories import count_rows, create_api_key, create_tenant, unique_lead, update_row

T = TypeVar("T")


def wait_for(check: Callable[[], T], within: float = 20.0) -> T:
    """Repeats `check` until it returns something true (the worker runs in the background)."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _runs(client: httpx.Client, headers: dict[str, str], rule_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/automations/{rule_id}/runs", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _all_evaluated(backend: Backend, tenant_id: str) -> bool:
    return count_rows(backend, Event, tenant_id, automated_at=None) == 0


def test_rule_tags_website_leads_once_per_event(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    rule = client.post(
        "/api/v1/automations",
        json={
            "name": "Tag website leads",
            "eventType": "lead.created",
            "conditions": [{"field": "source", "op": "eq", "value": "Website"}],
            "actions": [{"type": "add_tags", "tags": ["website"]}, {"type": "emit"}],
        },
        headers=tenant.headers,
    )
    assert rule.status_code == 201, rule.text
    rule_id = rule.json()["id"]
    # Changes made by a rule do not trigger rules again: this one never runs on them.
    echo = client.post(
        "/api/v1/automations",
        json={
            "name": "Echo",
            "eventType": "lead.updated",
            "actions": [{"type": "add_tags", "tags": ["echo"]}],
        },
        headers=tenant.headers,
    ).json()
    web = client.post("/api/v1/leads", json=unique_lead(source="website"), headers=tenant.headers)
    other = client.post("/api/v1/leads", json=unique_lead(source="fair"), headers=tenant.headers)
    # Never on the request path: the answer is the lead as created.
    assert web.json()["tags"] == []
    runs = wait_for(lambda: len(_runs(client, tenant.headers, rule_id)) == 2 and _all_evaluated(
        backend, tenant.id))  # fmt: skip
    assert runs
    history = _runs(client, tenant.headers, rule_id)
    by_record = {r["recordId"]: r for r in history}
    assert by_record[web.json()["id"]]["matched"] is True
    assert [a["type"] for a in by_record[web.json()["id"]]["actionsTaken"]] == ["add_tags", "emit"]
    assert by_record[other.json()["id"]]["matched"] is False
    assert by_record[other.json()["id"]]["actionsTaken"] == []
    tagged = client.get(f"/api/v1/leads/{web.json()['id']}", headers=tenant.headers).json()
    assert [t["name"] for t in tagged["tags"]] == ["website"]
    untouched = client.get(f"/api/v1/leads/{other.json()['id']}", headers=tenant.headers).json()
    assert untouched["tags"] == []
    assert count_rows(backend, Event, tenant.id, type="automation.triggered") == 1
    assert _runs(client, tenant.headers, echo["id"]) == []

    # The worker delivers an event again (a round that died before committing): no second run.
    created = next(
        e for e in _events(backend, tenant.id, "lead.created") if e.data["id"] == web.json()["id"]
    )
    update_row(backend, Event, created.id, automated_at=None)
    assert wait_for(lambda: _all_evaluated(backend, tenant.id))
    assert len(_runs(client, tenant.headers, rule_id)) == 2
    assert count_rows(backend, Event, tenant.id, type="automation.triggered") == 1
    again = client.get(f"/api/v1/leads/{web.json()['id']}", headers=tenant.headers).json()
    assert again["tags"] == tagged["tags"]

    # A person's change triggers the echo rule once; the echo's own change does not.
    client.patch(f"/api/v1/leads/{other.json()['id']}", json={"company": "New"},
                 headers=tenant.headers)  # fmt: skip
    assert wait_for(lambda: len(_runs(client, tenant.headers, echo["id"])) == 1)
    assert wait_for(lambda: _all_evaluated(backend, tenant.id))
    assert len(_runs(client, tenant.headers, echo["id"])) == 1
    echoed = client.get(f"/api/v1/leads/{other.json()['id']}", headers=tenant.headers).json()
    assert [t["name"] for t in echoed["tags"]] == ["echo"]


def _events(backend: Backend, tenant_id: str, event_type: str) -> list[Event]:
    from tests.factories import fetch_rows

    return [e for e in fetch_rows(backend, Event, tenant_id) if e.type == event_type]


def test_failed_action_is_recorded_and_undone(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    rule = client.post(
        "/api/v1/automations",
        json={
            "name": "Broken",
            "eventType": "lead.created",
            "actions": [
                {"type": "add_tags", "tags": ["first"]},
                {"type": "set_stage", "stageId": "stg_whatever"},
            ],
        },
        headers=tenant.headers,
    ).json()
    lead = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers).json()
    runs = wait_for(lambda: _runs(client, tenant.headers, rule["id"]))
    assert runs[0]["matched"] is True
    assert runs[0]["actionsTaken"] == []
    assert runs[0]["error"].startswith("action_not_applicable")
    assert client.get(f"/api/v1/leads/{lead['id']}", headers=tenant.headers).json()["tags"] == []
    assert count_rows(backend, Event, tenant.id, type="lead.updated") == 0


def test_deal_rules_and_trigger_by_hand(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    stages = client.get("/api/v1/pipelines", headers=tenant.headers).json()["data"][0]["stages"]
    rule = client.post(
        "/api/v1/automations",
        json={
            "name": "Big deals go to negotiation",
            "eventType": "deal.created",
            "conditions": [{"field": "amount", "op": "gt", "value": 100000}],
            "actions": [
                {"type": "set_stage", "stageId": stages[2]["id"]},
                {"type": "create_task", "subject": "Call the buyer", "dueInDays": 2},
            ],
        },
        headers=tenant.headers,
    ).json()
    big = client.post("/api/v1/deals", json={"name": "Big", "amount": 500000},
                      headers=tenant.headers).json()  # fmt: skip
    small = client.post("/api/v1/deals", json={"name": "Small", "amount": 100},
                        headers=tenant.headers).json()  # fmt: skip
    assert wait_for(lambda: len(_runs(client, tenant.headers, rule["id"])) == 2)
    moved = client.get(f"/api/v1/deals/{big['id']}", headers=tenant.headers).json()
    assert moved["stageId"] == stages[2]["id"]
    history = client.get(f"/api/v1/deals/{big['id']}/history", headers=tenant.headers).json()
    assert history["data"][-1]["actor"] == {"type": "automation", "id": rule["id"],
                                            "name": rule["name"]}  # fmt: skip
    tasks = client.get(
        "/api/v1/activities", params={"recordType": "deal", "recordId": big["id"]},
        headers=tenant.headers,
    ).json()["data"]  # fmt: skip
    assert [(t["kind"], t["subject"]) for t in tasks] == [("task", "Call the buyer")]

    client.patch(f"/api/v1/deals/{small['id']}", json={"amount": 200000}, headers=tenant.headers)
    by_hand = client.post(
        f"/api/v1/automations/{rule['id']}/trigger",
        json={"recordType": "deal", "recordId": small["id"]},
        headers=tenant.headers,
    )
    assert by_hand.status_code == 200, by_hand.text
    assert by_hand.json()["matched"] is True
    assert by_hand.json()["eventId"] is None
    assert client.get(f"/api/v1/deals/{small['id']}",
                      headers=tenant.headers).json()["stageId"] == stages[2]["id"]  # fmt: skip
    missing = client.post(
        f"/api/v1/automations/{rule['id']}/trigger",
        json={"recordType": "deal", "recordId": "deal_missing"},
        headers=tenant.headers,
    )
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert len(_runs(client, tenant.headers, rule["id"])) == 3


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "eventType": "lead.exploded", "actions": [{"type": "emit"}]},
        {"name": "x", "eventType": "lead.created", "actions": []},
        {"name": "x", "eventType": "lead.created", "actions": [{"type": "launch"}]},
        {"name": "x", "eventType": "lead.created", "actions": [{"type": "set_status",
                                                                "status": "sold"}]},
        {"name": "x", "eventType": "lead.created", "actions": [{"type": "emit"}],
         "conditions": [{"field": "source", "op": "like"}]},
    ],
)  # fmt: skip
def test_invalid_rules_write_nothing(
    backend: Backend, client: httpx.Client, body: dict[str, Any]
) -> None:
    tenant = create_tenant(backend)
    response = client.post("/api/v1/automations", json=body, headers=tenant.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert count_rows(backend, Automation, tenant.id) == 0


def test_automation_auth(backend: Backend, client: httpx.Client) -> None:
    tenant, other = create_tenant(backend), create_tenant(backend)
    body = {"name": "x", "eventType": "lead.created", "actions": [{"type": "emit"}]}
    reader = create_api_key(backend, tenant, ["automations:read"])
    writer = create_api_key(backend, tenant, ["automations:write"])
    refused = client.post("/api/v1/automations", json=body, headers=reader.headers)
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    assert count_rows(backend, Automation, tenant.id) == 0
    rule = client.post("/api/v1/automations", json=body, headers=writer.headers).json()
    lead = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers).json()
    trigger = {"recordType": "lead", "recordId": lead["id"]}
    for method, path, payload in (
        ("GET", f"/api/v1/automations/{rule['id']}", None),
        ("GET", f"/api/v1/automations/{rule['id']}/runs", None),
        ("PATCH", f"/api/v1/automations/{rule['id']}", {"enabled": False}),
        ("POST", f"/api/v1/automations/{rule['id']}/trigger", trigger),
        ("DELETE", f"/api/v1/automations/{rule['id']}", None),
    ):
        foreign = client.request(method, path, json=payload, headers=other.headers)
        assert foreign.status_code == 404
        wrong = reader if method != "GET" else writer
        denied = client.request(method, path, json=payload, headers=wrong.headers)
        assert denied.status_code == 403
        assert denied.json()["error"] == "insufficient_scope"
    assert count_rows(backend, AutomationRun, tenant.id) <= 1  # the worker's run of the lead
    assert client.get("/api/v1/automations", headers=other.headers).json()["data"] == []
    disabled = client.patch(f"/api/v1/automations/{rule['id']}", json={"enabled": False},
                            headers=writer.headers)  # fmt: skip
    assert disabled.json()["enabled"] is False
    gone = client.delete(f"/api/v1/automations/{rule['id']}", headers=writer.headers)
    assert gone.json() == {"id": rule["id"], "deleted": True}
    assert count_rows(backend, Automation, tenant.id) == 0
