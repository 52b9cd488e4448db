"""The sources mapping editor in a real browser (Debian's chromium, Playwright): a payload that
failed, the live preview following the edits as they are typed, saving, and replaying it."""

from __future__ import annotations

import json
import os
import uuid

import httpx
import pytest

from tests.conftest import IN_CI, Backend
from tests.test_console_browser import CHROMIUM, CHROMIUM_ARGS
from tests.test_sources import sample, typeform_headers

pytestmark = pytest.mark.slow

if not os.path.exists(CHROMIUM):  # pragma: no cover - depends on the machine
    if IN_CI:
        pytest.fail(f"{CHROMIUM} is missing; `make test` installs it", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


def test_mapping_editor_previews_live_then_saves_and_replays(backend: Backend) -> None:
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=backend.url, viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        try:
            slug = f"src-{uuid.uuid4().hex[:8]}"
            page.goto("/console/sign-up")
            page.get_by_label("Your name").fill("Ada Lovelace")
            page.get_by_label("E-mail").fill(f"{slug}@example.com")
            page.get_by_label("Password").fill("a long enough password")
            page.get_by_label("Company", exact=True).fill("Sources Ltd")
            page.locator('input[name="slug"]').fill(slug)
            page.get_by_role("button", name="Create account").click()
            expect(page.get_by_role("heading", name="Settings → API Access")).to_be_visible()

            page.get_by_role("link", name="Sources").click()
            page.get_by_label("Name").fill("Contact form")
            page.get_by_role("button", name="Add source").click()
            url = page.locator("#source-url").input_value()
            secret = page.locator("#source-secret").input_value()
            body = json.dumps(sample("typeform")).encode()
            with httpx.Client(base_url=backend.url, timeout=30) as provider:
                path = httpx.URL(url).path
                sent = provider.post(path, content=body, headers=typeform_headers(secret, body))
            assert sent.json()["outcome"] == "failed"

            page.get_by_role("link", name="Done").click()
            preview = page.locator("#preview [data-preview-outcome]")
            expect(preview).to_have_attribute("data-preview-outcome", "failed")
            # Fill the editor's blank rows: the preview follows without saving.
            froms = page.get_by_label("Provider field")
            targets = page.get_by_label("Lead field")
            blank = froms.count() - 3
            froms.nth(blank).fill("first_name")
            targets.nth(blank).fill("firstName")
            froms.nth(blank + 1).fill("last_name")
            targets.nth(blank + 1).fill("lastName")
            expect(preview).to_have_attribute("data-preview-outcome", "created")
            expect(page.locator("[data-preview-lead]")).to_contain_text("Laura Lorem ipsum dolor")

            page.get_by_role("button", name="Save mapping").click()
            expect(page.get_by_text("Mapping saved")).to_be_visible()
            page.get_by_role("button", name="Replay").click()
            expect(page.get_by_text("replayed: created")).to_be_visible()
            expect(page.locator("tr[data-payload-id] .status")).to_have_text("created")
        finally:
            context.close()
            browser.close()
    assert problems == []  # no CSP violations, no script errors
