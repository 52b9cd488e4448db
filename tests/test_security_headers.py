"""Security headers on every kind of response: console pages (signed in or not, errors and
redirects included), the API explorer, and the JSON API; HSTS on https deployments."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Backend, ServerThread
from tests.console_helpers import ConsoleClient, generate_key, key_from_page, sign_up
from tests.factories import create_tenant, unique_lead

BASE_HEADERS = ("content-security-policy", "x-frame-options", "referrer-policy")


@pytest.fixture(autouse=True)
def _close_browsers() -> Iterator[None]:
    yield
    ConsoleClient.close_all()


def assert_secure(response: httpx.Response, *, console: bool) -> None:
    where = f"{response.request.method} {response.request.url.path} → {response.status_code}"
    headers = response.headers
    for name in BASE_HEADERS:
        assert headers.get(name), f"{where}: no {name}"
    assert headers["x-content-type-options"] == "nosniff", where
    assert headers["x-frame-options"] == "DENY", where
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy, where
    assert "'unsafe-eval'" not in policy, where
    assert len(headers.get_list("content-security-policy")) == 1, where
    if console:
        assert "script-src 'self'" in policy, where
        assert "'unsafe-inline'" not in policy, where
        assert headers["referrer-policy"] == "same-origin", where
        assert headers["cache-control"] == "no-store", where
    else:
        assert headers["referrer-policy"] in ("no-referrer", "same-origin"), where
    assert "strict-transport-security" not in headers, where  # plain http here


def test_every_console_page_carries_the_security_headers(backend: Backend) -> None:
    account = sign_up(backend)
    browser = account.client
    created = generate_key(browser, scopes=["leads:write", "leads:read"])
    assert_secure(created, console=True)
    key = key_from_page(created.text)
    with httpx.Client(base_url=backend.url, timeout=30) as api:
        lead = api.post("/api/v1/leads", json=unique_lead(), headers={"X-API-Key": key}).json()
    key_id = re.search(
        r'data-key-id="(key_[0-9a-z]+)"', browser.get("/console/settings/api-keys").text
    )
    assert key_id is not None
    pages = [
        "/console",
        "/console/settings/api-keys",
        "/console/settings/api-keys/new",
        f"/console/settings/api-keys/{key_id.group(1)}/edit",
        f"/console/settings/api-keys/{key_id.group(1)}/roll",
        "/console/usage",
        "/console/leads",
        f"/console/leads/{lead['id']}",
        "/console/leads/export.csv",
        "/console/tags",
        "/console/webhooks",
        "/console/team",
        "/console/audit",
        "/console/account",
        "/console/developers",
        "/console/workspaces/new",
        "/console/no-such-page",
        "/console/leads/lead_nope",
        "/console/invitations/nope",
    ]
    for path in pages:
        response = browser.get(path)
        assert response.status_code < 500, path
        assert_secure(response, console=True)
    # A refused form (no CSRF token) and the sign-out redirect.
    assert_secure(browser.post("/console/tags", {"name": "x"}, csrf=False), console=True)
    anonymous = ConsoleClient(backend)
    for path in ("/console/sign-in", "/console/sign-up", "/console/team", "/console"):
        assert_secure(anonymous.get(path), console=True)
    assert_secure(
        anonymous.post("/console/sign-in", {"email": "x@example.com", "password": "nope"}),
        console=True,
    )


def test_api_and_explorer_responses_carry_the_security_headers(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    responses = [
        client.get("/api/v1/leads", headers=tenant.headers),
        client.get("/api/v1/leads"),  # 401
        client.post("/api/v1/leads", content=b"{", headers=tenant.headers),  # 400
        client.get("/healthz", headers={"X-Big": "a" * 17_000}),  # 431 from the middleware
        client.get("/api/v1/nothing"),  # 404
        client.get("/healthz"),
        client.get("/metrics"),
        client.get("/openapi.json"),
        client.get("/static/console/console.css"),
        client.post("/api/v1/api-keys/revoke-leaked", json={"keys": ["lg_x"]}),
    ]
    for response in responses:
        assert_secure(response, console=False)
        if response.headers["content-type"].startswith("application/json"):
            assert response.headers["content-security-policy"] == (
                "default-src 'none'; frame-ancestors 'none'"
            )
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert_secure(docs, console=False)
    scripts = re.findall(r'<script src="([^"]+)"', docs.text)
    assert scripts
    assert all(src.startswith("/static/") for src in scripts)  # 'self' suffices
    assert "<script>" not in docs.text  # no inline script for the policy to allow


def test_https_deployments_send_hsts(backend: Backend) -> None:
    from leadgate.app import create_app

    settings = backend.settings.model_copy(update={"public_url": "https://leads.example.com"})
    server = ServerThread(create_app(settings))
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for path in ("/healthz", "/console/sign-in", "/api/v1/leads"):
                response = http.get(path)
                assert response.headers["strict-transport-security"].startswith("max-age="), path
    finally:
        server.stop()
