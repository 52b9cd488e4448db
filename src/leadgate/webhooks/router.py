"""HTTP routes of webhooks: endpoints, event types, events, deliveries, replay and the tester."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from leadgate.db import Session
from leadgate.events.catalogue import CATALOGUE
from leadgate.openapi import request_body
from leadgate.payload import read_body
from leadgate.responses import ERROR_RESPONSES
from leadgate.web import get_settings
from leadgate.webhooks import service
from leadgate.webhooks.auth import WebhooksRead, WebhooksWrite
from leadgate.webhooks.delivery import new_client
from leadgate.webhooks.schemas import (
    DeliveryList,
    EndpointCreate,
    EndpointList,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
    EventList,
    EventOut,
    EventTypeList,
    EventTypeOut,
    ReplayOut,
    ReplayRequest,
    RotatedSecret,
    TesterResult,
)

router = APIRouter(tags=["webhooks"], responses=ERROR_RESPONSES)

Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]
Before = Annotated[
    str | None, Query(max_length=40, description="Id to continue after (newest first).")
]


@router.post(
    "/webhook-endpoints",
    status_code=201,
    response_model=EndpointWithSecret,
    summary="Create a webhook endpoint",
    openapi_extra=request_body(EndpointCreate),
)
async def create_endpoint(
    request: Request, principal: WebhooksWrite, session: Session
) -> EndpointWithSecret:
    """The response carries the signing secret (`whsec_…`): store it, it is not shown again."""
    body = await read_body(request, EndpointCreate)
    endpoint, secret = await service.create_endpoint(
        session,
        get_settings(request),
        tenant_id=principal.tenant_id,
        data=body,
        actor=principal.actor,
    )
    return EndpointWithSecret(**service.endpoint_out(endpoint).model_dump(), secret=secret)


@router.get("/webhook-endpoints", response_model=EndpointList, summary="List webhook endpoints")
async def list_endpoints(principal: WebhooksRead, session: Session) -> EndpointList:
    endpoints = await service.list_endpoints(session, principal.tenant_id)
    return EndpointList(data=[service.endpoint_out(e) for e in endpoints])


@router.get(
    "/webhook-endpoints/{endpoint_id}", response_model=EndpointOut, summary="Get an endpoint"
)
async def get_endpoint(endpoint_id: str, principal: WebhooksRead, session: Session) -> EndpointOut:
    return service.endpoint_out(
        await service.get_endpoint(session, principal.tenant_id, endpoint_id)
    )


@router.patch(
    "/webhook-endpoints/{endpoint_id}",
    response_model=EndpointOut,
    summary="Update an endpoint",
    openapi_extra=request_body(EndpointUpdate),
)
async def update_endpoint(
    request: Request, endpoint_id: str, principal: WebhooksWrite, session: Session
) -> EndpointOut:
    """Setting `enabled: true` re-enables a disabled endpoint; its pending deliveries resume."""
    body = await read_body(request, EndpointUpdate)
    endpoint = await service.update_endpoint(
        session,
        get_settings(request),
        tenant_id=principal.tenant_id,
        endpoint_id=endpoint_id,
        data=body,
        actor=principal.actor,
    )
    return service.endpoint_out(endpoint)


@router.delete("/webhook-endpoints/{endpoint_id}", status_code=204, summary="Delete an endpoint")
async def delete_endpoint(endpoint_id: str, principal: WebhooksWrite, session: Session) -> Response:
    await service.delete_endpoint(
        session, tenant_id=principal.tenant_id, endpoint_id=endpoint_id, actor=principal.actor
    )
    return Response(status_code=204)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=RotatedSecret,
    summary="Rotate an endpoint's signing secret",
)
async def rotate_secret(
    request: Request, endpoint_id: str, principal: WebhooksWrite, session: Session
) -> RotatedSecret:
    """Returns the new secret. The old one keeps signing alongside it (a second `v1,` signature)
    for `LEADGATE_WEBHOOKS_SECRET_GRACE_SECONDS` (24 h by default)."""
    endpoint, secret, grace_until = await service.rotate_secret(
        session,
        get_settings(request),
        tenant_id=principal.tenant_id,
        endpoint_id=endpoint_id,
        actor=principal.actor,
    )
    return RotatedSecret(id=endpoint.id, secret=secret, previous_secret_expires_at=grace_until)


@router.post(
    "/webhook-endpoints/{endpoint_id}/test",
    response_model=TesterResult,
    summary="Send a test event now",
)
async def test_endpoint(
    request: Request,
    endpoint_id: str,
    principal: WebhooksWrite,
    session: Session,
    event_type: Annotated[
        str,
        Query(
            alias="eventType",
            max_length=60,
            description="Send this type's sample from `GET /event-types` instead.",
        ),
    ] = "webhook.test",  # noqa: PT028 - a route handler, not a pytest test
) -> TesterResult:
    """Sends a signed `webhook.test` event (or `eventType`'s catalogue sample) to this endpoint
    at once and returns what was sent and what came back (status, first 2 KiB of the body,
    latency). It is not retried."""
    settings = get_settings(request)
    async with new_client(settings) as client:
        return await service.send_test(
            session, settings, client, tenant_id=principal.tenant_id, endpoint_id=endpoint_id,
            event_type=event_type,
        )  # fmt: skip


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    response_model=DeliveryList,
    summary="An endpoint's deliveries and their attempts",
)
async def list_deliveries(
    endpoint_id: str,
    principal: WebhooksRead,
    session: Session,
    limit: Limit = 50,
    before: Before = None,
) -> DeliveryList:
    deliveries, has_more = await service.list_deliveries(
        session, principal.tenant_id, endpoint_id, limit=limit, before=before
    )
    return DeliveryList(data=deliveries, has_more=has_more)


@router.get("/event-types", response_model=EventTypeList, summary="The event catalogue")
async def list_event_types(_principal: WebhooksRead) -> EventTypeList:
    return EventTypeList(
        data=[
            EventTypeOut(type=t.type, description=t.description, sample=t.sample) for t in CATALOGUE
        ]
    )


@router.get("/events", response_model=EventList, summary="List events")
async def list_events(
    principal: WebhooksRead,
    session: Session,
    limit: Limit = 50,
    before: Before = None,
    event_type: Annotated[str | None, Query(alias="type", max_length=60)] = None,
) -> EventList:
    events, has_more = await service.list_events(
        session, principal.tenant_id, event_type=event_type, limit=limit, before=before
    )
    return EventList(data=[EventOut.model_validate(e) for e in events], has_more=has_more)


@router.post(
    "/events/{event_id}/replay",
    status_code=202,
    response_model=ReplayOut,
    summary="Deliver an event again",
)
async def replay_event(
    event_id: str,
    principal: WebhooksWrite,
    session: Session,
    body: ReplayRequest | None = None,
) -> ReplayOut:
    """Queues the event for every enabled endpoint subscribed to its type (or only `endpointId`).
    It is sent with the same `webhook-id`, so receivers that deduplicate see it once."""
    deliveries = await service.replay_event(
        session,
        tenant_id=principal.tenant_id,
        event_id=event_id,
        endpoint_id=body.endpoint_id if body else None,
    )
    return ReplayOut(event_id=event_id, deliveries=deliveries)
