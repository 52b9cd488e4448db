"""The console's privacy page: erasure and suppression by an owner, refused to members."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leadgate.models import AuditEvent, Lead, Suppression
from tests.conftest import Backend
from tests.console_helpers import (
    ConsoleClient,
    generate_key,
    invite,
    join,
    key_from_page,
    sign_up,
    tenant_id_of,
)
from tests.factories import count_rows, unique_lead


@pytest.fixture(autouse=True)
def _close_browsers() -> Iterator[None]:
    yield
    ConsoleClient.close_all()


def test_owner_erases_a_person_and_suppresses_an_address(backend: Backend) -> None:
    owner = sign_up(backend)
    tenant_id = tenant_id_of(backend, owner.slug)
    created = generate_key(owner.client, scopes=["leads:write"])
    key = key_from_page(created.text)
    lead = unique_lead()
    posted = owner.client.http.post("/api/v1/leads", json=lead, headers={"X-API-Key": key})
    assert posted.status_code == 201, posted.text

    page = owner.client.get("/console/privacy")
    assert page.status_code == 200
    assert "Erase a person" in page.text
    assert "Event payloads" in page.text

    refused = owner.client.post("/console/privacy/erasures", {"email": "not-an-address"})
    assert refused.status_code == 400
    assert 'aria-invalid="true"' in refused.text
    no_csrf = owner.client.post("/console/privacy/erasures", {"email": lead["email"]}, csrf=False)
    assert no_csrf.status_code == 403
    assert count_rows(backend, Lead, tenant_id) == 1
    assert count_rows(backend, AuditEvent, tenant_id, action="person.erased") == 0

    erased = owner.client.post(
        "/console/privacy/erasures", {"email": lead["email"], "suppress": "on"}
    )
    assert erased.status_code == 200, erased.text[:2000]
    assert "Erased" in erased.text
    assert lead["email"] not in erased.text
    assert count_rows(backend, Lead, tenant_id) == 0
    assert count_rows(backend, Suppression, tenant_id, reason="erased") == 1
    audit = count_rows(backend, AuditEvent, tenant_id, action="person.erased")
    assert audit == 1
    again = owner.client.http.post("/api/v1/leads", json=lead, headers={"X-API-Key": key})
    assert (again.status_code, again.json()["error"]) == (422, "email_suppressed")

    bad_reason = owner.client.post(
        "/console/privacy/suppressions", {"email": "x@example.org", "reason": "whim"}
    )
    assert bad_reason.status_code == 400
    assert count_rows(backend, Suppression, tenant_id) == 1
    suppressed = owner.client.post(
        "/console/privacy/suppressions", {"email": "x@example.org", "reason": "unsubscribed"}
    )
    assert suppressed.status_code == 303
    assert "suppression list" in owner.client.follow(suppressed).text
    assert count_rows(backend, Suppression, tenant_id, reason="unsubscribed") == 1


def test_owner_sets_retention_periods(backend: Backend) -> None:
    owner = sign_up(backend)
    tenant_id = tenant_id_of(backend, owner.slug)
    owner.client.get("/console/privacy")
    refused = owner.client.post("/console/privacy/retention", {"events": "900", "audit": "800"})
    assert refused.status_code == 400
    assert (
        'name="audit" value="800" placeholder="default" class="compact" aria-invalid="true"'
        in refused.text
    )
    negative = owner.client.post("/console/privacy/retention", {"usage": "-1"})
    assert negative.status_code == 400
    assert count_rows(backend, AuditEvent, tenant_id, action="retention.updated") == 0

    saved = owner.client.post(
        "/console/privacy/retention", {"eventPayloads": "7", "events": "14", "audit": ""}
    )
    assert saved.status_code == 303
    page = owner.client.follow(saved)
    assert "Retention periods saved." in page.text
    assert 'name="eventPayloads" value="7"' in page.text
    assert count_rows(backend, AuditEvent, tenant_id, action="retention.updated") == 1
    api = owner.client.http.get(
        "/api/v1/privacy/retention",
        headers={
            "X-API-Key": key_from_page(generate_key(owner.client, scopes=["privacy:read"]).text)
        },
    )
    assert api.json()["tenant"] == {"eventPayloads": 7.0, "events": 14.0}


def test_members_cannot_erase(backend: Backend) -> None:
    owner = sign_up(backend)
    tenant_id = tenant_id_of(backend, owner.slug)
    member, _email = join(backend, invite(owner.client, "member"))
    assert member.get("/console/privacy").status_code == 403
    member.get("/console/leads")
    refused = member.post("/console/privacy/erasures", {"email": "someone@example.org"})
    assert refused.status_code == 403
    retention = member.post("/console/privacy/retention", {"events": "1"})
    assert retention.status_code == 403
    assert count_rows(backend, AuditEvent, tenant_id, action="person.erased") == 0
    assert count_rows(backend, AuditEvent, tenant_id, action="retention.updated") == 0
    assert "/console/privacy" not in member.get("/console/leads").text
