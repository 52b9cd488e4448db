"""Duplicates matched on the tenant's choice of e-mail, E.164 phone and name, enforced by the
database's partial unique indexes; the 409 says which field matched."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.errors import InvalidRequest
from leadgate.models import Lead
from leadgate.tenants.service import update_tenant
from tests.conftest import Backend, Cli
from tests.factories import (
    TenantInfo,
    count_rows,
    create_tenant,
    eventually_status,
    unique_lead,
)
from tests.receiver import wait_until


def match_on(backend: Backend, tenant: TenantInfo, fields: list[str]) -> None:
    async def work(session: AsyncSession) -> None:
        await update_tenant(session, tenant.slug, duplicate_fields=fields)

    backend.transaction(work)


def post(client: httpx.Client, tenant: TenantInfo, lead: dict[str, Any]) -> httpx.Response:
    return client.post("/api/v1/leads", json=lead, headers=tenant.headers)


def test_parallel_submissions_of_one_phone_in_two_formats_make_one_lead(
    backend: Backend,
) -> None:
    tenant = create_tenant(backend)
    match_on(backend, tenant, ["email", "phone", "name"])
    formats = ["+1 415-555-0132", "(415) 555-0132", "4155550132", "+14155550132"] * 2
    answers: list[httpx.Response] = []

    def submit(phone: str) -> None:
        with httpx.Client(base_url=backend.url, timeout=30) as own:
            answers.append(post(own, tenant, unique_lead(phone=phone)))

    threads = [threading.Thread(target=submit, args=(phone,)) for phone in formats]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * (len(formats) - 1), [a.text for a in answers]
    [created] = [a.json() for a in answers if a.status_code == 201]
    assert created["phone"] == "+14155550132"
    for refused in (a.json() for a in answers if a.status_code == 409):
        assert refused["error"] == "duplicate_lead"
        assert refused["matchedOn"] == "phone"
        assert refused["existingLeadId"] == created["id"]
        assert refused["details"][0]["field"] == "phone"
    assert count_rows(backend, Lead, tenant.id) == 1


def test_matching_fields_are_the_tenants_choice(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    london = "+44 20 7946 0018"
    # The default: e-mail and name; the same phone with another name and e-mail is a new lead.
    first = post(client, tenant, unique_lead(phone=london))
    assert first.status_code == 201
    assert post(client, tenant, unique_lead(phone="+442079460018")).status_code == 201
    named = unique_lead(phone="+1 212 555 0150")
    assert post(client, tenant, named).status_code == 201
    twin = {**named, "email": "other@example.com", "phone": "+1 212 555 0151"}
    refused = post(client, tenant, twin)
    assert refused.status_code == 409
    assert refused.json()["matchedOn"] == "name"

    # Phone only (the verified-key cache learns it within its bound): the same name is fine...
    match_on(backend, tenant, ["phone"])
    assert eventually_status(lambda: post(client, tenant, twin), 201) is not None
    # ...and of the two leads that shared a number, the older now holds it.
    taken = post(client, tenant, unique_lead(phone="+44 (0)20 7946 0018"))
    assert taken.status_code == 409
    assert taken.json()["matchedOn"] == "phone"
    assert taken.json()["existingLeadId"] == first.json()["id"]

    # dryRun names the field too, and writes nothing.
    leads_before = count_rows(backend, Lead, tenant.id)
    dry = client.post(
        "/api/v1/leads?dryRun=true", json=unique_lead(phone=london), headers=tenant.headers
    )
    assert dry.status_code == 200
    assert dry.json()["outcome"] == "duplicate"
    assert dry.json()["matchedOn"] == "phone"
    assert count_rows(backend, Lead, tenant.id) == leads_before

    # Changing a lead's phone to one another lead holds is refused the same way.
    lead = post(client, tenant, unique_lead(phone="+1 212 555 0101")).json()
    path = f"/api/v1/leads/{lead['id']}"
    moved = client.patch(path, json={"phone": london}, headers=tenant.headers)
    assert moved.status_code == 409
    assert moved.json()["matchedOn"] == "phone"
    assert client.get(path, headers=tenant.headers).json()["phone"] == "+12125550101"

    # Deleting the holder frees the number (the younger twin never held it).
    deleted = client.delete(f"/api/v1/leads/{first.json()['id']}", headers=tenant.headers)
    assert deleted.status_code == 200
    assert client.patch(path, json={"phone": london}, headers=tenant.headers).status_code == 200


@pytest.mark.parametrize("fields", [[], ["email", "fax"]])
def test_unknown_matching_fields_are_refused(backend: Backend, fields: list[str]) -> None:
    tenant = create_tenant(backend)

    async def work(session: AsyncSession) -> None:
        await update_tenant(session, tenant.slug, duplicate_fields=fields)

    with pytest.raises(InvalidRequest):
        backend.transaction(work)


def test_operators_choose_the_fields_with_the_cli(
    backend: Backend,
    client: httpx.Client,
    cli: Cli,
) -> None:
    tenant = create_tenant(backend)
    created = post(client, tenant, unique_lead(phone="+1 303 555 0199"))
    assert created.status_code == 201
    again = unique_lead(phone="(303) 555-0199")
    assert post(client, tenant, again).status_code == 201  # e-mail and name only, by default

    changed = cli("tenant", "update", tenant.slug, "--duplicate-fields", "phone, email", "--json")
    assert changed.exit_code == 0, changed.stdout
    assert json.loads(changed.stdout)["duplicateFields"] == ["email", "phone"]
    third = unique_lead(phone="+13035550199")

    # The servers' key cache learns the change within its bound; a dry run writes nothing.
    def dry_run() -> httpx.Response:
        return client.post("/api/v1/leads?dryRun=true", json=third, headers=tenant.headers)

    wait_until(lambda: dry_run().json()["outcome"] == "duplicate", timeout=30)
    answer = post(client, tenant, third)
    assert answer.status_code == 409
    assert answer.json()["matchedOn"] == "phone"
    assert answer.json()["existingLeadId"] == created.json()["id"]

    for value in ("fax", ""):
        refused = cli("tenant", "update", tenant.slug, "--duplicate-fields", value)
        assert refused.exit_code == 1
    shown = cli("tenant", "update", tenant.slug)
    assert "matching email, phone" in shown.stdout
    assert count_rows(backend, Lead, tenant.id) == 2


def test_inbound_sources_match_on_the_tenants_fields(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    match_on(backend, tenant, ["phone"])
    source = client.post(
        "/api/v1/sources",
        json={"name": "Ads", "kind": "google_ads"},
        headers=tenant.headers,
    ).json()
    path = httpx.URL(source["url"]).path
    outcomes = []
    for name, phone in (("Ann Lee", "+1 650-555-0123"), ("Bob Ray", "(650) 555 0123")):
        columns = [
            {"column_id": "FULL_NAME", "string_value": name},
            {"column_id": "PHONE_NUMBER", "string_value": phone},
        ]
        body = {"google_key": source["secret"], "is_test": False, "user_column_data": columns}
        outcomes.append(client.post(path, json=body).json())
    assert [o["outcome"] for o in outcomes] == ["created", "duplicate"]
    kept = client.get(f"/api/v1/sources/{source['id']}/payloads", headers=tenant.headers).json()[
        "data"
    ]
    assert kept[0]["error"]["existingLeadId"] == outcomes[0]["leadId"]
    assert count_rows(backend, Lead, tenant.id) == 1
