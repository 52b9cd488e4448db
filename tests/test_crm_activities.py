"""Activities on leads, contacts and deals, and each record's timeline, through HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from leadgate.models import Activity, Event
from tests.conftest import Backend
from tests.factories import count_rows, create_api_key, create_tenant, unique_lead


def _converted(client: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    lead = client.post("/api/v1/leads", json=unique_lead(), headers=headers).json()
    result = client.post(
        f"/api/v1/leads/{lead['id']}/convert", json={"deal": {"name": "D"}}, headers=headers
    ).json()
    return {"lead": lead, **result}


def test_activities_and_timeline(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    records = _converted(client, tenant.headers)
    deal, contact = records["deal"], records["contact"]
    call = client.post(
        "/api/v1/activities",
        json={"kind": "call", "recordType": "contact", "recordId": contact["id"],
              "subject": "Intro call", "body": "Wants the annual plan."},
        headers=tenant.headers,
    )  # fmt: skip
    assert call.status_code == 201, call.text
    assert call.json()["doneAt"] is not None
    task = client.post(
        "/api/v1/activities",
        json={"kind": "task", "recordType": "deal", "recordId": deal["id"],
              "subject": "Send proposal", "dueAt": "2026-12-01T09:00:00Z"},
        headers=tenant.headers,
    ).json()  # fmt: skip
    assert task["doneAt"] is None
    assert task["dueAt"] == "2026-12-01T09:00:00.000Z"
    open_tasks = client.get(
        "/api/v1/activities", params={"open": "true"}, headers=tenant.headers
    ).json()["data"]
    assert [a["id"] for a in open_tasks] == [task["id"]]
    done = client.patch(
        f"/api/v1/activities/{task['id']}", json={"done": True}, headers=tenant.headers
    ).json()
    assert done["doneAt"] is not None
    assert client.get("/api/v1/activities", params={"open": "true"},
                      headers=tenant.headers).json()["data"] == []  # fmt: skip

    stages = client.get("/api/v1/pipelines", headers=tenant.headers).json()["data"][0]["stages"]
    client.patch(f"/api/v1/deals/{deal['id']}", json={"stageId": stages[3]["id"], "amount": 500},
                 headers=tenant.headers)  # fmt: skip
    line = client.get(f"/api/v1/timeline/deal/{deal['id']}", headers=tenant.headers)
    assert line.status_code == 200, line.text
    entries = line.json()["data"]
    kinds = [(e["type"], e.get("eventType")) for e in entries]
    assert ("activity", None) in kinds
    assert ("event", "deal.won") in kinds
    assert ("event", "deal.created") in kinds
    assert ("event", "lead.converted") in kinds
    changes = [e for e in entries if e["type"] == "stage_change"]
    assert [c["toStageId"] for c in changes] == [stages[3]["id"], stages[0]["id"]]
    updated = next(e for e in entries if e.get("eventType") == "deal.updated")
    assert set(updated["changedFields"]) == {"stageId", "amount"}
    assert updated["previousAttributes"]["amount"] == 0
    assert [e["at"] for e in entries] == sorted((e["at"] for e in entries), reverse=True)

    lead_line = client.get(f"/api/v1/timeline/lead/{records['lead']['id']}",
                           headers=tenant.headers).json()["data"]  # fmt: skip
    lead_events = {e["eventType"] for e in lead_line}
    assert {"lead.created", "lead.updated", "lead.converted"} <= lead_events
    contact_line = client.get(f"/api/v1/timeline/contact/{contact['id']}",
                              headers=tenant.headers).json()["data"]  # fmt: skip
    assert contact_line[0]["activity"]["subject"] == "Intro call"

    deleted = client.delete(f"/api/v1/activities/{call.json()['id']}", headers=tenant.headers)
    assert deleted.json() == {"id": call.json()["id"], "deleted": True}
    assert count_rows(backend, Activity, tenant.id) == 1
    assert count_rows(backend, Event, tenant.id, type="activity.created") == 2
    assert count_rows(backend, Event, tenant.id, type="activity.updated") == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "note", "recordType": "lead", "recordId": "lead_none", "subject": "x"}, 400,
         "invalid_request"),
        ({"kind": "fax", "recordType": "lead", "recordId": "{lead}", "subject": "x"}, 400,
         "invalid_request"),
        ({"kind": "note", "recordType": "lead", "recordId": "{lead}", "subject": ""}, 400,
         "invalid_request"),
        ({"kind": "note", "recordType": "lead", "recordId": "{lead}", "subject": "x",
          "dueAt": "2026-12-01T09:00:00Z"}, 400, "invalid_request"),
        ({"kind": "task", "recordType": "lead", "recordId": "{lead}", "subject": "x",
          "dueAt": "2026-12-01T09:00:00"}, 400, "invalid_request"),
    ],
)  # fmt: skip
def test_activity_errors_write_nothing(
    backend: Backend, client: httpx.Client, body: dict[str, Any], status: int, code: str
) -> None:
    tenant = create_tenant(backend)
    lead = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers).json()
    body = {**body, "recordId": body["recordId"].replace("{lead}", lead["id"])}
    response = client.post("/api/v1/activities", json=body, headers=tenant.headers)
    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert count_rows(backend, Activity, tenant.id) == 0
    assert count_rows(backend, Event, tenant.id, type="activity.created") == 0


def test_activity_auth(backend: Backend, client: httpx.Client) -> None:
    tenant, other = create_tenant(backend), create_tenant(backend)
    lead = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers).json()
    body = {"kind": "note", "recordType": "lead", "recordId": lead["id"], "subject": "x"}
    reader = create_api_key(backend, tenant, ["activities:read"])
    writer = create_api_key(backend, tenant, ["activities:write"])
    refused = client.post("/api/v1/activities", json=body, headers=reader.headers)
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"
    foreign = client.post("/api/v1/activities", json=body, headers=other.headers)
    assert foreign.status_code == 400
    assert count_rows(backend, Activity, tenant.id) == 0
    note = client.post("/api/v1/activities", json=body, headers=writer.headers).json()
    for path in (f"/api/v1/activities/{note['id']}", f"/api/v1/timeline/lead/{lead['id']}"):
        assert client.get(path, headers=writer.headers).json()["error"] == "insufficient_scope"
        assert client.get(path, headers=other.headers).status_code == 404
        assert client.get(path, headers=reader.headers).status_code == 200
    assert client.get("/api/v1/activities", headers=other.headers).json()["data"] == []
