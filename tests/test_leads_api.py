"""The leads API beyond intake: list, update, delete, dry run, duplicate policies, batch."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from leadgate.housekeeping import purge_once
from leadgate.models import Event, Lead, LeadTag, Tag, utcnow
from tests.conftest import Backend
from tests.factories import (
    TenantInfo,
    count_rows,
    create_api_key,
    create_team_for,
    create_tenant,
    fetch_rows,
    unique_lead,
    update_row,
)


def create(client: httpx.Client, tenant: TenantInfo, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/leads", json=unique_lead(**fields), headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def batch(client: httpx.Client, headers: dict[str, str], leads: list[dict[str, Any]]) -> None:
    response = client.post("/api/v1/leads/batch", json={"leads": leads}, headers=headers)
    assert response.status_code == 207, response.text
    assert response.json()["summary"]["created"] == len(leads)


def events(backend: Backend, tenant: TenantInfo, event_type: str) -> list[dict[str, Any]]:
    rows = [e for e in fetch_rows(backend, Event, tenant.id) if e.type == event_type]
    return [e.data for e in sorted(rows, key=lambda e: e.id)]


# --- list ------------------------------------------------------------------------------------


def test_walking_1000_leads_by_37_returns_each_once_while_leads_arrive(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    for _ in range(10):
        batch(client, tenant.headers, [unique_lead() for _ in range(100)])
    seen: list[str] = []
    arrivals: list[str] = []
    stop = threading.Event()

    def keep_inserting() -> None:
        with httpx.Client(base_url=backend.url, timeout=30) as http:
            while not stop.is_set():
                response = http.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers)
                arrivals.append(response.json()["id"])

    writer = threading.Thread(target=keep_inserting)
    writer.start()
    try:
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 37}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/api/v1/leads", params=params, headers=tenant.headers).json()
            seen.extend(lead["id"] for lead in page["data"])
            pages += 1
            assert len(page["data"]) <= 37
            if not page["hasMore"]:
                assert page["nextCursor"] is None
                break
            cursor = page["nextCursor"]
    finally:
        stop.set()
        writer.join(timeout=30)
    assert arrivals, "no lead arrived during the walk"
    original = set(seen) - set(arrivals)
    assert len(seen) == len(set(seen)), "a lead was returned twice"
    assert len(original) == 1000
    assert pages >= 1000 // 37


def test_list_filters(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    team = create_team_for(backend, tenant, "East")
    a = create(client, tenant, company="Globex Corporation", source="expo", tags=["VIP"])
    b = create(client, tenant, teamId=team, phone="+44 20 7946 0958")
    c = create(client, tenant, status="qualified", lastName="O'Brien_x")

    def ids(**params: Any) -> list[str]:
        response = client.get("/api/v1/leads", params=params, headers=tenant.headers)
        assert response.status_code == 200, response.text
        return [lead["id"] for lead in response.json()["data"]]

    assert ids() == [c["id"], b["id"], a["id"]]
    assert ids(status="qualified") == [c["id"]]
    assert ids(tag="vip") == [a["id"]]
    assert ids(tag=a["tags"][0]["id"]) == [a["id"]]
    assert ids(tag="no-such-tag") == []
    assert ids(teamId=team) == [b["id"]]
    assert ids(source="expo") == [a["id"]]
    assert ids(q="GLOBEX") == [a["id"]]
    assert ids(q="+44207946") == [b["id"]]
    assert ids(q=a["email"].upper()) == [a["id"]]
    assert ids(q=f"{c['firstName']} o'brien_") == [c["id"]]
    assert ids(q="%") == []
    assert ids(createdAfter=b["createdAt"]) == [c["id"], b["id"]]
    assert ids(createdBefore=b["createdAt"]) == [a["id"]]
    assert ids(createdAfter=b["createdAt"].removesuffix("Z")) == [c["id"], b["id"]]


def test_list_refuses_bad_parameters(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    for params, field in (
        ({"limit": 101}, "limit"),
        ({"limit": 0}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"status": "won"}, "status"),
        ({"createdAfter": "yesterday"}, "createdAfter"),
    ):
        response = client.get("/api/v1/leads", params=params, headers=tenant.headers)
        assert response.status_code == 400, params
        assert response.json()["error"] == "invalid_request"
        assert any(field in (d["field"] or "") for d in response.json()["details"]), response.json()


def test_team_limited_keys_see_only_their_teams(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    east, west = create_team_for(backend, tenant, "East"), create_team_for(backend, tenant, "West")
    in_east = create(client, tenant, teamId=east)
    in_west = create(client, tenant, teamId=west)
    create(client, tenant)
    key = create_api_key(
        backend, tenant, ["leads:read", "leads:write"], team_scope="accounts", team_ids=[east]
    )
    listed = client.get("/api/v1/leads", headers=key.headers).json()["data"]
    assert [lead["id"] for lead in listed] == [in_east["id"]]
    assert (
        client.get("/api/v1/leads", params={"teamId": west}, headers=key.headers).json()["data"]
        == []
    )
    url = f"/api/v1/leads/{in_west['id']}"
    assert client.patch(url, json={"company": "x"}, headers=key.headers).status_code == 404
    assert client.delete(url, headers=key.headers).status_code == 404
    moved = client.patch(
        f"/api/v1/leads/{in_east['id']}", json={"teamId": west}, headers=key.headers
    )
    assert moved.status_code == 403
    cleared = client.patch(
        f"/api/v1/leads/{in_east['id']}", json={"teamId": None}, headers=key.headers
    )
    assert cleared.status_code == 403
    assert count_rows(backend, Lead, tenant.id, team_id=east) == 1


# --- update ----------------------------------------------------------------------------------


def test_patch_normalises_and_emits_the_changed_fields(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    lead = create(client, tenant, tags=["Old"])
    response = client.patch(
        f"/api/v1/leads/{lead['id']}",
        json={
            "email": "New.Person@EXAMPLE.org",
            "phone": "(212) 555-0100",
            "website": "example.org",
            "company": None,
            "status": "contacted",
            "tags": ["New", "Other"],
            "customFields": {"budget": 5},
        },
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["email"] == "New.Person@example.org"
    assert updated["phone"] == "+12125550100"
    assert updated["website"] == "https://example.org"
    assert updated["company"] is None
    assert updated["status"] == "contacted"
    assert [t["name"] for t in updated["tags"]] == ["New", "Other"]
    assert updated["customFields"] == {"budget": 5}
    assert updated["updatedAt"] > lead["updatedAt"]
    assert updated["createdAt"] == lead["createdAt"]
    assert client.get(f"/api/v1/leads/{lead['id']}", headers=tenant.headers).json() == updated

    (event,) = events(backend, tenant, "lead.updated")
    assert set(event["changedFields"]) == {
        "email", "phone", "website", "company", "status", "customFields", "tags",
    }  # fmt: skip
    assert event["previousAttributes"]["company"] == lead["company"]
    assert event["previousAttributes"]["tags"] == ["Old"]
    assert event["id"] == lead["id"]
    assert count_rows(backend, LeadTag, tenant.id) == 2

    unchanged = client.patch(
        f"/api/v1/leads/{lead['id']}", json={"status": "contacted"}, headers=tenant.headers
    )
    assert unchanged.status_code == 200
    assert unchanged.json()["updatedAt"] == updated["updatedAt"]
    assert len(events(backend, tenant, "lead.updated")) == 1


def test_patch_rechecks_duplicates(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    first = create(client, tenant)
    second = create(client, tenant)
    url = f"/api/v1/leads/{second['id']}"

    by_email = client.patch(url, json={"email": first["email"].upper()}, headers=tenant.headers)
    assert by_email.status_code == 409
    assert by_email.json()["error"] == "duplicate_lead"
    assert by_email.json()["existingLeadId"] == first["id"]
    assert by_email.json()["matchedOn"] == "email"

    by_name = client.patch(
        url,
        json={"firstName": first["firstName"].lower(), "lastName": first["lastName"]},
        headers=tenant.headers,
    )
    assert by_name.status_code == 409
    assert by_name.json()["matchedOn"] == "name"
    stored = client.get(url, headers=tenant.headers).json()
    assert stored == second
    assert events(backend, tenant, "lead.updated") == []

    own = client.patch(url, json={"email": second["email"].upper()}, headers=tenant.headers)
    assert own.status_code == 200


@pytest.mark.parametrize(
    ("path", "target", "allowed"),
    [
        (["contacted"], "new", False),
        (["qualified", "converted"], "lost", False),
        (["lost"], "new", True),
        (["converted"], "qualified", False),
        ([], "converted", True),
    ],
)
def test_status_transitions(
    backend: Backend, client: httpx.Client, path: list[str], target: str, allowed: bool
) -> None:
    tenant = create_tenant(backend)
    lead = create(client, tenant)
    url = f"/api/v1/leads/{lead['id']}"
    for status in path:
        assert client.patch(url, json={"status": status}, headers=tenant.headers).status_code == 200
    response = client.patch(url, json={"status": target}, headers=tenant.headers)
    if allowed:
        assert response.status_code == 200
        assert response.json()["status"] == target
    else:
        assert response.status_code == 409
        assert response.json()["error"] == "invalid_status_transition"
        assert client.get(url, headers=tenant.headers).json()["status"] == (path or ["new"])[-1]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"firstName": None}, "firstName"),
        ({"firstName": ""}, "firstName"),
        ({"email": "nope"}, "email"),
        ({"status": None}, "status"),
        ({"nickname": "x"}, "nickname"),
        ({"tagIds": ["tag_missing"]}, "tagIds"),
    ],
)
def test_patch_validation(
    backend: Backend, client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    tenant = create_tenant(backend)
    lead = create(client, tenant)
    response = client.patch(f"/api/v1/leads/{lead['id']}", json=body, headers=tenant.headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert client.get(f"/api/v1/leads/{lead['id']}", headers=tenant.headers).json() == lead


def test_patch_unknown_lead_and_other_tenants_lead_are_404(
    backend: Backend, client: httpx.Client
) -> None:
    acme, bigfirm = create_tenant(backend), create_tenant(backend)
    lead = create(client, acme)
    for url in ("/api/v1/leads/lead_nope", f"/api/v1/leads/{lead['id']}"):
        response = client.patch(url, json={"company": "x"}, headers=bigfirm.headers)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
        assert client.delete(url, headers=bigfirm.headers).status_code == 404
    assert client.get(f"/api/v1/leads/{lead['id']}", headers=acme.headers).json() == lead


# --- delete ----------------------------------------------------------------------------------


def test_delete_is_soft_then_purged(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    lead = create(client, tenant, tags=["Keep"])
    url = f"/api/v1/leads/{lead['id']}"

    deleted = client.delete(url, headers=tenant.headers)
    assert deleted.status_code == 200
    assert deleted.json() == {"id": lead["id"], "deleted": True}
    assert client.get(url, headers=tenant.headers).status_code == 404
    assert client.delete(url, headers=tenant.headers).status_code == 404
    assert client.get("/api/v1/leads", headers=tenant.headers).json()["data"] == []
    (event,) = events(backend, tenant, "lead.deleted")
    assert event["id"] == lead["id"]
    assert event["deletedAt"].endswith("Z")
    assert count_rows(backend, Lead, tenant.id) == 1

    # Its email and name are free again.
    again = client.post(
        "/api/v1/leads",
        json={k: lead[k] for k in ("firstName", "lastName", "email")},
        headers=tenant.headers,
    )
    assert again.status_code == 201

    database = backend.app.state.database
    backend.run(purge_once(database, backend.settings))
    assert count_rows(backend, Lead, tenant.id) == 2
    update_row(backend, Lead, lead["id"], deleted_at=utcnow() - timedelta(days=31))
    purged = backend.run(purge_once(database, backend.settings))
    assert purged.leads >= 1
    assert count_rows(backend, Lead, tenant.id) == 1
    assert count_rows(backend, Tag, tenant.id) == 1


# --- dry run and duplicate policies ----------------------------------------------------------


def test_dry_run_writes_nothing_and_says_what_would_happen(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    body = unique_lead(email="Dry.Run@EXAMPLE.com", tags=["Brand New"])
    preview = client.post("/api/v1/leads?dryRun=true", json=body, headers=tenant.headers)
    assert preview.status_code == 200, preview.text
    result = preview.json()
    assert result["dryRun"] is True
    assert result["outcome"] == "created"
    assert result["lead"]["email"] == "Dry.Run@example.com"
    assert result["lead"]["phone"] == "+15551234567"
    assert result["newTags"] == ["Brand New"]
    assert count_rows(backend, Lead, tenant.id) == 0
    assert count_rows(backend, Tag, tenant.id) == 0
    assert lead_events(backend, tenant.id) == 0

    existing = client.post("/api/v1/leads", json=body, headers=tenant.headers).json()
    dup = client.post("/api/v1/leads?dryRun=true", json=body, headers=tenant.headers).json()
    assert dup["outcome"] == "duplicate"
    assert dup["existingLeadId"] == existing["id"]
    assert dup["matchedOn"] == "email"

    fuller = {**body, "country": "US", "tags": ["Brand New", "Second"]}
    merge = client.post(
        "/api/v1/leads?dryRun=true&onDuplicate=merge", json=fuller, headers=tenant.headers
    ).json()
    assert merge["outcome"] == "merged"
    assert merge["mergedFields"] == ["country", "tags"]
    assert merge["newTags"] == ["Second"]
    allow = client.post(
        "/api/v1/leads?dryRun=true&onDuplicate=allow", json=body, headers=tenant.headers
    ).json()
    assert allow["outcome"] == "created"
    assert count_rows(backend, Lead, tenant.id) == 1

    invalid = client.post(
        "/api/v1/leads?dryRun=true", json={"firstName": "A"}, headers=tenant.headers
    )
    assert invalid.status_code == 400


def test_merge_fills_empty_fields_and_adds_tags(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend, duplicate_policy="merge")
    original = create(client, tenant, company=None, city=None, tags=["A"])
    incoming = {
        "firstName": original["firstName"].upper(),
        "lastName": original["lastName"],
        "company": "Filled Inc",
        "city": "Boston",
        "state": "MA",
        "tags": ["A", "B"],
        "customFields": {"utm": "x"},
    }
    response = client.post("/api/v1/leads", json=incoming, headers=tenant.headers)
    assert response.status_code == 200, response.text
    merged = response.json()
    assert merged["id"] == original["id"]
    assert merged["mergedFields"] == ["company", "city", "customFields", "tags"]
    assert merged["company"] == "Filled Inc"
    assert merged["city"] == "Boston"
    assert merged["state"] == original["state"]
    assert merged["email"] == original["email"]
    assert [t["name"] for t in merged["tags"]] == ["A", "B"]
    assert merged["customFields"] == {"utm": "x"}
    assert count_rows(backend, Lead, tenant.id) == 1
    (event,) = events(backend, tenant, "lead.updated")
    assert event["changedFields"] == merged["mergedFields"]

    nothing_new = client.post("/api/v1/leads", json=incoming, headers=tenant.headers)
    assert nothing_new.status_code == 200
    assert nothing_new.json()["mergedFields"] == []
    assert len(events(backend, tenant, "lead.updated")) == 1

    rejected = client.post(
        "/api/v1/leads?onDuplicate=reject", json=incoming, headers=tenant.headers
    )
    assert rejected.status_code == 409
    allowed = client.post("/api/v1/leads?onDuplicate=allow", json=incoming, headers=tenant.headers)
    assert allowed.status_code == 201
    assert count_rows(backend, Lead, tenant.id) == 2
    bad = client.post("/api/v1/leads?onDuplicate=maybe", json=incoming, headers=tenant.headers)
    assert bad.status_code == 400


def test_merge_never_touches_a_lead_the_key_cannot_see(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    east, west = create_team_for(backend, tenant, "East"), create_team_for(backend, tenant, "West")
    hidden = create(client, tenant, teamId=west, company=None)
    key = create_api_key(backend, tenant, ["leads:write"], team_scope="accounts", team_ids=[east])
    body = {**{k: hidden[k] for k in ("firstName", "lastName", "email")}, "company": "Leak"}
    response = client.post("/api/v1/leads?onDuplicate=merge", json=body, headers=key.headers)
    assert response.status_code == 409
    assert client.get(f"/api/v1/leads/{hidden['id']}", headers=tenant.headers).json() == hidden


def test_tenant_policy_allow(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend, duplicate_policy="allow")
    body = unique_lead()
    assert client.post("/api/v1/leads", json=body, headers=tenant.headers).status_code == 201
    assert client.post("/api/v1/leads", json=body, headers=tenant.headers).status_code == 201
    assert count_rows(backend, Lead, tenant.id) == 2


# --- batch -----------------------------------------------------------------------------------


def test_batch_reports_each_lead(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    existing = create(client, tenant)
    same_twice = unique_lead()
    leads = [
        unique_lead(tags=["Batch"]),
        {"firstName": "No last name"},
        {k: existing[k] for k in ("firstName", "lastName", "email")},
        same_twice,
        same_twice,
        unique_lead(tagIds=["tag_missing"]),
    ]
    response = client.post("/api/v1/leads/batch", json={"leads": leads}, headers=tenant.headers)
    assert response.status_code == 207, response.text
    body = response.json()
    assert body["atomic"] is False
    assert [r["status"] for r in body["results"]] == [
        "created", "invalid", "duplicate", "created", "duplicate", "invalid",
    ]  # fmt: skip
    assert body["summary"] == {
        "created": 2, "merged": 0, "duplicate": 2, "invalid": 2,
    }  # fmt: skip
    results = body["results"]
    assert results[1]["error"]["details"][0]["field"] == "lastName"
    assert results[2]["existingLeadId"] == existing["id"]
    assert results[4]["existingLeadId"] == results[3]["lead"]["id"]
    assert results[5]["error"]["details"][0]["field"] == "tagIds"
    assert count_rows(backend, Lead, tenant.id) == 3
    assert count_rows(backend, Event, tenant.id, type="lead.created") == 3


def test_atomic_batch_is_all_or_nothing(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    good = [unique_lead(tags=["New Tag"]) for _ in range(3)]
    rejected = client.post(
        "/api/v1/leads/batch?atomic=true",
        json={"leads": [*good, {"firstName": "x"}]},
        headers=tenant.headers,
    )
    assert rejected.status_code == 422
    body = rejected.json()
    assert body["error"] == "batch_rejected"
    assert body["details"][0]["field"] == "leads.3"
    assert [r["status"] for r in body["results"]] == ["created"] * 3 + ["invalid"]
    assert count_rows(backend, Lead, tenant.id) == 0
    assert count_rows(backend, Tag, tenant.id) == 0
    assert lead_events(backend, tenant.id) == 0

    accepted = client.post(
        "/api/v1/leads/batch?atomic=true", json={"leads": good}, headers=tenant.headers
    )
    assert accepted.status_code == 207
    assert accepted.json()["summary"]["created"] == 3
    assert count_rows(backend, Lead, tenant.id) == 3


@pytest.mark.parametrize("body", [{"leads": []}, {"leads": [{}] * 101}, {"lead": []}, {}])
def test_batch_shape_is_validated(
    backend: Backend, client: httpx.Client, body: dict[str, Any]
) -> None:
    tenant = create_tenant(backend)
    response = client.post("/api/v1/leads/batch", json=body, headers=tenant.headers)
    assert response.status_code == 400
    assert count_rows(backend, Lead, tenant.id) == 0


def test_concurrent_patches_to_one_email_leave_one_holder(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    leads = [create(client, tenant) for _ in range(8)]
    target = f"shared.{leads[0]['id']}@example.com"

    def patch(lead: dict[str, Any]) -> httpx.Response:
        with httpx.Client(base_url=backend.url, timeout=60) as http:
            return http.patch(
                f"/api/v1/leads/{lead['id']}", json={"email": target}, headers=tenant.headers
            )

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(patch, leads))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 7, statuses
    winner = next(r.json()["id"] for r in responses if r.status_code == 200)
    assert {r.json()["existingLeadId"] for r in responses if r.status_code == 409} == {winner}
    assert count_rows(backend, Lead, tenant.id, email=target) == 1


def test_housekeeping_task_runs_on_its_interval(backend: Backend, client: httpx.Client) -> None:
    from leadgate import housekeeping

    tenant = create_tenant(backend)
    lead = create(client, tenant)
    assert client.delete(f"/api/v1/leads/{lead['id']}", headers=tenant.headers).status_code == 200
    update_row(backend, Lead, lead["id"], deleted_at=utcnow() - timedelta(days=365))
    settings = backend.settings.model_copy(update={"housekeeping_interval_seconds": 0.05})

    housekeeper = housekeeping.Housekeeper(backend.app.state.database, settings)

    async def start() -> None:
        housekeeper.start()

    backend.run(start())
    try:
        # A pass visits every tenant of the shared test database: wait for it, within bounds.
        deadline = time.monotonic() + 30
        while count_rows(backend, Lead, tenant.id) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        backend.run(housekeeper.stop())
    assert count_rows(backend, Lead, tenant.id) == 0


def lead_events(backend: Backend, tenant_id: str) -> int:
    """Events about leads (a new tenant already has its first key's `api_key.created`)."""
    return sum(
        count_rows(backend, Event, tenant_id, type=kind)
        for kind in ("lead.created", "lead.updated", "lead.deleted")
    )
