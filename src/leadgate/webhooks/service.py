"""The rules of webhooks: endpoints and their secrets, what an attempt's outcome means (retry,
give up, disable), fan-out of events to endpoints, replay and the tester. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from cryptography.fernet import InvalidToken
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import audit
from leadgate.errors import ApiError, InvalidRequest, NotFound
from leadgate.events.catalogue import CATALOGUE
from leadgate.events.repository import EventRepository
from leadgate.events.service import EVENT_TYPES
from leadgate.ids import new_id
from leadgate.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint, utcnow
from leadgate.schemas import iso_utc
from leadgate.settings import Settings
from leadgate.webhooks import delivery as sender
from leadgate.webhooks.repository import (
    WebhookDeliveryRepository,
    WebhookEndpointRepository,
    WebhookQueueRepository,
    job_of,
)
from leadgate.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    ReceivedResponse,
    SentRequest,
    TesterResult,
)
from leadgate.webhooks.signing import generate_secret, reseal, seal, unseal
from leadgate.webhooks.urls import UnsafeUrl, check_target

ENDPOINT_TARGET = "webhook_endpoint"


def endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        event_types=list(endpoint.event_types) or None,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        failing_since=endpoint.failing_since,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint's state for the audit log (never its secret)."""
    return endpoint_out(endpoint).model_dump(mode="json", by_alias=True)


async def _checked_url(url: str, settings: Settings) -> str:
    try:
        await check_target(url, allow_private=settings.webhooks_private_allowed)
    except UnsafeUrl as error:
        raise InvalidRequest(
            "This URL cannot receive webhooks.",
            details=[{"field": "url", "message": str(error), "type": "unsafe_url"}],
        ) from None
    return url


def _checked_event_types(event_types: list[str] | None) -> list[str]:
    unknown = [t for t in event_types or [] if t not in EVENT_TYPES]
    if unknown:
        raise InvalidRequest(
            "Unknown event types.",
            details=[
                {"field": "eventTypes", "message": f"unknown: {t}", "type": "enum"} for t in unknown
            ],
        )
    return sorted(set(event_types or []), key=EVENT_TYPES.index)


async def create_endpoint(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    data: EndpointCreate,
    actor: dict[str, Any],
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its signing secret, in the clear this once."""
    now = utcnow()
    secret = generate_secret()
    endpoint = WebhookEndpoint(
        id=new_id("whep"),
        tenant_id=tenant_id,
        url=await _checked_url(data.url, settings),
        description=data.description,
        event_types=_checked_event_types(data.event_types),
        enabled=data.enabled,
        secret=seal(secret, settings.secret_bytes),
        created_at=now,
        updated_at=now,
    )
    WebhookEndpointRepository(session, tenant_id).add(endpoint)
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="webhook_endpoint.created",
        actor=actor,
        target_type=ENDPOINT_TARGET,
        target_id=endpoint.id,
        after=_snapshot(endpoint),
    )
    return endpoint, secret


async def get_endpoint(session: AsyncSession, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = await WebhookEndpointRepository(session, tenant_id).get(endpoint_id)
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {endpoint_id}.")
    return endpoint


async def list_endpoints(session: AsyncSession, tenant_id: str) -> Sequence[WebhookEndpoint]:
    return await WebhookEndpointRepository(session, tenant_id).list()


async def update_endpoint(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    endpoint_id: str,
    data: EndpointUpdate,
    actor: dict[str, Any],
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, tenant_id, endpoint_id)
    before = _snapshot(endpoint)
    changes = data.model_dump(exclude_unset=True)
    for name in ("description", "enabled"):
        if changes.get(name) is None:
            changes.pop(name, None)
    if "url" in changes:
        if changes["url"] is None:
            changes.pop("url")
        else:
            endpoint.url = await _checked_url(changes["url"], settings)
    if "event_types" in changes:
        endpoint.event_types = _checked_event_types(changes["event_types"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if "enabled" in changes:
        endpoint.enabled = changes["enabled"]
        if endpoint.enabled:
            # Re-enabling starts afresh: the old failing run no longer counts against it.
            endpoint.disabled_reason = None
            endpoint.failing_since = None
        elif endpoint.disabled_reason is None:
            endpoint.disabled_reason = "disabled by the tenant"
    endpoint.updated_at = utcnow()
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="webhook_endpoint.updated",
        actor=actor,
        target_type=ENDPOINT_TARGET,
        target_id=endpoint.id,
        before=before,
        after=_snapshot(endpoint),
    )
    return endpoint


async def delete_endpoint(
    session: AsyncSession, *, tenant_id: str, endpoint_id: str, actor: dict[str, Any]
) -> None:
    endpoint = await get_endpoint(session, tenant_id, endpoint_id)
    before = _snapshot(endpoint)
    await WebhookEndpointRepository(session, tenant_id).delete(endpoint_id)
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="webhook_endpoint.deleted",
        actor=actor,
        target_type=ENDPOINT_TARGET,
        target_id=endpoint_id,
        before=before,
    )


async def rotate_secret(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    endpoint_id: str,
    actor: dict[str, Any],
) -> tuple[WebhookEndpoint, str, datetime]:
    endpoint = await get_endpoint(session, tenant_id, endpoint_id)
    now = utcnow()
    grace_until = now + timedelta(seconds=settings.webhooks_secret_grace_seconds)
    secret = generate_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = grace_until
    endpoint.secret = seal(secret, settings.secret_bytes)
    endpoint.updated_at = now
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="webhook_endpoint.secret_rotated",
        actor=actor,
        target_type=ENDPOINT_TARGET,
        target_id=endpoint.id,
        after={"previousSecretExpiresAt": grace_until.isoformat()},
    )
    return endpoint, secret, grace_until


async def list_deliveries(
    session: AsyncSession, tenant_id: str, endpoint_id: str, *, limit: int, before: str | None
) -> tuple[list[DeliveryOut], bool]:
    await get_endpoint(session, tenant_id, endpoint_id)
    repository = WebhookDeliveryRepository(session, tenant_id)
    rows = await repository.list_for_endpoint(endpoint_id, limit=limit + 1, before=before)
    has_more = len(rows) > limit
    rows = rows[:limit]
    attempts: dict[str, list[AttemptOut]] = {}
    for attempt in await repository.attempts_of([d.id for d, _ in rows]):
        attempts.setdefault(attempt.delivery_id, []).append(AttemptOut.model_validate(attempt))
    deliveries = [
        DeliveryOut(
            id=d.id,
            event_id=d.event_id,
            event_type=event_type,
            endpoint_id=d.endpoint_id,
            trigger=d.trigger,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_attempt_at=d.last_attempt_at,
            created_at=d.created_at,
            attempt_log=attempts.get(d.id, []),
        )
        for d, event_type in rows
    ]
    return deliveries, has_more


async def list_events(
    session: AsyncSession,
    tenant_id: str,
    *,
    event_type: str | None,
    limit: int,
    before: str | None,
) -> tuple[Sequence[Event], bool]:
    events = await EventRepository(session, tenant_id).list(
        event_type=event_type, before=before, limit=limit + 1
    )
    return events[:limit], len(events) > limit


class EventPayloadPurged(ApiError):
    """A replay of an event whose payload retention or an erasure has emptied."""

    status_code = 410
    code = "event_payload_purged"


def subscribes(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return not endpoint.event_types or event_type in endpoint.event_types


async def replay_event(
    session: AsyncSession, *, tenant_id: str, event_id: str, endpoint_id: str | None
) -> list[str]:
    """Queues the event again (same `webhook-id`, so receivers can tell it is the same event)."""
    event = await EventRepository(session, tenant_id).get(event_id)
    if event is None:
        raise NotFound(f"No event {event_id}.")
    if event.payload_purged_at is not None:
        raise EventPayloadPurged(
            f"Event {event_id} cannot be replayed: its payload was purged (retention or an "
            "erasure) on " + iso_utc(event.payload_purged_at) + ".",
            extra={"payloadPurgedAt": iso_utc(event.payload_purged_at)},
        )
    if endpoint_id is not None:
        targets = [await get_endpoint(session, tenant_id, endpoint_id)]
    else:
        targets = [
            e
            for e in await list_endpoints(session, tenant_id)
            if e.enabled and subscribes(e, event.type)
        ]
    if not targets:
        raise InvalidRequest(
            f"No enabled webhook endpoint subscribes to {event.type}; nothing to replay to."
        )
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "id": new_id("whd"),
            "event_id": event.id,
            "endpoint_id": endpoint.id,
            "trigger": "replay",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for endpoint in targets
    ]
    await WebhookDeliveryRepository(session, tenant_id).insert_many(rows)
    return [str(row["id"]) for row in rows]


async def dispatch_events(session: AsyncSession, limit: int) -> int:
    """Fans undispatched events out into one delivery per subscribed, enabled endpoint and marks
    them dispatched, in one transaction: an event is fanned out exactly once."""
    queue = WebhookQueueRepository(session)
    events = await queue.claim_undispatched(limit)
    if not events:
        return 0
    endpoints = await queue.enabled_endpoints(sorted({e.tenant_id for e in events}))
    now = utcnow()
    rows = [
        {
            "id": new_id("whd"),
            "tenant_id": event.tenant_id,
            "event_id": event.id,
            "endpoint_id": endpoint.id,
            "trigger": "event",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event in events
        for endpoint in endpoints
        if endpoint.tenant_id == event.tenant_id
        # An endpoint hears about what happened after it was created, not before.
        and endpoint.created_at <= event.created_at
        and subscribes(endpoint, event.type)
    ]
    await queue.insert_deliveries(rows)
    await queue.mark_dispatched([e.id for e in events], now)
    return len(events)


async def apply_attempt(
    session: AsyncSession, settings: Settings, job: sender.Job, result: sender.AttemptResult
) -> None:
    """Logs an attempt and decides what follows: done, a retry later, or giving up."""
    deliveries = WebhookDeliveryRepository(session, job.tenant_id)
    endpoints = WebhookEndpointRepository(session, job.tenant_id)
    retry_at: datetime | None = None
    if result.succeeded:
        status = "succeeded"
    else:
        schedule = settings.webhooks_retry_schedule
        if result.status_code != 410 and job.trigger != "test" and job.attempts < len(schedule):
            delay = schedule[job.attempts]
            if result.retry_after is not None:
                delay = min(result.retry_after, settings.webhooks_retry_after_max_seconds)
            retry_at = utcnow() + timedelta(seconds=delay)
        status = "pending" if retry_at else "failed"
    if not await deliveries.record_outcome(
        job.delivery_id, status=status, next_attempt_at=retry_at, at=result.attempted_at
    ):
        return
    deliveries.add_attempt(
        WebhookAttempt(
            id=new_id("wha"),
            tenant_id=job.tenant_id,
            delivery_id=job.delivery_id,
            attempt_number=job.attempts + 1,
            attempted_at=result.attempted_at,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            response_body=result.response_body,
            error=result.error,
        )
    )
    if result.succeeded:
        await endpoints.mark_healthy(job.endpoint_id)
        return
    if result.status_code == 410:
        await _disable(session, job, "the receiver answered 410 Gone")
        return
    failing_since = await endpoints.mark_failing(job.endpoint_id, result.attempted_at)
    span = timedelta(seconds=settings.webhooks_disable_after_seconds)
    if result.attempted_at - failing_since >= span:
        await _disable(
            session,
            job,
            f"every attempt failed since {failing_since.isoformat(timespec='seconds')}",
        )


async def _disable(session: AsyncSession, job: sender.Job, reason: str) -> None:
    """Disables the endpoint; the audit event is how the tenant is told (no notices yet)."""
    now = utcnow()
    if await WebhookEndpointRepository(session, job.tenant_id).disable(
        job.endpoint_id, reason, now
    ):
        await audit.record(
            session,
            tenant_id=job.tenant_id,
            action="webhook_endpoint.disabled",
            actor={"type": "system", "id": "webhooks", "name": "webhook delivery"},
            target_type=ENDPOINT_TARGET,
            target_id=job.endpoint_id,
            after={"enabled": False, "disabledReason": reason},
        )


async def send_test(
    session: AsyncSession,
    settings: Settings,
    client: httpx.AsyncClient,
    *,
    tenant_id: str,
    endpoint_id: str,
    event_type: str = "webhook.test",
) -> TesterResult:
    """Sends a signed `webhook.test` (or another event type's catalogue sample) to one endpoint
    now and reports the attempt.

    The event is stored already dispatched, so the worker never fans it out to other endpoints,
    and its delivery is never retried. The request's transaction stays open during the call
    (bounded by the delivery timeout).
    """
    endpoint = await get_endpoint(session, tenant_id, endpoint_id)
    now = utcnow()
    event_id = new_id("evt")
    data: dict[str, Any]
    if event_type == "webhook.test":
        data = {"endpointId": endpoint.id, "message": "A test event from leadgate."}
    else:
        samples = {t.type: t.sample for t in CATALOGUE}
        if event_type not in samples:
            raise InvalidRequest(
                f"Unknown event type {event_type!r}.",
                details=[{"field": "eventType", "message": "not in the catalogue", "type": "enum"}],
            )
        data = dict(samples[event_type])
    await EventRepository(session, tenant_id).insert(
        event_id, event_type, data, now, dispatched_at=now
    )
    delivery = WebhookDelivery(
        id=new_id("whd"),
        tenant_id=tenant_id,
        event_id=event_id,
        endpoint_id=endpoint.id,
        trigger="test",
        status="pending",
        attempts=0,
        next_attempt_at=None,
        created_at=now,
    )
    WebhookDeliveryRepository(session, tenant_id).add(delivery)
    event = Event(id=event_id, tenant_id=tenant_id, type=event_type, data=data, created_at=now)
    job = job_of(delivery, endpoint, event, now)
    result = await sender.attempt(client, settings, job)
    # Flushed before the attempt row that references it.
    await session.flush()
    await apply_attempt(session, settings, job, result)
    return TesterResult(
        success=result.succeeded,
        delivery_id=delivery.id,
        event_id=event_id,
        request=SentRequest(
            url=endpoint.url, headers=result.request_headers, body=result.request_body
        ),
        response=ReceivedResponse(
            status_code=result.status_code,
            body=result.response_body,
            latency_ms=result.latency_ms,
        ),
        error=result.error,
    )


@dataclass(frozen=True, slots=True)
class SealedSecrets:
    """Endpoints' signing secrets by the server secret that can read them."""

    current: int
    previous: int
    unreadable: int


def _sealed_values(endpoint: WebhookEndpoint) -> list[tuple[str, str]]:
    values = [("secret", endpoint.secret)]
    if endpoint.previous_secret is not None:
        values.append(("previous_secret", endpoint.previous_secret))
    return values


def _readable_under(token: str, server_secret: bytes) -> bool:
    try:
        unseal(token, server_secret)
    except InvalidToken:
        return False
    return True


async def sealed_secrets_status(session: AsyncSession, settings: Settings) -> SealedSecrets:
    current = previous = unreadable = 0
    for endpoint in await WebhookQueueRepository(session).all_endpoints():
        for _field, token in _sealed_values(endpoint):
            if _readable_under(token, settings.secret_bytes):
                current += 1
            elif any(_readable_under(token, old) for old in settings.previous_secret_bytes):
                previous += 1
            else:
                unreadable += 1
    return SealedSecrets(current, previous, unreadable)


async def reseal_all_secrets(session: AsyncSession, settings: Settings) -> SealedSecrets:
    """Re-encrypts every endpoint's signing secrets under the current server secret (after
    `previous_secret_keys` has been set to the old one), so the old one can be dropped."""
    already = resealed = unreadable = 0
    for endpoint in await WebhookQueueRepository(session).all_endpoints():
        for field_name, token in _sealed_values(endpoint):
            if _readable_under(token, settings.secret_bytes):
                already += 1
                continue
            try:
                fresh = reseal(token, settings.secret_bytes, settings.previous_secret_bytes)
            except InvalidToken:
                unreadable += 1
                continue
            setattr(endpoint, field_name, fresh)
            resealed += 1
    return SealedSecrets(already, resealed, unreadable)
