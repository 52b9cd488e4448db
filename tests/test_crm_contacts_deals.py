"""Contacts, lead conversion, pipelines and deals through HTTP: duplicates, the conversion's
single transaction, stage moves with their history and events, paging, CSV, the auth matrix."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import httpx
import pytest

from leadgate.events.catalogue import CATALOGUE
from leadgate.models import ApiKey, AuditEvent, Contact, Deal, DealStageChange, Event, utcnow
from tests.conftest import Backend
from tests.factories import (
    count_rows,
    create_api_key,
    create_team_for,
    create_tenant,
    fetch_rows,
    unique_lead,
    update_row,
)


def _contact(**overrides: Any) -> dict[str, Any]:
    lead = unique_lead()
    return {
        "firstName": lead["firstName"],
        "lastName": "Smith",
        "email": lead["email"],
        "phone": "+1 555-123-4567",
        "company": "Acme Inc",
        **overrides,
    }


def _events(backend: Backend, tenant_id: str, event_type: str) -> list[dict[str, Any]]:
    rows = fetch_rows(backend, Event, tenant_id)
    return [e.data for e in sorted(rows, key=lambda e: e.id) if e.type == event_type]


def test_contact_lifecycle_and_duplicates(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    body = _contact(title="CEO", customFields={"tier": "gold"})
    created = client.post("/api/v1/contacts", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["id"].startswith("cont_")
    assert contact["phone"] == "+15551234567"
    assert contact["leadId"] is None
    assert client.get(f"/api/v1/contacts/{contact['id']}", headers=tenant.headers).json() == contact

    for duplicate, matched in (
        ({"email": body["email"].upper()}, "email"),
        ({"firstName": body["firstName"].lower(), "email": None}, "name"),
    ):
        refused = client.post(
            "/api/v1/contacts", json={**body, **duplicate}, headers=tenant.headers
        )
        assert refused.status_code == 409
        assert refused.json()["error"] == "duplicate_contact"
        assert refused.json()["existingContactId"] == contact["id"]
        assert refused.json()["matchedOn"] == matched
    assert count_rows(backend, Contact, tenant.id) == 1
    allowed = client.post("/api/v1/contacts?onDuplicate=allow", json=body, headers=tenant.headers)
    assert allowed.status_code == 201

    other = client.post("/api/v1/contacts", json=_contact(), headers=tenant.headers).json()
    clash = client.patch(
        f"/api/v1/contacts/{other['id']}", json={"email": body["email"]}, headers=tenant.headers
    )
    assert clash.status_code == 409
    assert clash.json()["error"] == "duplicate_contact"
    assert client.get(f"/api/v1/contacts/{other['id']}", headers=tenant.headers).json() == other

    updated = client.patch(
        f"/api/v1/contacts/{contact['id']}", json={"title": "COO"}, headers=tenant.headers
    ).json()
    assert updated["title"] == "COO"
    change = _events(backend, tenant.id, "contact.updated")[-1]
    assert change["changedFields"] == ["title"]
    assert change["previousAttributes"] == {"title": "CEO"}

    deleted = client.delete(f"/api/v1/contacts/{contact['id']}", headers=tenant.headers)
    assert deleted.json() == {"id": contact["id"], "deleted": True}
    assert (
        client.get(f"/api/v1/contacts/{contact['id']}", headers=tenant.headers).status_code == 404
    )
    # Its email is free again.
    assert client.post("/api/v1/contacts", json=body, headers=tenant.headers).status_code == 201
    assert len(_events(backend, tenant.id, "contact.created")) == 4
    assert len(_events(backend, tenant.id, "contact.deleted")) == 1
    actions = {a.action for a in fetch_rows(backend, AuditEvent, tenant.id)}
    assert {"contact.created", "contact.updated", "contact.deleted"} <= actions


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lastName": "x"}, "firstName"),
        ({"firstName": "A", "lastName": "B", "email": "not-an-email"}, "email"),
        ({"firstName": "A", "lastName": "B", "ownerId": "usr_nobody"}, "ownerId"),
        ({"firstName": "A", "lastName": "B", "teamId": "team_nope"}, "teamId"),
        ({"firstName": "A", "lastName": "B", "surprise": 1}, "surprise"),
    ],
)
def test_contact_validation_writes_nothing(
    backend: Backend, client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    tenant = create_tenant(backend)
    response = client.post("/api/v1/contacts", json=body, headers=tenant.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert field in {d["field"] for d in response.json()["details"]}
    assert count_rows(backend, Contact, tenant.id) == 0
    assert count_rows(backend, Event, tenant.id, type="contact.created") == 0


def test_contacts_page_filter_and_export(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    made = [
        client.post(
            "/api/v1/contacts",
            json=_contact(company="Globex" if i % 2 else "Acme"),
            headers=tenant.headers,
        ).json()
        for i in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/contacts", params=params, headers=tenant.headers).json()
        seen += [c["id"] for c in page["data"]]
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            break
    assert seen == [c["id"] for c in reversed(made)]
    globex = client.get(
        "/api/v1/contacts", params={"company": "Globex"}, headers=tenant.headers
    ).json()["data"]
    assert {c["id"] for c in globex} == {made[1]["id"], made[3]["id"]}
    searched = client.get(
        "/api/v1/contacts", params={"q": made[2]["firstName"]}, headers=tenant.headers
    ).json()["data"]
    assert [c["id"] for c in searched] == [made[2]["id"]]
    bad = client.get("/api/v1/contacts", params={"cursor": "nonsense"}, headers=tenant.headers)
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_request"

    export = client.get(
        "/api/v1/contacts/export.csv", params={"company": "Acme"}, headers=tenant.headers
    )
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"] == 'attachment; filename="contacts.csv"'
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [r["id"] for r in rows] == [made[4]["id"], made[2]["id"], made[0]["id"]]
    assert rows[0]["email"] == made[4]["email"]


def test_convert_lead_with_deal(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    lead = client.post(
        "/api/v1/leads",
        json=unique_lead(status="qualified", customFields={"budget": 5000}),
        headers=tenant.headers,
    ).json()
    body = {
        "title": "CTO",
        "deal": {"name": "Acme: 50 seats", "amount": 1250000, "currency": "eur"},
    }
    converted = client.post(
        f"/api/v1/leads/{lead['id']}/convert",
        json=body,
        headers={**tenant.headers, "Idempotency-Key": "convert-1"},
    )
    assert converted.status_code == 201, converted.text
    result = converted.json()
    contact, deal = result["contact"], result["deal"]
    assert result["lead"]["status"] == "converted"
    assert contact["leadId"] == lead["id"]
    assert contact["email"] == lead["email"]
    assert contact["customFields"] == {"budget": 5000}
    assert contact["title"] == "CTO"
    assert deal["contactId"] == contact["id"]
    assert deal["leadId"] == lead["id"]
    assert deal["currency"] == "EUR"
    assert deal["amount"] == 1250000
    pipelines = client.get("/api/v1/pipelines", headers=tenant.headers).json()["data"]
    assert len(pipelines) == 1
    assert pipelines[0]["isDefault"]
    assert deal["pipelineId"] == pipelines[0]["id"]
    assert deal["stageId"] == pipelines[0]["stages"][0]["id"]

    link = client.get(f"/api/v1/leads/{lead['id']}/conversion", headers=tenant.headers).json()
    assert link == {"leadId": lead["id"], "contactId": contact["id"], "dealId": deal["id"]}
    replay = client.post(
        f"/api/v1/leads/{lead['id']}/convert",
        json=body,
        headers={**tenant.headers, "Idempotency-Key": "convert-1"},
    )
    assert replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == result

    again = client.post(f"/api/v1/leads/{lead['id']}/convert", json={}, headers=tenant.headers)
    assert again.status_code == 409
    assert again.json()["error"] == "lead_already_converted"
    assert count_rows(backend, Contact, tenant.id) == 1
    assert count_rows(backend, Deal, tenant.id) == 1
    event = _events(backend, tenant.id, "lead.converted")
    assert len(event) == 1
    assert event[0]["contactId"] == contact["id"]
    assert event[0]["dealId"] == deal["id"]
    assert len(_events(backend, tenant.id, "contact.created")) == 1
    assert len(_events(backend, tenant.id, "deal.created")) == 1


def test_failed_conversion_writes_nothing(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    taken = client.post("/api/v1/contacts", json=_contact(), headers=tenant.headers).json()
    lead = client.post(
        "/api/v1/leads",
        json=unique_lead(firstName=taken["firstName"], lastName="Other", email=taken["email"]),
        headers=tenant.headers,
    ).json()
    lost = client.post("/api/v1/leads", json=unique_lead(status="lost"), headers=tenant.headers)
    narrow = create_api_key(backend, tenant, ["contacts:write"])
    fresh = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers).json()
    before = len(fetch_rows(backend, Event, tenant.id))
    for lead_id, body, headers, status, code in (
        (lead["id"], {"deal": {"name": "D"}}, tenant.headers, 409, "duplicate_contact"),
        (lost.json()["id"], {}, tenant.headers, 409, "invalid_status_transition"),
        (fresh["id"], {"deal": {"name": "D"}}, narrow.headers, 403, "insufficient_scope"),
        (fresh["id"], {"deal": {"name": "D", "stageId": "stg_x"}}, tenant.headers, 400,
         "invalid_request"),
        (fresh["id"], {"deal": {"name": "D", "amount": -1}}, tenant.headers, 400,
         "invalid_request"),
        ("lead_missing", {}, tenant.headers, 404, "not_found"),
    ):  # fmt: skip
        response = client.post(f"/api/v1/leads/{lead_id}/convert", json=body, headers=headers)
        assert response.status_code == status, response.text
        assert response.json()["error"] == code
    assert count_rows(backend, Contact, tenant.id) == 1
    assert count_rows(backend, Deal, tenant.id) == 0
    assert len(fetch_rows(backend, Event, tenant.id)) == before
    assert (
        client.get(f"/api/v1/leads/{fresh['id']}", headers=tenant.headers).json()["status"] == "new"
    )
    missing = client.get(f"/api/v1/leads/{fresh['id']}/conversion", headers=tenant.headers)
    assert missing.status_code == 404


def test_pipelines_and_stages(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    default = client.get("/api/v1/pipelines", headers=tenant.headers).json()["data"][0]
    assert [(s["name"], s["kind"], s["probability"]) for s in default["stages"]] == [
        ("Qualification", "open", 10),
        ("Proposal", "open", 40),
        ("Negotiation", "open", 70),
        ("Won", "won", 100),
        ("Lost", "lost", 0),
    ]
    created = client.post(
        "/api/v1/pipelines",
        json={
            "name": "Renewals",
            "stages": [{"name": "Due"}, {"name": "Renewed", "kind": "won"}],
        },
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    pipeline = created.json()
    assert [s["probability"] for s in pipeline["stages"]] == [50, 100]
    added = client.post(
        f"/api/v1/pipelines/{pipeline['id']}/stages",
        json={"name": "Contacted", "probability": 30, "position": 1},
        headers=tenant.headers,
    ).json()
    assert [s["name"] for s in added["stages"]] == ["Due", "Contacted", "Renewed"]
    moved = client.patch(
        f"/api/v1/pipelines/{pipeline['id']}/stages/{added['stages'][2]['id']}",
        json={"position": 0},
        headers=tenant.headers,
    ).json()
    assert [s["name"] for s in moved["stages"]] == ["Renewed", "Due", "Contacted"]
    assert [s["position"] for s in moved["stages"]] == [0, 1, 2]

    deal = client.post(
        "/api/v1/deals",
        json={"name": "Renewal", "pipelineId": pipeline["id"]},
        headers=tenant.headers,
    ).json()
    assert deal["stageId"] == moved["stages"][0]["id"]
    assert deal["status"] == "won"  # the first stage is now a won stage
    in_use = [
        client.delete(
            f"/api/v1/pipelines/{pipeline['id']}/stages/{deal['stageId']}", headers=tenant.headers
        ),
        client.delete(f"/api/v1/pipelines/{pipeline['id']}", headers=tenant.headers),
        client.delete(f"/api/v1/pipelines/{default['id']}", headers=tenant.headers),
        client.patch(
            f"/api/v1/pipelines/{pipeline['id']}/stages/{deal['stageId']}",
            json={"kind": "open"},
            headers=tenant.headers,
        ),
    ]
    for response in in_use:
        assert response.status_code == 409
        assert response.json()["error"] == "pipeline_in_use"
    assert client.get(f"/api/v1/pipelines/{pipeline['id']}", headers=tenant.headers).json() == moved

    made_default = client.patch(
        f"/api/v1/pipelines/{pipeline['id']}", json={"isDefault": True}, headers=tenant.headers
    ).json()
    assert made_default["isDefault"]
    listed = client.get("/api/v1/pipelines", headers=tenant.headers).json()["data"]
    assert [p["isDefault"] for p in listed] == [False, True]
    client.delete(f"/api/v1/deals/{deal['id']}", headers=tenant.headers)
    gone = client.delete(f"/api/v1/pipelines/{default['id']}", headers=tenant.headers)
    assert gone.json() == {"id": default["id"], "deleted": True}
    invalid = client.post(
        "/api/v1/pipelines", json={"name": "Empty", "stages": []}, headers=tenant.headers
    )
    assert invalid.status_code == 400
    assert invalid.json()["error"] == "invalid_request"
    assert len(client.get("/api/v1/pipelines", headers=tenant.headers).json()["data"]) == 1


def test_deal_moves_to_won_and_lost(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    stages = client.get("/api/v1/pipelines", headers=tenant.headers).json()["data"][0]["stages"]
    contact = client.post("/api/v1/contacts", json=_contact(), headers=tenant.headers).json()
    deal = client.post(
        "/api/v1/deals",
        json={
            "name": "Big one",
            "amount": 99900,
            "contactId": contact["id"],
            "expectedCloseDate": "2026-12-31",
        },
        headers=tenant.headers,
    ).json()
    assert deal["status"] == "open"
    assert deal["closedAt"] is None
    proposal = client.patch(
        f"/api/v1/deals/{deal['id']}", json={"stageId": stages[1]["id"]}, headers=tenant.headers
    ).json()
    assert proposal["stageId"] == stages[1]["id"]
    assert proposal["status"] == "open"
    won = client.patch(
        f"/api/v1/deals/{deal['id']}", json={"stageId": stages[3]["id"]}, headers=tenant.headers
    ).json()
    assert won["status"] == "won"
    assert won["closedAt"] is not None
    won_events = _events(backend, tenant.id, "deal.won")
    assert len(won_events) == 1
    assert won_events[0]["previousStageId"] == stages[1]["id"]
    lost = client.patch(
        f"/api/v1/deals/{deal['id']}", json={"stageId": stages[4]["id"]}, headers=tenant.headers
    ).json()
    assert lost["status"] == "lost"
    assert len(_events(backend, tenant.id, "deal.lost")) == 1
    history = client.get(f"/api/v1/deals/{deal['id']}/history", headers=tenant.headers).json()
    assert [(h["fromStageId"], h["toStageId"]) for h in history["data"]] == [
        (None, stages[0]["id"]),
        (stages[0]["id"], stages[1]["id"]),
        (stages[1]["id"], stages[3]["id"]),
        (stages[3]["id"], stages[4]["id"]),
    ]
    same = client.patch(
        f"/api/v1/deals/{deal['id']}", json={"stageId": stages[4]["id"]}, headers=tenant.headers
    )
    assert same.json() == lost
    assert count_rows(backend, DealStageChange, tenant.id) == 4

    for body, status, code in (
        ({"stageId": "stg_unknown"}, 400, "invalid_request"),
        ({"contactId": "cont_unknown"}, 400, "invalid_request"),
        ({"currency": "euro"}, 400, "invalid_request"),
        ({"name": None}, 400, "invalid_request"),
    ):
        response = client.patch(f"/api/v1/deals/{deal['id']}", json=body, headers=tenant.headers)
        assert response.status_code == status, response.text
        assert response.json()["error"] == code
    assert client.get(f"/api/v1/deals/{deal['id']}", headers=tenant.headers).json() == lost
    assert count_rows(backend, DealStageChange, tenant.id) == 4

    listed = client.get(
        "/api/v1/deals", params={"status": "lost", "contactId": contact["id"]},
        headers=tenant.headers,
    ).json()  # fmt: skip
    assert [d["id"] for d in listed["data"]] == [deal["id"]]
    assert (
        client.get("/api/v1/deals", params={"status": "won"}, headers=tenant.headers).json()["data"]
        == []
    )
    export = client.get("/api/v1/deals/export.csv", headers=tenant.headers)
    assert export.headers["content-disposition"] == 'attachment; filename="deals.csv"'
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert rows[0]["amount"] == "99900"
    assert rows[0]["expectedCloseDate"] == "2026-12-31"


def test_team_scoped_key_sees_its_teams_only(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    east = create_team_for(backend, tenant, "East")
    west = create_team_for(backend, tenant, "West")
    scoped = create_api_key(
        backend,
        tenant,
        ["contacts:read", "contacts:write", "deals:read", "deals:write"],
        team_scope="accounts",
        team_ids=[east],
    )
    mine = client.post("/api/v1/contacts", json=_contact(), headers=scoped.headers)
    assert mine.status_code == 201, mine.text
    assert mine.json()["teamId"] == east
    theirs = client.post(
        "/api/v1/contacts", json=_contact(teamId=west), headers=tenant.headers
    ).json()
    refused = client.post("/api/v1/contacts", json=_contact(teamId=west), headers=scoped.headers)
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    assert client.get(f"/api/v1/contacts/{theirs['id']}", headers=scoped.headers).status_code == 404
    listed = client.get("/api/v1/contacts", headers=scoped.headers).json()["data"]
    assert [c["id"] for c in listed] == [mine.json()["id"]]
    assert count_rows(backend, Contact, tenant.id) == 2


def test_catalogue_samples_match_real_events(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    lead = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers).json()
    result = client.post(
        f"/api/v1/leads/{lead['id']}/convert",
        json={"deal": {"name": "D", "expectedCloseDate": "2027-01-31"}},
        headers=tenant.headers,
    ).json()
    contact, deal = result["contact"], result["deal"]
    stages = client.get("/api/v1/pipelines", headers=tenant.headers).json()["data"][0]["stages"]
    client.patch(f"/api/v1/contacts/{contact['id']}", json={"title": "X"}, headers=tenant.headers)
    client.patch(f"/api/v1/deals/{deal['id']}", json={"stageId": stages[3]["id"]},
                 headers=tenant.headers)  # fmt: skip
    other = client.post("/api/v1/deals", json={"name": "L"}, headers=tenant.headers).json()
    client.patch(f"/api/v1/deals/{other['id']}", json={"stageId": stages[4]["id"]},
                 headers=tenant.headers)  # fmt: skip
    client.delete(f"/api/v1/deals/{other['id']}", headers=tenant.headers)
    client.delete(f"/api/v1/contacts/{contact['id']}", headers=tenant.headers)
    samples = {entry.type: entry.sample for entry in CATALOGUE}
    real = {e.type: e.data for e in fetch_rows(backend, Event, tenant.id)}
    wanted = {"contact.created", "contact.updated", "contact.deleted", "lead.converted",
              "deal.created", "deal.updated", "deal.won", "deal.lost", "deal.deleted"}  # fmt: skip
    assert wanted <= set(real)
    for event_type in wanted:
        assert set(samples[event_type]) == set(real[event_type]), event_type
    listed = client.get("/api/v1/event-types", headers=tenant.headers)
    assert wanted <= {e["type"] for e in listed.json()["data"]}


ROUTES = [
    ("GET", "/api/v1/contacts", None, "contacts:read"),
    ("GET", "/api/v1/contacts/export.csv", None, "contacts:read"),
    ("GET", "/api/v1/contacts/{contact}", None, "contacts:read"),
    ("POST", "/api/v1/contacts", {"firstName": "New", "lastName": "Person"}, "contacts:write"),
    ("PATCH", "/api/v1/contacts/{contact}", {"title": "X"}, "contacts:write"),
    ("DELETE", "/api/v1/contacts/{contact}", None, "contacts:write"),
    ("POST", "/api/v1/leads/{lead}/convert", {}, "contacts:write"),
    ("GET", "/api/v1/leads/{lead}/conversion", None, "leads:read"),
    ("GET", "/api/v1/pipelines", None, "deals:read"),
    ("GET", "/api/v1/pipelines/{pipeline}", None, "deals:read"),
    ("POST", "/api/v1/pipelines", {"name": "P", "stages": [{"name": "S"}]}, "deals:write"),
    ("PATCH", "/api/v1/pipelines/{pipeline}", {"name": "Q"}, "deals:write"),
    ("POST", "/api/v1/pipelines/{pipeline}/stages", {"name": "S2"}, "deals:write"),
    ("PATCH", "/api/v1/pipelines/{pipeline}/stages/{stage}", {"name": "S3"}, "deals:write"),
    ("GET", "/api/v1/deals", None, "deals:read"),
    ("GET", "/api/v1/deals/export.csv", None, "deals:read"),
    ("GET", "/api/v1/deals/{deal}", None, "deals:read"),
    ("GET", "/api/v1/deals/{deal}/history", None, "deals:read"),
    ("POST", "/api/v1/deals", {"name": "D"}, "deals:write"),
    ("PATCH", "/api/v1/deals/{deal}", {"name": "E"}, "deals:write"),
    ("DELETE", "/api/v1/deals/{deal}", None, "deals:write"),
]


@pytest.mark.parametrize(("method", "path", "body", "scope"), ROUTES)
def test_auth_matrix(
    backend: Backend,
    client: httpx.Client,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    scope: str,
) -> None:
    tenant, other = create_tenant(backend), create_tenant(backend)
    lead = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers).json()
    converted = client.post(
        f"/api/v1/leads/{lead['id']}/convert", json={"deal": {"name": "D0"}}, headers=tenant.headers
    ).json()
    fresh = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers).json()
    pipeline = client.get("/api/v1/pipelines", headers=tenant.headers).json()["data"][0]
    ids = {
        "contact": converted["contact"]["id"],
        "deal": converted["deal"]["id"],
        "pipeline": pipeline["id"],
        "stage": pipeline["stages"][0]["id"],
        "lead": lead["id"] if "conversion" in path else fresh["id"],
    }
    url = path.format(**ids)
    wrong_scope = scope.replace(":write", ":read") if scope.endswith(":write") else "tags:read"
    wrong = create_api_key(backend, tenant, [wrong_scope])
    right = create_api_key(backend, tenant, [scope])
    expired = create_api_key(backend, tenant, [scope])
    update_row(backend, ApiKey, expired.id, expires_at=utcnow() - timedelta(minutes=1))

    def call(headers: dict[str, str]) -> httpx.Response:
        return client.request(method, url, json=body, headers=headers)

    before = len(fetch_rows(backend, Event, tenant.id))
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
    if "{" in path:
        assert foreign.status_code == 404
    elif method == "GET" and not path.endswith(".csv") and "pipelines" not in path:
        assert foreign.json()["data"] == []
    assert len(fetch_rows(backend, Event, tenant.id)) == before
    assert count_rows(backend, Contact, tenant.id) == 1
    assert call(right.headers).status_code in (200, 201)


def test_converted_lead_won_deal_reaches_a_webhook(backend: Backend, client: httpx.Client) -> None:
    from tests.receiver import running_receiver

    tenant = create_tenant(backend)
    with running_receiver() as receiver:
        endpoint = client.post(
            "/api/v1/webhook-endpoints",
            json={"url": receiver.url, "eventTypes": ["deal.won", "lead.converted"]},
            headers=tenant.headers,
        )
        assert endpoint.status_code == 201, endpoint.text
        lead = client.post("/api/v1/leads", json=unique_lead(status="qualified"),
                           headers=tenant.headers).json()  # fmt: skip
        result = client.post(
            f"/api/v1/leads/{lead['id']}/convert",
            json={"deal": {"name": "Acme", "amount": 5000}},
            headers=tenant.headers,
        ).json()
        stages = client.get("/api/v1/pipelines", headers=tenant.headers).json()["data"][0]
        won = client.patch(
            f"/api/v1/deals/{result['deal']['id']}",
            json={"stageId": stages["stages"][3]["id"]},
            headers=tenant.headers,
        )
        assert won.status_code == 200
        receiver.wait_for(2)
        payloads = receiver.verify_all(endpoint.json()["secret"])
    by_type = {p["type"]: p for p in payloads}
    assert set(by_type) == {"lead.converted", "deal.won"}
    assert by_type["lead.converted"]["data"]["contactId"] == result["contact"]["id"]
    assert by_type["deal.won"]["data"]["id"] == result["deal"]["id"]
    assert by_type["deal.won"]["data"]["status"] == "won"
