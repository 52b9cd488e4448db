"""Whatever a receiver puts in `Retry-After`, the attempt is recorded and the retry machinery
goes on: RFC 9110 delay-seconds or an HTTP-date are honoured (capped), anything else ignored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from leadgate.models import WebhookAttempt, WebhookDelivery
from leadgate.settings import Settings
from leadgate.webhooks.delivery import AttemptResult, attempt, new_client
from leadgate.webhooks.repository import Job
from leadgate.webhooks.signing import generate_secret, seal
from tests.conftest import Backend
from tests.factories import count_rows, create_tenant, fetch_rows, unique_lead
from tests.receiver import always, running_receiver, wait_until

NOW = datetime.now(UTC)
# "٣" (Arabic-Indic three) goes out as its UTF-8 bytes; the test receiver writes latin-1.
HOSTILE = [
    "²",
    "³",
    "¹",
    "٣".encode().decode("latin-1"),
    "9" * 5000,
    "-5",
    "+3",
    "1.5",
    "1e3",
    "0x10",
    "soon",
    "",
    " ",
]


def _settings(tmp_path: Path) -> Settings:
    return Settings(environment="test", data_dir=tmp_path)


def _attempt(config: Settings, url: str) -> AttemptResult:
    target = Job(
        delivery_id="whd_1",
        tenant_id="ten_1",
        endpoint_id="whep_1",
        url=url,
        secrets=(seal(generate_secret(), config.secret_bytes),),
        event_id="evt_1",
        event_type="lead.created",
        event_created_at=NOW,
        data={"id": "lead_1"},
        attempts=0,
        trigger="event",
    )

    async def go() -> AttemptResult:
        async with new_client(config) as client:
            return await attempt(client, config, target)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(value, None) for value in HOSTILE],
        ("7", 7.0),
        ("0", 0.0),
        (" 12 ", 12.0),
        ("99999999999999999999", None),
        ("9" * 5000, None),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),  # in the past: at once
        ("Sunday, 06-Nov-94 08:49:37 GMT", 0.0),  # RFC 850 form
        ("Sun Nov  6 08:49:37 1994", 0.0),  # asctime form
        ("Mon, 32 Foo 2026 99:99:99 GMT", None),
        ("Fri, 31 Dec 9999 23:59:59 GMT", None),
    ],
)
def test_retry_after_values(tmp_path: Path, value: str, expected: float | None) -> None:
    config = _settings(tmp_path)
    with running_receiver(always(429, b"busy", {"Retry-After": value})) as receiver:
        result = _attempt(config, receiver.url)
    assert result.status_code == 429
    if value.startswith(("99999", "Fri, 31 Dec 9999")):
        # Very long waits are kept (the worker caps them), never an error.
        assert result.retry_after is not None
        assert result.retry_after > 365 * 86400
    else:
        assert result.retry_after == expected


def test_an_http_date_ahead_is_the_delay(tmp_path: Path) -> None:
    config = _settings(tmp_path)
    # From the time of the attempt, not of the module's import (a loaded run may be minutes on).
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=3600), usegmt=True)
    with running_receiver(always(503, b"", {"Retry-After": later})) as receiver:
        result = _attempt(config, receiver.url)
    assert result.retry_after is not None
    assert 3000 < result.retry_after <= 3600


def test_a_receiver_answering_superscript_retry_after_is_retried_to_the_cap(
    backend: Backend,
) -> None:
    tenant = create_tenant(backend)
    schedule = backend.settings.webhooks_retry_schedule
    with (
        running_receiver(always(429, b"slow down", {"Retry-After": "²"})) as receiver,
        httpx.Client(base_url=backend.url, timeout=30, headers=tenant.headers) as client,
    ):
        endpoint = client.post("/api/v1/webhook-endpoints", json={"url": receiver.url})
        assert endpoint.status_code == 201, endpoint.text
        assert client.post("/api/v1/leads", json=unique_lead()).status_code == 201

        def failed() -> bool:
            rows = fetch_rows(backend, WebhookDelivery, tenant.id)
            return len(rows) == 1 and rows[0].status == "failed"

        wait_until(failed, timeout=60)
    # Every attempt made is recorded: the first and one per retry of the schedule, then no more.
    [delivery] = fetch_rows(backend, WebhookDelivery, tenant.id)
    assert delivery.attempts == len(schedule) + 1
    assert count_rows(backend, WebhookAttempt, tenant.id) == len(schedule) + 1
    assert len(receiver.received()) == len(schedule) + 1
    assert {row.status_code for row in fetch_rows(backend, WebhookAttempt, tenant.id)} == {429}
