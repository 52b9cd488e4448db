"""The intake path's fixed SQL statement budget: a regression shows here, not only in bench/."""

from __future__ import annotations

import httpx

from tests.conftest import Backend, QueryRecorder
from tests.factories import create_tenant, unique_lead, warm_fast_path

# Transaction control (BEGIN/COMMIT) is not counted. With the key in the verified-key cache (every
# request but a key's first), the fast path writes the lead and its lead.created event in one
# statement on PostgreSQL (a CTE) and two on SQLite (one transaction); an Idempotency-Key adds its
# claim. The route (a key's first request, or a duplicate) reads the key, inserts the lead (ON
# CONFLICT DO NOTHING) and inserts the event, or looks up the lead it duplicates: 3.
FAST_BUDGET = {"postgres": 1, "sqlite": 2}
INTAKE_BUDGET = 3


def _counted(recorder: QueryRecorder) -> list[str]:
    return [s for s in recorder.statements if not s.lstrip().upper().startswith("BEGIN")]


def test_intake_statement_budget(
    backend: Backend, client: httpx.Client, query_recorder: QueryRecorder
) -> None:
    tenant = create_tenant(backend)
    with query_recorder:  # the key's first request: read from the database, by the route
        response = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers)
    assert response.status_code == 201
    assert len(_counted(query_recorder)) <= INTAKE_BUDGET, "\n\n".join(_counted(query_recorder))
    warm_fast_path(client, tenant.headers)
    with query_recorder:
        response = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers)
    assert response.status_code == 201
    statements = _counted(query_recorder)
    assert len(statements) == FAST_BUDGET[backend.name], "\n\n".join(statements)
    keyed = {**tenant.headers, "Idempotency-Key": "budget-1"}
    with query_recorder:
        response = client.post("/api/v1/leads", json=unique_lead(), headers=keyed)
    assert response.status_code == 201
    statements = _counted(query_recorder)
    assert len(statements) == FAST_BUDGET[backend.name] + 1, "\n\n".join(statements)


def test_duplicate_costs_one_lookup_instead_of_the_event(
    backend: Backend, client: httpx.Client, query_recorder: QueryRecorder
) -> None:
    tenant = create_tenant(backend)
    warm_fast_path(client, tenant.headers)
    lead = unique_lead()
    assert client.post("/api/v1/leads", json=lead, headers=tenant.headers).status_code == 201
    with query_recorder:
        response = client.post("/api/v1/leads", json=lead, headers=tenant.headers)
    assert response.status_code == 409
    statements = _counted(query_recorder)
    # The fast path's write (which wrote nothing), then the route's insert and lookup.
    assert len(statements) <= FAST_BUDGET[backend.name] + 2, "\n\n".join(statements)
