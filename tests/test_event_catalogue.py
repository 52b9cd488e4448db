"""The event catalogue's samples (GET /api/v1/event-types) have the fields real events carry."""

from __future__ import annotations

import time

import httpx

from leadgate.events.catalogue import CATALOGUE
from leadgate.models import Event
from tests.conftest import Backend
from tests.factories import create_api_key, create_tenant, fetch_rows, unique_lead


def _real(backend: Backend, tenant_id: str) -> dict[str, dict[str, object]]:
    return {event.type: event.data for event in fetch_rows(backend, Event, tenant_id)}


def test_samples_match_real_events(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)  # api_key.created for the first key
    lead = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers).json()
    client.patch(f"/api/v1/leads/{lead['id']}", json={"company": "Other"}, headers=tenant.headers)
    client.delete(f"/api/v1/leads/{lead['id']}", headers=tenant.headers)
    key = create_api_key(backend, tenant, ["leads:write"], rate_limit_per_minute=5)
    rolled = client.post(f"/api/v1/api-keys/{key.id}/roll", json={}, headers=tenant.headers)
    new_secret = {"X-API-Key": rolled.json()["apiKey"]}
    for _ in range(4):  # 80% of 5/min: usage.threshold_reached
        client.post("/api/v1/leads", json=unique_lead(), headers=new_secret)
    client.delete(f"/api/v1/api-keys/{key.id}", headers=tenant.headers)
    real = _wait_for_usage_event(backend, tenant.id)
    samples = {entry.type: entry.sample for entry in CATALOGUE}
    compared = 0
    for event_type, data in real.items():
        assert set(samples[event_type]) == set(data), event_type
        compared += 1
    assert {"lead.created", "lead.updated", "lead.deleted", "api_key.created", "api_key.rolled",
            "api_key.revoked", "usage.threshold_reached"} <= set(real)  # fmt: skip
    assert compared >= 7


def _wait_for_usage_event(backend: Backend, tenant_id: str) -> dict[str, dict[str, object]]:
    # The alert is written in a transaction of its own, just after the request.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        real = _real(backend, tenant_id)
        if "usage.threshold_reached" in real:
            return real
        time.sleep(0.05)
    return _real(backend, tenant_id)
