"""Teams over HTTP: create, list, rename, delete (and what happens to a team's leads and keys);
keys limited to teams see and touch only theirs; events and audit records for every change."""

from __future__ import annotations

import json
import re

import httpx

from leadgate.models import ApiKey, AuditEvent, Event, Lead, Team, WebhookEndpoint
from tests.conftest import Backend, Cli
from tests.factories import (
    TenantInfo,
    count_rows,
    create_api_key,
    create_tenant,
    fetch_rows,
    unique_slug,
)


def _team(client: httpx.Client, tenant: TenantInfo, name: str) -> str:
    response = client.post("/api/v1/teams", headers=tenant.headers, json={"name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_create_list_rename_with_events_and_audit(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    east = _team(client, tenant, "  East  ")
    assert east.startswith("team_")
    _team(client, tenant, "West")
    listed = client.get("/api/v1/teams", headers=tenant.headers)
    assert listed.status_code == 200
    assert [(t["name"], t["leadCount"], t["keyCount"]) for t in listed.json()["data"]] == [
        ("East", 0, 0),
        ("West", 0, 0),
    ]
    renamed = client.patch(f"/api/v1/teams/{east}", headers=tenant.headers, json={"name": "North"})
    assert (renamed.status_code, renamed.json()["name"]) == (200, "North")
    assert client.get(f"/api/v1/teams/{east}", headers=tenant.headers).json()["name"] == "North"
    assert count_rows(backend, Event, tenant.id, type="team.created") == 2
    assert count_rows(backend, Event, tenant.id, type="team.renamed") == 1
    assert count_rows(backend, AuditEvent, tenant.id, action="team.created") == 2
    renames = [a for a in fetch_rows(backend, AuditEvent, tenant.id) if a.action == "team.renamed"]
    assert [(a.before, a.after, a.actor["id"]) for a in renames] == [
        ({"name": "East"}, {"name": "North"}, tenant.key_id)
    ]


def test_refusals_write_nothing(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    east = _team(client, tenant, "East")
    taken = client.post("/api/v1/teams", headers=tenant.headers, json={"name": "East"})
    assert (taken.status_code, taken.json()["error"]) == (409, "team_name_taken")
    blank = client.post("/api/v1/teams", headers=tenant.headers, json={"name": "  "})
    assert (blank.status_code, blank.json()["error"]) == (400, "invalid_request")
    west = _team(client, tenant, "West")
    clash = client.patch(f"/api/v1/teams/{west}", headers=tenant.headers, json={"name": "East"})
    assert (clash.status_code, clash.json()["error"]) == (409, "team_name_taken")
    missing = client.get("/api/v1/teams/team_nope", headers=tenant.headers)
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    reader = create_api_key(backend, tenant, ["leads:read"])
    denied = client.post("/api/v1/teams", headers=reader.headers, json={"name": "South"})
    assert (denied.status_code, denied.json()["error"]) == (403, "insufficient_scope")
    # Another tenant's team does not exist for this one.
    other = create_tenant(backend)
    stranger = client.delete(f"/api/v1/teams/{east}", headers=other.headers)
    assert (stranger.status_code, stranger.json()["error"]) == (404, "not_found")
    assert count_rows(backend, Team, tenant.id) == 2
    assert count_rows(backend, Event, tenant.id, type="team.created") == 2  # East, West
    assert count_rows(backend, Event, tenant.id, type="team.renamed") == 0
    assert count_rows(backend, Event, tenant.id, type="team.deleted") == 0
    assert [t.name for t in fetch_rows(backend, Team, tenant.id) if t.id == west] == ["West"]


def test_delete_rule_for_leads_and_keys(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    east, west = _team(client, tenant, "East"), _team(client, tenant, "West")
    lead = client.post(
        "/api/v1/leads",
        headers=tenant.headers,
        json={"firstName": "Jane", "lastName": "Smith", "teamId": east},
    )
    assert lead.status_code == 201
    key = create_api_key(
        backend, tenant, ["leads:read"], team_scope="specific-accounts", team_ids=[east]
    )
    assert client.get("/api/v1/leads", headers=key.headers).json()["data"][0]["teamId"] == east
    # In use: refused, nothing changed.
    refused = client.delete(f"/api/v1/teams/{east}", headers=tenant.headers)
    assert (refused.status_code, refused.json()["error"]) == (409, "team_in_use")
    assert count_rows(backend, Team, tenant.id) == 2
    bad_target = client.delete(f"/api/v1/teams/{east}?moveTo=team_nope", headers=tenant.headers)
    assert (bad_target.status_code, bad_target.json()["error"]) == (400, "invalid_request")
    itself = client.delete(f"/api/v1/teams/{east}?moveTo={east}", headers=tenant.headers)
    assert itself.status_code == 400
    assert count_rows(backend, Team, tenant.id) == 2
    assert count_rows(backend, Event, tenant.id, type="team.deleted") == 0
    # Moved: the lead and the key now belong to West.
    deleted = client.delete(f"/api/v1/teams/{east}?moveTo={west}", headers=tenant.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"id": east, "movedTo": west, "leadsMoved": 1, "keysChanged": 1}
    assert [row.team_id for row in fetch_rows(backend, Lead, tenant.id)] == [west]
    limited = next(k for k in fetch_rows(backend, ApiKey, tenant.id) if k.id == key.id)
    assert limited.team_ids == [west]
    seen = client.get("/api/v1/leads", headers=key.headers)
    assert [row["teamId"] for row in seen.json()["data"]] == [west]
    assert count_rows(backend, Event, tenant.id, type="team.deleted") == 1
    assert count_rows(backend, AuditEvent, tenant.id, action="team.deleted") == 1
    # An empty team is deleted outright.
    empty = _team(client, tenant, "Empty")
    assert client.delete(f"/api/v1/teams/{empty}", headers=tenant.headers).status_code == 200
    assert count_rows(backend, Team, tenant.id) == 1


def test_team_limited_key_sees_and_touches_only_its_teams(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    east, west = _team(client, tenant, "East"), _team(client, tenant, "West")
    key = create_api_key(
        backend,
        tenant,
        ["leads:read", "leads:write", "keys:write"],
        team_scope="specific-accounts",
        team_ids=[east],
    )
    listed = client.get("/api/v1/teams", headers=key.headers)
    assert [t["id"] for t in listed.json()["data"]] == [east]
    hidden = client.get(f"/api/v1/teams/{west}", headers=key.headers)
    assert hidden.status_code == 404
    in_west = client.post(
        "/api/v1/leads",
        headers=key.headers,
        json={"firstName": "W", "lastName": "Est", "teamId": west},
    )
    assert in_west.status_code == 403
    west_lead = client.post(
        "/api/v1/leads",
        headers=tenant.headers,
        json={"firstName": "Wes", "lastName": "T", "teamId": west},
    ).json()["id"]
    assert client.get(f"/api/v1/leads/{west_lead}", headers=key.headers).status_code == 404
    patched = client.patch(
        f"/api/v1/leads/{west_lead}", headers=key.headers, json={"status": "lost"}
    )
    assert patched.status_code == 404
    assert client.delete(f"/api/v1/leads/{west_lead}", headers=key.headers).status_code == 404
    for attempt in (
        client.post("/api/v1/teams", headers=key.headers, json={"name": "South"}),
        client.patch(f"/api/v1/teams/{east}", headers=key.headers, json={"name": "Mine"}),
        client.delete(f"/api/v1/teams/{east}", headers=key.headers),
    ):
        assert (attempt.status_code, attempt.json()["error"]) == (403, "forbidden")
    assert sorted(t.name for t in fetch_rows(backend, Team, tenant.id)) == ["East", "West"]
    assert [lead.status for lead in fetch_rows(backend, Lead, tenant.id)] == ["new"]


def test_console_teams_page(backend: Backend, client: httpx.Client) -> None:
    """Owners manage teams; members see them; the leads list filters by team."""
    from tests.console_helpers import invite, join, sign_up, tenant_id_of

    owner = sign_up(backend)
    tenant_id = tenant_id_of(backend, owner.slug)
    owner.client.get("/console/teams")
    created = owner.client.post("/console/teams", {"name": "East"})
    assert created.status_code == 303
    page = owner.client.follow(created)
    match = re.search(r'data-team-id="(team_[0-9a-z]+)"', page.text)
    assert match is not None, page.text[:3000]
    east = match.group(1)
    assert owner.client.post("/console/teams", {"name": "West"}).status_code == 303
    taken = owner.client.post("/console/teams", {"name": "East"})
    assert taken.status_code == 409
    assert count_rows(backend, Team, tenant_id) == 2
    renamed = owner.client.post(f"/console/teams/{east}", {"name": "North"})
    assert renamed.status_code == 303
    assert count_rows(backend, AuditEvent, tenant_id, action="team.renamed") == 1
    # A member sees the teams, without the forms to change them, and cannot post them.
    member, _email = join(backend, invite(owner.client, "member"))
    seen = member.get("/console/teams")
    assert seen.status_code == 200
    assert "North" in seen.text
    assert "West" in seen.text
    assert 'action="/console/teams"' not in seen.text
    assert member.post("/console/teams", {"name": "South"}).status_code == 403
    assert member.post(f"/console/teams/{east}/delete", {}).status_code == 403
    assert count_rows(backend, Team, tenant_id) == 2
    # Deleting: an empty team goes at once.
    assert owner.client.post(f"/console/teams/{east}/delete", {}).status_code == 303
    assert count_rows(backend, Team, tenant_id) == 1
    assert count_rows(backend, Event, tenant_id, type="team.deleted") == 1


def test_cli_teams_and_tenant_key_prefix(backend: Backend, client: httpx.Client, cli: Cli) -> None:
    slug = unique_slug("href")
    created = cli("tenant", "create", slug, "--name", "Acme", "--key-prefix", "hcrm", "--json")
    assert created.exit_code == 0, created.output
    first = json.loads(created.stdout)["apiKey"]["key"]
    assert first.startswith("hcrm_")
    tenant_id = json.loads(created.stdout)["tenant"]["id"]
    east = json.loads(cli("teams", "create", "East", "--tenant", slug, "--json").stdout)["id"]
    west = json.loads(cli("teams", "create", "West", "--tenant", slug, "--json").stdout)["id"]
    taken = cli("teams", "create", "East", "--tenant", slug)
    assert taken.exit_code == 1
    assert "already exists" in taken.stderr
    renamed = cli("teams", "rename", east, "North", "--tenant", slug)
    assert renamed.exit_code == 0
    lead = client.post(
        "/api/v1/leads",
        headers={"X-API-Key": first},
        json={"firstName": "Jane", "lastName": "Smith", "teamId": east},
    )
    assert lead.status_code == 201
    listed = cli("teams", "list", "--tenant", slug)
    assert "North" in listed.stdout
    assert "leads 1" in listed.stdout
    in_use = cli("teams", "delete", east, "--tenant", slug)
    assert in_use.exit_code == 1
    assert count_rows(backend, Team, tenant_id) == 2
    moved = cli("teams", "delete", east, "--tenant", slug, "--move-to", west)
    assert moved.exit_code == 0, moved.output
    assert [row.team_id for row in fetch_rows(backend, Lead, tenant_id)] == [west]
    audit = [a for a in fetch_rows(backend, AuditEvent, tenant_id) if a.action.startswith("team.")]
    assert sorted(a.action for a in audit) == [
        "team.created",
        "team.created",
        "team.deleted",
        "team.renamed",
    ]
    # A later prefix: new keys get it, the first key keeps working.
    changed = cli("tenant", "update", slug, "--key-prefix", "snap")
    assert changed.exit_code == 0
    assert "key prefix snap" in changed.stdout
    bad = cli("tenant", "update", slug, "--key-prefix", "Not-Valid")
    assert bad.exit_code == 1
    key = cli("keys", "create", "--tenant", slug, "--name", "n", "--scope", "leads:read", "--json")
    assert json.loads(key.stdout)["apiKey"].startswith("snap_")
    assert client.get("/api/v1/teams", headers={"X-API-Key": first}).status_code == 200


def test_team_limited_key_sees_no_other_teams_data(backend: Backend, client: httpx.Client) -> None:
    """Keys, the audit log and webhooks: a team-limited key sees its teams' keys only, and is
    refused where the data covers every team."""
    tenant = create_tenant(backend)
    east, west = _team(client, tenant, "East"), _team(client, tenant, "West")
    limited = create_api_key(
        backend,
        tenant,
        ["keys:read", "webhooks:read", "webhooks:write", "leads:read"],
        team_scope="specific-accounts",
        team_ids=[east],
    )
    sibling = create_api_key(
        backend, tenant, ["leads:read"], team_scope="specific-accounts", team_ids=[east]
    )
    other = create_api_key(
        backend, tenant, ["leads:read"], team_scope="specific-accounts", team_ids=[west]
    )
    listed = client.get("/api/v1/api-keys", headers=limited.headers)
    assert listed.status_code == 200
    assert sorted(k["id"] for k in listed.json()["data"]) == sorted([limited.id, sibling.id])
    assert client.get(f"/api/v1/api-keys/{other.id}", headers=limited.headers).status_code == 404
    assert (
        client.get(f"/api/v1/api-keys/{tenant.key_id}", headers=limited.headers).status_code == 404
    )
    assert client.get(f"/api/v1/api-keys/{sibling.id}", headers=limited.headers).status_code == 200
    for response in (
        client.get("/api/v1/audit-events", headers=limited.headers),
        client.get("/api/v1/webhook-endpoints", headers=limited.headers),
        client.post(
            "/api/v1/webhook-endpoints",
            headers=limited.headers,
            json={"url": "https://example.com/hook"},
        ),
    ):
        assert (response.status_code, response.json()["error"]) == (403, "forbidden")
    assert count_rows(backend, WebhookEndpoint, tenant.id) == 0
    # The same scopes for every team: allowed.
    everyone = create_api_key(backend, tenant, ["keys:read", "webhooks:read"])
    assert client.get("/api/v1/audit-events", headers=everyone.headers).status_code == 200
    assert client.get("/api/v1/webhook-endpoints", headers=everyone.headers).status_code == 200
    assert len(client.get("/api/v1/api-keys", headers=everyone.headers).json()["data"]) == 5
