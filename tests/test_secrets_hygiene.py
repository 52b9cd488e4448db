"""No secret reaches the logs: a full run (keys made and rolled, used from every place, webhook
secrets made and rotated, a console user signed up, in and out, a failed sign-in, leak reports,
an unhandled error) is captured from the server's log and searched for every secret it made."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from leadgate.crypto import generate_api_key
from tests.conftest import TEST_SECRET, Backend
from tests.console_helpers import (
    ConsoleClient,
    generate_key,
    invite,
    join,
    key_from_page,
    sign_in,
    sign_up,
)
from tests.factories import RequestParts, access_line, complete_lines, log_entries, unique_lead
from tests.receiver import running_receiver, wait_until


@pytest.fixture(autouse=True)
def _close_browsers() -> Iterator[None]:
    yield
    ConsoleClient.close_all()


@pytest.mark.slow
def test_no_secret_reaches_the_logs(backend: Backend, server_log: Path) -> None:
    made: dict[str, str] = {"server secret": TEST_SECRET}
    password = f"pw-{secrets.token_urlsafe(12)}"
    made["password"] = password
    account = sign_up(backend, password=password)
    browser = account.client
    made["session cookie"] = browser.http.cookies["lg_session"]
    created = generate_key(
        browser,
        scopes=["leads:write", "leads:read", "keys:read", "keys:write", "webhooks:write"],
    )
    made["csrf token"] = browser.csrf
    first = key_from_page(created.text)
    made["key"] = first
    key_id = re.search(
        r'data-key-id="(key_[0-9a-z]+)"', browser.get("/console/settings/api-keys").text
    )
    assert key_id is not None

    with httpx.Client(base_url=backend.url, timeout=30) as api, running_receiver() as receiver:
        rolled = api.post(
            f"/api/v1/api-keys/{key_id.group(1)}/roll",
            json={"gracePeriodMinutes": 5},
            headers={"X-API-Key": first},
        )
        assert rolled.status_code == 200, rolled.text
        key = rolled.json()["apiKey"]
        made["rolled key"] = key
        extra = api.post(
            "/api/v1/api-keys",
            json={"name": f"extra-{secrets.token_hex(4)}", "permissions": ["leads:read"]},
            headers={"X-API-Key": key},
        )
        assert extra.status_code == 201, extra.text
        made["created key"] = extra.json()["apiKey"]

        endpoint = api.post(
            "/api/v1/webhook-endpoints",
            json={"url": receiver.url},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert endpoint.status_code == 201, endpoint.text
        made["webhook secret"] = endpoint.json()["secret"]
        rotated = api.post(
            f"/api/v1/webhook-endpoints/{endpoint.json()['id']}/rotate-secret",
            headers={"X-API-Key": key},
        )
        assert rotated.status_code == 200, rotated.text
        made["rotated webhook secret"] = rotated.json()["secret"]

        # The key from every place; the first (rolled, in its grace) too.
        ways: list[RequestParts] = [
            {"headers": {"X-API-Key": key}, "json": unique_lead()},
            {"headers": {"Authorization": f"Bearer {key}"}, "json": unique_lead()},
            {"params": {"api_key": key}, "json": unique_lead()},
            {"json": {**unique_lead(), "api_key": key}},
            {"headers": {"X-API-Key": first}, "json": unique_lead()},
        ]
        for way in ways:
            response = api.post("/api/v1/leads", **way)
            assert response.status_code == 201, response.text
        form = api.post(
            "/api/leads/intake",
            content=f"firstName=Form&lastName=Filler{time.time_ns()}&api_key={key}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 201, form.text
        # Failures that carry keys: ambiguous, unknown, malformed, in a query on a 404 and a 500.
        unknown = generate_api_key(backend.settings.key_prefix).plaintext
        made["unknown key"] = unknown
        assert (
            api.post(
                "/api/v1/leads", params={"api_key": key}, json=unique_lead(),
                headers={"X-API-Key": made["created key"]},
            ).status_code
            == 400
        )  # fmt: skip
        assert api.get("/api/v1/leads", headers={"X-API-Key": unknown}).status_code == 401
        assert api.get("/api/v1/leads", params={"api_key": unknown}).status_code == 401
        assert api.get("/api/v1/nowhere", params={"api_key": key, "token": key}).status_code == 404
        # Unhandled errors (uvicorn drops their connection, so each on a connection of its own);
        # a database error is logged with its traceback, but not with the statement's values.
        made["database value"] = f"dbvalue-{secrets.token_urlsafe(12)}"
        for path, params, headers in (
            ("/__test__/boom", {"api_key": key}, {}),
            ("/__test__/db-error", {}, {"X-Value": made["database value"]}),
        ):
            response = httpx.get(backend.url + path, params=params, headers=headers, timeout=30)
            assert response.status_code == 500
        # A leak report holding a live key (revoked) and an unknown one.
        leaked = api.post(
            "/api/v1/api-keys/revoke-leaked", json={"keys": [made["created key"], unknown]}
        )
        assert leaked.status_code == 202
        # Webhook deliveries are signed with both secrets; wait for them to be logged.
        wait_until(lambda: len(receiver.requests) >= 6, timeout=30)

    # The console: a failed sign-in, sign out, sign in again.
    wrong = f"wrong-{secrets.token_urlsafe(12)}"
    made["wrong password"] = wrong
    stranger = ConsoleClient(backend)
    stranger.get("/console/sign-in")
    refused = stranger.post("/console/sign-in", {"email": account.email, "password": wrong})
    assert refused.status_code in (400, 401, 422, 200), refused.status_code
    again = sign_in(backend, account.email, password)
    made["second session cookie"] = again.http.cookies["lg_session"]
    last = again.get("/console/leads")
    assert last.status_code == 200

    # Secrets in a path: an invitation link, opened, accepted, then tried again (404).
    link = invite(again, "admin")
    made["invitation token"] = link.rsplit("/", 1)[1]
    joined, _ = join(backend, link)
    assert joined.get(link.split(backend.url, 1)[1]).status_code == 404
    # And as a sign-in's `next`, where a path travels inside the query.
    last = ConsoleClient(backend).get("/console/sign-in", params={"next": link})
    assert last.status_code == 200

    access_line(server_log, last.headers["x-request-id"])  # the log holds the whole run
    log = "\n".join(complete_lines(server_log))
    lines = log_entries(server_log)
    # The run was logged (so the search below means something) ...
    sources = {line.get("key_source") for line in lines if line.get("event") == "request"}
    assert {"header", "bearer", "query", "body"} <= sources
    paths = {line.get("path") for line in lines if line.get("event") == "request"}
    assert "/console/invitations/[redacted]" in paths
    errors = [line for line in lines if line.get("event") == "unhandled_exception"]
    assert any("no_such_table" in line.get("exception", "") for line in errors)
    # ... and nothing it made is in the log, whole or URL-encoded.
    for what, value in made.items():
        assert value not in log, f"the {what} is in the server log"
        assert httpx.QueryParams({"v": value}).get("v") == value
        assert str(httpx.QueryParams({"v": value})).split("=", 1)[1] not in log, what
