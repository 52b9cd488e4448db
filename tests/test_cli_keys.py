"""`leadgate keys roll / show / update`, run in-process against each backend's database."""

from __future__ import annotations

import json
from functools import partial

import httpx

from leadgate.models import AuditEvent
from tests.conftest import Backend, Cli
from tests.factories import (
    create_api_key,
    create_tenant,
    eventually_status,
    fetch_rows,
    unique_lead,
)


def post_lead(client: httpx.Client, key: str) -> httpx.Response:
    return client.post("/api/v1/leads", json=unique_lead(), headers={"X-API-Key": key})


def test_keys_show(backend: Backend, cli: Cli) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write"], expiration_in_days=30)
    shown = cli("keys", "show", key.id, "--json")
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["id"] == key.id
    assert data["permissions"] == ["leads:write"]
    assert key.key not in shown.stdout
    text = cli("keys", "show", key.id)
    assert "permissions: leads:write" in text.stdout
    assert "teams:       all teams" in text.stdout
    missing = cli("keys", "show", "key_nope")
    assert missing.exit_code == 1
    assert "no API key key_nope" in missing.stderr


def test_keys_roll_with_and_without_grace(backend: Backend, client: httpx.Client, cli: Cli) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write"])
    graceful = cli("keys", "roll", key.id, "--grace-minutes", "30", "--json")
    assert graceful.exit_code == 0, graceful.output
    first = json.loads(graceful.stdout)["apiKey"]
    assert client.post("/api/v1/leads", json=unique_lead(), headers=key.headers).status_code == 201
    assert (
        client.post("/api/v1/leads", json=unique_lead(), headers={"X-API-Key": first}).status_code
        == 201
    )
    at_once = cli("keys", "roll", key.id)
    assert at_once.exit_code == 0
    assert "stops working at once" in at_once.stdout
    assert "shown only this once" in at_once.stdout
    for old in (key.key, first):
        refused = eventually_status(partial(post_lead, client, old), 401)
        assert refused is not None
    assert cli("keys", "roll", key.id, "--grace-minutes", "10081").exit_code == 2


def test_keys_update_scopes_and_rate_limit(
    backend: Backend, client: httpx.Client, cli: Cli
) -> None:
    tenant = create_tenant(backend)
    key = create_api_key(backend, tenant, ["leads:write", "leads:read"])
    assert client.post("/api/v1/leads", json=unique_lead(), headers=key.headers).status_code == 201
    updated = cli(
        "keys", "update", key.id, "--scope", "leads:read", "--rate-limit", "10",
        "--monthly-quota", "500", "--name", "narrow",
    )  # fmt: skip
    assert updated.exit_code == 0, updated.output
    assert "rate limit:  10/min" in updated.stdout
    refused = eventually_status(
        lambda: client.post("/api/v1/leads", json=unique_lead(), headers=key.headers), 403
    )
    assert refused is not None
    assert refused.json()["error"] == "insufficient_scope"
    shown = json.loads(cli("keys", "show", key.id, "--json").stdout)
    assert shown["rateLimitPerMinute"] == 10
    assert shown["monthlyQuota"] == 500
    assert shown["name"] == "narrow"
    actions = [
        e.action for e in fetch_rows(backend, AuditEvent, tenant.id) if e.target_id == key.id
    ]
    assert "api_key.scopes_changed" in actions
    assert cli("keys", "update", key.id).exit_code == 1
    bad = cli("keys", "update", key.id, "--scope", "gifts:create")
    assert bad.exit_code == 1
    assert "unknown: gifts:create" in bad.stderr


def test_serve_refuses_tls_options_without_a_certificate(backend: Backend, cli: Cli) -> None:
    result = cli("serve", "--ssl-ca-certs", "/nonexistent/ca.pem")
    assert result.exit_code == 1
    assert "need --ssl-certfile" in result.stderr
