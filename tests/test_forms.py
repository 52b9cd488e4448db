"""Web forms over HTTP: the forms API (scopes, audit), and visitors' submissions — origins and
CORS, the three body types, redirects, field errors, duplicates, rate limits, the spam checks
and the quarantine."""

from __future__ import annotations

import csv
import gzip
import html
import io
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

import altcha
import httpx
import pytest
from pydantic import SecretStr

from leadgate.forms.service import fill_token
from leadgate.models import AuditEvent, Event, Lead, QuarantinedSubmission, WebForm
from tests.conftest import TEST_SECRET, Backend, app_server
from tests.factories import (
    TenantInfo,
    count_rows,
    create_api_key,
    create_team_for,
    create_tenant,
    fetch_rows,
)
from tests.receiver import Received, running_receiver

SHOP = "https://shop.example"
FIELDS: list[dict[str, Any]] = [
    {"name": "firstName", "label": "First name", "required": True},
    {"name": "lastName", "label": "Last name", "required": True},
    {"name": "email", "label": "E-mail", "required": True},
    {"name": "phone", "label": "Phone"},
    {"name": "budget", "label": "Budget"},
    {"name": "message", "label": "Message", "type": "textarea"},
]
JSON_HEADERS = {"Origin": SHOP, "Accept": "application/json"}


def make_form(client: httpx.Client, tenant: TenantInfo, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Contact us",
        "fields": FIELDS,
        "allowedOrigins": [SHOP],
        "hiddenFields": {"source": "website"},
        "tags": ["web"],
        "spam": {"honeypot": True, "minFillSeconds": 0, "proofOfWork": False},
        **fields,
    }
    response = client.post("/api/v1/forms", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def visitor(**overrides: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {
        "firstName": f"Ann{tag}",
        "lastName": "Lee",
        "email": f"ann.{tag}@example.com",
        **overrides,
    }


def leads_of(backend: Backend, tenant: TenantInfo) -> list[Lead]:
    return [lead for lead in fetch_rows(backend, Lead, tenant.id) if lead.deleted_at is None]


def created_events(backend: Backend, tenant: TenantInfo) -> int:
    return count_rows(backend, Event, tenant.id, type="lead.created")


# --- the forms API ---------------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["anonymous", "wrong_scope", "other_tenant", "right_scope"])
def test_forms_api_auth_matrix(backend: Backend, client: httpx.Client, caller: str) -> None:
    owner = create_tenant(backend)
    form = make_form(client, owner)
    headers: dict[str, str] = {}
    if caller == "wrong_scope":
        headers = create_api_key(backend, owner, ["leads:write", "leads:read"]).headers
    elif caller == "other_tenant":
        headers = create_tenant(backend).headers
    elif caller == "right_scope":
        headers = create_api_key(backend, owner, ["forms:read", "forms:write"]).headers
    read = client.get(f"/api/v1/forms/{form['id']}", headers=headers)
    write = client.patch(f"/api/v1/forms/{form['id']}", json={"name": "x"}, headers=headers)
    create = client.post("/api/v1/forms", json={"name": "n", "fields": FIELDS}, headers=headers)
    expected = {"anonymous": 401, "wrong_scope": 403, "other_tenant": 404, "right_scope": 200}
    assert read.status_code == expected[caller], read.text
    assert write.status_code == expected[caller], write.text
    if caller == "wrong_scope":
        assert read.json()["error"] == "insufficient_scope"
        assert write.json()["requiredScope"] == "forms:write"
    if caller == "other_tenant":
        assert read.json()["error"] == "not_found"
    assert create.status_code == {"other_tenant": 201, "right_scope": 201}.get(
        caller, expected[caller]
    )
    names = {f.name for f in fetch_rows(backend, WebForm, owner.id)}
    assert names == ({"x", "n"} if caller == "right_scope" else {"Contact us"})


def test_form_lifecycle_is_audited(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    team = create_team_for(backend, tenant, "Sales")
    form = make_form(client, tenant, teamId=team, redirectUrl="https://shop.example/thanks")
    assert form["id"].startswith("form_")
    assert form["urls"]["hosted"].endswith(f"/f/{form['id']}")
    assert form["urls"]["script"].endswith("/static/forms/leadgate-form.js")
    assert form["fields"][2] == {
        "name": "email",
        "label": "E-mail",
        "required": True,
        "type": "email",
    }
    listed = client.get("/api/v1/forms", headers=tenant.headers).json()["data"]
    assert [f["id"] for f in listed] == [form["id"]]

    changed = client.patch(
        f"/api/v1/forms/{form['id']}",
        json={"name": "Quote", "redirectUrl": None, "enabled": False},
        headers=tenant.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["redirectUrl"]) == ("Quote", None)
    assert client.delete(f"/api/v1/forms/{form['id']}", headers=tenant.headers).status_code == 204
    assert client.get(f"/api/v1/forms/{form['id']}", headers=tenant.headers).status_code == 404
    actions = [
        (a.action, a.target_id)
        for a in fetch_rows(backend, AuditEvent, tenant.id)
        if a.target_type == "form"
    ]
    assert sorted(actions) == sorted(
        [(f"form.{verb}", form["id"]) for verb in ("created", "updated", "deleted")]
    )
    updated = next(
        a for a in fetch_rows(backend, AuditEvent, tenant.id) if a.action == "form.updated"
    )
    assert updated.before is not None
    assert updated.after is not None
    assert (updated.before["name"], updated.after["name"]) == ("Contact us", "Quote")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fields": [{"name": "email", "label": "E-mail"}]}, None),
        ({"allowedOrigins": ["https://shop.example/path"]}, "allowedOrigins"),
        ({"redirectUrl": "javascript:alert(1)"}, "redirectUrl"),
        ({"teamId": "team_unknown"}, "teamId"),
        ({"fields": [*FIELDS, {"name": "utm_source", "label": "x"}]}, "fields.6.name"),
        ({"fields": [*FIELDS, FIELDS[0]]}, None),
    ],
)
def test_invalid_forms_are_refused_and_not_written(
    backend: Backend, client: httpx.Client, body: dict[str, Any], field: str | None
) -> None:
    tenant = create_tenant(backend)
    response = client.post(
        "/api/v1/forms", json={"name": "Bad", "fields": FIELDS, **body}, headers=tenant.headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    if field is not None:
        assert field in [d["field"] for d in response.json()["details"]]
    assert count_rows(backend, WebForm, tenant.id) == 0
    assert count_rows(backend, AuditEvent, tenant.id, action="form.created") == 0


# --- submitting ------------------------------------------------------------------------------


def test_fetch_submission_creates_the_lead_through_the_leads_service(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant)
    person = visitor(phone="+1 (555) 123-4567", budget="5k", message="Call me", ignored="x")
    response = client.post(f"/f/{form['id']}", json=person, headers=JSON_HEADERS)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "received",
        "message": "Thank you. We received your details.",
        "redirectUrl": None,
    }
    assert response.headers["access-control-allow-origin"] == SHOP
    [lead] = leads_of(backend, tenant)
    assert (lead.email, lead.phone, lead.source) == (person["email"], "+15551234567", "website")
    assert lead.custom_fields == {"budget": "5k", "message": "Call me"}
    assert lead.request_source == "web_form"
    assert lead.created_by == {"type": "form", "id": form["id"], "name": "Contact us"}
    api_lead = client.get(f"/api/v1/leads/{lead.id}", headers=tenant.headers).json()
    assert [t["name"] for t in api_lead["tags"]] == ["web"]
    assert created_events(backend, tenant) == 1


def test_plain_posts_redirect_urlencoded_and_multipart(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant)
    plain = client.post(f"/f/{form['id']}", data=visitor(), headers={"Origin": SHOP})
    assert plain.status_code == 303, plain.text
    assert plain.headers["location"] == f"/f/{form['id']}/thanks"
    thanks = client.get(plain.headers["location"])
    assert thanks.status_code == 200
    assert "Thank you. We received your details." in thanks.text

    redirecting = make_form(client, tenant, redirectUrl="https://shop.example/welcome")
    multipart = client.post(
        f"/f/{redirecting['id']}",
        data=visitor(),
        files={"budget": (None, "10k")},  # a plain multipart field, not a file
        headers={"Referer": "https://shop.example/contact?x=1"},
    )
    assert multipart.status_code == 303, multipart.text
    assert multipart.headers["location"] == "https://shop.example/welcome"
    assert len(leads_of(backend, tenant)) == 2
    assert {lead.custom_fields.get("budget") for lead in leads_of(backend, tenant)} == {None, "10k"}


def test_a_file_in_a_multipart_post_is_refused(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant)
    response = client.post(
        f"/f/{form['id']}",
        data=visitor(),
        files={"cv": ("cv.pdf", b"%PDF-1.4", "application/pdf")},
        headers=JSON_HEADERS,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert leads_of(backend, tenant) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Referer": "https://evil.example/page"},
        {"Origin": "null", "Referer": f"{SHOP}/contact"},
        {},
    ],
)
def test_other_origins_are_refused(
    backend: Backend, client: httpx.Client, headers: dict[str, str]
) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant)
    response = client.post(
        f"/f/{form['id']}", json=visitor(), headers={"Accept": "application/json", **headers}
    )
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in response.headers
    plain = client.post(f"/f/{form['id']}", data=visitor(), headers=headers)
    assert plain.status_code == 403
    assert plain.headers["content-type"].startswith("text/html")
    assert leads_of(backend, tenant) == []
    assert count_rows(backend, QuarantinedSubmission, tenant.id) == 0


def test_preflight_only_for_allowed_origins(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant)
    request = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    allowed = client.options(f"/f/{form['id']}", headers={"Origin": SHOP, **request})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == SHOP
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "Content-Type" in allowed.headers["access-control-allow-headers"]
    refused = client.options(
        f"/f/{form['id']}", headers={"Origin": "https://evil.example", **request}
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in refused.headers
    unknown = client.options("/f/form_nope", headers={"Origin": SHOP, **request})
    assert unknown.status_code == 404


def test_field_errors_name_the_field(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant)
    url = f"/f/{form['id']}"
    missing = client.post(url, json=visitor(email=""), headers=JSON_HEADERS)
    assert missing.status_code == 400
    assert missing.json()["details"] == [
        {"field": "email", "message": "E-mail is required.", "type": "missing"}
    ]
    assert missing.headers["access-control-allow-origin"] == SHOP
    bad = client.post(url, json=visitor(email="not-an-email", phone="12"), headers=JSON_HEADERS)
    assert bad.status_code == 400
    assert {d["field"] for d in bad.json()["details"]} == {"email", "phone"}
    html = client.post(url, data=visitor(email="not-an-email"), headers={"Origin": SHOP})
    assert html.status_code == 400
    assert html.headers["content-type"].startswith("text/html")
    assert 'id="lg-email-error"' in html.text
    assert 'aria-invalid="true"' in html.text
    assert "E-mail:" in html.text
    assert leads_of(backend, tenant) == []
    assert created_events(backend, tenant) == 0


def test_duplicate_email_answered_like_a_success(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant)
    person = visitor()
    first = client.post(f"/f/{form['id']}", json=person, headers=JSON_HEADERS)
    again = client.post(
        f"/f/{form['id']}", json={**person, "firstName": "Other"}, headers=JSON_HEADERS
    )
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json()
    [lead] = leads_of(backend, tenant)
    assert created_events(backend, tenant) == 1
    [history] = [
        a for a in fetch_rows(backend, AuditEvent, tenant.id) if a.action == "lead.form_resubmitted"
    ]
    assert history.target_id == lead.id
    assert history.after is not None
    assert history.after["submitted"]["firstName"] == "Other"


def test_merge_policy_merges_a_form_duplicate(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend, duplicate_policy="merge")
    form = make_form(client, tenant)
    person = visitor()
    client.post(f"/f/{form['id']}", json=person, headers=JSON_HEADERS)
    again = client.post(
        f"/f/{form['id']}", json={**person, "phone": "+1 555 987 6543"}, headers=JSON_HEADERS
    )
    assert again.status_code == 200
    [lead] = leads_of(backend, tenant)
    assert lead.phone == "+15559876543"


def test_disabled_and_unknown_forms_are_not_found(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant, enabled=False)
    for url in (f"/f/{form['id']}", "/f/form_01aaaaaaaaaaaaaaaaaaaaaaaa", "/f/lead_x"):
        response = client.post(url, json=visitor(), headers=JSON_HEADERS)
        assert response.status_code == 404
        assert response.json()["error"] == "form_not_found"
        assert client.get(url).status_code == 404
    assert leads_of(backend, tenant) == []


def test_rate_limits_per_form_and_per_address(backend: Backend) -> None:
    tenant = create_tenant(backend)
    with (
        app_server(
            backend, forms_rate_limit_per_minute=2, forms_address_rate_limit_per_minute=100_000
        ) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        form = make_form(http, tenant)
        codes = [
            http.post(f"/f/{form['id']}", json=visitor(), headers=JSON_HEADERS).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        refused = http.post(f"/f/{form['id']}", json=visitor(), headers=JSON_HEADERS)
        assert refused.json()["error"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["access-control-allow-origin"] == SHOP
    assert len(leads_of(backend, tenant)) == 2
    other = create_tenant(backend)
    with (
        app_server(
            backend,
            forms_rate_limit_per_minute=100_000,
            forms_address_rate_limit_per_minute=1,
            redis_prefix=f"{backend.settings.redis_prefix}addr{uuid.uuid4().hex[:6]}:",
        ) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        forms = [make_form(http, other), make_form(http, other)]
        first = http.post(f"/f/{forms[0]['id']}", json=visitor(), headers=JSON_HEADERS)
        second = http.post(f"/f/{forms[1]['id']}", json=visitor(), headers=JSON_HEADERS)
        assert (first.status_code, second.status_code) == (200, 429)
    assert len(leads_of(backend, other)) == 1


def test_hosted_page_is_accessible_and_frameable_by_allowed_origins(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant)
    page = client.get(f"/f/{form['id']}")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {SHOP}" in csp
    assert "x-frame-options" not in page.headers
    for field in FIELDS:
        assert f'<label for="lg-{field["name"]}">{field["label"]}' in page.text
        assert f'id="lg-{field["name"]}" name="{field["name"]}"' in page.text
    assert 'name="viewport"' in page.text
    assert 'data-leadgate-form="' + form["id"] in page.text
    # No secret of any kind: no API key, no webhook secret, not the server's secret.
    assert tenant.key not in page.text
    assert not re.search(r"\b(lg|whsec)_[A-Za-z0-9]{16,}", page.text)
    assert TEST_SECRET not in page.text
    api = client.get("/api/v1/forms", headers=tenant.headers)
    assert api.headers["x-frame-options"] == "DENY"


def test_embed_script_is_small_and_served(client: httpx.Client) -> None:
    script = client.get("/static/forms/leadgate-form.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert len(gzip.compress(script.content, 9)) <= 3 * 1024


# --- spam and the quarantine -----------------------------------------------------------------


def test_honeypot_submission_is_quarantined_then_released(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant)
    bot = client.post(
        f"/f/{form['id']}", json={**visitor(), "_lg_hp": "http://spam"}, headers=JSON_HEADERS
    )
    assert bot.status_code == 200
    assert bot.json()["status"] == "received"
    assert leads_of(backend, tenant) == []
    assert created_events(backend, tenant) == 0
    held = client.get("/api/v1/form-quarantine", headers=tenant.headers).json()["data"]
    assert [h["reasons"] for h in held] == [["honeypot"]]
    assert held[0]["lead"]["lastName"] == "Lee"
    released = client.post(
        f"/api/v1/form-quarantine/{held[0]['id']}/release", headers=tenant.headers
    )
    assert released.status_code == 200, released.text
    assert released.json()["outcome"] == "created"
    [lead] = leads_of(backend, tenant)
    assert lead.id == released.json()["leadId"]
    assert created_events(backend, tenant) == 1
    assert count_rows(backend, QuarantinedSubmission, tenant.id) == 0
    again = client.post(f"/api/v1/form-quarantine/{held[0]['id']}/release", headers=tenant.headers)
    assert again.status_code == 404


def test_quarantined_submission_can_be_deleted(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant)
    client.post(f"/f/{form['id']}", json={**visitor(), "_lg_hp": "x"}, headers=JSON_HEADERS)
    [held] = client.get("/api/v1/form-quarantine", headers=tenant.headers).json()["data"]
    reader = create_api_key(backend, tenant, ["forms:read"])
    refused = client.delete(f"/api/v1/form-quarantine/{held['id']}", headers=reader.headers)
    assert refused.status_code == 403
    other = create_tenant(backend)
    assert (
        client.delete(f"/api/v1/form-quarantine/{held['id']}", headers=other.headers).status_code
        == 404
    )
    assert count_rows(backend, QuarantinedSubmission, tenant.id) == 1
    deleted = client.delete(f"/api/v1/form-quarantine/{held['id']}", headers=tenant.headers)
    assert deleted.status_code == 204
    assert count_rows(backend, QuarantinedSubmission, tenant.id) == 0
    assert leads_of(backend, tenant) == []
    assert count_rows(backend, AuditEvent, tenant.id, action="form_submission.deleted") == 1


def test_minimum_fill_time_uses_the_signed_timestamp(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    form = make_form(
        client, tenant, spam={"honeypot": True, "minFillSeconds": 5, "proofOfWork": False}
    )
    url = f"/f/{form['id']}"
    old = fill_token(backend.settings, form["id"], int(time.time()) - 60)
    fresh = client.get(f"{url}/token", headers={"Origin": SHOP})
    assert fresh.headers["access-control-allow-origin"] == SHOP
    forged = old.split(".")[0] + ".0123456789abcdef0123456789abcdef"
    cases = {"fresh": fresh.json()["token"], "forged": forged, "none": None, "old": old}
    for token in cases.values():
        body = visitor() if token is None else {**visitor(), "_lg_ts": token}
        assert client.post(url, json=body, headers=JSON_HEADERS).status_code == 200
    reasons = sorted(
        r for h in fetch_rows(backend, QuarantinedSubmission, tenant.id) for r in h.reasons
    )
    assert reasons == ["no_fill_token", "no_fill_token", "too_fast"]
    assert len(leads_of(backend, tenant)) == 1
    page = client.get(url)
    assert 'name="_lg_ts" value="' in page.text


def solve(client: httpx.Client, form_id: str) -> str:
    challenge = client.get(f"/f/{form_id}/challenge", headers={"Origin": SHOP})
    assert challenge.status_code == 200
    assert challenge.headers["access-control-allow-origin"] == SHOP
    parsed = altcha.Challenge.from_dict(challenge.json())
    solution = altcha.solve_challenge(parsed)
    assert solution is not None
    return str(altcha.Payload(parsed, solution).to_base64())


def test_proof_of_work_is_on_by_default(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant, spam={"minFillSeconds": 0})
    other = make_form(client, tenant, spam={"minFillSeconds": 0})
    assert form["spam"] == {
        "honeypot": True,
        "minFillSeconds": 0,
        "proofOfWork": True,
        "captcha": None,
        "captchaSiteKey": None,
    }
    url = f"/f/{form['id']}"
    solved = solve(client, form["id"])
    tampered = solved[:-8] + ("A" * 8 if not solved.endswith("A" * 8) else "B" * 8)
    cases = {
        "solved": solved,
        "other_form": solve(client, other["id"]),
        "tampered": tampered,
        "garbage": "not base64 at all",
        "missing": None,
    }
    cases["replayed"] = solved
    for proof in cases.values():
        body = visitor() if proof is None else {**visitor(), "altcha": proof}
        assert client.post(url, json=body, headers=JSON_HEADERS).status_code == 200
    held = fetch_rows(backend, QuarantinedSubmission, tenant.id)
    assert [h.reasons for h in held] == [["no_proof_of_work"]] * 5
    assert len(leads_of(backend, tenant)) == 1
    page = client.get(url)
    assert f'challenge="/f/{form["id"]}/challenge"' in page.text
    token = client.get(f"{url}/token", headers={"Origin": SHOP}).json()
    assert token["proofOfWork"] is True


def siteverify(_n: int, request: Received) -> tuple[int, dict[str, str], bytes]:
    """A stand-in for a CAPTCHA provider's siteverify: one secret, one good answer."""
    form = dict(parse_qsl(request.body.decode()))
    ok = form.get("secret") == "captcha-secret" and form.get("response") == "good-answer"
    return 200, {"Content-Type": "application/json"}, json.dumps({"success": ok}).encode()


@pytest.mark.parametrize(
    ("provider", "field"),
    [
        ("turnstile", "cf-turnstile-response"),
        ("hcaptcha", "h-captcha-response"),
        ("recaptcha", "g-recaptcha-response"),
    ],
)
def test_captcha_answers_are_verified_with_the_provider(
    backend: Backend, client: httpx.Client, provider: str, field: str
) -> None:
    tenant = create_tenant(backend)
    spam = {
        "minFillSeconds": 0,
        "proofOfWork": False,
        "captcha": provider,
        "captchaSiteKey": "site",
    }
    unconfigured = client.post(
        "/api/v1/forms", json={"name": "c", "fields": FIELDS, "spam": spam}, headers=tenant.headers
    )
    assert unconfigured.status_code == 400
    assert unconfigured.json()["details"][0]["field"] == "spam.captcha"
    assert count_rows(backend, WebForm, tenant.id) == 0
    with running_receiver(siteverify) as provider_server:
        settings = {
            f"forms_{provider}_secret": SecretStr("captcha-secret"),
            f"forms_{provider}_verify_url": provider_server.url,
        }
        with app_server(backend, **settings) as server, httpx.Client(base_url=server.url) as http:
            form = make_form(http, tenant, spam=spam)
            assert form["spam"]["captcha"] == provider
            page = http.get(f"/f/{form['id']}")
            assert 'data-sitekey="site"' in page.text
            assert "captcha-secret" not in page.text
            for answer in ("good-answer", "bad-answer", None):
                body = visitor() if answer is None else {**visitor(), field: answer}
                response = http.post(f"/f/{form['id']}", json=body, headers=JSON_HEADERS)
                assert response.status_code == 200
        assert len(provider_server.received()) == 2  # no answer: the provider is not asked
        assert dict(parse_qsl(provider_server.received()[0].body.decode()))["remoteip"]
    assert len(leads_of(backend, tenant)) == 1
    reasons = [h.reasons for h in fetch_rows(backend, QuarantinedSubmission, tenant.id)]
    assert reasons == [["captcha_failed"], ["captcha_failed"]]


# --- attribution -----------------------------------------------------------------------------

TOUCH_KEYS = (
    "utmSource", "utmMedium", "utmCampaign", "utmTerm", "utmContent", "gclid", "fbclid",
    "msclkid", "referrer", "landingPage",
)  # fmt: skip


def full(touch: dict[str, str]) -> dict[str, str | None]:
    return {key: touch.get(key) for key in TOUCH_KEYS}


def test_attribution_from_the_script_is_stored_filtered_exported_and_sent(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant)
    first = {
        "utmSource": "news",
        "utmCampaign": "spring",
        "landingPage": f"{SHOP}/?utm_source=news",
    }
    last = {
        "utmSource": "ads",
        "gclid": "g-123",
        "referrer": "https://search.example/",
        "landingPage": f"{SHOP}/p",
    }
    body = {**visitor(), "attribution": {"firstTouch": first, "lastTouch": last}}
    assert client.post(f"/f/{form['id']}", json=body, headers=JSON_HEADERS).status_code == 200
    other = {**visitor(), "attribution": {"lastTouch": {"utmSource": "x" * 300}}}  # unusable
    assert client.post(f"/f/{form['id']}", json=other, headers=JSON_HEADERS).status_code == 200
    listed = client.get(
        "/api/v1/leads", params={"utmSource": "news"}, headers=tenant.headers
    ).json()["data"]
    stored = {"firstTouch": full(first), "lastTouch": full(last)}  # the API shows every key
    assert [lead["attribution"] for lead in listed] == [stored]
    by_last = client.get("/api/v1/leads", params={"utmSource": "ads"}, headers=tenant.headers)
    assert len(by_last.json()["data"]) == 1
    none = client.get("/api/v1/leads", params={"utmCampaign": "autumn"}, headers=tenant.headers)
    assert none.json()["data"] == []
    unattributed = [lead for lead in leads_of(backend, tenant) if lead.attribution is None]
    assert len(unattributed) == 1
    exported = client.get(
        "/api/v1/leads/export.csv", params={"utmCampaign": "spring"}, headers=tenant.headers
    )
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 1
    assert json.loads(rows[0]["attribution"]) == {"firstTouch": first, "lastTouch": last}
    events = [e for e in fetch_rows(backend, Event, tenant.id) if e.type == "lead.created"]
    sent = [e.data["attribution"] for e in events if e.data.get("attribution")]
    assert sent == [stored]


def test_attribution_of_hosted_page_and_plain_posts(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    form = make_form(client, tenant)
    page = client.get(
        f"/f/{form['id']}?utm_source=mail&utm_medium=email&fbclid=fb-1",
        headers={"Referer": "https://mail.example/inbox"},
    )
    hidden = dict(re.findall(r'<input type="hidden" name="(_lg_\w+)" value="([^"]*)"', page.text))
    assert hidden["_lg_referrer"] == "https://mail.example/inbox"
    own = backend.url
    posted = client.post(
        f"/f/{form['id']}",
        data={
            **visitor(email="hosted@example.com"),
            **{k: html.unescape(v) for k, v in hidden.items()},
        },
        headers={"Origin": own},
    )
    assert posted.status_code == 303
    plain = client.post(
        f"/f/{form['id']}",
        data=visitor(email="plain@example.com"),
        headers={"Referer": f"{SHOP}/landing?utm_campaign=spring&utm_source=blog"},
    )
    assert plain.status_code == 303
    by_email = {lead.email: lead.attribution for lead in leads_of(backend, tenant)}
    hosted_touch = {
        "utmSource": "mail",
        "utmMedium": "email",
        "fbclid": "fb-1",
        "referrer": "https://mail.example/inbox",
        "landingPage": f"{own}/f/{form['id']}?utm_source=mail&utm_medium=email&fbclid=fb-1",
    }
    assert by_email["hosted@example.com"] == {"firstTouch": hosted_touch, "lastTouch": hosted_touch}
    plain_touch = {
        "utmCampaign": "spring",
        "utmSource": "blog",
        "landingPage": f"{SHOP}/landing?utm_campaign=spring&utm_source=blog",
    }
    assert by_email["plain@example.com"] == {"firstTouch": plain_touch, "lastTouch": plain_touch}
