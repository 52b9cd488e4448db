"""A duplicate's answer names the existing lead only to a key that may see that lead's team: a
team-limited key learns that a duplicate exists, never another team's lead id."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from leadgate.models import Event, Lead
from tests.conftest import Backend
from tests.factories import (
    TenantInfo,
    count_rows,
    create_api_key,
    create_team_for,
    create_tenant,
    unique_lead,
)


def _setup(backend: Backend, client: httpx.Client) -> tuple[TenantInfo, Any, Any, dict[str, Any]]:
    tenant = create_tenant(backend)
    east, west = create_team_for(backend, tenant, "East"), create_team_for(backend, tenant, "West")
    scopes = ["leads:read", "leads:write"]
    east_key = create_api_key(
        backend, tenant, scopes, team_scope="specific-accounts", team_ids=[east]
    )
    west_key = create_api_key(
        backend, tenant, scopes, team_scope="specific-accounts", team_ids=[west]
    )
    lead = unique_lead()
    created = client.post("/api/v1/leads", json=lead, headers=east_key.headers)
    assert created.status_code == 201, created.text
    return tenant, east_key, west_key, {**lead, "id": created.json()["id"]}


def _hides(body: dict[str, Any], lead_id: str) -> None:
    assert body.get("existingLeadId") is None
    assert lead_id not in str(body)


@pytest.mark.parametrize("policy", ["reject", "merge"])
def test_another_teams_duplicate_is_not_named(
    backend: Backend, client: httpx.Client, policy: str
) -> None:
    tenant, east_key, west_key, lead = _setup(backend, client)
    body = {k: v for k, v in lead.items() if k != "id"}
    events = count_rows(backend, Event, tenant.id)
    refused = client.post(
        "/api/v1/leads", params={"onDuplicate": policy}, json=body, headers=west_key.headers
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "duplicate_lead"
    assert refused.json()["matchedOn"] == "email"
    _hides(refused.json(), lead["id"])
    # The dry run and the batch answer the same way.
    dry = client.post(
        "/api/v1/leads",
        params={"dryRun": "true", "onDuplicate": policy},
        json=body,
        headers=west_key.headers,
    )
    assert dry.status_code == 200, dry.text
    assert dry.json()["outcome"] == "duplicate"
    _hides(dry.json(), lead["id"])
    batch = client.post(
        "/api/v1/leads/batch",
        params={"onDuplicate": policy},
        json={"leads": [body]},
        headers=west_key.headers,
    )
    assert batch.status_code in (200, 207), batch.text
    [result] = batch.json()["results"]
    assert result["status"] == "duplicate"
    _hides(result, lead["id"])
    assert count_rows(backend, Lead, tenant.id) == 1
    assert count_rows(backend, Event, tenant.id) == events
    # The key whose team holds the lead is told which lead it is.
    same_team = client.post("/api/v1/leads", json=body, headers=east_key.headers)
    assert same_team.status_code == 409
    assert same_team.json()["existingLeadId"] == lead["id"]


def test_a_patch_onto_another_teams_lead_is_not_named(
    backend: Backend, client: httpx.Client
) -> None:
    tenant, _east_key, west_key, lead = _setup(backend, client)
    mine = client.post("/api/v1/leads", json=unique_lead(), headers=west_key.headers)
    assert mine.status_code == 201
    response = client.patch(
        f"/api/v1/leads/{mine.json()['id']}",
        json={"email": lead["email"]},
        headers=west_key.headers,
    )
    assert response.status_code == 409, response.text
    _hides(response.json(), lead["id"])
    assert count_rows(backend, Lead, tenant.id, email=lead["email"]) == 1
