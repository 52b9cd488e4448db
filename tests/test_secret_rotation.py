"""Rotating the server secret: existing API keys and webhook secrets survive it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from leadgate.cli import app as cli_app
from tests.conftest import Backend, running_backend
from tests.factories import create_api_key, create_tenant, unique_lead
from tests.receiver import Receiver, running_receiver

SECRET_A = "secret-a-" + "a" * 40
SECRET_B = "secret-b-" + "b" * 40


def cli(backend: Backend, *args: str, previous: list[str] | None = None) -> Any:
    env = {**backend.env(), "LEADGATE_SECRET_KEY": backend.settings.secret_bytes.decode()}
    env["LEADGATE_PREVIOUS_SECRET_KEYS"] = json.dumps(previous or [])
    return CliRunner().invoke(cli_app, list(args), env=env)


def status(backend: Backend, previous: list[str] | None = None) -> dict[str, Any]:
    result = cli(backend, "secrets", "status", "--json", previous=previous)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def delivered_and_verified(
    backend: Backend, receiver: Receiver, key: str, secret: str, count: int
) -> None:
    with httpx.Client(base_url=backend.url, timeout=30) as client:
        created = client.post("/api/v1/leads", json=unique_lead(), headers={"X-API-Key": key})
        assert created.status_code == 201, created.text
    receiver.wait_for(count)
    assert len(receiver.verify_all(secret)) == count  # signed with the endpoint's own secret


@pytest.mark.slow
def test_keys_and_webhook_secrets_survive_a_server_secret_rotation(tmp_path: Path) -> None:
    with running_receiver() as receiver:
        # Before: everything made under secret A.
        with running_backend("sqlite", tmp_path, secret_key=SECRET_A) as before:
            tenant = create_tenant(before)
            unused = create_api_key(before, tenant, ["leads:read"])
            with httpx.Client(base_url=before.url, timeout=30) as client:
                endpoint = client.post(
                    "/api/v1/webhook-endpoints",
                    json={"url": receiver.url, "eventTypes": ["lead.created"]},
                    headers=tenant.headers,
                ).json()
            delivered_and_verified(before, receiver, tenant.key, endpoint["secret"], 1)
            assert status(before)["apiKeys"]["current"] == 2

        # During: secret B, with A kept as a previous secret.
        rotating = {"secret_key": SECRET_B, "previous_secret_keys": [SECRET_A]}
        with running_backend("sqlite", tmp_path, **rotating) as during:
            counts = status(during, [SECRET_A])
            assert counts["apiKeys"]["current"] == 0
            assert counts["apiKeys"]["previous"] == [2]
            assert counts["webhookSecrets"] == {"current": 0, "previous": 1, "unreadable": 0}

            with httpx.Client(base_url=during.url, timeout=30) as client:
                for _ in range(2):  # the second use is an ordinary lookup under B
                    used = client.get("/api/v1/leads", headers=tenant.headers)
                    assert used.status_code == 200, used.text
            delivered_and_verified(during, receiver, tenant.key, endpoint["secret"], 2)
            counts = status(during, [SECRET_A])
            assert counts["apiKeys"]["current"] == 1  # re-hashed under B on use
            assert counts["apiKeys"]["previous"] == [1]  # `unused` is still under A

            resealed = cli(during, "secrets", "rotate-webhooks", previous=[SECRET_A])
            assert resealed.exit_code == 0, resealed.output
            assert "re-encrypted 1 webhook signing secrets" in resealed.output
            counts = status(during, [SECRET_A])
            assert counts["webhookSecrets"] == {"current": 1, "previous": 0, "unreadable": 0}

        # After: A removed. The key used meanwhile works; the one never used does not.
        with running_backend("sqlite", tmp_path, secret_key=SECRET_B) as after:
            with httpx.Client(base_url=after.url, timeout=30) as client:
                assert client.get("/api/v1/leads", headers=tenant.headers).status_code == 200
                refused = client.get("/api/v1/leads", headers=unused.headers)
                assert refused.status_code == 401
                assert refused.json()["error"] == "invalid_api_key"
            delivered_and_verified(after, receiver, tenant.key, endpoint["secret"], 3)


@pytest.mark.slow
def test_without_previous_secrets_old_keys_and_webhooks_stop(tmp_path: Path) -> None:
    with running_receiver() as receiver:
        with running_backend("sqlite", tmp_path, secret_key=SECRET_A) as before:
            tenant = create_tenant(before)
            with httpx.Client(base_url=before.url, timeout=30) as client:
                created = client.post(
                    "/api/v1/webhook-endpoints",
                    json={"url": receiver.url},
                    headers=tenant.headers,
                )
                assert created.status_code == 201
        with running_backend("sqlite", tmp_path, secret_key=SECRET_B) as after:
            counts = status(after)
            assert counts["apiKeys"]["unknown"] == 1
            assert counts["webhookSecrets"]["unreadable"] == 1
            resealed = cli(after, "secrets", "rotate-webhooks")
            assert resealed.exit_code == 1
            assert "unreadable" in resealed.output
            with httpx.Client(base_url=after.url, timeout=30) as client:
                refused = client.get("/api/v1/leads", headers=tenant.headers)
                assert refused.status_code == 401
