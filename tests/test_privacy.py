"""Personal data: retention by a moved clock, erasure of a person everywhere they were copied,
export of a person, and the suppression list at every intake path."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.housekeeping import purge_once
from leadgate.models import (
    Activity,
    AuditEvent,
    Base,
    Contact,
    Deal,
    Event,
    IdempotencyRecord,
    Lead,
    LeadConsent,
    PendingConfirmation,
    QuarantinedSubmission,
    SourcePayload,
    Suppression,
    Tenant,
    UsageCount,
    WebhookAttempt,
    WebhookDelivery,
    utcnow,
)
from leadgate.privacy.retention import purge_tenant
from tests.conftest import Backend, Cli, app_server
from tests.factories import (
    TenantInfo,
    count_rows,
    create_api_key,
    create_tenant,
    fetch_rows,
    seed_lead,
)
from tests.receiver import Received, Receiver, running_receiver, wait_until
from tests.test_forms import JSON_HEADERS, make_form
from tests.test_forms_consent import CONSENT, Mailbox, free_port


def echo(_n: int, request: Received) -> tuple[int, dict[str, str], bytes]:
    """A receiver that quotes what it was sent: the attempt's response snippet is a copy."""
    return 200, {"content-type": "application/json"}, request.body


def unavailable(_n: int, _request: Received) -> tuple[int, dict[str, str], bytes]:
    return 503, {"retry-after": "3600"}, b"busy"


@pytest.fixture
def echo_receiver() -> Iterator[Receiver]:
    with running_receiver(echo) as running:
        yield running


@pytest.fixture
def busy_receiver() -> Iterator[Receiver]:
    with running_receiver(unavailable) as running:
        yield running


@pytest.fixture
def smtp_settings() -> Iterator[tuple[Mailbox, dict[str, Any]]]:
    """A local SMTP server, and the settings of an app server that sends double opt-in mail."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
    finally:
        controller.stop()


def privacy_tenant(backend: Backend) -> TenantInfo:
    # The `allow` policy lets the same person arrive by several paths.
    return create_tenant(backend, duplicate_policy="allow")


def person() -> dict[str, Any]:
    tag = uuid.uuid4().hex[:10]
    digits = f"{random.randrange(10_000):04d}"
    return seed_lead(
        firstName=f"Erin{tag}",
        lastName=f"Eraseme{tag}",
        email=f"erin.{tag}@example.org",
        phone=f"+1 212-555-{digits}",
    )


def e164(phone: str) -> str:
    return "+" + "".join(ch for ch in phone if ch.isdigit())


def tenant_settings(backend: Backend, tenant_id: str) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        tenant = await session.get(Tenant, tenant_id)
        assert tenant is not None
        return dict(tenant.settings)

    return backend.transaction(work)


def make_endpoint(client: httpx.Client, tenant: TenantInfo, url: str) -> str:
    response = client.post("/api/v1/webhook-endpoints", json={"url": url}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def form_post(
    client: httpx.Client, form_id: str, them: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """The person fills in a form on the tenant's site (`extra`: consent, honeypot, attribution)."""
    fields = {key: them[key] for key in ("firstName", "lastName", "email", "phone")}
    note = {"message": f"call {them['firstName']} {them['lastName']} back"}
    response = client.post(f"/f/{form_id}", json={**fields, **note, **extra}, headers=JSON_HEADERS)
    assert response.status_code == 200, response.text
    return dict(response.json())


def source_post(client: httpx.Client, tenant: TenantInfo, them: dict[str, Any]) -> dict[str, Any]:
    """A provider sends the person as a signed JSON payload; it is kept with its outcome."""
    created = client.post(
        "/api/v1/sources",
        json={
            "name": "Landing page",
            "kind": "json",
            "mapping": {
                "rules": [
                    {"from": "contact.name", "to": "fullName"},
                    {"from": "contact.email", "to": "email"},
                    {"from": "contact.phone", "to": "phone"},
                ]
            },
        },
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    source = created.json()
    contact = {
        "name": f"{them['firstName']} {them['lastName']}",
        "email": them["email"],
        "phone": them["phone"],
    }
    body = json.dumps({"contact": contact}).encode()
    signature = hmac.new(source["secret"].encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        httpx.URL(source["url"]).path,
        content=body,
        headers={"Content-Type": "application/json", "X-Leadgate-Signature": "sha256=" + signature},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def deliveries(client: httpx.Client, tenant: TenantInfo, endpoint_id: str) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/v1/webhook-endpoints/{endpoint_id}/deliveries", headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def text_hits(
    backend: Backend, needles: list[str], *, except_tenant: str | None = None
) -> list[str]:
    """Every `table.column` of every table (text and JSON columns, from the metadata) holding
    one of the needles, case-insensitively; rows of `except_tenant` are not searched."""

    async def work(session: AsyncSession) -> list[str]:
        hits = []
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, sa.String | sa.Text | sa.JSON):
                    continue
                text = sa.func.lower(sa.cast(column, sa.Text()))
                condition = sa.or_(*(text.contains(n.lower(), autoescape=True) for n in needles))
                statement = sa.select(sa.func.count()).select_from(table).where(condition)
                if except_tenant is not None and "tenant_id" in table.c:
                    statement = statement.where(
                        sa.or_(table.c.tenant_id.is_(None), table.c.tenant_id != except_tenant)
                    )
                if (await session.execute(statement)).scalar_one():
                    hits.append(f"{table.name}.{column.name}")
        return hits

    return backend.transaction(work)


def retention_purged(kind: str) -> float:
    return REGISTRY.get_sample_value("leadgate_retention_purged_total", {"kind": kind}) or 0.0


# --- retention -------------------------------------------------------------------------------


def test_retention_purges_each_kind_when_the_clock_passes_its_period(
    backend: Backend, client: httpx.Client, echo_receiver: Receiver
) -> None:
    tenant = privacy_tenant(backend)
    periods = {
        "idempotencyRecords": 0.5,
        "eventPayloads": 1,
        "deliveryAttempts": 2,
        "events": 3,
        "usage": 5,
        "audit": 10,
    }
    response = client.put("/api/v1/privacy/retention", json=periods, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["tenant"] == {k: float(v) for k, v in periods.items()}
    assert response.json()["effective"]["audit"] == 10

    endpoint_id = make_endpoint(client, tenant, echo_receiver.url)
    for index in range(3):
        headers = {**tenant.headers, "Idempotency-Key": f"retention-{index}"}
        created = client.post("/api/v1/leads", json=person(), headers=headers)
        assert created.status_code == 201, created.text
    wait_until(
        lambda: (
            sum(d["status"] == "succeeded" for d in deliveries(client, tenant, endpoint_id)) == 3
        )
    )
    wait_until(lambda: count_rows(backend, UsageCount, tenant.id) > 0)
    events = count_rows(backend, Event, tenant.id)
    attempts = count_rows(backend, WebhookAttempt, tenant.id)
    # Three leads (and the first key's `api_key.created`, made before the endpoint existed).
    assert (events, attempts, count_rows(backend, IdempotencyRecord, tenant.id)) == (4, 3, 3)
    event_id = client.get("/api/v1/events", headers=tenant.headers).json()["data"][0]["id"]

    database = backend.app.state.database
    # Small batches: each kind takes several rounds, each its own transaction.
    settings = backend.settings.model_copy(update={"retention_batch_size": 2})
    stored = tenant_settings(backend, tenant.id)
    start = utcnow()

    def purge_at(days: float) -> dict[str, int]:
        at: datetime = start + timedelta(days=days)
        return backend.run(purge_tenant(database, settings, tenant.id, stored, at))

    before_metric = retention_purged("event_payloads")
    assert set(purge_at(0.25).values()) == {0}  # nothing is old enough yet
    # The housekeeping pass runs retention for every tenant: only this one has a period this
    # short (the others' idempotency records keep their own expiry).
    housekeeping = backend.run(purge_once(database, settings, now=start + timedelta(days=0.75)))
    assert housekeeping.retention["idempotency_records"] == 3
    assert count_rows(backend, IdempotencyRecord, tenant.id) == 0
    assert count_rows(backend, Event, tenant.id) == events

    assert purge_at(1.5)["event_payloads"] == events
    assert retention_purged("event_payloads") - before_metric == events
    assert count_rows(backend, Event, tenant.id) == events
    purged = client.get("/api/v1/events", headers=tenant.headers).json()["data"][0]
    assert purged["data"] == {}
    assert purged["payloadPurgedAt"] is not None
    replay = client.post(
        f"/api/v1/events/{event_id}/replay",
        json={"endpointId": endpoint_id},
        headers=tenant.headers,
    )
    assert replay.status_code == 410, replay.text
    assert replay.json()["error"] == "event_payload_purged"
    assert sum(d["trigger"] == "replay" for d in deliveries(client, tenant, endpoint_id)) == 0

    assert purge_at(2.5)["delivery_attempts"] == attempts
    assert count_rows(backend, WebhookAttempt, tenant.id) == 0
    assert count_rows(backend, WebhookDelivery, tenant.id) == 3

    assert purge_at(3.5)["events"] == events
    assert count_rows(backend, Event, tenant.id) == 0
    assert count_rows(backend, WebhookDelivery, tenant.id) == 0  # they go with their events

    # Usage counts and a key's first-use audit are written by background flushes: flushed now,
    # after this test's last request, nothing more arrives for this tenant.
    backend.run(backend.app.state.usage.flush(database))
    backend.run(backend.app.state.key_usage.flush(database))
    usage = count_rows(backend, UsageCount, tenant.id)
    assert purge_at(6)["usage_counts"] == usage > 0
    assert count_rows(backend, UsageCount, tenant.id) == 0
    audits = count_rows(backend, AuditEvent, tenant.id)
    assert purge_at(11)["audit_events"] == audits > 0
    assert count_rows(backend, AuditEvent, tenant.id) == 0


def test_retention_purges_form_submissions_and_source_payloads(
    backend: Backend, client: httpx.Client, smtp_settings: tuple[Mailbox, dict[str, Any]]
) -> None:
    tenant = privacy_tenant(backend)
    them = person()
    form_id = make_form(client, tenant, consentText=CONSENT)["id"]
    form_post(client, form_id, them, consent="on", _lg_hp="http://spam")
    source_post(client, tenant, them)
    mailbox, smtp = smtp_settings
    with app_server(backend, **smtp) as server, httpx.Client(base_url=server.url) as http:
        form_post(http, make_form(http, tenant, doubleOptIn=True)["id"], them)
        wait_until(lambda: len(mailbox.messages) == 1)
    counted = (QuarantinedSubmission, PendingConfirmation, SourcePayload)
    assert [count_rows(backend, model, tenant.id) for model in counted] == [1, 1, 1]

    database = backend.app.state.database
    settings = backend.settings.model_copy(
        update={"retention_form_quarantine_days": 5, "sources_payload_retention_days": 4}
    )
    stored = tenant_settings(backend, tenant.id)
    start = utcnow()
    kinds = ("form_confirmations", "source_payloads", "form_quarantine")
    before_metric = {kind: retention_purged(kind) for kind in kinds}

    def purge_at(days: float) -> dict[str, int]:
        at: datetime = start + timedelta(days=days)
        purged = backend.run(purge_tenant(database, settings, tenant.id, stored, at))
        return {kind: purged[kind] for kind in kinds}

    assert purge_at(1) == dict.fromkeys(kinds, 0)
    # The confirmation link works LEADGATE_FORMS_CONFIRMATION_HOURS (48): expired, it goes.
    assert purge_at(2.5) == {"form_confirmations": 1, "source_payloads": 0, "form_quarantine": 0}
    assert purge_at(4.5)["source_payloads"] == 1
    assert purge_at(5.5)["form_quarantine"] == 1
    assert [count_rows(backend, model, tenant.id) for model in counted] == [0, 0, 0]
    assert {kind: retention_purged(kind) - before_metric[kind] for kind in kinds} == dict.fromkeys(
        kinds, 1
    )


def test_retention_settings_keep_the_audit_log_longest(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = privacy_tenant(backend)
    defaults = client.get("/api/v1/privacy/retention", headers=tenant.headers)
    assert defaults.status_code == 200, defaults.text
    assert defaults.json()["tenant"] == {}
    assert defaults.json()["effective"] == defaults.json()["defaults"]
    assert defaults.json()["defaults"]["audit"] == backend.settings.retention_audit_days

    refused = client.put(
        "/api/v1/privacy/retention", json={"events": 800, "audit": 700}, headers=tenant.headers
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"
    assert refused.json()["details"][0]["field"] == "audit"
    assert tenant_settings(backend, tenant.id).get("retention") is None
    assert count_rows(backend, AuditEvent, tenant.id, action="retention.updated") == 0

    invalid = client.put("/api/v1/privacy/retention", json={"events": 0}, headers=tenant.headers)
    assert invalid.status_code == 400
    assert invalid.json()["error"] == "invalid_request"

    shorter = client.put("/api/v1/privacy/retention", json={"events": 7}, headers=tenant.headers)
    assert shorter.status_code == 200
    assert shorter.json()["effective"]["events"] == 7
    back = client.put("/api/v1/privacy/retention", json={"events": None}, headers=tenant.headers)
    assert back.json()["tenant"] == {}
    assert count_rows(backend, AuditEvent, tenant.id, action="retention.updated") == 2


# --- erasure ---------------------------------------------------------------------------------


def test_erasure_leaves_no_copy_of_the_person_in_any_table_or_the_log(
    backend: Backend,
    client: httpx.Client,
    cli: Cli,
    tmp_path: Path,
    server_log: Path,
    echo_receiver: Receiver,
    busy_receiver: Receiver,
    smtp_settings: tuple[Mailbox, dict[str, Any]],
) -> None:
    tenant = privacy_tenant(backend)
    other = privacy_tenant(backend)
    them = person()
    needles = [them["email"], e164(them["phone"]), them["firstName"], them["lastName"]]
    echoing = make_endpoint(client, tenant, echo_receiver.url)
    busy = make_endpoint(client, tenant, busy_receiver.url)

    # Every path that copies a person: the API with an Idempotency-Key, a batch, an HTML form
    # post (a custom field naming them), a CSV import
    # (imports refuse duplicates: this row differs in name and has no e-mail, the phone is
    # theirs), an update and a delete (their events), webhooks delivered (echoed) and pending.
    keyed = {**tenant.headers, "Idempotency-Key": f"erase-{uuid.uuid4().hex}"}
    api = client.post("/api/v1/leads", json={**them, "email": them["email"].upper()}, headers=keyed)
    assert api.status_code == 201, api.text
    batch = client.post(
        "/api/v1/leads/batch",
        json={"leads": [{**them, "company": "Batch Co"}, {**them, "email": None}]},
        headers=tenant.headers,
    )
    assert [item["status"] for item in batch.json()["results"]] == ["created", "created"]
    form = client.post(
        "/api/leads/intake",
        data={
            "firstName": them["firstName"],
            "lastName": "Formfill",
            "email": them["email"],
            "customFields[note]": f"call {them['firstName']} {them['lastName']} back",
            "api_key": tenant.key,
        },
    )
    assert form.status_code == 201, form.text
    assert form.json()["requestSource"] == "web_form"
    csv = tmp_path / "person.csv"
    csv.write_text(
        "firstName,lastName,email,phone\n"
        f"{them['lastName']},{them['firstName']},,{them['phone']}\n",
        encoding="utf-8",
    )
    imported = cli("leads", "import", "--tenant", tenant.slug, str(csv))
    assert imported.exit_code == 0, imported.output
    lead_id = api.json()["id"]
    updated = client.patch(
        f"/api/v1/leads/{lead_id}", json={"status": "contacted"}, headers=tenant.headers
    )
    assert updated.status_code == 200, updated.text
    deleted_id = batch.json()["results"][1]["lead"]["id"]
    assert client.delete(f"/api/v1/leads/{deleted_id}", headers=tenant.headers).status_code == 200
    # A web form: a lead with consent and attribution, and a submission held in quarantine
    # (the honeypot filled in); a double opt-in form: a lead waiting for its confirmation.
    web_form = make_form(client, tenant, consentText=CONSENT)["id"]
    touch = {"utmSource": "news", "landingPage": f"https://shop.example/?who={them['lastName']}"}
    form_post(client, web_form, them, consent="on", attribution={"firstTouch": touch})
    form_post(client, web_form, them, consent="on", _lg_hp="http://spam")
    mailbox, smtp = smtp_settings
    with app_server(backend, **smtp) as server, httpx.Client(base_url=server.url) as http:
        opt_in = make_form(http, tenant, doubleOptIn=True)["id"]
        form_post(http, opt_in, them)
        wait_until(lambda: len(mailbox.messages) == 1)
    # An inbound source: the provider's payload is kept beside the lead it made.
    assert source_post(client, tenant, them)["outcome"] == "created"
    # The CRM: the API lead converted into a contact with a deal, a note on the contact.
    converted = client.post(
        f"/api/v1/leads/{lead_id}/convert",
        json={"deal": {"name": "50 seats", "amount": 100, "currency": "eur"}},
        headers=tenant.headers,
    )
    assert converted.status_code == 201, converted.text
    contact_id = converted.json()["contact"]["id"]
    note = client.post(
        "/api/v1/activities",
        json={"kind": "note", "recordType": "contact", "recordId": contact_id,
              "subject": "Met at the fair", "body": f"{them['firstName']} wants a demo"},
        headers=tenant.headers,
    )  # fmt: skip
    assert note.status_code == 201, note.text
    # The same person in another tenant is that tenant's business, not this erasure's.
    assert client.post("/api/v1/leads", json=them, headers=other.headers).status_code == 201

    # Everything sent to the echoing endpoint has arrived (none is in flight during the erasure).
    wait_until(lambda: len(echo_receiver.requests) >= 9)
    wait_until(lambda: {d["status"] for d in deliveries(client, tenant, echoing)} == {"succeeded"})
    wait_until(lambda: len(busy_receiver.requests) >= 1)
    # The busy endpoint is switched off: its deliveries wait, pending, with a 503 attempt each.
    disabled = client.patch(
        f"/api/v1/webhook-endpoints/{busy}", json={"enabled": False}, headers=tenant.headers
    )
    assert disabled.status_code == 200
    pending = [d for d in deliveries(client, tenant, busy) if d["status"] == "pending"]
    assert pending
    assert any(them["email"] in r.body.decode() for r in echo_receiver.requests)
    assert count_rows(backend, Lead, tenant.id) == 7
    assert set(text_hits(backend, needles)) >= {
        "leads.email",
        "leads.attribution",
        "events.data",
        "webhook_attempts.response_body",
        "idempotency_records.response_body",
        "form_quarantine.lead",
        "form_confirmations.email",
        "form_confirmations.lead",
        "source_payloads.body",
        "contacts.email",
        "activities.body",
    }

    erased = client.post(
        "/api/v1/privacy/erasures",
        json={"email": them["email"], "phone": them["phone"]},
        headers=tenant.headers,
    )
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["counts"]["leads"] == 7
    assert body["counts"]["pendingDeliveries"] == len(pending)
    assert body["counts"]["idempotencyRecords"] == 1
    assert (
        body["counts"]["consents"],
        body["counts"]["quarantinedSubmissions"],
        body["counts"]["pendingConfirmations"],
        body["counts"]["sourcePayloads"],
        body["counts"]["contacts"],
        body["counts"]["activities"],
    ) == (1, 1, 1, 1, 1, 1)
    assert body["suppressed"] is True
    assert count_rows(backend, LeadConsent, tenant.id) == 0
    assert count_rows(backend, QuarantinedSubmission, tenant.id) == 0
    assert count_rows(backend, PendingConfirmation, tenant.id) == 0
    # The source's delivery stays counted, with its outcome; what it carried is gone.
    assert count_rows(backend, SourcePayload, tenant.id, outcome="created") == 1
    assert (count_rows(backend, Contact, tenant.id), count_rows(backend, Activity, tenant.id)) == (
        0,
        0,
    )
    # The deal is the tenant's business: it stays, linked to no one.
    [deal] = fetch_rows(backend, Deal, tenant.id)
    assert (deal.contact_id, deal.lead_id, deal.amount) == (None, None, 100)
    assert count_rows(backend, Lead, tenant.id) == 0
    assert count_rows(backend, Lead, other.id) == 1
    assert count_rows(backend, Suppression, tenant.id) == 1
    assert count_rows(backend, AuditEvent, tenant.id, action="person.erased", target_id=body["id"])
    assert count_rows(backend, Event, tenant.id, type="person.erased") == 1
    assert {d["status"] for d in deliveries(client, tenant, busy)} == {"cancelled"}

    # Switched back on, the endpoint gets what happens next, never the erased person.
    sent_before = len(busy_receiver.requests)
    enabled = client.patch(
        f"/api/v1/webhook-endpoints/{busy}", json={"enabled": True}, headers=tenant.headers
    )
    assert enabled.status_code == 200
    echoed_before = len(echo_receiver.requests)
    next_lead = client.post("/api/v1/leads", json=person(), headers=tenant.headers).json()
    wait_until(lambda: any(next_lead["id"] in r.body.decode() for r in busy_receiver.requests))
    wait_until(lambda: any(next_lead["id"] in r.body.decode() for r in echo_receiver.requests))
    later = busy_receiver.requests[sent_before:] + echo_receiver.requests[echoed_before:]
    assert [r.json["type"] for r in later if any(n in r.body.decode() for n in needles)] == []
    assert any(r.json["type"] == "person.erased" for r in echo_receiver.requests)

    # Nothing of them is left in any table (the other tenant keeps its own lead), nor in the log.
    assert text_hits(backend, needles, except_tenant=other.id) == []
    assert "leads.email" in text_hits(backend, needles)
    log = server_log.read_text().lower()
    assert [n for n in needles if n.lower() in log] == []


def test_an_attempt_in_flight_during_an_erasure_is_not_kept(
    backend: Backend, client: httpx.Client, server_log: Path
) -> None:
    gate = threading.Event()

    def held(n: int, request: Received) -> tuple[int, dict[str, str], bytes]:
        gate.wait(10)
        return echo(n, request)

    with running_receiver(held) as receiver:
        tenant = privacy_tenant(backend)
        them = person()
        make_endpoint(client, tenant, receiver.url)
        assert client.post("/api/v1/leads", json=them, headers=tenant.headers).status_code == 201
        receiver.wait_for(1)  # the worker is sending it, and waits for the answer
        endpoint_id = client.get("/api/v1/webhook-endpoints", headers=tenant.headers).json()[
            "data"
        ][0]["id"]
        delivery_id = deliveries(client, tenant, endpoint_id)[0]["id"]
        erased = client.post(
            "/api/v1/privacy/erasures",
            json={"email": them["email"], "suppress": False},
            headers=tenant.headers,
        )
        assert erased.status_code == 200
        assert erased.json()["counts"]["pendingDeliveries"] == 1
        gate.set()
        wait_until(
            lambda: any(
                "webhook_attempt" in line and delivery_id in line
                for line in server_log.read_text().splitlines()
            )
        )
    (delivery,) = [d for d in deliveries(client, tenant, endpoint_id) if d["id"] == delivery_id]
    assert (delivery["status"], delivery["attempts"], delivery["attemptLog"]) == (
        "cancelled",
        0,
        [],
    )
    assert text_hits(backend, [them["email"], them["firstName"]]) == []


def test_erasure_refuses_bad_requests_and_wrong_callers(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = privacy_tenant(backend)
    them = person()
    assert client.post("/api/v1/leads", json=them, headers=tenant.headers).status_code == 201
    reader = create_api_key(backend, tenant, ["leads:read", "leads:write", "privacy:read"])
    other = privacy_tenant(backend)
    attempts: list[tuple[dict[str, str], dict[str, Any], int, str]] = [
        ({}, {"email": them["email"]}, 401, "invalid_api_key"),
        (reader.headers, {"email": them["email"]}, 403, "insufficient_scope"),
        (tenant.headers, {}, 400, "invalid_request"),
        (tenant.headers, {"email": "not-an-address"}, 400, "invalid_request"),
        (tenant.headers, {"phone": "12"}, 400, "invalid_request"),
        (tenant.headers, {"email": them["email"], "name": "x"}, 400, "invalid_request"),
    ]
    for headers, body, status, code in attempts:
        response = client.post("/api/v1/privacy/erasures", json=body, headers=headers)
        assert (response.status_code, response.json()["error"]) == (status, code), body
    # Another tenant's erasure finds nobody here.
    elsewhere = client.post(
        "/api/v1/privacy/erasures", json={"email": them["email"]}, headers=other.headers
    )
    assert elsewhere.status_code == 200
    assert elsewhere.json()["leadIds"] == []
    assert count_rows(backend, Lead, tenant.id) == 1
    assert count_rows(backend, Suppression, tenant.id) == 0
    assert count_rows(backend, AuditEvent, tenant.id, action="person.erased") == 0


# --- export ----------------------------------------------------------------------------------


def test_export_lists_every_record_and_copy_of_the_person(
    backend: Backend, client: httpx.Client, server_log: Path, echo_receiver: Receiver
) -> None:
    tenant = privacy_tenant(backend)
    them = person()
    make_endpoint(client, tenant, echo_receiver.url)
    keyed = {**tenant.headers, "Idempotency-Key": f"export-{uuid.uuid4().hex}"}
    created = client.post("/api/v1/leads", json={**them, "tags": ["vip"]}, headers=keyed)
    assert created.status_code == 201, created.text
    by_phone = client.post(
        "/api/v1/leads", json={**them, "email": None, "lastName": "Other"}, headers=tenant.headers
    )
    assert by_phone.status_code == 201
    # Someone else, who must not appear.
    assert client.post("/api/v1/leads", json=person(), headers=tenant.headers).status_code == 201
    wait_until(lambda: len(echo_receiver.requests) >= 3)
    wait_until(lambda: count_rows(backend, WebhookAttempt, tenant.id) >= 3)

    reader = create_api_key(backend, tenant, ["privacy:read"])
    response = client.get(
        "/api/v1/privacy/exports",
        params={"email": them["email"], "phone": them["phone"]},
        headers=reader.headers,
    )
    assert response.status_code == 200, response.text
    export = response.json()
    assert export["subject"] == {"email": them["email"], "phone": e164(them["phone"])}
    assert {lead["id"] for lead in export["leads"]} == {created.json()["id"], by_phone.json()["id"]}
    first = next(lead for lead in export["leads"] if lead["id"] == created.json()["id"])
    assert (first["firstName"], first["tags"], first["createdBy"]["type"]) == (
        them["firstName"],
        ["vip"],
        "api_key",
    )
    assert "emailKey" not in first
    assert sorted(event["type"] for event in export["events"]) == ["lead.created"] * 2
    assert len(export["webhookDeliveries"]) == 2
    assert len(export["webhookAttempts"]) == 2
    assert them["email"] in export["webhookAttempts"][0]["responseBody"]
    assert [r["key"] for r in export["idempotencyRecords"]] == [keyed["Idempotency-Key"]]
    assert export["suppression"] is None
    # A read: nothing written (not even an audit row); the e-mail is not in the access log.
    assert count_rows(backend, AuditEvent, tenant.id, action="person.exported") == 0
    assert them["email"].lower() not in server_log.read_text().lower()

    for headers, params, status, code in [
        ({}, {"email": them["email"]}, 401, "invalid_api_key"),
        (create_api_key(backend, tenant, ["leads:read"]).headers, {"email": "a@b.co"}, 403,
         "insufficient_scope"),
        (reader.headers, {}, 400, "invalid_request"),
        (reader.headers, {"email": "nope"}, 400, "invalid_request"),
    ]:  # fmt: skip
        refused = client.get("/api/v1/privacy/exports", params=params, headers=headers)
        assert (refused.status_code, refused.json()["error"]) == (status, code), params


def test_export_includes_consent_attribution_and_what_forms_and_sources_hold(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = privacy_tenant(backend)
    them = person()
    form_id = make_form(client, tenant, consentText=CONSENT)["id"]
    touch = {"utmSource": "news", "utmCampaign": "spring"}
    form_post(client, form_id, them, consent="on", attribution={"lastTouch": touch})
    form_post(client, form_id, them, consent="on", _lg_hp="http://spam")
    made = source_post(client, tenant, them)
    form_post(client, form_id, person(), consent="on")  # someone else, who must not appear
    converted = client.post(
        f"/api/v1/leads/{made['leadId']}/convert",
        json={"deal": {"name": "Pilot", "amount": 100, "currency": "eur"}},
        headers=tenant.headers,
    )
    assert converted.status_code == 201, converted.text
    call = {"kind": "call", "recordType": "contact", "subject": "Intro call"}
    call["recordId"] = converted.json()["contact"]["id"]
    assert client.post("/api/v1/activities", json=call, headers=tenant.headers).is_success

    response = client.get(
        "/api/v1/privacy/exports", params={"email": them["email"]}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    export = response.json()
    by_form = next(lead for lead in export["leads"] if lead["requestSource"] == "web_form")
    assert by_form["attribution"]["lastTouch"]["utmCampaign"] == "spring"
    [consent] = export["consents"]
    assert (consent["leadId"], consent["formId"], consent["text"], consent["version"]) == (
        by_form["id"],
        form_id,
        CONSENT,
        1,
    )
    assert consent["givenAt"] is not None
    [held] = export["quarantinedSubmissions"]
    assert (held["lead"]["email"], held["reasons"]) == (them["email"], ["honeypot"])
    [payload] = export["sourcePayloads"]
    assert (payload["id"], payload["outcome"]) == (made["payloadId"], "created")
    assert payload["body"]["contact"]["email"] == them["email"]
    assert export["pendingConfirmations"] == []
    assert len(export["leads"]) == 2  # the form's and the source's
    [contact] = export["contacts"]
    assert (contact["email"], contact["leadId"]) == (them["email"], made["leadId"])
    assert "emailKey" not in contact
    assert [deal["name"] for deal in export["deals"]] == ["Pilot"]
    assert [activity["subject"] for activity in export["activities"]] == ["Intro call"]


# --- suppression -----------------------------------------------------------------------------


def test_suppressed_address_is_refused_by_every_intake_path(
    backend: Backend,
    client: httpx.Client,
    cli: Cli,
    tmp_path: Path,
) -> None:
    tenant = privacy_tenant(backend)
    them = person()
    added = client.post(
        "/api/v1/privacy/suppressions",
        json={"email": them["email"].upper(), "reason": "unsubscribed"},
        headers=tenant.headers,
    )
    assert added.status_code == 200, added.text
    assert added.json()["suppressed"] is True
    assert added.json()["reason"] == "unsubscribed"
    # Only the keyed hash is stored.
    assert text_hits(backend, [them["email"]]) == []
    leads = count_rows(backend, Lead, tenant.id)
    events = count_rows(backend, Event, tenant.id)

    refused = client.post("/api/v1/leads", json=them, headers=tenant.headers)
    assert refused.status_code == 422
    assert refused.json()["error"] == "email_suppressed"
    assert refused.json()["suppressionReason"] == "unsubscribed"
    batch = client.post(
        "/api/v1/leads/batch", json={"leads": [them, person()]}, headers=tenant.headers
    )
    assert batch.status_code == 207
    results = batch.json()["results"]
    assert [r["status"] for r in results] == ["invalid", "created"]
    assert results[0]["error"]["error"] == "email_suppressed"
    csv = tmp_path / "suppressed.csv"
    csv.write_text(
        f"firstName,lastName,email\n{them['firstName']},{them['lastName']},{them['email']}\n",
        encoding="utf-8",
    )
    imported = cli("leads", "import", "--tenant", tenant.slug, str(csv))
    assert imported.exit_code == 1
    assert "0 created, 0 merged, 0 duplicates, 1 invalid" in imported.stdout
    assert "suppression list (unsubscribed)" in imported.stderr
    # Only the batch's other lead (and its event) was written.
    assert count_rows(backend, Lead, tenant.id) == leads + 1
    assert count_rows(backend, Event, tenant.id) == events + 1

    # Suppression is per tenant; lifting it lets the person in again.
    other = privacy_tenant(backend)
    assert client.post("/api/v1/leads", json=them, headers=other.headers).status_code == 201
    check = client.get(
        "/api/v1/privacy/suppressions", params={"email": them["email"]}, headers=tenant.headers
    )
    assert check.json()["suppressed"] is True
    lifted = client.delete(
        "/api/v1/privacy/suppressions", params={"email": them["email"]}, headers=tenant.headers
    )
    assert lifted.status_code == 200
    assert lifted.json()["suppressed"] is False
    assert client.post("/api/v1/leads", json=them, headers=tenant.headers).status_code == 201

    reader = create_api_key(backend, tenant, ["privacy:read"])
    denied = client.post(
        "/api/v1/privacy/suppressions", json={"email": them["email"]}, headers=reader.headers
    )
    assert (denied.status_code, denied.json()["error"]) == (403, "insufficient_scope")
    invalid = client.post(
        "/api/v1/privacy/suppressions",
        json={"email": them["email"], "reason": "because"},
        headers=tenant.headers,
    )
    assert (invalid.status_code, invalid.json()["error"]) == (400, "invalid_request")
    assert count_rows(backend, Suppression, tenant.id) == 0


def test_suppression_survives_a_server_secret_rotation(backend: Backend) -> None:
    from leadgate.privacy.service import add_suppression, find_suppression

    tenant = privacy_tenant(backend)
    email = person()["email"]
    backend.transaction(
        lambda session: add_suppression(session, backend.settings, tenant.id, email, "requested")
    )
    rotated = backend.settings.model_copy(
        update={
            "secret_key": SecretStr("rotated-" + "y" * 40),
            "previous_secret_keys": [backend.settings.secret_key],
        }
    )
    rotated.__dict__.pop("secret_bytes", None)
    found = backend.transaction(
        lambda session: find_suppression(session, rotated, tenant.id, email)
    )
    assert found is not None
    unrelated = backend.settings.model_copy(update={"secret_key": SecretStr("other-" + "z" * 40)})
    unrelated.__dict__.pop("secret_bytes", None)
    assert (
        backend.transaction(lambda session: find_suppression(session, unrelated, tenant.id, email))
        is None
    )


# --- the CLI ---------------------------------------------------------------------------------


def test_cli_exports_erases_and_suppresses(
    backend: Backend, client: httpx.Client, cli: Cli
) -> None:
    tenant = privacy_tenant(backend)
    them = person()
    created = client.post("/api/v1/leads", json=them, headers=tenant.headers)
    assert created.status_code == 201

    exported = cli("privacy", "export", "--tenant", tenant.slug, "--email", them["email"])
    assert exported.exit_code == 0, exported.output
    assert [lead["id"] for lead in json.loads(exported.stdout)["leads"]] == [created.json()["id"]]

    refused = cli("privacy", "erase", "--tenant", tenant.slug)
    assert refused.exit_code == 1
    assert "Give an email or a phone" in refused.stderr
    unknown = cli("privacy", "erase", "--tenant", "no-such-tenant", "--email", them["email"])
    assert unknown.exit_code == 1
    assert count_rows(backend, Lead, tenant.id) == 1
    assert count_rows(backend, AuditEvent, tenant.id, action="person.erased") == 0

    erased = cli(
        "privacy", "erase", "--tenant", tenant.slug, "--phone", them["phone"], "--no-suppress"
    )
    assert erased.exit_code == 0, erased.output
    assert "1 leads deleted" in erased.stdout
    assert count_rows(backend, Lead, tenant.id) == 0
    assert count_rows(backend, Suppression, tenant.id) == 0
    assert count_rows(backend, AuditEvent, tenant.id, action="person.erased") == 1

    suppressed = cli("privacy", "suppress", "--tenant", tenant.slug, "--email", them["email"])
    assert (suppressed.exit_code, suppressed.stdout.strip()) == (0, "Suppressed.")
    again = client.post("/api/v1/leads", json=them, headers=tenant.headers)
    assert (again.status_code, again.json()["error"]) == (422, "email_suppressed")
    bad = cli("privacy", "suppress", "--tenant", tenant.slug, "--email", "x@y.co", "--reason", "?")
    assert bad.exit_code == 1
    lifted = cli("privacy", "unsuppress", "--tenant", tenant.slug, "--email", them["email"])
    assert lifted.exit_code == 0, lifted.output
    assert count_rows(backend, Suppression, tenant.id) == 0
    not_there = cli("privacy", "unsuppress", "--tenant", tenant.slug, "--email", them["email"])
    assert not_there.exit_code == 1


def test_deployment_keeps_the_audit_log_longest() -> None:
    from leadgate.settings import Settings

    with pytest.raises(ValueError, match="RETENTION_AUDIT_DAYS"):
        Settings(retention_audit_days=100, retention_usage_days=400)
    assert Settings(retention_audit_days=400, retention_usage_days=400).retention_audit_days == 400
