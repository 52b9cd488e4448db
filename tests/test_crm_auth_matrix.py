"""The route-table auth matrix of activities, timelines, automations and reports: anonymous,
a bad key, an expired key and a key without the scope are refused before anything is written;
another tenant's key sees nothing; the scope alone is enough."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from leadgate.models import Activity, ApiKey, Automation, AutomationRun, Event, utcnow
from tests.conftest import Backend
from tests.factories import count_rows, create_api_key, create_tenant, unique_lead, update_row

ROUTES = [
    ("GET", "/api/v1/activities", None, "activities:read"),
    ("GET", "/api/v1/activities/{activity}", None, "activities:read"),
    ("POST", "/api/v1/activities",
     {"kind": "note", "recordType": "lead", "recordId": "{lead}", "subject": "x"},
     "activities:write"),
    ("PATCH", "/api/v1/activities/{activity}", {"subject": "y"}, "activities:write"),
    ("DELETE", "/api/v1/activities/{activity}", None, "activities:write"),
    ("GET", "/api/v1/timeline/lead/{lead}", None, "activities:read"),
    ("GET", "/api/v1/automations", None, "automations:read"),
    ("GET", "/api/v1/automations/{automation}", None, "automations:read"),
    ("GET", "/api/v1/automations/{automation}/runs", None, "automations:read"),
    ("POST", "/api/v1/automations",
     {"name": "n", "eventType": "lead.created", "actions": [{"type": "emit"}]},
     "automations:write"),
    ("PATCH", "/api/v1/automations/{automation}", {"name": "m"}, "automations:write"),
    ("POST", "/api/v1/automations/{automation}/trigger",
     {"recordType": "lead", "recordId": "{lead}"}, "automations:write"),
    ("DELETE", "/api/v1/automations/{automation}", None, "automations:write"),
    ("GET", "/api/v1/reports/leads", None, "reports:read"),
    ("GET", "/api/v1/reports/funnel", None, "reports:read"),
    ("GET", "/api/v1/reports/pipeline", None, "reports:read"),
    ("GET", "/api/v1/reports/revenue", None, "reports:read"),
    ("GET", "/api/v1/reports/usage", None, "reports:read"),
]  # fmt: skip


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


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
    activity = client.post(
        "/api/v1/activities",
        json={"kind": "call", "recordType": "lead", "recordId": lead["id"], "subject": "Hi"},
        headers=tenant.headers,
    ).json()
    automation = client.post(
        "/api/v1/automations",
        json={"name": "a", "eventType": "deal.won", "actions": [{"type": "emit"}]},
        headers=tenant.headers,
    ).json()
    ids = {"lead": lead["id"], "activity": activity["id"], "automation": automation["id"]}
    url, payload = path.format(**ids), _fill(body, ids)
    wrong_scope = scope.replace(":write", ":read") if scope.endswith(":write") else "leads:read"
    wrong = create_api_key(backend, tenant, [wrong_scope])
    right = create_api_key(backend, tenant, [scope])
    expired = create_api_key(backend, tenant, [scope])
    update_row(backend, ApiKey, expired.id, expires_at=utcnow() - timedelta(minutes=1))

    def call(headers: dict[str, str]) -> httpx.Response:
        return client.request(method, url, json=payload, headers=headers)

    def written() -> tuple[int, ...]:
        return (
            count_rows(backend, Event, tenant.id),
            count_rows(backend, Activity, tenant.id),
            count_rows(backend, Automation, tenant.id),
            count_rows(backend, AutomationRun, tenant.id),
        )

    before = written()
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
        assert foreign.status_code in (400, 404)
    elif method == "GET" and "reports" not in path:
        assert foreign.json()["data"] == []
    elif method == "POST" and "activities" in path:
        assert foreign.status_code == 400  # the lead is not the other tenant's
    assert written() == before
    assert call(right.headers).status_code in (200, 201)
