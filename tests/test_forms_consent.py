"""Consent records and double opt-in by e-mail, with a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from leadgate.models import (
    AuditEvent,
    Event,
    Lead,
    LeadConsent,
    PendingConfirmation,
    utcnow,
)
from tests.conftest import Backend, app_server
from tests.factories import count_rows, create_tenant, fetch_rows, update_row
from tests.receiver import wait_until
from tests.test_forms import FIELDS, JSON_HEADERS, SHOP, make_form, visitor

CONSENT = "I agree that Acme may contact me about my request."


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def test_consent_is_required_versioned_and_recorded(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant, consentText=CONSENT)
    assert (form["consentText"], form["consentVersion"]) == (CONSENT, 1)
    url = f"/f/{form['id']}"
    refused = client.post(url, json=visitor(), headers=JSON_HEADERS)
    assert refused.status_code == 400
    assert refused.json()["details"] == [
        {"field": "consent", "message": "Please agree to continue.", "type": "missing"}
    ]
    assert count_rows(backend, Lead, tenant.id) == 0
    person = visitor()
    agreed = client.post(
        url,
        data={**person, "consent": "on"},
        headers={"Referer": f"{SHOP}/contact", "User-Agent": "Browser/1.0"},
    )
    assert agreed.status_code == 303
    changed = client.patch(
        f"/api/v1/forms/{form['id']}", json={"consentText": CONSENT + " v2"}, headers=tenant.headers
    )
    assert changed.json()["consentVersion"] == 2
    again = client.post(url, json={**person, "consent": True}, headers=JSON_HEADERS)
    assert again.status_code == 200  # a duplicate: its consent is recorded on the lead
    [lead] = fetch_rows(backend, Lead, tenant.id)
    consents = sorted(fetch_rows(backend, LeadConsent, tenant.id), key=lambda c: c.version)
    assert [(c.lead_id, c.version, c.text) for c in consents] == [
        (lead.id, 1, CONSENT),
        (lead.id, 2, CONSENT + " v2"),
    ]
    assert consents[0].page_url == f"{SHOP}/contact"
    assert consents[0].user_agent == "Browser/1.0"
    assert consents[0].client_address == "127.0.0.1"
    assert consents[0].confirmed_at is None
    page = client.get(url)
    assert f'<label for="lg-consent">{CONSENT} v2</label>' in page.text


def test_double_opt_in_needs_an_smtp_server_and_an_email_field(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    body = {"name": "n", "fields": FIELDS, "doubleOptIn": True}
    refused = client.post("/api/v1/forms", json=body, headers=tenant.headers)
    assert refused.status_code == 400
    assert refused.json()["details"][0]["field"] == "doubleOptIn"
    no_email = {**body, "fields": FIELDS[:2]}
    assert client.post("/api/v1/forms", json=no_email, headers=tenant.headers).status_code == 400
    assert count_rows(backend, AuditEvent, tenant.id, action="form.created") == 0


def test_double_opt_in_mail_link_confirms_the_lead(
    backend: Backend, smtp: tuple[Mailbox, int], server_log: Path
) -> None:
    mailbox, port = smtp
    tenant = create_tenant(backend)
    settings = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
    with app_server(backend, **settings) as server, httpx.Client(base_url=server.url) as http:
        form = make_form(http, tenant, doubleOptIn=True, consentText=CONSENT)
        person = visitor()
        sent = http.post(f"/f/{form['id']}", json={**person, "consent": "on"}, headers=JSON_HEADERS)
        assert sent.status_code == 200
        assert sent.json()["status"] == "received"
        assert count_rows(backend, Lead, tenant.id) == 0
        assert count_rows(backend, Event, tenant.id, type="lead.created") == 0
        wait_until(lambda: len(mailbox.messages) == 1)
        [message] = mailbox.messages
        assert message["To"] == person["email"]
        text = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
        link = re.search(r"https?://\S+/f/confirm\?token=(\S+)", text)
        assert link is not None
        token = link.group(1)
        confirmed = http.get(f"/f/confirm?token={token}")
        assert confirmed.status_code == 200
        assert "E-mail address confirmed" in confirmed.text
        assert http.get(f"/f/confirm?token={token}").status_code == 404
    [lead] = fetch_rows(backend, Lead, tenant.id)
    assert lead.email == person["email"]
    assert count_rows(backend, Event, tenant.id, type="lead.created") == 1
    [consent] = fetch_rows(backend, LeadConsent, tenant.id)
    assert consent.confirmed_at is not None
    assert count_rows(backend, PendingConfirmation, tenant.id) == 0
    log = server_log.read_text()
    assert token not in log
    assert "/f/confirm" in log


def test_expired_link_and_unreachable_smtp_keep_nothing(
    backend: Backend, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    tenant = create_tenant(backend)
    settings = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
    with app_server(backend, **settings) as server, httpx.Client(base_url=server.url) as http:
        form = make_form(http, tenant, doubleOptIn=True)
        assert http.post(f"/f/{form['id']}", json=visitor(), headers=JSON_HEADERS).is_success
        wait_until(lambda: len(mailbox.messages) == 1)
        text = mailbox.messages[0].get_payload(decode=True).decode()  # type: ignore[union-attr]
        token = re.search(r"token=(\S+)", text).group(1)  # type: ignore[union-attr]
        [pending] = fetch_rows(backend, PendingConfirmation, tenant.id)
        update_row(backend, PendingConfirmation, pending.id, expires_at=utcnow() - timedelta(1))
        expired = http.get(f"/f/confirm?token={token}")
        assert expired.status_code == 410
        assert count_rows(backend, PendingConfirmation, tenant.id) == 0
        assert http.get("/f/confirm?token=" + "x" * 43).status_code == 404
    assert count_rows(backend, Lead, tenant.id) == 0
    closed = {"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_starttls": False}
    with app_server(backend, **closed) as server, httpx.Client(base_url=server.url) as http:
        form = make_form(http, tenant, doubleOptIn=True)
        down = http.post(f"/f/{form['id']}", json=visitor(), headers=JSON_HEADERS)
        assert down.status_code == 503
        assert down.json()["error"] == "service_unavailable"
    assert count_rows(backend, PendingConfirmation, tenant.id) == 0
    assert count_rows(backend, Lead, tenant.id) == 0
