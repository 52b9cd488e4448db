"""The endpoint tester's result, read back from what was stored, so the console can answer a
test with a redirect (post/redirect/get) and a reload shows the same result.

The request is rebuilt exactly: its body from the stored event, its signature headers from the
endpoint's secrets and the attempt's time (the timestamp that was signed). The response side is
the stored attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.settings import Settings
from leadgate.webhooks import delivery as sender
from leadgate.webhooks.repository import (
    WebhookDeliveryRepository,
    WebhookEndpointRepository,
    job_of,
)
from leadgate.webhooks.schemas import ReceivedResponse, SentRequest, TesterResult
from leadgate.webhooks.signing import signed_headers


@dataclass(frozen=True, slots=True)
class StoredTest:
    event_type: str
    result: TesterResult


async def stored_test_result(
    session: AsyncSession, settings: Settings, tenant_id: str, endpoint_id: str, delivery_id: str
) -> StoredTest | None:
    """The result of a test delivery to this endpoint; None if there is no such test."""
    endpoint = await WebhookEndpointRepository(session, tenant_id).get(endpoint_id)
    repository = WebhookDeliveryRepository(session, tenant_id)
    found = await repository.with_event(delivery_id)
    if endpoint is None or found is None:
        return None
    delivery, event = found
    if delivery.endpoint_id != endpoint.id or delivery.trigger != "test":
        return None
    attempts = await repository.attempts_of([delivery.id])
    if not attempts:
        return None
    attempt = attempts[-1]
    job = job_of(delivery, endpoint, event, attempt.attempted_at)
    body = sender.message_body(job)
    headers = {"content-type": "application/json", "user-agent": sender.USER_AGENT}
    signing = sender.readable_secrets(job, settings)
    if signing:
        headers.update(signed_headers(signing, job.event_id, attempt.attempted_at, body))
    status = attempt.status_code
    result = TesterResult(
        success=status is not None and 200 <= status < 300,
        delivery_id=delivery.id,
        event_id=event.id,
        request=SentRequest(url=endpoint.url, headers=headers, body=body),
        response=ReceivedResponse(
            status_code=status, body=attempt.response_body, latency_ms=attempt.latency_ms
        ),
        error=attempt.error,
    )
    return StoredTest(event_type=event.type, result=result)
