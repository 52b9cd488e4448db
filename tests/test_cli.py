"""The `leadgate` CLI, run in-process against each backend's database."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from leadgate.cli import app
from tests.conftest import Backend, Cli
from tests.factories import eventually_status, unique_lead, unique_slug


def test_tenant_create_prints_a_working_key_once(
    backend: Backend, client: httpx.Client, cli: Cli
) -> None:
    slug = unique_slug("acme")
    result = cli("tenant", "create", slug, "--name", "Acme Family Law", "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["tenant"]["slug"] == slug
    assert created["apiKey"]["id"].startswith("key_")
    key = created["apiKey"]["key"]
    assert key.startswith("lg_")

    response = client.post("/api/v1/leads", json=unique_lead(), headers={"X-API-Key": key})
    assert response.status_code == 201

    listed = cli("tenant", "list", "--json")
    assert slug in [t["slug"] for t in json.loads(listed.stdout)]
    keys = cli("keys", "list", "--tenant", slug, "--json")
    assert keys.exit_code == 0
    assert key not in keys.stdout
    assert json.loads(keys.stdout)[0]["hint"] == key[:7]

    text = cli("tenant", "create", unique_slug(), "--name", "Text")
    assert "shown only this once" in text.stdout


def test_keys_create_list_revoke(backend: Backend, client: httpx.Client, cli: Cli) -> None:
    slug = unique_slug()
    assert cli("tenant", "create", slug, "--name", "Keys").exit_code == 0
    made = cli(
        "keys", "create", "--tenant", slug, "--name", "Zapier", "--scope", "leads:write",
        "--expires-in-days", "30", "--json",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    assert created["permissions"] == ["leads:write"]
    assert created["expirationDate"] is not None
    headers = {"X-API-Key": created["apiKey"]}
    assert client.post("/api/v1/leads", json=unique_lead(), headers=headers).status_code == 201

    listing = cli("keys", "list", "--tenant", slug)
    assert "Zapier" in listing.stdout
    assert "active" in listing.stdout

    revoked = cli("keys", "revoke", created["id"])
    assert revoked.exit_code == 0
    # The server caches verified keys: the CLI's change reaches it within the documented bound.
    assert eventually_status(
        lambda: client.post("/api/v1/leads", json=unique_lead(), headers=headers), 401
    )
    assert "revoked" in cli("keys", "list", "--tenant", slug).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tenant", "create", "Bad Slug!", "--name", "x"), "Invalid slug"),
        (("tenant", "create", "www", "--name", "x"), "Reserved"),
        (("keys", "list", "--tenant", "no-such-tenant"), "no tenant"),
        (("keys", "revoke", "key_nope"), "no API key"),
        (("keys", "create", "--tenant", "no-such-tenant", "--name", "x"), "--scope"),
    ],
)
def test_errors_go_to_stderr_with_nonzero_exit(
    cli: Cli, args: tuple[str, ...], message: str
) -> None:
    result = cli(*args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert result.stdout == ""


def test_duplicate_slug_and_bad_scope_fail(cli: Cli) -> None:
    slug = unique_slug()
    assert cli("tenant", "create", slug, "--name", "One").exit_code == 0
    again = cli("tenant", "create", slug, "--name", "Two")
    assert again.exit_code == 1
    assert "taken" in again.stderr
    bad = cli("keys", "create", "--tenant", slug, "--name", "n", "--scope", "gifts:create")
    assert bad.exit_code == 1
    assert "gifts:create" in bad.stderr
    bad_days = cli(
        "keys", "create", "--tenant", slug, "--name", "n", "--scope", "leads:read",
        "--expires-in-days", "7",
    )  # fmt: skip
    assert bad_days.exit_code == 1
    assert "expirationInDays" in bad_days.stderr
    duplicate_name = cli(
        "keys", "create", "--tenant", slug, "--name", "Default key", "--scope", "leads:read"
    )
    assert duplicate_name.exit_code == 1
    assert "already exists" in duplicate_name.stderr


def test_demo_tenant_is_created_once(cli: Cli) -> None:
    slug = unique_slug("demo")
    first = cli("tenant", "demo", "--slug", slug)
    assert first.exit_code == 0
    assert "lg_" in first.stdout
    second = cli("tenant", "demo", "--slug", slug)
    assert second.exit_code == 0
    assert "exists" in second.stdout
    assert "lg_" not in second.stdout.replace("lg_…", "")


def test_db_upgrade_is_idempotent(cli: Cli) -> None:
    result = cli("db", "upgrade")
    assert result.exit_code == 0
    assert "head" in result.stdout


def test_invalid_settings_fail_cleanly(backend: Backend) -> None:
    env = {**backend.env(), "LEADGATE_ENVIRONMENT": "production", "LEADGATE_SECRET_KEY": "short"}
    result = CliRunner().invoke(app, ["tenant", "list"], env=env)
    assert result.exit_code == 1
    assert "LEADGATE_SECRET_KEY" in result.stderr
