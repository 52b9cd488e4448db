"""The intake path's fixed SQL statement budget: a regression shows here, not only in bench/."""

from __future__ import annotations

import httpx

from tests.conftest import Backend, QueryRecorder
from tests.factories import create_tenant, unique_lead

# Key lookup, INSERT lead (ON CONFLICT DO NOTHING), INSERT lead.created event. Transaction
# control (BEGIN/COMMIT) is not a cursor statement and is not counted.
INTAKE_BUDGET = 3


def test_intake_statement_budget(
    backend: Backend, client: httpx.Client, query_recorder: QueryRecorder
) -> None:
    tenant = create_tenant(backend)
    assert (
        client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers).status_code == 201
    )
    with query_recorder:
        response = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers)
    assert response.status_code == 201
    statements = [
        s for s in query_recorder.statements if not s.lstrip().upper().startswith("BEGIN")
    ]
    assert len(statements) <= INTAKE_BUDGET, "\n\n".join(statements)


def test_duplicate_costs_one_lookup_instead_of_the_event(
    backend: Backend, client: httpx.Client, query_recorder: QueryRecorder
) -> None:
    tenant = create_tenant(backend)
    lead = unique_lead()
    assert client.post("/api/v1/leads", json=lead, headers=tenant.headers).status_code == 201
    with query_recorder:
        response = client.post("/api/v1/leads", json=lead, headers=tenant.headers)
    assert response.status_code == 409
    statements = [
        s for s in query_recorder.statements if not s.lstrip().upper().startswith("BEGIN")
    ]
    assert len(statements) <= INTAKE_BUDGET, "\n\n".join(statements)
