"""The console in a real browser: Debian's chromium driven by Playwright.

sign up → generate a key with only leads:write → copy it from the page → create a lead with it
over HTTP → see the lead in the Leads table → see the request in Usage → roll the key → revoke
it → see the revocation in the audit log; then tags, webhooks and the endpoint tester. On the
SQLite backend the suite also writes screenshots of every page at 1280x800 and 390x844.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import IN_CI, Backend
from tests.factories import seed_lead, unique_lead
from tests.receiver import always, running_receiver

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Every run takes every screenshot; `make screenshots` points this at docs/screenshots/ to refresh
# the committed ones (otherwise they go to a temporary folder and the work tree stays clean).
SCREENSHOTS = Path(
    os.environ.get("LEADGATE_SCREENSHOTS_DIR")
    or Path(tempfile.gettempdir()) / f"leadgate-screenshots-{os.getpid()}"
)
VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}

pytestmark = pytest.mark.slow

if not os.path.exists(CHROMIUM):  # pragma: no cover - depends on the machine
    if IN_CI:
        pytest.fail(f"{CHROMIUM} is missing; `make test` installs it", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Shots:
    """Screenshots of each page at both sizes (on one backend: the pages do not differ)."""

    def __init__(self, page: Page, enabled: bool) -> None:
        self.page = page
        self.enabled = enabled
        self.taken: list[Path] = []

    def __call__(self, name: str) -> None:
        if not self.enabled:
            return
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for label, (width, height) in VIEWPORTS.items():
            self.page.set_viewport_size({"width": width, "height": height})
            path = SCREENSHOTS / f"{name}-{label}.png"
            self.page.screenshot(path=str(path), full_page=True, animations="disabled")
            self.taken.append(path)
        self.page.set_viewport_size({"width": 1280, "height": 800})


def test_sign_up_generate_copy_use_revoke_and_audit(backend: Backend, browser: Browser) -> None:
    context = browser.new_context(
        base_url=backend.url,
        viewport={"width": 1280, "height": 800},
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    shots = Shots(page, enabled=backend.name == "sqlite")
    try:
        _journey(backend, page, shots)
    finally:
        context.close()
    assert problems == []  # no CSP violations, no script errors
    if shots.enabled:
        assert len(shots.taken) == 2 * 22


def _journey(backend: Backend, page: Page, shots: Shots) -> None:
    # Sign up.
    page.goto("/console")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shots("sign-in")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create your leadgate account")).to_be_visible()
    # Each test run has a fresh database: fixed names keep the screenshots stable between runs.
    slug = "hopper-legal"
    email = "grace@hopper.example.com"
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_label("Company", exact=True).fill("Hopper Legal")
    page.locator('input[name="slug"]').fill(slug)
    shots("sign-up")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Settings → API Access")).to_be_visible()
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    shots("api-keys-empty")

    # Generate a key with only leads:write.
    page.get_by_role("link", name="Generate API Key").click()
    expect(page.get_by_role("heading", name="Generate API Key")).to_be_visible()
    page.locator('input[name="name"]').fill("Website form")
    for checkbox in page.locator('input[name="scopes"]').all():
        checkbox.set_checked(checkbox.get_attribute("value") == "leads:write")
    page.get_by_label("Expiration").select_option("30")
    shots("api-key-new")
    page.get_by_role("button", name="Generate API Key").click()
    expect(page.get_by_role("heading", name="Your new API key")).to_be_visible()
    expect(page.get_by_text("It will not be shown again")).to_be_visible()

    # Copy it from the page, with the page's own Copy button.
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    key = page.evaluate("navigator.clipboard.readText()")
    assert re.fullmatch(r"lg_[0-9A-Za-z]{38}", key)
    assert key == page.locator("#new-key").input_value()
    shots("api-key-created")

    # Use it over HTTP: it can create leads and nothing else.
    with httpx.Client(base_url=backend.url, timeout=30) as http:
        created = http.post("/api/v1/leads", json=seed_lead(), headers={"X-API-Key": key})
        assert created.status_code == 201, created.text
        read = http.get(f"/api/v1/leads/{created.json()['id']}", headers={"X-API-Key": key})
        assert read.status_code == 403

    # htmx keeps no copy of the page (and so of the key) in the browser's storage.
    assert key not in page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")

    page.get_by_role("link", name="Done").click()
    row = page.locator("tr", has_text="Website form")
    expect(row.get_by_text("leads:write")).to_be_visible()
    expect(row.get_by_text("active")).to_be_visible()
    expect(row.get_by_text("Grace Hopper")).to_be_visible()
    shots("api-keys")

    # The lead is in the Leads table; its page says which key created it.
    page.get_by_role("navigation").get_by_role("link", name="Leads").click()
    lead_row = page.locator("tr", has_text="jane@example.com")
    expect(lead_row).to_have_count(1)
    expect(lead_row.get_by_text("Jane Smith")).to_be_visible()
    shots("leads")
    lead_row.get_by_role("link", name="Jane Smith").click()
    expect(page.get_by_role("heading", name="Jane Smith")).to_be_visible()
    expect(page.locator("dd", has_text="Website form")).to_be_visible()
    page.get_by_label("New status").select_option("contacted")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator("[data-status]")).to_have_text("contacted")
    page.get_by_label("Tags, separated by commas").fill("vip, follow up")
    page.get_by_role("button", name="Save tags").click()
    expect(page.locator('li[data-event-type="lead.updated"]')).to_have_count(2)
    shots("lead")
    page.get_by_role("navigation").get_by_role("link", name="Tags").click()
    page.get_by_label("New tag").fill("Referral")
    page.get_by_role("button", name="Create tag").click()
    expect(page.locator("tr[data-tag-id]")).to_have_count(3)
    shots("tags")

    # The requests are in Usage (the servers flush their counts every 0.2 s in tests).
    page.get_by_role("navigation").get_by_role("link", name="Usage").click()
    this_hour = page.locator('[data-stat="hour"] strong')
    deadline = time.monotonic() + 30
    while this_hour.inner_text() != "2" and time.monotonic() < deadline:
        page.wait_for_timeout(100)
        page.reload()
    expect(this_hour).to_have_text("2")  # the 201 and the 403
    expect(page.get_by_text("POST /api/v1/leads")).to_be_visible()
    shots("usage")

    # Edit it (the form), then roll it: the new secret is shown once; the old one has a grace hour.
    page.get_by_role("link", name="API Access").click()
    row = page.locator("tr", has_text="Website form")
    row.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit “Website form”")).to_be_visible()
    shots("api-key-edit")
    page.get_by_role("link", name="Cancel").click()
    row.get_by_role("link", name="Roll").click()
    expect(page.get_by_role("heading", name="Roll “Website form”?")).to_be_visible()
    page.get_by_label("Grace period for the current secret").select_option("60")
    shots("api-key-roll")
    page.get_by_role("button", name="Roll key").click()
    expect(page.get_by_role("heading", name="Your rolled API key")).to_be_visible()
    expect(page.get_by_text("keeps working for 1 hour")).to_be_visible()
    rolled = page.locator("#new-key").input_value()
    assert rolled != key
    shots("api-key-rolled")
    with httpx.Client(base_url=backend.url, timeout=30) as http:
        for secret in (rolled, key):  # both work during the grace period
            made = http.post("/api/v1/leads", json=unique_lead(), headers={"X-API-Key": secret})
            assert made.status_code == 201, made.text
    page.get_by_role("link", name="Done").click()
    row = page.locator("tr", has_text="Website form")

    # Revoke it, with confirmation.
    row.get_by_role("link", name="Revoke").click()
    expect(page.get_by_role("heading", name="Revoke “Website form”?")).to_be_visible()
    shots("api-key-revoke")
    page.get_by_role("button", name="Revoke key").click()
    expect(page.locator("tr", has_text="Website form").get_by_text("revoked")).to_be_visible()
    with httpx.Client(base_url=backend.url, timeout=30) as http:
        for secret in (rolled, key):
            refused = http.post("/api/v1/leads", json=unique_lead(), headers={"X-API-Key": secret})
            assert refused.status_code == 401

    # The revocation is in the audit log, by this user.
    page.get_by_role("link", name="Audit log").click()
    revoked = page.locator('tr[data-action="api_key.revoked"]')
    expect(revoked).to_have_count(1)
    expect(revoked.get_by_text("Grace Hopper")).to_be_visible()
    expect(revoked.get_by_text("Website form")).to_be_visible()
    expect(page.locator('tr[data-action="api_key.created"]')).to_have_count(1)
    expect(page.locator('tr[data-action="api_key.rolled"]')).to_have_count(1)
    shots("audit-log")

    # Webhooks: add an endpoint (its secret shown once), then the tester sends a sample.
    with running_receiver(always(200, b'{"ok": true}')) as receiver:
        page.get_by_role("navigation").get_by_role("link", name="Webhooks").click()
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("Description").fill("CRM sync")
        page.locator('input[name="event_types"][value="lead.created"]').check()
        page.get_by_role("button", name="Add endpoint").click()
        expect(page.get_by_role("heading", name="Endpoint added")).to_be_visible()
        expect(page.locator("#signing-secret")).to_have_value(re.compile(r"^whsec_"))
        shots("webhook-secret")
        page.get_by_role("link", name="Done").click()
        page.get_by_label("Event type").select_option("lead.created")
        page.get_by_role("button", name="Send test").click()
        expect(page.locator('[data-tester-result="ok"]')).to_be_visible()
        expect(page.get_by_text("webhook-signature:")).to_be_visible()
        (received,) = receiver.wait_for(1)
        assert received.json["type"] == "lead.created"
        expect(page.locator("tr[data-delivery-id]")).to_have_count(1)
        shots("webhook")
        page.get_by_role("link", name="← Webhooks").click()
        expect(page.locator("tr[data-endpoint-id]")).to_have_count(1)
        shots("webhooks")

    # The other pages, for the screenshots and a look at each.
    page.get_by_role("link", name="People").click()
    page.get_by_role("button", name="Create invitation link").click()
    expect(page.locator("#invite-link")).to_have_value(re.compile(r"/console/invitations/"))
    shots("team")
    page.get_by_role("link", name="Teams").click()
    page.get_by_label("New team").fill("East")
    page.get_by_role("button", name="Create team").click()
    expect(page.locator("tr[data-team-id]")).to_have_count(1)
    shots("teams")
    page.get_by_role("link", name="Developers").click()
    port = urlsplit(backend.settings.public_url).port  # the port the public URL answers on
    expect(page.locator("#base-url")).to_have_value(f"http://{slug}.localtest.me:{port}/api/v1")
    shots("developers")
    page.get_by_role("link", name="Grace Hopper").click()
    expect(page.get_by_role("heading", name="Change password")).to_be_visible()
    shots("account")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto("/console/settings/api-keys")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))


def test_a_user_in_two_workspaces_switches_between_them(backend: Backend, browser: Browser) -> None:
    context = browser.new_context(base_url=backend.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto("/console/sign-up")
        page.get_by_label("Your name").fill("Kay Switcher")
        page.get_by_label("E-mail").fill("kay@switch.example.com")
        page.get_by_label("Password").fill("a long enough password")
        page.get_by_label("Company", exact=True).fill("First Firm")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("heading", name="Settings → API Access")).to_be_visible()
        page.get_by_role("link", name="Kay Switcher").click()
        page.get_by_role("link", name="Create another workspace").click()
        page.get_by_label("Company", exact=True).fill("Second Firm")
        page.get_by_role("button", name="Create workspace").click()
        switcher = page.get_by_label("Workspace")
        expect(switcher).to_have_value(re.compile(r"^ten_"))
        expect(page.get_by_text("create leads in Second Firm")).to_be_visible()
        switcher.select_option(label="First Firm")
        page.get_by_role("button", name="Switch").click()
        expect(page.get_by_text("create leads in First Firm")).to_be_visible()
        page.get_by_role("link", name="Developers").click()
        port = urlsplit(backend.settings.public_url).port
        expect(page.locator("#base-url")).to_have_value(
            f"http://first-firm.localtest.me:{port}/api/v1"
        )
    finally:
        context.close()
    assert problems == []
