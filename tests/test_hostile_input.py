"""Hostile input: each attempt is a 4xx JSON error, writes nothing, and leaves the
server serving others. The plainer cases (malformed JSON, invalid UTF-8, bodies over the limit,
431, NUL) are in tests/test_errors.py."""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from markupsafe import escape

from leadgate.models import Lead
from tests.conftest import Backend
from tests.console_helpers import ConsoleClient, generate_key, key_from_page, sign_up, tenant_id_of
from tests.factories import (
    access_line,
    count_rows,
    create_api_key,
    create_tenant,
    fetch_rows,
    unique_lead,
)
from tests.test_errors import assert_error


@pytest.fixture(autouse=True)
def _close_browsers() -> Iterator[None]:
    yield
    ConsoleClient.close_all()


def assert_healthy(client: httpx.Client) -> None:
    assert client.get("/healthz").status_code == 200


def _port(backend: Backend) -> int:
    return int(backend.url.rsplit(":", 1)[1])


# --- slow bodies -------------------------------------------------------------------------------


def _read_reply(sock: socket.socket) -> bytes:
    reply = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        reply += chunk
        if b"\r\n\r\n" in reply and reply.endswith(b"}"):
            break
    return reply


@pytest.mark.slow
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_trickled_body_times_out_while_others_are_served(
    backend: Backend, client: httpx.Client, framing: str
) -> None:
    tenant = create_tenant(backend)
    body = orjson.dumps(unique_lead())
    if framing == "content-length":
        head = f"Content-Length: {len(body)}\r\n"
    else:
        head = "Transfer-Encoding: chunked\r\n"
    request = (
        f"POST /api/v1/leads HTTP/1.1\r\nHost: x\r\nX-API-Key: {tenant.key}\r\n"
        f"Content-Type: application/json\r\n{head}\r\n"
    ).encode()
    stop = threading.Event()
    under_way = threading.Event()  # a first part of the body is out
    whole_body_sent = threading.Event()

    def trickle(sock: socket.socket) -> None:
        # One byte every 0.3 s: the whole lead would take far longer than the 5 s deadline.
        for index, byte in enumerate(body):
            if stop.is_set():
                return
            piece = bytes([byte])
            if framing == "chunked":
                piece = b"1\r\n" + piece + b"\r\n"
            try:
                sock.sendall(piece)
            except OSError:
                return
            if index == 1:
                under_way.set()
            time.sleep(0.3)
        whole_body_sent.set()

    with socket.create_connection(("127.0.0.1", _port(backend)), timeout=60) as sock:
        sock.sendall(request)
        sender = threading.Thread(target=trickle, args=(sock,), daemon=True)
        sender.start()
        # While the body trickles in, the server keeps serving everyone else.
        assert under_way.wait(30)
        assert_healthy(client)
        other = client.post("/api/v1/leads", json=unique_lead(), headers=tenant.headers)
        assert other.status_code == 201, other.text
        reply = _read_reply(sock)
        # The deadline, not the end of the body, ended the request.
        assert not whole_body_sent.is_set()
        stop.set()
        sender.join(timeout=10)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:300]
    error = orjson.loads(reply.split(b"\r\n\r\n", 1)[1])
    assert error["error"] == "request_timeout"
    assert count_rows(backend, Lead, tenant.id) == 1  # only the other client's lead
    assert_healthy(client)


# --- deeply nested JSON -------------------------------------------------------------------------

DEPTH = 100_000


@pytest.mark.parametrize(
    "body",
    [
        b"[" * DEPTH,
        b"[" * DEPTH + b"]" * DEPTH,
        b'{"firstName": "a", "lastName": "b", "customFields": '
        + b"[" * DEPTH
        + b"]" * DEPTH
        + b"}",
        b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    ],
    ids=["open-arrays", "closed-arrays", "in-a-field", "objects"],
)
@pytest.mark.parametrize(
    "path", ["/api/v1/leads", "/api/v1/leads/batch", "/api/v1/api-keys/revoke-leaked"]
)
def test_json_nested_100k_levels_is_400(
    backend: Backend, client: httpx.Client, path: str, body: bytes
) -> None:
    tenant = create_tenant(backend)
    response = client.post(
        path, content=body, headers={**tenant.headers, "Content-Type": "application/json"}
    )
    assert_error(response, 400, "invalid_request")
    assert count_rows(backend, Lead, tenant.id) == 0
    assert_healthy(client)


# --- 10,000 fields -----------------------------------------------------------------------------

FIELDS = 10_000


def test_ten_thousand_unknown_fields_are_400(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    body = {**unique_lead(), **{f"field{i}": "x" for i in range(FIELDS)}}
    response = client.post("/api/v1/leads", json=body, headers=tenant.headers)
    error = assert_error(response, 400, "invalid_request")
    assert len(response.content) < 64 * 1024  # the error does not echo 10,000 details
    assert isinstance(error["details"], list)
    assert 0 < len(error["details"]) <= 100
    assert count_rows(backend, Lead, tenant.id) == 0
    assert_healthy(client)


def test_ten_thousand_custom_fields_are_400(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    body = {**unique_lead(), "customFields": {f"f{i}": "x" for i in range(FIELDS)}}
    response = client.post("/api/v1/leads", json=body, headers=tenant.headers)
    assert_error(response, 400, "invalid_request")
    assert count_rows(backend, Lead, tenant.id) == 0
    assert_healthy(client)


def test_ten_thousand_form_fields_are_400(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    form = "firstName=a&lastName=b&" + "&".join(f"customFields[f{i}]=x" for i in range(FIELDS))
    response = client.post(
        "/api/leads/intake",
        content=form.encode(),
        headers={**tenant.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(response, 400, "invalid_request")
    assert count_rows(backend, Lead, tenant.id) == 0
    assert_healthy(client)


def test_ten_thousand_batch_items_are_400(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    body = {"leads": [{"firstName": "a", "lastName": str(i)} for i in range(FIELDS)]}
    response = client.post("/api/v1/leads/batch", json=body, headers=tenant.headers)
    assert_error(response, 400, "invalid_request")
    assert count_rows(backend, Lead, tenant.id) == 0
    assert_healthy(client)


def test_ten_thousand_query_parameters_are_harmless(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    query = "&".join(f"p{i}=x" for i in range(2_000))  # ~16 KiB of URL, under the header limit
    response = client.get(f"/api/v1/leads?{query}", headers=tenant.headers)
    assert response.status_code < 500
    assert_healthy(client)


# --- a key in every place at once --------------------------------------------------------------


def test_a_different_key_in_every_place_is_ambiguous(
    backend: Backend, client: httpx.Client
) -> None:
    tenant = create_tenant(backend)
    keys = [create_api_key(backend, tenant, ["leads:write"]).key for _ in range(3)]
    response = client.post(
        "/api/v1/leads",
        params={"api_key": keys[1]},
        json={**unique_lead(), "api_key": keys[2]},
        headers={"X-API-Key": tenant.key, "Authorization": f"Bearer {keys[0]}"},
    )
    error = assert_error(response, 400, "invalid_request")
    assert {d["field"] for d in error["details"]} == {"header", "bearer", "query", "body"}
    for key in (tenant.key, *keys):
        assert key not in response.text
    # One place disagreeing with three is just as ambiguous, in a form body too.
    response = client.post(
        "/api/leads/intake",
        params={"api_key": tenant.key},
        content=f"firstName=a&lastName=b&api_key={keys[0]}".encode(),
        headers={
            "X-API-Key": tenant.key,
            "Authorization": f"Bearer {tenant.key}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert_error(response, 400, "invalid_request")
    assert count_rows(backend, Lead, tenant.id) == 0
    # The same key in all four places is one key.
    response = client.post(
        "/api/v1/leads",
        params={"api_key": tenant.key},
        json={**unique_lead(), "api_key": tenant.key},
        headers={"X-API-Key": tenant.key, "Authorization": f"Bearer {tenant.key}"},
    )
    assert response.status_code == 201, response.text
    assert_healthy(client)


# --- SQL and HTML in every field ---------------------------------------------------------------

SQL = "Robert'); DROP TABLE leads;--"
HTML = '<script>alert("x")</script><img src=x onerror=alert(1)>'
TEXT_FIELDS = ("firstName", "lastName", "company", "source", "address", "city", "state", "country")


def _hostile_lead(payload: str, n: int) -> dict[str, Any]:
    lead: dict[str, Any] = {name: f"{payload} {name} {n}" for name in TEXT_FIELDS}
    lead["zipcode"] = payload[:20]
    lead["email"] = f"hostile.{n}.{time.time_ns()}@example.com"
    lead["customFields"] = {f"{payload[:50]}": payload, "note": payload}
    lead["tags"] = [payload[:60]]
    return lead


@pytest.mark.parametrize("payload", [SQL, HTML], ids=["sql", "html"])
def test_sql_and_html_are_stored_as_text_and_rendered_escaped(
    backend: Backend, payload: str
) -> None:
    account = sign_up(backend)
    created = generate_key(account.client, scopes=["leads:write", "leads:read", "tags:write"])
    key = key_from_page(created.text)
    tenant_id = tenant_id_of(backend, account.slug)
    with httpx.Client(base_url=backend.url, timeout=30) as api:
        sent = _hostile_lead(payload, 1)
        response = api.post("/api/v1/leads", json=sent, headers={"X-API-Key": key})
        assert response.status_code == 201, response.text
        lead = response.json()
        for name in TEXT_FIELDS:
            assert lead[name] == sent[name]
        assert lead["customFields"] == sent["customFields"]
        assert lead["zipcode"] == sent["zipcode"]
        fetched = api.get(f"/api/v1/leads/{lead['id']}", headers={"X-API-Key": key}).json()
        assert fetched["firstName"] == sent["firstName"]
        # Searching for it is a search, not SQL.
        found = api.get("/api/v1/leads", params={"q": payload}, headers={"X-API-Key": key})
        assert found.status_code == 200, found.text
        assert_healthy(api)
    (row,) = fetch_rows(backend, Lead, tenant_id)
    assert row.first_name == sent["firstName"]  # stored verbatim, no escaping at rest
    browser = account.client
    for path in ("/console/leads", f"/console/leads/{lead['id']}", "/console/tags"):
        page = browser.get(path)
        assert page.status_code == 200, path
        _assert_escaped(page.text, payload, path)
    assert count_rows(backend, Lead, tenant_id) == 1


def _assert_escaped(page: str, payload: str, path: str) -> None:
    """The payload shows as text: its escaped form appears, its raw markup never does."""
    if "<" in payload:
        assert "<script>alert" not in page, path
        assert "onerror=alert" not in page.replace("onerror=alert(1)&gt;", ""), path
        assert re.search(r"&lt;script&gt;alert\(", page), path
    else:
        assert str(escape(payload)) in page, path


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_cut_short_by_a_disconnect_writes_nothing(
    backend: Backend, client: httpx.Client, server_log: Path, framing: str
) -> None:
    tenant = create_tenant(backend)
    # A form that would be a valid lead if the part that arrived were taken as the whole body.
    part = f"firstName=Cut&lastName=Short{time.time_ns()}&company=Acme".encode()
    if framing == "content-length":
        head, sent = f"Content-Length: {len(part) + 100}\r\n", part
    else:
        head, sent = (
            "Transfer-Encoding: chunked\r\n",
            f"{len(part):x}\r\n".encode() + part + b"\r\n",
        )
    request_id = f"cut-{uuid.uuid4().hex}"
    request = (
        f"POST /api/leads/intake HTTP/1.1\r\nHost: x\r\nX-API-Key: {tenant.key}\r\n"
        f"X-Request-Id: {request_id}\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\n{head}\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", _port(backend)), timeout=30) as sock:
        sock.sendall(request + sent)
    # The server is done with the request (the client left first: 499) before it is counted.
    assert access_line(server_log, request_id)["status"] == 499
    assert_healthy(client)
    assert count_rows(backend, Lead, tenant.id) == 0


# --- numbers (and other types) where strings belong ---------------------------------------------

STRING_FIELDS = (*TEXT_FIELDS, "email", "phone", "website", "zipcode", "teamId")


@pytest.mark.parametrize("value", [42, 4.2, True, {"a": 1}, ["x"]], ids=str)
def test_non_strings_in_every_text_field_are_400(
    backend: Backend, client: httpx.Client, value: object
) -> None:
    tenant = create_tenant(backend)
    for field in STRING_FIELDS:
        body = {**unique_lead(), field: value}
        error = assert_error(
            client.post("/api/v1/leads", json=body, headers=tenant.headers), 400, "invalid_request"
        )
        assert field in {d["field"] for d in error["details"]}, (field, error)
    bodies = [{**unique_lead(), "tags": [value]}, {**unique_lead(), "tagIds": [value]}]
    if not isinstance(value, dict):  # an object is what customFields is
        bodies.append({**unique_lead(), "customFields": value})
    for body in bodies:
        response = client.post("/api/v1/leads", json=body, headers=tenant.headers)
        assert_error(response, 400, "invalid_request")
    assert count_rows(backend, Lead, tenant.id) == 0
    assert_healthy(client)
