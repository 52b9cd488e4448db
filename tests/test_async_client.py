"""`leadgate.client.AsyncClient` end to end against the running server and against scripted
answers (the retry rules it shares with `Client`), full-jitter backoff, and `verify_webhook`."""

from __future__ import annotations

import asyncio
import io
import json
import random
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, TypeVar

import pytest

from leadgate.client import (
    AsyncClient,
    AuthenticationError,
    DuplicateLeadError,
    InvalidRequestError,
    LeadgateError,
    RetryPolicy,
    ServerError,
    verify_webhook,
)
from leadgate.models import Lead
from leadgate.webhooks.signing import generate_secret, signed_headers
from tests.conftest import Backend
from tests.factories import count_rows, create_tenant, unique_lead
from tests.test_client import BUSY, DROP, LEAD, LIMITED, receiver  # noqa: F401 - the fixture

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def test_async_client_end_to_end(backend: Backend) -> None:
    tenant = create_tenant(backend)
    body = unique_lead()

    async def work() -> None:
        async with AsyncClient(tenant.key, backend.url) as leadgate:
            lead = await leadgate.create_lead(
                first_name=body["firstName"], last_name=body["lastName"], email=body["email"]
            )
            assert lead.id.startswith("lead_")
            with pytest.raises(DuplicateLeadError) as duplicate:
                await leadgate.create_lead(
                    {"firstName": "X", "lastName": "Y", "email": body["email"]}
                )
            assert duplicate.value.existing_lead_id == lead.id
            assert duplicate.value.matched_on == "email"
            with pytest.raises(InvalidRequestError) as invalid:
                await leadgate.create_lead(first_name="Only")
            assert invalid.value.status_code == 400
            found = await leadgate.find_or_create_lead(
                first_name="Z", last_name="Q", email=body["email"]
            )
            assert found.created is False
            assert found.id == lead.id
            second = await leadgate.create_lead(unique_lead())
            assert [x.id async for x in leadgate.iter_leads(page_size=1)] == [second.id, lead.id]
            assert (await leadgate.get_lead(lead.id)).email == body["email"]
            out = io.BytesIO()
            assert await leadgate.export_leads(out) == len(out.getvalue())
            assert body["email"].encode() in out.getvalue()
            tag = await leadgate.create_tag("Async")
            assert [t.id for t in await leadgate.list_tags()] == [tag.id]
        async with AsyncClient("lg_nope", backend.url, max_retries=0) as stranger:
            with pytest.raises(AuthenticationError):
                await stranger.list_tags()

    run(work())
    assert count_rows(backend, Lead, tenant.id) == 2


def test_async_retries_follow_the_shared_rules(receiver: Any) -> None:  # noqa: F811
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    local = receiver(
        [
            (503, {"Retry-After": "2"}, BUSY),
            (429, {"Retry-After": later}, LIMITED),
            (409, {"Retry-After": "1"}, {"error": "idempotency_key_in_use", "message": "m"}),
            (DROP, {}, {}),
            (201, {}, LEAD),
            (503, {}, BUSY),
            (DROP, {}, {}),
        ]
    )
    waits: list[float] = []

    async def wait(seconds: float) -> None:
        waits.append(seconds)

    async def work() -> None:
        client = AsyncClient("lg_key", local.url, max_retries=4, sleep=wait, jitter=lambda: 1.0)
        async with client as leadgate:
            lead = await leadgate.create_lead(first_name="A", last_name="B")
            assert lead.id == "lead_1"
            # A secret-bearing create runs at most once: neither a 503 nor a lost connection
            # after sending is repeated.
            with pytest.raises(ServerError):
                await leadgate.create_api_key("ci", ["leads:read"])
            with pytest.raises(LeadgateError, match="may have been executed"):
                await leadgate.test_webhook_endpoint("we_1")

    run(work())
    assert waits[0] == 2
    assert 25 < waits[1] <= 30
    assert waits[2] == 1
    assert waits[3] == 4.0  # no Retry-After: the 4th step's cap (0.5 s * 2**3), jitter 1.0
    keys = {r["headers"]["Idempotency-Key"] for r in local.requests[:5]}
    assert len(keys) == 1
    assert json.loads(local.requests[0]["body"]) == {"firstName": "A", "lastName": "B"}
    assert len(local.requests) == 7


def test_backoff_is_full_jitter() -> None:
    rng = random.Random(20261130)
    policy = RetryPolicy(max_retries=5, max_retry_wait=60.0, random=rng.random)
    for attempt, cap in ((0, 0.5), (3, 4.0), (10, 60.0)):
        delays = [policy.delay(None, attempt) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        # Spread over the whole range, not bunched at the cap: clients that failed together
        # do not come back together.
        assert min(delays) < cap * 0.1
        assert max(delays) > cap * 0.9
        assert len(set(delays)) == 200


def test_verify_webhook() -> None:
    secret = generate_secret()
    body = json.dumps({"type": "lead.created", "data": {"id": "lead_1"}})
    headers = signed_headers([secret], "msg_1", datetime.now(UTC), body)
    assert verify_webhook(secret, body, headers)["data"] == {"id": "lead_1"}
    upper = {name.title(): value for name, value in headers.items()}
    assert verify_webhook(secret, body.encode(), upper)["type"] == "lead.created"
    with pytest.raises(LeadgateError, match="not verified"):
        verify_webhook(secret, body.replace("lead_1", "lead_2"), headers)
    with pytest.raises(LeadgateError, match="not verified"):
        verify_webhook(generate_secret(), body, headers)
    stale = signed_headers([secret], "msg_2", datetime.now(UTC) - timedelta(hours=1), body)
    with pytest.raises(LeadgateError, match="not verified"):
        verify_webhook(secret, body, stale)
