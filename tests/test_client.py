"""`leadgate.client.Client` end to end against the running server, and its retries against a
local receiver that answers 429/503 on cue."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from leadgate.client import (
    AuthenticationError,
    Client,
    DuplicateLeadError,
    IdempotencyError,
    InvalidRequestError,
    LeadgateError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    Retry,
    ServerError,
    default_retry,
)
from leadgate.leads.schemas import LeadMerged
from leadgate.models import Lead, Tag
from tests.conftest import Backend
from tests.factories import count_rows, create_api_key, create_tenant, unique_lead


def test_client_end_to_end(backend: Backend) -> None:
    tenant = create_tenant(backend)
    with Client(tenant.key, backend.url) as leadgate:
        tag = leadgate.create_tag("Client", color="#00AA00")
        assert tag.color == "#00aa00"
        assert [t.id for t in leadgate.list_tags()] == [tag.id]
        assert leadgate.update_tag(tag.id, name="Client SDK").name == "Client SDK"
        assert leadgate.get_tag(tag.id).name == "Client SDK"

        body = unique_lead()
        lead = leadgate.create_lead(
            first_name=body["firstName"],
            last_name=body["lastName"],
            email=body["email"],
            tag_ids=[tag.id],
            custom_fields={"plan": "pro"},
        )
        assert lead.id.startswith("lead_")
        assert [t.name for t in lead.tags] == ["Client SDK"]
        assert lead.custom_fields == {"plan": "pro"}

        with pytest.raises(DuplicateLeadError) as duplicate:
            leadgate.create_lead({"firstName": "X", "lastName": "Y", "email": body["email"]})
        assert duplicate.value.existing_lead_id == lead.id
        assert duplicate.value.matched_on == "email"
        assert duplicate.value.status_code == 409
        assert duplicate.value.request_id

        preview = leadgate.preview_lead({"firstName": "X", "lastName": "Y", "email": body["email"]})
        assert preview.outcome == "duplicate"
        merged = leadgate.create_lead(
            {"firstName": "X", "lastName": "Y", "email": body["email"], "city": "Oslo"},
            on_duplicate="merge",
        )
        assert isinstance(merged, LeadMerged)
        assert merged.merged_fields == ["city"]

        with pytest.raises(InvalidRequestError) as invalid:
            leadgate.create_lead(first_name="Only")
        assert invalid.value.error == "invalid_request"
        assert [d["field"] for d in invalid.value.details] == ["lastName"]

        assert leadgate.update_lead(lead.id, status="contacted", company=None).status == "contacted"
        assert leadgate.get_lead(lead.id).company is None

        batch = leadgate.create_leads([unique_lead() for _ in range(3)], atomic=True)
        assert batch.summary.created == 3
        all_ids = [item.id for item in leadgate.iter_leads(page_size=2)]
        assert len(all_ids) == 4
        assert leadgate.list_leads(q=body["email"]).data[0].id == lead.id

        out = io.BytesIO()
        size = leadgate.export_leads(out, tag=tag.id)
        assert size == len(out.getvalue())
        assert lead.id in out.getvalue().decode()

        assert leadgate.delete_lead(lead.id).deleted is True
        with pytest.raises(NotFoundError):
            leadgate.get_lead(lead.id)
        assert leadgate.delete_tag(tag.id).deleted is True
    assert count_rows(backend, Lead, tenant.id) == 4
    assert count_rows(backend, Tag, tenant.id) == 0


def test_client_reuses_an_idempotency_key(backend: Backend) -> None:
    tenant = create_tenant(backend)
    body = unique_lead()
    with Client(tenant.key, backend.url) as leadgate:
        first = leadgate.create_lead(body, idempotency_key="order-1234")
        again = leadgate.create_lead(body, idempotency_key="order-1234")
        assert again.id == first.id
        with pytest.raises(IdempotencyError) as reused:
            leadgate.create_lead(unique_lead(), idempotency_key="order-1234")
        assert reused.value.error == "idempotency_key_reused"
    assert count_rows(backend, Lead, tenant.id) == 1


def test_client_errors_are_typed(backend: Backend) -> None:
    tenant = create_tenant(backend)
    reader = create_api_key(backend, tenant, ["leads:read"])
    with Client("lg_" + "c" * 38, backend.url) as anonymous, pytest.raises(AuthenticationError):
        anonymous.list_leads()
    with Client(reader.key, backend.url) as leadgate:
        with pytest.raises(PermissionDeniedError) as denied:
            leadgate.create_lead(unique_lead())
        assert denied.value.body["requiredScope"] == "leads:write"
        with pytest.raises(PermissionDeniedError):
            leadgate.list_tags()
    down = Client(tenant.key, "http://127.0.0.1:9", max_retries=1, sleep=lambda _: None)
    with down, pytest.raises(LeadgateError, match="could not reach"):
        down.list_tags()


# --- retries, against a local receiver -------------------------------------------------------


DROP = 0  # a scripted "status" that closes the connection without answering


class Receiver:
    """Answers scripted (status, headers, body) replies in order and records what it got."""

    def __init__(self, replies: list[tuple[int, dict[str, str], dict[str, Any]]]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                receiver.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                status, headers, body = receiver.replies.pop(0)
                if status == DROP:
                    self.close_connection = True
                    return  # the connection closes with no answer: the request may have run
                payload = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET = do_PATCH = do_DELETE = _answer

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver() -> Iterator[Any]:
    started: list[Receiver] = []

    def start(replies: list[tuple[int, dict[str, str], dict[str, Any]]]) -> Receiver:
        found = Receiver(replies)
        found.thread.start()
        started.append(found)
        return found

    yield start
    for found in started:
        found.server.shutdown()
        found.server.server_close()


LEAD: dict[str, Any] = {
    "id": "lead_1", "firstName": "A", "lastName": "B", "email": None, "phone": None,
    "company": None, "website": None, "source": None, "address": None, "city": None,
    "state": None, "zipcode": None, "country": None, "status": "new", "tags": [],
    "customFields": {}, "teamId": None,
    "createdBy": {"type": "api_key", "id": "key_1", "name": "k"},
    "requestSource": "api_native", "createdAt": "2026-11-21T09:00:00.000Z",
    "updatedAt": "2026-11-21T09:00:00.000Z",
}  # fmt: skip
BUSY = {"error": "service_unavailable", "message": "busy", "details": []}
LIMITED = {"error": "rate_limited", "message": "slow down", "details": []}


def test_retries_honour_retry_after_with_one_idempotency_key(receiver: Any) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    local = receiver(
        [
            (503, {"Retry-After": "2"}, BUSY),
            (429, {"Retry-After": later}, LIMITED),
            (409, {"Retry-After": "1"}, {"error": "idempotency_key_in_use", "message": "m"}),
            (201, {}, LEAD),
        ]
    )
    waits: list[float] = []
    with Client("lg_key", local.url, sleep=waits.append) as leadgate:
        lead = leadgate.create_lead(first_name="A", last_name="B")
    assert lead.id == "lead_1"
    assert waits[0] == 2
    assert 25 < waits[1] <= 30
    assert waits[2] == 1
    keys = {r["headers"]["Idempotency-Key"] for r in local.requests}
    assert len(local.requests) == 4
    assert len(keys) == 1
    assert next(iter(keys))
    assert {r["path"] for r in local.requests} == {"/api/v1/leads"}
    assert json.loads(local.requests[0]["body"]) == {"firstName": "A", "lastName": "B"}


def test_retries_are_bounded(receiver: Any) -> None:
    local = receiver([(429, {"Retry-After": "600"}, LIMITED)] * 3)
    waits: list[float] = []
    client = Client("lg_key", local.url, max_retries=2, max_retry_wait=5, sleep=waits.append)
    with client, pytest.raises(RateLimitedError) as limited:
        client.create_lead(first_name="A", last_name="B")
    assert limited.value.status_code == 429
    assert waits == [5, 5]
    assert len(local.requests) == 3


def test_reads_retry_without_a_key_and_5xx_is_typed(receiver: Any) -> None:
    local = receiver(
        [(503, {}, BUSY), (200, {}, {"data": []}), (500, {}, {"error": "internal_error"})]
    )
    waits: list[float] = []
    with Client("lg_key", local.url, sleep=waits.append) as leadgate:
        assert leadgate.list_tags() == []
        with pytest.raises(ServerError) as failed:
            leadgate.list_tags()
    assert failed.value.error == "internal_error"
    assert waits == [0.5]
    assert all("Idempotency-Key" not in r["headers"] for r in local.requests)


ENDPOINT = {
    "id": "we_1", "url": "https://crm.example.com/hook", "description": "", "eventTypes": None,
    "enabled": False, "disabledReason": None, "failingSince": None,
    "createdAt": "2026-11-21T09:00:00.000Z", "updatedAt": "2026-11-21T09:00:00.000Z",
}  # fmt: skip
ROTATED = {"id": "we_1", "secret": "whsec_new", "previousSecretExpiresAt": "2026-11-22T09:00:00Z"}


def test_which_calls_are_replayed_repeatable_or_run_once() -> None:
    assert default_retry("GET", "/api-keys") is Retry.REPEATABLE
    assert default_retry("post", "/leads/batch") is Retry.REPLAYED
    assert default_retry("DELETE", "/tags/tag_1") is Retry.REPLAYED
    assert default_retry("POST", "/api-keys") is Retry.ONCE
    assert default_retry("POST", "/webhook-endpoints/we_1/rotate-secret") is Retry.ONCE


def test_calls_that_run_once_are_retried_only_when_they_did_not_run(receiver: Any) -> None:
    local = receiver(
        [
            (503, {"Retry-After": "1"}, BUSY),
            (DROP, {}, {}),
            (429, {"Retry-After": "3"}, LIMITED),
            (200, {}, ROTATED),
        ]
    )
    waits: list[float] = []
    with Client("lg_key", local.url, sleep=waits.append) as leadgate:
        # A 503 may come after the work: a secret-bearing create is not repeated.
        with pytest.raises(ServerError) as busy:
            leadgate.create_api_key("ci", ["leads:read"])
        assert busy.value.error == "service_unavailable"
        # A lost connection after sending: it may have run, so it is not repeated either.
        with pytest.raises(LeadgateError, match="may have been executed"):
            leadgate.test_webhook_endpoint("we_1")
        # 429 is refused before any work: safe to repeat.
        rotated = leadgate.rotate_webhook_secret("we_1")
    assert rotated.secret == "whsec_new"
    assert waits == [3]
    assert [r["path"] for r in local.requests] == [
        "/api/v1/api-keys",
        "/api/v1/webhook-endpoints/we_1/test",
        "/api/v1/webhook-endpoints/we_1/rotate-secret",
        "/api/v1/webhook-endpoints/we_1/rotate-secret",
    ]
    # Never reached (connection refused): repeated, since it cannot have run.
    refused: list[float] = []
    down = Client("lg_key", "http://127.0.0.1:9", max_retries=2, sleep=refused.append)
    with down, pytest.raises(LeadgateError, match="could not reach"):
        down.create_webhook_endpoint("https://crm.example.com/hook")
    assert len(refused) == 2


def test_replayed_and_repeatable_calls_survive_a_lost_connection(receiver: Any) -> None:
    local = receiver(
        [
            (DROP, {}, {}),
            (201, {}, LEAD),
            (503, {}, BUSY),
            (DROP, {}, {}),
            (200, {}, ENDPOINT),
            (409, {}, {"error": "idempotency_key_in_use", "message": "m"}),
        ]
    )
    waits: list[float] = []
    with Client("lg_key", local.url, sleep=waits.append) as leadgate:
        assert leadgate.create_lead(first_name="A", last_name="B").id == "lead_1"
        assert leadgate.update_webhook_endpoint("we_1", enabled=False).enabled is False
        # Only replayed routes wait out an in-flight twin; elsewhere the 409 is raised.
        with pytest.raises(IdempotencyError):
            leadgate.request("PATCH", "/api-keys/key_1", json={}, retry=Retry.REPEATABLE)
    assert len(local.requests) == 6
    first, retried = local.requests[0], local.requests[1]
    assert first["headers"]["Idempotency-Key"] == retried["headers"]["Idempotency-Key"]
    assert json.loads(local.requests[4]["body"]) == {"enabled": False}
    assert waits == [0.5, 0.5, 1.0]
