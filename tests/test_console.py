"""The web console over HTTP: accounts, CSRF, roles, throttling, tenants, keys, team, audit."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.models import (
    ApiKey,
    AuditEvent,
    ConsoleSession,
    Invitation,
    Lead,
    LoginFailure,
    Membership,
    Tenant,
    User,
)
from tests.conftest import Backend
from tests.console_helpers import (
    PASSWORD,
    ConsoleClient,
    count_all,
    found,
    generate_key,
    invite,
    join,
    key_from_page,
    sign_in,
    sign_up,
    tenant_id_of,
    user_id_of,
)
from tests.factories import count_rows, unique_lead


@pytest.fixture(autouse=True)
def _close_browsers() -> Iterator[None]:
    yield
    ConsoleClient.close_all()


def test_sign_up_creates_user_owner_tenant_and_a_safe_session(backend: Backend) -> None:
    account = sign_up(backend)
    browser = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    assert count_all(backend, User, email=account.email) == 1
    assert count_rows(backend, Membership, tenant_id, role="owner") == 1
    # No key is issued behind the user's back: they generate their own.
    assert count_rows(backend, ApiKey, tenant_id) == 0
    assert count_rows(backend, AuditEvent, tenant_id, action="tenant.created") == 1

    page = browser.get("/console/settings/api-keys")
    assert page.status_code == 200
    assert "No API keys yet" in page.text
    assert "Acme Law" in page.text
    headers = page.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert "<script>" not in page.text  # no inline script: the CSP would block it
    browser.close()


def test_session_cookie_is_http_only_lax_and_only_a_hash_is_stored(backend: Backend) -> None:
    browser = ConsoleClient(backend)
    browser.get("/console/sign-up")
    email = f"c.{uuid.uuid4().hex[:8]}@example.com"
    response = browser.post(
        "/console/sign-up",
        {"name": "C", "email": email, "password": PASSWORD, "company": "Cookie Co"},
    )
    assert response.status_code == 303
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("lg_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http://127.0.0.1: the documented development exception
    token = cookie.split(";", 1)[0].split("=", 1)[1]

    async def stored(session: AsyncSession) -> str:
        from leadgate.users.repository import ConsoleSessionRepository
        from leadgate.users.service import token_hash

        found = await ConsoleSessionRepository(session).by_token_hash(token_hash(token))
        assert found is not None
        return found[0].token_hash

    assert backend.transaction(stored) != token
    browser.close()


def test_sign_up_failures_say_why_and_write_nothing(backend: Backend) -> None:
    taken = sign_up(backend)
    browser = ConsoleClient(backend)
    browser.get("/console/sign-up")
    users_before = count_all(backend, User)
    cases = [
        ({"email": taken.email}, 409, "already exists"),
        ({"password": "short"}, 400, "10 to 256 characters"),
        ({"email": "not-an-email"}, 400, "not valid"),
        ({"slug": "-bad-"}, 400, "Invalid slug"),
        ({"slug": "admin"}, 400, "Reserved slug"),
        # The user would be valid: the taken slug must roll the user back too.
        ({"slug": taken.slug}, 409, "is taken"),
        ({"name": " "}, 400, "your name"),
    ]
    for change, status, message in cases:
        form = {
            "name": "Bob",
            "email": f"bob.{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD,
            "company": "Bob Co",
            "slug": f"bob-{uuid.uuid4().hex[:8]}",
            **change,
        }
        response = browser.post("/console/sign-up", form)
        assert response.status_code == status, (change, response.text[:300])
        assert message in response.text, change
        assert 'role="alert"' in response.text
    assert count_all(backend, User) == users_before
    assert count_all(backend, Tenant, slug=taken.slug) == 1


def test_forms_without_a_valid_csrf_token_are_refused_and_write_nothing(
    backend: Backend,
) -> None:
    # Anonymous forms (sign-up) are tied to a pre-session cookie.
    browser = ConsoleClient(backend)
    browser.get("/console/sign-up")
    users_before = count_all(backend, User)
    email = f"x.{uuid.uuid4().hex[:8]}@example.com"
    form = {"name": "X", "email": email, "password": PASSWORD, "company": "X Co"}
    response = browser.post("/console/sign-up", form, csrf=False)
    assert response.status_code == 403
    assert "security token" in response.text
    assert count_all(backend, User) == users_before
    fresh = httpx.post(f"{backend.url}/console/sign-up", data={**form, "csrf_token": "0" * 64})
    assert fresh.status_code == 403

    # Signed-in forms are tied to the session: no token, a wrong one, or another session's.
    account = sign_up(backend)
    other = sign_up(backend)
    tenant_id = tenant_id_of(backend, account.slug)
    browser = account.client
    browser.get("/console/settings/api-keys/new")
    key_form = {"name": "Zapier", "scopes": ["leads:write"], "expiration": "30"}
    for token in (None, "", "f" * 64, other.client.csrf):
        data = dict(key_form) if token is None else {**key_form, "csrf_token": token}
        response = browser.http.post("/console/settings/api-keys", data=data)
        assert response.status_code == 403, token
    assert count_rows(backend, ApiKey, tenant_id) == 0
    response = browser.post("/console/sign-out", {}, csrf=False)
    assert response.status_code == 403
    assert count_all(backend, ConsoleSession, user_id=user_id_of(backend, account.email)) == 1
    assert generate_key(browser, name="Zapier").status_code == 201


def test_sign_in_sign_out_and_redirects(backend: Backend) -> None:
    account = sign_up(backend)
    anonymous = ConsoleClient(backend)
    response = anonymous.get("/console/team")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fteam"
    page = anonymous.follow(response)
    assert 'name="next" value="/console/team"' in page.text

    wrong = anonymous.post(
        "/console/sign-in", {"email": account.email, "password": "nope-nope-nope"}
    )
    assert wrong.status_code == 401
    assert "The e-mail or password is not right." in wrong.text
    unknown = anonymous.post(
        "/console/sign-in", {"email": "nobody@example.com", "password": PASSWORD}
    )
    assert unknown.status_code == 401

    response = anonymous.post(
        "/console/sign-in",
        {"email": account.email.upper(), "password": PASSWORD, "next": "/console/team"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/team"
    assert count_all(backend, LoginFailure, email=account.email) == 0  # cleared on success
    # Never an open redirect.
    again = ConsoleClient(backend)
    again.get("/console/sign-in")
    response = again.post(
        "/console/sign-in",
        {"email": account.email, "password": PASSWORD, "next": "https://evil.example/console"},
    )
    assert response.headers["location"] == "/console"
    assert again.get("/console").headers["location"] == "/console/settings/api-keys"
    assert again.get("/console/sign-in").headers["location"] == "/console"

    page = anonymous.get("/console/team")
    assert page.status_code == 200
    old_cookie = anonymous.http.cookies.get("lg_session")
    response = anonymous.post("/console/sign-out", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in"
    # The server forgot the session: even the old cookie no longer signs in.
    replay = httpx.get(f"{backend.url}/console/team", cookies={"lg_session": old_cookie or ""})
    assert replay.status_code == 303


def test_sign_in_is_throttled_per_account(backend: Backend) -> None:
    account = sign_up(backend)
    browser = ConsoleClient(backend)
    browser.get("/console/sign-in")
    limit = backend.settings.console_login_max_failures_per_account
    for _ in range(limit):
        response = browser.post(
            "/console/sign-in", {"email": account.email, "password": "wrong-password"}
        )
        assert response.status_code == 401
    # Even the right password waits now; the message says why and for how long.
    response = browser.post("/console/sign-in", {"email": account.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-ins to this account" in response.text
    assert "15 minutes" in response.text
    assert count_all(backend, LoginFailure, email=account.email) == limit
    # Another account from the same address is not locked by this one.
    other = sign_up(backend)
    sign_in(backend, other.email)


def test_change_password_signs_out_other_sessions(backend: Backend) -> None:
    account = sign_up(backend)
    second = sign_in(backend, account.email)
    browser = account.client
    browser.get("/console/account")
    new_password = "another long passphrase"
    cases = [
        ({"current": "wrong-password", "new": new_password, "confirm": new_password}, "current"),
        ({"current": PASSWORD, "new": "short", "confirm": "short"}, "10 to 256"),
        ({"current": PASSWORD, "new": new_password, "confirm": "different one!"}, "differ"),
    ]
    for form, message in cases:
        response = browser.post("/console/account/password", form)
        assert response.status_code == 400
        assert message in response.text
    response = browser.post(
        "/console/account/password",
        {"current": PASSWORD, "new": new_password, "confirm": new_password},
    )
    assert response.status_code == 200
    assert "Password changed" in response.text
    assert second.get("/console/team").status_code == 303  # signed out
    assert browser.get("/console/team").status_code == 200  # this one stays
    sign_in(backend, account.email, new_password)


def test_generate_use_and_revoke_a_key(backend: Backend, client: httpx.Client) -> None:
    account = sign_up(backend)
    browser = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    form = browser.get("/console/settings/api-keys/new")
    for label in ("leads:write", "30 days", "365 days", "Never", "Rate limit", "Team access"):
        assert label in form.text
    response = generate_key(browser, name="Website form", expiration="never")
    assert response.status_code == 201
    assert "will not be shown again" in response.text
    key = key_from_page(response.text)

    created = client.post("/api/v1/leads", json=unique_lead(), headers={"X-API-Key": key})
    assert created.status_code == 201
    assert created.json()["createdBy"]["name"] == "Website form"
    lead_id = created.json()["id"]
    denied = client.get(f"/api/v1/leads/{lead_id}", headers={"X-API-Key": key})
    assert denied.status_code == 403

    listing = browser.get("/console/settings/api-keys")
    assert "Website form" in listing.text
    assert key[:7] in listing.text
    assert key not in listing.text
    assert account.name in listing.text  # created by
    assert ">active<" in listing.text

    stored = count_rows(backend, ApiKey, tenant_id, name="Website form")
    assert stored == 1
    key_id = found(r'data-key-id="(key_[a-z0-9]+)"', listing.text)
    confirm = browser.get(f"/console/settings/api-keys/{key_id}/revoke")
    assert "cannot be undone" in confirm.text
    response = browser.post(f"/console/settings/api-keys/{key_id}/revoke", {})
    assert response.status_code == 303
    assert ">revoked<" in browser.follow(response).text
    refused = client.post("/api/v1/leads", json=unique_lead(), headers={"X-API-Key": key})
    assert refused.status_code == 401
    assert count_rows(backend, Lead, tenant_id) == 1

    audit = browser.get("/console/audit")
    assert "api_key.revoked" in audit.text
    assert "api_key.created" in audit.text
    assert account.name in audit.text


def test_key_form_failures(backend: Backend) -> None:
    account = sign_up(backend)
    browser = account.client
    tenant_id = tenant_id_of(backend, account.slug)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": ""}, "a name"),
        ({"scopes": []}, "at least one permission"),
        ({"scopes": ["leads:write", "root"]}, "Unknown permission"),
        ({"expiration": "7"}, "expiration from the list"),
        ({"rate_limit": "fast"}, "whole number"),
        ({"team_access": "specific-accounts"}, "teams"),
        ({"team_access": "nobody"}, "all teams or selected"),
        ({"enforce_mtls": "on"}, "at least one certificate"),
        ({"thumbprints": "abc"}, "64 hexadecimal"),
    ]
    for change, message in cases:
        response = generate_key(browser, **change)
        assert response.status_code == 400, change
        assert message in response.text, change
    generate_key(browser, name="dup")
    response = generate_key(browser, name="dup")
    assert response.status_code == 409
    assert "already exists" in response.text
    assert count_rows(backend, ApiKey, tenant_id) == 1

    thumb = "AB:" + "cd" * 30 + "ef"
    response = generate_key(
        browser, name="mtls", enforce_mtls="on", thumbprints=thumb, rate_limit="50"
    )
    assert response.status_code == 201

    async def check(session: AsyncSession) -> ApiKey:
        from leadgate.api_keys.repository import ApiKeyRepository

        keys = {k.name: k for k in await ApiKeyRepository(session, tenant_id).list()}
        return keys["mtls"]

    key = backend.transaction(check)
    assert key.enforce_mtls is True
    assert key.mtls_thumbprints == ["ab" + "cd" * 30 + "ef"]
    assert key.rate_limit_per_minute == 50
    assert key.created_by["type"] == "user"


def test_revoking_another_tenants_key_is_not_found(backend: Backend) -> None:
    one = sign_up(backend)
    two = sign_up(backend)
    generate_key(two.client, name="theirs")
    listing = two.client.get("/console/settings/api-keys")
    key_id = found(r'data-key-id="(key_[a-z0-9]+)"', listing.text)
    assert one.client.get(f"/console/settings/api-keys/{key_id}/revoke").status_code == 404
    one.client.get("/console/settings/api-keys")
    response = one.client.post(f"/console/settings/api-keys/{key_id}/revoke", {})
    assert response.status_code == 404
    assert count_rows(backend, ApiKey, tenant_id_of(backend, two.slug), revoked_at=None) == 1


def test_a_member_cannot_reach_owner_only_actions(backend: Backend) -> None:
    owner = sign_up(backend)
    tenant_id = tenant_id_of(backend, owner.slug)
    member, member_email = join(backend, invite(owner.client, "member"))
    assert count_rows(backend, Membership, tenant_id, role="member") == 1
    team = member.get("/console/team")
    assert member_email in team.text
    assert "Create invitation link" not in team.text
    assert 'href="/console/audit"' not in team.text  # no tab to a page they cannot open
    assert 'href="/console/audit"' in owner.client.get("/console/team").text
    owner_membership = found(
        r"/console/team/members/(mem_[a-z0-9]+)/role", owner.client.get("/console/team").text
    )

    audit = member.get("/console/audit")
    assert audit.status_code == 403
    assert "owners and admins" in audit.text
    events_before = count_rows(backend, AuditEvent, tenant_id)
    refused = [
        member.post("/console/team/invitations", {"role": "member"}),
        member.post(f"/console/team/members/{owner_membership}/role", {"role": "member"}),
        member.post(f"/console/team/members/{owner_membership}/remove", {}),
        generate_key(member, name="limited", rate_limit="10000"),
    ]
    for response in refused:
        assert response.status_code == 403
    assert count_rows(backend, Invitation, tenant_id) == 1  # the one the owner made
    assert count_rows(backend, Membership, tenant_id, role="owner") == 1
    assert count_rows(backend, ApiKey, tenant_id) == 0
    assert count_rows(backend, AuditEvent, tenant_id) == events_before
    form = member.get("/console/settings/api-keys/new")
    assert "Rate limit" not in form.text
    # Members may still generate ordinary keys.
    assert generate_key(member, name="member key").status_code == 201


def test_roles_invitations_and_owner_rules(backend: Backend) -> None:
    owner = sign_up(backend)
    tenant_id = tenant_id_of(backend, owner.slug)
    admin, admin_email = join(backend, invite(owner.client, "admin"), "Al Admin")
    page = owner.client.get("/console/team")
    memberships = dict(
        re.findall(
            r'data-member="([^"]+)">.*?/console/team/members/(mem_[a-z0-9]+)/role', page.text, re.S
        )
    )
    owner_mem, admin_mem = memberships[owner.email], memberships[admin_email]

    admin.get("/console/team")
    assert admin.post("/console/team/invitations", {"role": "owner"}).status_code == 403
    assert (
        admin.post(f"/console/team/members/{owner_mem}/role", {"role": "admin"}).status_code == 403
    )
    assert admin.post(f"/console/team/members/{owner_mem}/remove", {}).status_code == 403
    member_link = invite(admin, "member")
    member, member_email = join(backend, member_link)
    # A used link does not work twice; an unknown one neither.
    path = member_link.split(backend.url, 1)[1]
    assert ConsoleClient(backend).get(path).status_code == 404
    assert ConsoleClient(backend).get("/console/invitations/nope").status_code == 404

    # The last owner cannot step down or be removed.
    owner.client.get("/console/team")
    response = owner.client.post(f"/console/team/members/{owner_mem}/role", {"role": "admin"})
    assert response.status_code == 409
    assert "at least one owner" in response.text
    assert owner.client.post(f"/console/team/members/{owner_mem}/remove", {}).status_code == 409
    assert (
        owner.client.post(f"/console/team/members/{admin_mem}/role", {"role": "boss"}).status_code
        == 400
    )
    assert (
        owner.client.post("/console/team/members/mem_x/role", {"role": "admin"}).status_code == 404
    )
    assert owner.client.post("/console/team/members/mem_x/remove", {}).status_code == 404
    response = owner.client.post(f"/console/team/members/{admin_mem}/role", {"role": "owner"})
    assert response.status_code == 303
    assert count_rows(backend, Membership, tenant_id, role="owner") == 2
    response = owner.client.post(f"/console/team/members/{owner_mem}/role", {"role": "member"})
    assert response.status_code == 303

    page = admin.get("/console/team")
    member_mem = found(
        rf'data-member="{re.escape(member_email)}">.*?/console/team/members/(mem_[a-z0-9]+)/remove',
        page.text,
        re.S,
    )
    assert admin.post(f"/console/team/members/{member_mem}/remove", {}).status_code == 303
    # The removed member's session no longer reaches the workspace.
    assert member.get("/console/settings/api-keys").headers["location"] == "/console/workspaces/new"

    pending = invite(admin, "admin")
    page = admin.get("/console/team")
    invitation_id = found(r"/console/team/invitations/(inv_[a-z0-9]+)/cancel", page.text)
    assert admin.post(f"/console/team/invitations/{invitation_id}/cancel", {}).status_code == 303
    assert admin.post(f"/console/team/invitations/{invitation_id}/cancel", {}).status_code == 404
    assert ConsoleClient(backend).get(pending.split(backend.url, 1)[1]).status_code == 404

    actions = {a for a in re.findall(r'data-action="([a-z_.]+)"', admin.get("/console/audit").text)}
    assert {"member.joined", "member.role_changed", "member.removed", "invitation.created",
            "invitation.cancelled", "tenant.created"} <= actions  # fmt: skip


def test_a_signed_in_user_accepts_an_invitation_and_switches_tenants(backend: Backend) -> None:
    first = sign_up(backend)
    second = sign_up(backend)
    generate_key(first.client, name="first-tenant-key")
    generate_key(second.client, name="second-tenant-key")
    link = invite(second.client, "member")
    browser = first.client
    path = link.split(backend.url, 1)[1]
    page = browser.get(path)
    assert "You will join as" in page.text
    response = browser.post(path, {})
    assert response.status_code == 303
    keys = browser.follow(response)
    assert "second-tenant-key" in keys.text  # accepting switches to the new workspace
    assert "first-tenant-key" not in keys.text
    assert 'name="tenant_id"' in keys.text

    response = browser.post(
        "/console/switch-tenant", {"tenant_id": tenant_id_of(backend, first.slug)}
    )
    keys = browser.follow(response)
    assert "first-tenant-key" in keys.text
    assert "second-tenant-key" not in keys.text
    assert browser.get("/console/audit").status_code == 200  # owner here
    outsider = sign_up(backend)
    response = browser.post(
        "/console/switch-tenant", {"tenant_id": tenant_id_of(backend, outsider.slug)}
    )
    assert response.status_code == 403
    assert "first-tenant-key" in browser.get("/console/settings/api-keys").text
    # Joining twice is refused.
    again = invite(second.client, "member")
    browser.get(again.split(backend.url, 1)[1])
    response = browser.post(again.split(backend.url, 1)[1], {})
    assert response.status_code == 409
    assert "already a member" in response.text


def test_a_user_creates_another_workspace(backend: Backend) -> None:
    account = sign_up(backend)
    browser = account.client
    page = browser.get("/console/workspaces/new")
    assert page.status_code == 200
    slug = f"ws-{uuid.uuid4().hex[:8]}"
    bad = browser.post("/console/workspaces", {"company": "Second", "slug": account.slug})
    assert bad.status_code == 409
    response = browser.post("/console/workspaces", {"company": "Second Co", "slug": slug})
    assert response.status_code == 303
    keys = browser.follow(response)
    assert "Second Co" in keys.text
    assert count_rows(backend, Membership, tenant_id_of(backend, slug), role="owner") == 1
    account_page = browser.get("/console/account")
    assert slug in account_page.text
    assert account.slug in account_page.text


def test_developers_page_fills_in_the_tenants_url(backend: Backend) -> None:
    account = sign_up(backend)
    page = account.client.get("/console/developers")
    assert page.status_code == 200
    # The public URL's port (which `leadgate serve` sets to its own): a URL that answers.
    port = urlsplit(backend.settings.public_url).port
    assert port is not None
    api = f"http://{account.slug}.localtest.me:{port}/api/v1"
    assert f'value="{api}"' in page.text
    for sample in ("curl -X POST", "import httpx", "fetch(", "curl_init", 'href="/docs"'):
        assert sample in page.text
    assert "Settings → API Access" in page.text


def test_unknown_console_pages_are_html_404s_with_the_security_headers(backend: Backend) -> None:
    account = sign_up(backend)
    for browser in (account.client, ConsoleClient(backend)):
        response = browser.get("/console/no/such/page")
        assert response.status_code == 404
        assert "There is no such console page." in response.text
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-type"].startswith("text/html")


def test_htmx_requests_may_send_the_csrf_token_in_a_header(backend: Backend) -> None:
    account = sign_up(backend)
    browser = account.client
    browser.get("/console/settings/api-keys/new")
    tenant_id = tenant_id_of(backend, account.slug)
    form = {"name": "via-header", "scopes": ["leads:write"], "expiration": "30"}
    response = browser.http.post(
        "/console/settings/api-keys", data=form, headers={"X-CSRF-Token": browser.csrf}
    )
    assert response.status_code == 201
    response = browser.http.post(
        "/console/settings/api-keys",
        data={**form, "name": "wrong-header", "csrf_token": browser.csrf},
        headers={"X-CSRF-Token": "0" * 64},
    )
    assert response.status_code == 403
    assert count_rows(backend, ApiKey, tenant_id) == 1
