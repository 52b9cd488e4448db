"""The CRM pages in a real browser (Debian's chromium through Playwright): a lead converted
with a deal, the deal moved on the pipeline board with the keyboard and by dragging, the
timeline, automations and reports. Screenshots at 1280x800 and 390x844 on the SQLite backend."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import IN_CI, Backend
from tests.console_helpers import tenant_id_of
from tests.factories import TenantInfo, create_api_key, seed_lead

CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.slow

if not os.path.exists(CHROMIUM):  # pragma: no cover - depends on the machine
    if IN_CI:
        pytest.fail(f"{CHROMIUM} is missing; `make test` installs it", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

from tests.test_console_browser import CHROMIUM_ARGS, Shots  # noqa: E402


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_convert_move_on_the_board_and_read_the_timeline(
    backend: Backend, chromium: Browser
) -> None:
    context = chromium.new_context(base_url=backend.url, viewport={"width": 1280, "height": 800})
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
        assert len(shots.taken) == 2 * 6


def _journey(backend: Backend, page: Page, shots: Shots) -> None:
    page.goto("/console/sign-up")
    slug = "lovelace-crm" if backend.name == "sqlite" else "lovelace-crm-pg"
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("E-mail").fill(f"ada@{slug}.example.com")
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_label("Company", exact=True).fill("Lovelace Analytics")
    page.locator('input[name="slug"]').fill(slug)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Settings → API Access")).to_be_visible()
    tenant = TenantInfo(id=tenant_id_of(backend, slug), slug=slug, key="", key_id="")
    key = create_api_key(backend, tenant, ["leads:write"])
    with httpx.Client(base_url=backend.url, timeout=30) as http:
        lead = http.post("/api/v1/leads", json=seed_lead(), headers=key.headers).json()

    # Convert the lead, with a deal.
    page.goto(f"/console/leads/{lead['id']}")
    page.get_by_label("Deal name (optional)").fill("Acme: 50 seats")
    page.get_by_label("Amount").fill("12500")
    page.get_by_role("button", name="Convert to contact").click()
    expect(page.get_by_role("heading", name="Jane Smith")).to_be_visible()
    expect(page.locator('li[data-entry-type="event"]', has_text="lead.converted")).to_be_visible()
    page.get_by_label("Kind").select_option("call")
    page.get_by_label("Subject").fill("Intro call")
    page.get_by_role("button", name="Log it").click()
    expect(page.locator('li[data-entry-type="activity"]', has_text="Intro call")).to_be_visible()
    shots("crm-contact")
    page.get_by_role("navigation").get_by_role("link", name="Contacts").click()
    expect(page.locator("tr[data-contact-id]")).to_have_count(1)
    shots("crm-contacts")

    # The board: move with the keyboard (the card's own select and Move button)...
    page.get_by_role("navigation").get_by_role("link", name="Deals").click()
    card = page.locator("[data-deal-id]", has_text="Acme: 50 seats")
    expect(card).to_have_count(1)
    expect(page.locator('section[aria-label="Qualification"] [data-deal-id]')).to_have_count(1)
    card.get_by_label("Stage of Acme: 50 seats").focus()
    page.keyboard.press("ArrowDown")  # Proposal
    card.get_by_role("button", name="Move").press("Enter")
    expect(page.locator('section[aria-label="Proposal"] [data-deal-id]')).to_have_count(1)
    # ...and by dragging it onto the Won column.
    won = page.locator('section[aria-label="Won"]')
    # Picked up by its edge: the middle of the card is its Move form.
    page.locator("[data-deal-id]", has_text="Acme: 50 seats").drag_to(
        won, source_position={"x": 4, "y": 4}
    )
    expect(page.locator('section[aria-label="Won"] [data-deal-id]')).to_have_count(1)
    shots("crm-board")

    # The deal's page: won, with its stage changes on the timeline.
    page.locator('section[aria-label="Won"]').get_by_role("link", name="Acme: 50 seats").click()
    expect(page.locator("[data-status]")).to_have_text("won")
    expect(page.locator('li[data-entry-type="stage_change"]')).to_have_count(3)
    expect(page.locator('li[data-entry-type="event"]', has_text="deal.won")).to_be_visible()
    shots("crm-deal")

    # An automation, and the reports.
    page.get_by_role("navigation").get_by_role("link", name="Automations").click()
    page.get_by_text("New automation").click()
    page.get_by_label("Name").fill("Tag website leads")
    page.get_by_role("button", name="Create automation").click()
    expect(page.locator("[data-automation-id]")).to_have_count(1)
    shots("crm-automations")
    page.get_by_role("navigation").get_by_role("link", name="Reports").click()
    expect(page.locator("[data-funnel] tr")).to_have_count(4)
    expect(page.locator("[data-revenue]")).to_contain_text("12500.00")
    shots("crm-reports")
    assert re.search(r"/console/reports$", page.url)
