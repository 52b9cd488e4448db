"""REST hooks over the webhooks service, and "find or create lead" over the leads service.

A subscription is a webhook endpoint subscribed to one event type, so deliveries to Zapier,
Make or n8n are signed, retried and logged like every other. Never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.auth.principal import Principal
from leadgate.errors import DuplicateLead, InvalidRequest, NotFound
from leadgate.events.catalogue import CATALOGUE
from leadgate.events.service import EVENT_TYPES
from leadgate.integrations.schemas import (
    HookDeleted,
    HookOut,
    HookSubscribe,
    LeadFoundOrCreated,
)
from leadgate.leads import service as leads
from leadgate.leads.schemas import LeadCreate
from leadgate.settings import Settings
from leadgate.webhooks import service as webhooks
from leadgate.webhooks.schemas import EndpointCreate

APP_NAMES = {"zapier": "Zapier", "make": "Make", "n8n": "n8n", "other": "REST hook"}


def _known_event(event: str) -> str:
    if event not in EVENT_TYPES or event == "webhook.test":
        raise InvalidRequest(
            "Unknown event type.",
            details=[{"field": "event", "message": f"unknown: {event}", "type": "enum"}],
        )
    return event


async def subscribe(
    session: AsyncSession, settings: Settings, principal: Principal, data: HookSubscribe
) -> HookOut:
    event = _known_event(data.event)
    endpoint, secret = await webhooks.create_endpoint(
        session,
        settings,
        tenant_id=principal.tenant_id,
        data=EndpointCreate.model_validate(
            {
                "url": data.hook_url,
                "description": f"{APP_NAMES[data.app]}: {event}",
                "eventTypes": [event],
            }
        ),
        actor=principal.actor,
    )
    return HookOut(
        id=endpoint.id,
        event=event,
        hook_url=endpoint.url,
        secret=secret,
        created_at=endpoint.created_at,
    )


async def unsubscribe(session: AsyncSession, principal: Principal, hook_id: str) -> HookDeleted:
    """404 for a hook that is gone (or another tenant's), like every resource: a platform
    that unsubscribes twice treats the 404 as done (docs/integrations.md)."""
    await webhooks.delete_endpoint(
        session, tenant_id=principal.tenant_id, endpoint_id=hook_id, actor=principal.actor
    )
    return HookDeleted(id=hook_id)


async def samples(
    session: AsyncSession, principal: Principal, event: str, limit: int
) -> list[dict[str, Any]]:
    """The `data` of the tenant's latest events of this type, newest first, as a hook delivers
    it; the catalogue's sample while there are none yet (so a Zap can be set up on day one)."""
    event = _known_event(event)
    events, _ = await webhooks.list_events(
        session, principal.tenant_id, event_type=event, limit=limit, before=None
    )
    if events:
        return [dict(e.data) for e in events]
    return [dict(t.sample) for t in CATALOGUE if t.type == event]


async def find_or_create_lead(
    session: AsyncSession, principal: Principal, data: LeadCreate
) -> LeadFoundOrCreated:
    """One idempotent action: the lead the duplicate rule (same e-mail, or same first and last
    name) finds, or a new one. The claim indexes decide under concurrency, whatever the tenant's
    duplicate policy, so the same call made twice at once still makes one lead."""
    try:
        result = await leads.create_lead(
            session, principal, data, request_source="api_native", policy="reject"
        )
    except DuplicateLead as duplicate:
        existing_id = duplicate.extra.get("existingLeadId")
        if existing_id is None:
            raise  # a lead outside the key's teams is not shown
        try:
            found = await leads.get_lead(session, principal, existing_id)
        except NotFound:
            raise duplicate from None
        return LeadFoundOrCreated(**found.model_dump(), created=False)
    return LeadFoundOrCreated(**result.lead.model_dump(), created=True)
