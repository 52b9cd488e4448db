"""The console's Forms pages over HTTP: create and edit a form, its embed snippets, and the
quarantine queue (release fires `lead.created`; delete removes); refusals write nothing."""

from __future__ import annotations

import re

import httpx

from leadgate.models import AuditEvent, Event, Lead, QuarantinedSubmission, WebForm
from tests.conftest import Backend
from tests.console_helpers import ConsoleClient, invite, join, sign_up, tenant_id_of
from tests.factories import count_rows, fetch_rows

SHOP = "https://shop.example"


def _form_id(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text[:2000]
    match = re.search(r"/console/forms/(form_[0-9a-z]+)$", response.headers["location"])
    assert match is not None
    return match.group(1)


def _add_form(owner: ConsoleClient, **fields: str) -> str:
    owner.get("/console/forms")
    data = {
        "name": "Contact",
        "allowed_origins": SHOP,
        "source": "website",
        "enabled": "on",
        "honeypot": "on",
        "min_fill_seconds": "0",
        **fields,
    }
    return _form_id(owner.post("/console/forms", data))


def test_forms_pages_create_edit_and_show_the_snippets(backend: Backend) -> None:
    account = sign_up(backend)
    owner = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    form_id = _add_form(owner, proof_of_work="on")
    listed = owner.get("/console/forms")
    assert f'href="/console/forms/{form_id}"' in listed.text
    page = owner.get(f"/console/forms/{form_id}")
    assert page.status_code == 200
    # The snippets are shown as text (escaped) in copyable boxes.
    assert f"data-leadgate-form=&#34;{form_id}&#34;" in page.text
    assert f"/f/{form_id}" in page.text
    assert "leadgate-form.js" in page.text
    assert 'data-copy="#snippet-script"' in page.text
    assert (
        f"method=&#34;post&#34; action=&#34;{backend.settings.public_url}/f/{form_id}" in page.text
    )
    edited = owner.post(
        f"/console/forms/{form_id}",
        {"name": "Quote", "allowed_origins": f"{SHOP}\nhttps://www.shop.example",
         "redirect_url": "https://shop.example/thanks", "min_fill_seconds": "5",
         "consent_text": "I agree."},
    )  # fmt: skip
    assert edited.status_code == 303, re.findall(r"role=\"alert\">([^<]*)", edited.text)
    [form] = [f for f in _forms(backend, tenant_id)]
    assert form.name == "Quote"
    assert form.allowed_origins == [SHOP, "https://www.shop.example"]
    assert form.enabled is False  # the box was not ticked
    assert (form.consent_text, form.consent_version, form.double_opt_in) == ("I agree.", 1, False)
    assert form.spam == {
        "honeypot": False, "minFillSeconds": 5, "proofOfWork": False, "captcha": None,
        "captchaSiteKey": None,
    }  # fmt: skip
    assert count_rows(backend, AuditEvent, tenant_id, action="form.updated") == 1


def _forms(backend: Backend, tenant_id: str) -> list[WebForm]:
    return list(fetch_rows(backend, WebForm, tenant_id))


def test_form_refusals_write_nothing(backend: Backend) -> None:
    account = sign_up(backend)
    owner = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    owner.get("/console/forms")
    bad_origin = owner.post("/console/forms", {"name": "x", "allowed_origins": "ftp://nope"})
    assert bad_origin.status_code == 400
    assert "aria-invalid" in bad_origin.text
    no_csrf = owner.post("/console/forms", {"name": "x"}, csrf=False)
    assert no_csrf.status_code == 403
    member, _ = join(backend, invite(owner, "member"))
    member.get("/console/forms")
    assert member.post("/console/forms", {"name": "x"}).status_code == 403
    assert count_rows(backend, WebForm, tenant_id) == 0
    assert count_rows(backend, AuditEvent, tenant_id, target_type="form") == 0
    assert owner.get("/console/forms/form_nope").status_code == 404


def test_quarantine_queue_release_and_delete(backend: Backend) -> None:
    account = sign_up(backend)
    owner = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    form_id = _add_form(owner)
    for name in ("Bot", "Spam"):
        body = {"firstName": name, "lastName": "X", "email": f"{name}@example.com", "_lg_hp": "1"}
        posted = httpx.post(
            f"{backend.url}/f/{form_id}", json=body, headers={"Origin": SHOP}, timeout=30
        )
        assert posted.status_code == 200
    queue = owner.get("/console/forms/quarantine")
    ids = re.findall(r'data-submission-id="(fsub_[0-9a-z]+)"', queue.text)
    assert len(ids) == 2
    assert "honeypot" in queue.text
    member, _ = join(backend, invite(owner, "member"))
    member.get("/console/forms/quarantine")
    assert member.post(f"/console/forms/quarantine/{ids[0]}/release", {}).status_code == 403
    assert count_rows(backend, Event, tenant_id, type="lead.created") == 0
    owner.get("/console/forms/quarantine")
    assert owner.post(f"/console/forms/quarantine/{ids[0]}/release", {}).status_code == 303
    assert owner.post(f"/console/forms/quarantine/{ids[1]}/delete", {}).status_code == 303
    assert count_rows(backend, Lead, tenant_id) == 1
    assert count_rows(backend, Event, tenant_id, type="lead.created") == 1
    assert count_rows(backend, QuarantinedSubmission, tenant_id) == 0
    assert owner.post(f"/console/forms/quarantine/{ids[1]}/delete", {}).status_code == 404
    assert "Nothing in quarantine." in owner.get("/console/forms/quarantine").text


def test_a_leads_attribution_is_shown(backend: Backend) -> None:
    account = sign_up(backend)
    owner = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    form_id = _add_form(owner)
    posted = httpx.post(
        f"{backend.url}/f/{form_id}",
        data={"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com"},
        headers={"Referer": f"{SHOP}/spring?utm_campaign=spring-sale&gclid=G-7"},
        timeout=30,
    )
    assert posted.status_code == 303
    [lead] = fetch_rows(backend, Lead, tenant_id)
    page = owner.get(f"/console/leads/{lead.id}")
    assert page.status_code == 200
    shown = page.text.split("data-attribution", 1)[1].split("</dl>", 1)[0]
    assert "spring-sale" in shown
    assert "G-7" in shown
    assert f"{SHOP}/spring?utm_campaign=spring-sale&amp;gclid=G-7" in shown
