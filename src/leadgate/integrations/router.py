"""HTTP routes of REST hooks (Zapier, Make, n8n): subscribe, unsubscribe, samples for the
platform's "perform list", and "find or create lead"."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from leadgate.db import Session
from leadgate.idempotency.route import IdempotentRoute
from leadgate.integrations import service
from leadgate.integrations.auth import LeadsWrite, WebhooksRead, WebhooksWrite
from leadgate.integrations.schemas import HookDeleted, HookOut, HookSubscribe, LeadFoundOrCreated
from leadgate.leads.schemas import LeadCreate
from leadgate.openapi import request_body
from leadgate.payload import read_body, read_payload
from leadgate.responses import CONFLICT_RESPONSE, ERROR_RESPONSES
from leadgate.web import get_settings

router = APIRouter(tags=["integrations"], responses=ERROR_RESPONSES, route_class=IdempotentRoute)


@router.post(
    "/hooks",
    status_code=201,
    response_model=HookOut,
    summary="Subscribe a REST hook",
    openapi_extra=request_body(HookSubscribe),
)
async def subscribe(request: Request, principal: WebhooksWrite, session: Session) -> HookOut:
    """Zapier's `performSubscribe`, Make's attach, n8n's create: a webhook endpoint for `hookUrl`
    receiving one event type. The `id` is what unsubscribing names."""
    body = await read_body(request, HookSubscribe)
    return await service.subscribe(session, get_settings(request), principal, body)


@router.delete("/hooks/{hook_id}", response_model=HookDeleted, summary="Unsubscribe a REST hook")
async def unsubscribe(hook_id: str, principal: WebhooksWrite, session: Session) -> HookDeleted:
    """Zapier's `performUnsubscribe`, Make's detach, n8n's delete. A hook already gone is 404
    `not_found`: a platform unsubscribing twice treats it as done."""
    return await service.unsubscribe(session, principal, hook_id)


@router.get(
    "/hooks/samples",
    response_model=list[dict[str, Any]],
    summary="Recent samples of an event type",
)
async def samples(
    principal: WebhooksRead,
    session: Session,
    event: Annotated[str, Query(max_length=60, description="The event type.")] = "lead.created",
    limit: Annotated[int, Query(ge=1, le=100)] = 3,
) -> list[dict[str, Any]]:
    """Zapier's `performList`: a JSON array of the `data` of the latest events of the type,
    newest first, shaped as a delivery's `data`; the catalogue's sample while there is none."""
    return await service.samples(session, principal, event, limit)


@router.post(
    "/leads/find-or-create",
    status_code=201,
    response_model=LeadFoundOrCreated,
    summary="Find or create a lead",
    openapi_extra=request_body(LeadCreate),
    responses={
        **CONFLICT_RESPONSE,
        200: {"model": LeadFoundOrCreated, "description": "Found: the existing lead"},
    },
)
async def find_or_create_lead(
    request: Request, principal: LeadsWrite, session: Session
) -> LeadFoundOrCreated | Response:
    """The lead with the same e-mail (or the same first and last name) if there is one (200,
    `created: false`), else a new lead (201, `created: true`). Calling it again, or twice at
    once, never makes a second lead. Takes the body of `POST /leads`."""
    payload = await read_payload(request)
    region = principal.phone_region or get_settings(request).default_phone_region
    data = LeadCreate.model_validate(payload, context={"phone_region": region})
    lead = await service.find_or_create_lead(session, principal, data)
    if lead.created:
        return lead
    return Response(
        content=lead.model_dump_json(by_alias=True), status_code=200, media_type="application/json"
    )
