"""Web forms in a real browser (Debian's chromium, Playwright), embedded in a page served from
another origin (another port): the embed script, the hosted page in an iframe, a plain HTML post
without JavaScript, a refused origin, and a bot held in quarantine whose release fires the
webhook."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from leadgate.models import Event, Lead, QuarantinedSubmission
from tests.conftest import IN_CI, Backend, app_server
from tests.factories import TenantInfo, count_rows, create_tenant, fetch_rows
from tests.receiver import always, running_receiver, wait_until
from tests.test_forms import FIELDS

CHROMIUM = "/usr/bin/chromium"
THANKS = "Thank you. We received your details."
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.slow

if not os.path.exists(CHROMIUM):  # pragma: no cover - depends on the machine
    if IN_CI:
        pytest.fail(f"{CHROMIUM} is missing; `make test` installs it", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


class Site:
    """A client's website on its own origin: pages set by path, served as they are."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?", 1)[0], "<p>not here</p>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    running = Site()
    running.thread.start()
    try:
        yield running
    finally:
        running.server.shutdown()
        running.server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def make_form(backend: Backend, tenant: TenantInfo, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Contact us",
        "fields": FIELDS,
        "spam": {"honeypot": True, "minFillSeconds": 0, "proofOfWork": False},
        **fields,
    }
    response = httpx.post(f"{backend.url}/api/v1/forms", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def script_page(backend: Backend, form_id: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body>
<form data-leadgate-form="{form_id}">
  <label for="fn">First name</label><input id="fn" name="firstName" required>
  <label for="ln">Last name</label><input id="ln" name="lastName" required>
  <label for="em">E-mail</label><input id="em" name="email" type="email" required>
  <button type="submit">Send</button>
</form>
<iframe title="Contact form" src="{backend.url}/f/{form_id}" width="400" height="700"></iframe>
<script src="{backend.url}/static/forms/leadgate-form.js"></script>
</body></html>"""


def plain_page(backend: Backend, form_id: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><form method="post" action="{backend.url}/f/{form_id}">
  <label for="fn">First name</label><input id="fn" name="firstName">
  <label for="ln">Last name</label><input id="ln" name="lastName">
  <label for="em">E-mail</label><input id="em" name="email">
  <button type="submit">Send</button>
</form></body></html>"""


def leads(backend: Backend, tenant: TenantInfo) -> list[Lead]:
    return fetch_rows(backend, Lead, tenant.id)


def fill(page: Any, first: str, email: str) -> None:
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill("Lee")
    page.get_by_label("E-mail").fill(email)


def watch(page: Page) -> list[str]:
    """Script errors and console errors (a CSP violation is one)."""
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    return problems


def test_script_and_iframe_on_another_origin(
    backend: Backend, browser: Browser, site: Site
) -> None:
    tenant = create_tenant(backend)
    # The proof of work on, as by default: the vendored ALTCHA widget solves it in the page.
    form = make_form(backend, tenant, allowedOrigins=[site.origin], spam={"minFillSeconds": 0})
    site.pages["/contact"] = script_page(backend, form["id"])
    context = browser.new_context()
    page = context.new_page()
    problems = watch(page)
    try:
        page.goto(f"{site.origin}/contact")
        outer = page.locator("form[data-leadgate-form]")
        # Inline validation: nothing is sent while a required field is empty.
        outer.get_by_role("button", name="Send").click()
        expect(outer.locator('[data-leadgate-error="firstName"]')).not_to_be_empty()
        expect(outer.get_by_label("First name")).to_have_attribute("aria-invalid", "true")
        fill(outer, "Script", "script@example.com")
        outer.get_by_role("button", name="Send").click()
        # The proof of work takes a moment on a loaded machine: waited for, not timed.
        expect(outer.get_by_role("status")).to_have_text(THANKS, timeout=60_000)

        frame = page.frame_locator("iframe")
        fill(frame, "Framed", "framed@example.com")
        frame.get_by_role("button", name="Send").click()
        expect(frame.get_by_role("status")).to_have_text(THANKS, timeout=60_000)
    finally:
        context.close()
    assert problems == []
    assert count_rows(backend, QuarantinedSubmission, tenant.id) == 0
    got = {(lead.first_name, lead.email, lead.request_source) for lead in leads(backend, tenant)}
    assert got == {
        ("Script", "script@example.com", "web_form"),
        ("Framed", "framed@example.com", "web_form"),
    }


def test_plain_html_post_without_javascript_is_redirected(
    backend: Backend, browser: Browser, site: Site
) -> None:
    tenant = create_tenant(backend)
    form = make_form(
        backend,
        tenant,
        allowedOrigins=[site.origin],
        redirectUrl=f"{site.origin}/welcome",
    )
    site.pages["/plain"] = plain_page(backend, form["id"])
    site.pages["/welcome"] = "<h1>Welcome</h1>"
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(f"{site.origin}/plain")
        fill(page, "Plain", "plain@example.com")
        page.get_by_role("button", name="Send").click()
        page.wait_for_url(f"{site.origin}/welcome")
        # The hosted page works without JavaScript too; its errors come back next to the field.
        page.goto(f"{backend.url}/f/{form['id']}")
        fill(page, "Hosted", "not-an-email")
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_label("E-mail")).to_have_attribute("aria-invalid", "true")
        page.get_by_label("E-mail").fill("hosted@example.com")
        page.get_by_role("button", name="Send").click()
        page.wait_for_url(f"{site.origin}/welcome")
    finally:
        context.close()
    assert {lead.email for lead in leads(backend, tenant)} == {
        "plain@example.com",
        "hosted@example.com",
    }


def test_disallowed_origin_is_refused(backend: Backend, browser: Browser, site: Site) -> None:
    tenant = create_tenant(backend)
    form = make_form(backend, tenant, allowedOrigins=["https://elsewhere.example"])
    site.pages["/refused"] = script_page(backend, form["id"])
    site.pages["/refused-plain"] = plain_page(backend, form["id"])
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{site.origin}/refused")
        outer = page.locator("form[data-leadgate-form]")
        fill(outer, "Refused", "refused@example.com")
        outer.get_by_role("button", name="Send").click()
        expect(outer.get_by_role("status")).to_contain_text("could not be sent")
        page.goto(f"{site.origin}/refused-plain")
        fill(page, "Refused", "refused@example.com")
        with page.expect_navigation():
            page.get_by_role("button", name="Send").click()
        expect(page.get_by_role("heading")).to_have_text("The form could not be sent")
    finally:
        context.close()
    assert leads(backend, tenant) == []


def test_bot_is_quarantined_and_release_fires_the_webhook(
    backend: Backend, browser: Browser, site: Site
) -> None:
    tenant = create_tenant(backend)
    form = make_form(
        backend,
        tenant,
        allowedOrigins=[site.origin],
        spam={"honeypot": True, "minFillSeconds": 30, "proofOfWork": True},
    )
    site.pages["/bot"] = script_page(backend, form["id"])
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{site.origin}/bot")
        outer = page.locator("form[data-leadgate-form]")
        fill(outer, "Bot", "bot@example.com")
        # What a form-filling bot does: it fills every input, the hidden trap too, at once.
        page.evaluate("document.querySelector('[name=_lg_hp]').value = 'http://spam.example'")
        outer.get_by_role("button", name="Send").click()
        expect(outer.get_by_role("status")).to_have_text(THANKS, timeout=60_000)
        # A bot that skips the page and posts straight from it: no token, no proof of work.
        status = page.evaluate(
            """url => fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                body: JSON.stringify({firstName: "Raw", lastName: "Bot", email: "raw@example.com",
                _lg_hp: "x"})}).then(r => r.status)""",
            f"{backend.url}/f/{form['id']}",
        )
        assert status == 200
    finally:
        context.close()
    assert leads(backend, tenant) == []
    held_by_email = {
        h.lead["email"]: set(h.reasons)
        for h in fetch_rows(backend, QuarantinedSubmission, tenant.id)
    }
    assert held_by_email == {
        "bot@example.com": {"honeypot", "too_fast"},
        "raw@example.com": {"honeypot", "no_fill_token", "no_proof_of_work"},
    }
    held = next(
        h
        for h in fetch_rows(backend, QuarantinedSubmission, tenant.id)
        if h.lead["email"] == "bot@example.com"
    )

    with running_receiver(always(200)) as receiver:
        endpoint = httpx.post(
            f"{backend.url}/api/v1/webhook-endpoints",
            json={"url": receiver.url, "eventTypes": ["lead.created"]},
            headers=tenant.headers,
        )
        assert endpoint.status_code == 201, endpoint.text
        released = httpx.post(
            f"{backend.url}/api/v1/form-quarantine/{held.id}/release", headers=tenant.headers
        )
        assert released.status_code == 200, released.text
        [delivery] = receiver.wait_for(1)
    assert delivery.json["type"] == "lead.created"
    assert delivery.json["data"]["email"] == "bot@example.com"
    assert count_rows(backend, QuarantinedSubmission, tenant.id) == 1  # the raw bot, still held


def test_attribution_from_a_utm_landing_url(backend: Backend, browser: Browser, site: Site) -> None:
    tenant = create_tenant(backend)
    form = make_form(backend, tenant, allowedOrigins=[site.origin])
    site.pages["/landing"] = script_page(backend, form["id"])
    context = browser.new_context()
    page = context.new_page()
    problems = watch(page)
    try:
        # The first visit comes from a newsletter; the visitor returns from an ad and converts.
        page.goto(f"{site.origin}/landing?utm_source=newsletter&utm_campaign=launch")
        page.goto(f"{site.origin}/landing?utm_source=ads&utm_medium=cpc&gclid=G-1")
        outer = page.locator("form[data-leadgate-form]")
        fill(outer, "Tracked", "tracked@example.com")
        outer.get_by_role("button", name="Send").click()
        expect(outer.get_by_role("status")).to_have_text(THANKS)
    finally:
        context.close()
    assert problems == []
    [lead] = leads(backend, tenant)
    assert lead.attribution == {
        "firstTouch": {
            "utmSource": "newsletter",
            "utmCampaign": "launch",
            "landingPage": f"{site.origin}/landing?utm_source=newsletter&utm_campaign=launch",
        },
        "lastTouch": {
            "utmSource": "ads",
            "utmMedium": "cpc",
            "gclid": "G-1",
            "landingPage": f"{site.origin}/landing?utm_source=ads&utm_medium=cpc&gclid=G-1",
        },
    }


def test_double_opt_in_mail_confirms_the_lead(backend: Backend, browser: Browser) -> None:
    from tests.test_forms_consent import CONSENT, Mailbox, free_port

    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    tenant = create_tenant(backend)
    settings = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False}
    context = browser.new_context()
    page = context.new_page()
    problems = watch(page)
    try:
        with app_server(backend, **settings) as server:
            form = make_form(
                Backend(backend.name, backend.settings, server),
                tenant,
                doubleOptIn=True,
                consentText=CONSENT,
            )
            page.goto(f"{server.url}/f/{form['id']}")
            fill(page, "Opted", "opted@example.com")
            page.get_by_label(CONSENT).check()
            page.get_by_role("button", name="Send").click()
            expect(page.get_by_role("status")).to_have_text(THANKS)
            assert leads(backend, tenant) == []
            wait_until(lambda: len(mailbox.messages) == 1)
            body = mailbox.messages[0].get_payload(decode=True).decode()  # type: ignore[union-attr]
            token = re.search(r"/f/confirm\?token=(\S+)", body).group(1)  # type: ignore[union-attr]
            page.goto(f"{server.url}/f/confirm?token={token}")
            expect(page.get_by_role("heading")).to_have_text("E-mail address confirmed")
    finally:
        context.close()
        controller.stop()
    assert problems == []
    [lead] = leads(backend, tenant)
    assert lead.email == "opted@example.com"
    assert count_rows(backend, Event, tenant.id, type="lead.created") == 1


def test_forms_console_pages_and_hosted_page_at_both_sizes(
    backend: Backend, browser: Browser
) -> None:
    """The Forms console pages and a hosted form in chromium, with no script or CSP errors;
    on SQLite their screenshots (desktop and phone) go where `make screenshots` points."""
    from tests.console_helpers import sign_up
    from tests.test_console_browser import Shots

    account = sign_up(backend)
    owner = account.client
    owner.get("/console/forms")
    created = owner.post(
        "/console/forms",
        {"name": "Contact us", "allowed_origins": "https://www.example.com", "enabled": "on",
         "honeypot": "on", "proof_of_work": "on", "min_fill_seconds": "3",
         "consent_text": "I agree that Acme may contact me about my request."},
    )  # fmt: skip
    assert created.status_code == 303
    form_id = created.headers["location"].rsplit("/", 1)[1]
    bot = {"firstName": "Spam", "lastName": "Bot", "email": "bot@example.com", "_lg_hp": "x"}
    httpx.post(
        f"{backend.url}/f/{form_id}", json={**bot, "consent": "on"}, headers={"Origin": backend.url}
    )
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(
        [
            {"name": c.name, "value": c.value or "", "url": backend.url}
            for c in owner.http.cookies.jar
        ]
    )
    page = context.new_page()
    problems = watch(page)
    shots = Shots(page, enabled=backend.name == "sqlite")
    try:
        page.goto(f"{backend.url}/console/forms")
        expect(page.get_by_role("link", name="Contact us")).to_be_visible()
        shots("forms")
        page.get_by_role("link", name="Contact us").click()
        expect(page.get_by_label("Hosted page in an iframe")).to_be_visible()
        shots("form")
        page.goto(f"{backend.url}/console/forms/quarantine")
        expect(page.get_by_role("cell", name="honeypot")).to_be_visible()
        shots("forms-quarantine")
        page.goto(f"{backend.url}/f/{form_id}")
        expect(page.get_by_label("E-mail")).to_be_visible()
        shots("form-hosted")
    finally:
        context.close()
    assert problems == []
    if shots.enabled:
        assert len(shots.taken) == 2 * 4
