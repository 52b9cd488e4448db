"""Every failure is §7 JSON with a request id; bad input never writes anything."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadgate.models import Lead
from tests.conftest import Backend
from tests.factories import access_line, count_rows, create_tenant, log_entries, unique_lead


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["details"], list)
    assert body["requestId"] == response.headers["x-request-id"]
    return body


def test_unknown_route_is_404_json(client: httpx.Client) -> None:
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")


def test_wrong_method_is_405_json(client: httpx.Client) -> None:
    assert_error(client.put("/api/v1/leads"), 405, "method_not_allowed")


def test_every_response_has_a_request_id(client: httpx.Client) -> None:
    assert client.get("/healthz").headers["x-request-id"].startswith("req_")
    echoed = client.get("/healthz", headers={"X-Request-Id": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"
    refused = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert refused.headers["x-request-id"].startswith("req_")


def test_unhandled_exception_is_500_without_internals(
    client: httpx.Client, server_log: Path
) -> None:
    response = client.get("/__test__/boom")
    body = assert_error(response, 500, "internal_error")
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text
    assert body["details"] == []
    # The log has the details and the access line, both under the request id.
    access_line(server_log, body["requestId"])  # written once the answer has left
    lines = log_entries(server_log)
    mine = [line for line in lines if line.get("request_id") == body["requestId"]]
    assert {"unhandled_exception", "request"} <= {line["event"] for line in mine}
    access = next(line for line in mine if line["event"] == "request")
    assert access["status"] == 500


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"firstName": "Jane", ', "application/json"),
        (b'{"firstName": "J\xff\xfe"}', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"firstName=J%FF%FE&lastName=x", "application/x-www-form-urlencoded"),
        (b'{"firstName": "' + b"[" * 5000 + b'"}', "application/json"),
    ],
    ids=["truncated", "invalid-utf8", "array", "form-invalid-utf8", "deep-ish"],
)
def test_malformed_bodies_are_400(
    backend: Backend, client: httpx.Client, content: bytes, content_type: str
) -> None:
    tenant = create_tenant(backend)
    response = client.post(
        "/api/v1/leads",
        content=content,
        headers={**tenant.headers, "Content-Type": content_type},
    )
    assert_error(response, 400, "invalid_request")
    assert count_rows(backend, Lead, tenant.id) == 0


def test_deeply_nested_json_is_400(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    nested = (
        b'{"firstName": "a", "lastName": "b", "customFields": ' + b"[" * 10000 + b"]" * 10000 + b"}"
    )
    response = client.post(
        "/api/v1/leads",
        content=nested,
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert_error(response, 400, "invalid_request")
    assert count_rows(backend, Lead, tenant.id) == 0


def test_unsupported_content_type_is_415(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    response = client.post(
        "/api/v1/leads", content=b"<lead/>", headers={**tenant.headers, "Content-Type": "text/xml"}
    )
    assert_error(response, 415, "unsupported_media_type")
    assert count_rows(backend, Lead, tenant.id) == 0


def test_body_over_one_mib_is_413(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    big = unique_lead(company="x" * (1024 * 1024 + 10))
    response = client.post("/api/v1/leads", json=big, headers=tenant.headers)
    assert_error(response, 413, "payload_too_large")
    assert count_rows(backend, Lead, tenant.id) == 0


def test_chunked_body_over_limit_is_413(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)

    def chunks() -> Iterator[bytes]:
        yield b'{"firstName": "a", "lastName": "b", "company": "'
        for _ in range(80):
            yield b"x" * 16384
        yield b'"}'

    response = client.post(
        "/api/v1/leads",
        content=chunks(),
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert_error(response, 413, "payload_too_large")
    assert count_rows(backend, Lead, tenant.id) == 0


def test_small_chunked_body_is_accepted(backend: Backend, client: httpx.Client) -> None:
    import orjson

    tenant = create_tenant(backend)
    payload = orjson.dumps(unique_lead())

    def chunks() -> Iterator[bytes]:
        yield payload[:10]
        yield payload[10:]

    response = client.post(
        "/api/v1/leads",
        content=chunks(),
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text


def test_headers_over_16_kib_are_431(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    response = client.post(
        "/api/v1/leads", json=unique_lead(), headers={**tenant.headers, "X-Big": "a" * 17000}
    )
    assert_error(response, 431, "headers_too_large")
    assert count_rows(backend, Lead, tenant.id) == 0


def test_huge_raw_header_leaves_the_server_healthy(backend: Backend, client: httpx.Client) -> None:
    port = int(backend.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
        reply = sock.recv(1024)
    assert reply.startswith(b"HTTP/1.1 4") or reply == b""
    assert client.get("/healthz").status_code == 200


# Found by the contract fuzzer (tests/test_fuzz.py): U+0000 reached PostgreSQL, which cannot store
# it in text, and came back as a 500.
@pytest.mark.parametrize(
    "body",
    [
        {"firstName": "Ja\u0000ne", "lastName": "Smith"},
        {"firstName": "Jane", "lastName": "Smith", "customFields": {"utm": "a\u0000b"}},
        {"firstName": "Jane", "lastName": "Smith", "customFields": {"k\u0000": "v"}},
        {"firstName": "Jane", "lastName": "Smith", "tags": ["ok", "n\u0000"]},
    ],
    ids=["field", "custom-value", "custom-key", "tag"],
)
def test_nul_characters_in_a_body_are_400(
    backend: Backend, client: httpx.Client, body: dict[str, object]
) -> None:
    tenant = create_tenant(backend)
    for params in ({}, {"dryRun": "true"}):
        response = client.post("/api/v1/leads", json=body, params=params, headers=tenant.headers)
        error = assert_error(response, 400, "invalid_request")
        assert "NUL" in str(error["message"])
    assert count_rows(backend, Lead, tenant.id) == 0


def test_nul_characters_in_a_form_and_url_are_400(backend: Backend, client: httpx.Client) -> None:
    tenant = create_tenant(backend)
    form = client.post(
        "/api/leads/intake",
        content=b"firstName=J%00&lastName=S",
        headers={**tenant.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(form, 400, "invalid_request")
    assert_error(
        client.get("/api/v1/leads/lead_%00", headers=tenant.headers), 400, "invalid_request"
    )
    assert_error(
        client.get("/api/v1/leads?q=a%00b", headers=tenant.headers), 400, "invalid_request"
    )
    assert count_rows(backend, Lead, tenant.id) == 0
