"""The console's CRM pages over HTTP: converting a lead, contacts, the pipeline board, record
timelines with activities, automations and reports. Refused forms write nothing."""

from __future__ import annotations

import re

import httpx

from leadgate.models import Activity, Automation, Contact, Deal, Event
from tests.conftest import Backend
from tests.console_helpers import sign_up, tenant_id_of
from tests.factories import TenantInfo, count_rows, create_api_key, unique_lead


def _api_key(backend: Backend, slug: str) -> dict[str, str]:
    tenant = TenantInfo(id=tenant_id_of(backend, slug), slug=slug, key="", key_id="")
    key = create_api_key(backend, tenant, ["leads:write", "leads:read", "deals:read"])
    return key.headers


def test_convert_board_timeline_automations_reports(backend: Backend) -> None:
    account = sign_up(backend)
    browser = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    headers = _api_key(backend, account.slug)
    with httpx.Client(base_url=backend.url, timeout=30) as http:
        lead = http.post("/api/v1/leads", json=unique_lead(source="website"),
                         headers=headers).json()  # fmt: skip

    page = browser.get(f"/console/leads/{lead['id']}")
    assert "Convert to contact" in page.text
    converted = browser.post(
        f"/console/leads/{lead['id']}/convert", {"dealName": "First order", "amount": "125.50"}
    )
    contact_page = browser.follow(converted)
    assert contact_page.status_code == 200
    assert "lead.converted" in contact_page.text
    assert count_rows(backend, Contact, tenant_id) == 1
    deal_id = re.search(r"/console/deals/(deal_\w+)", contact_page.text)
    assert deal_id is None  # the contact page links its lead, the board lists the deal

    board = browser.get("/console/deals")
    assert board.status_code == 200
    assert "First order" in board.text
    assert "125.50 USD" in board.text
    stages = re.findall(r'data-stage-id="(stg_\w+)"', board.text)
    assert len(stages) == 5
    found = re.search(r'data-deal-id="(deal_\w+)"', board.text)
    assert found is not None
    deal = found.group(1)
    moved = browser.post(f"/console/deals/{deal}/stage", {"stageId": stages[3]})
    assert moved.status_code == 303
    assert count_rows(backend, Event, tenant_id, type="deal.won") == 1
    deal_page = browser.get(f"/console/deals/{deal}")
    assert "data-status>won<" in deal_page.text
    assert 'data-entry-type="stage_change"' in deal_page.text

    # Activities on the deal: a task, marked done; an empty subject is refused.
    refused = browser.post(f"/console/records/deal/{deal}/activities",
                           {"kind": "note", "subject": ""})  # fmt: skip
    assert refused.status_code == 400
    assert count_rows(backend, Activity, tenant_id) == 0
    logged = browser.post(
        f"/console/records/deal/{deal}/activities",
        {"kind": "task", "subject": "Send the contract", "due": "2026-12-01"},
    )
    page = browser.follow(logged)
    assert "Send the contract" in page.text
    task = re.search(r"/console/activities/(act_\w+)/done", page.text)
    assert task is not None
    browser.post(f"/console/activities/{task.group(1)}/done", {})
    assert count_rows(backend, Event, tenant_id, type="activity.updated") == 1

    # Automations: bad JSON is refused; a rule is listed and can be disabled.
    bad = browser.post("/console/automations", {"name": "Bad", "eventType": "lead.created",
                       "conditions": "[", "actions": "[]"})  # fmt: skip
    assert bad.status_code == 400
    assert count_rows(backend, Automation, tenant_id) == 0
    made = browser.post("/console/automations", {
        "name": "Tag website", "eventType": "lead.created",
        "conditions": '[{"field": "source", "value": "website"}]',
        "actions": '[{"type": "add_tags", "tags": ["web"]}]',
    })  # fmt: skip
    listing = browser.follow(made)
    assert "Tag website" in listing.text
    rule = re.search(r'data-automation-id="(auto_\w+)"', listing.text)
    assert rule is not None
    browser.post(f"/console/automations/{rule.group(1)}/enabled", {})
    assert count_rows(backend, Automation, tenant_id, enabled=False) == 1

    reports = browser.get("/console/reports")
    assert reports.status_code == 200
    assert "Funnel" in reports.text
    assert "125.50" in reports.text

    contacts = browser.get("/console/contacts")
    assert lead["firstName"] in contacts.text
    duplicate = browser.post("/console/contacts", {"firstName": lead["firstName"],
                             "lastName": lead["lastName"]})  # fmt: skip
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.text
    assert count_rows(backend, Contact, tenant_id) == 1
    assert count_rows(backend, Deal, tenant_id) == 1

    # No CSRF token, no change.
    forged = browser.post("/console/contacts", {"firstName": "A", "lastName": "B"}, csrf=False)
    assert forged.status_code == 403
    assert count_rows(backend, Contact, tenant_id) == 1
