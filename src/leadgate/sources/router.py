"""HTTP routes of inbound sources: the sources API (`/api/v1/sources`) and the URL providers
post to (`/inbound/sources/{id}`, authenticated by the provider's signature, not an API key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from leadgate.db import Session
from leadgate.errors import InvalidSignature
from leadgate.openapi import request_body
from leadgate.payload import read_body
from leadgate.ratelimit.service import RateLimiter
from leadgate.responses import ERROR_RESPONSES, ErrorBody
from leadgate.sources import service
from leadgate.sources.auth import SourcesRead, SourcesWrite
from leadgate.sources.schemas import (
    MappingPreview,
    Outcome,
    PayloadList,
    PayloadOut,
    PreviewRequest,
    ReceiveResult,
    SourceCreate,
    SourceList,
    SourceOut,
    SourceUpdate,
    SourceWithSecret,
)
from leadgate.web import client_ip, get_settings

router = APIRouter(tags=["sources"], responses=ERROR_RESPONSES)
# Not in the API description: providers, not API clients, call it (docs/sources.md).
inbound_router = APIRouter(tags=["sources"], include_in_schema=False)


@router.post(
    "/sources",
    status_code=201,
    response_model=SourceWithSecret,
    summary="Create an inbound source",
    openapi_extra=request_body(SourceCreate),
)
async def create_source(
    request: Request, principal: SourcesWrite, session: Session
) -> SourceWithSecret:
    """Returns the URL to paste into the provider and the secret (or Google Ads key) to give it;
    the secret is not shown again."""
    body = await read_body(request, SourceCreate)
    settings = get_settings(request)
    source, secret = await service.create_source(
        session, settings, tenant_id=principal.tenant_id, data=body, actor=principal.actor
    )
    return SourceWithSecret(**service.source_out(settings, source).model_dump(), secret=secret)


@router.get("/sources", response_model=SourceList, summary="List inbound sources")
async def list_sources(request: Request, principal: SourcesRead, session: Session) -> SourceList:
    settings = get_settings(request)
    sources = await service.list_sources(session, principal.tenant_id)
    return SourceList(data=[service.source_out(settings, s) for s in sources])


@router.get("/sources/{source_id}", response_model=SourceOut, summary="Get an inbound source")
async def get_source(
    request: Request, source_id: str, principal: SourcesRead, session: Session
) -> SourceOut:
    source = await service.get_source(session, principal.tenant_id, source_id)
    return service.source_out(get_settings(request), source)


@router.patch(
    "/sources/{source_id}",
    response_model=SourceOut,
    summary="Update an inbound source",
    openapi_extra=request_body(SourceUpdate),
)
async def update_source(
    request: Request, source_id: str, principal: SourcesWrite, session: Session
) -> SourceOut:
    """A new `mapping` replaces the old one; payloads already kept can then be replayed."""
    body = await read_body(request, SourceUpdate)
    settings = get_settings(request)
    source = await service.update_source(
        session,
        settings,
        tenant_id=principal.tenant_id,
        source_id=source_id,
        data=body,
        actor=principal.actor,
    )
    return service.source_out(settings, source)


@router.delete("/sources/{source_id}", status_code=204, summary="Delete an inbound source")
async def delete_source(
    request: Request, source_id: str, principal: SourcesWrite, session: Session
) -> Response:
    """Its kept payloads go with it; leads it made stay."""
    await service.delete_source(
        session,
        get_settings(request),
        tenant_id=principal.tenant_id,
        source_id=source_id,
        actor=principal.actor,
    )
    return Response(status_code=204)


@router.get(
    "/sources/{source_id}/payloads",
    response_model=PayloadList,
    summary="A source's received payloads",
)
async def list_payloads(
    source_id: str,
    principal: SourcesRead,
    session: Session,
    outcome: Outcome | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    before: Annotated[str | None, Query(max_length=40, description="Id to continue after.")] = None,
) -> PayloadList:
    """Newest first, each with its outcome (`created`, `merged`, `duplicate`, `failed`, `test`)."""
    data, has_more = await service.list_payloads(
        session, principal.tenant_id, source_id, outcome=outcome, before=before, limit=limit
    )
    return PayloadList(data=data, has_more=has_more)


@router.get(
    "/sources/{source_id}/payloads/{payload_id}",
    response_model=PayloadOut,
    summary="One received payload",
)
async def get_payload(
    source_id: str, payload_id: str, principal: SourcesRead, session: Session
) -> PayloadOut:
    payload = await service.get_payload(session, principal.tenant_id, source_id, payload_id)
    return service.payload_out(payload)


@router.post(
    "/sources/{source_id}/payloads/{payload_id}/replay",
    response_model=PayloadOut,
    summary="Map a kept payload again",
    responses={409: {"model": ErrorBody, "description": "The payload already made a lead"}},
)
async def replay_payload(
    request: Request, source_id: str, payload_id: str, principal: SourcesWrite, session: Session
) -> PayloadOut:
    """Runs the source's current mapping on a payload that made no lead (`failed` or
    `duplicate`) and records the new outcome; 409 `payload_not_replayable` otherwise."""
    return await service.replay(
        session,
        get_settings(request),
        tenant_id=principal.tenant_id,
        source_id=source_id,
        payload_id=payload_id,
    )


@router.post(
    "/sources/{source_id}/preview",
    response_model=MappingPreview,
    summary="Preview a mapping on a kept payload",
    openapi_extra=request_body(PreviewRequest),
)
async def preview_mapping(
    request: Request, source_id: str, principal: SourcesRead, session: Session
) -> MappingPreview:
    """The provider fields of the last payload (or `payloadId`) and the lead `mapping` (or the
    source's own) would make of them; nothing is written."""
    body = await read_body(request, PreviewRequest)
    return await service.preview(
        session,
        get_settings(request),
        tenant_id=principal.tenant_id,
        source_id=source_id,
        mapping=body.mapping,
        payload_id=body.payload_id,
    )


@inbound_router.post(
    service.RECEIVE_PATH,
    response_model=ReceiveResult,
    summary="Receive a provider's payload",
    responses={
        400: {"model": ErrorBody, "description": "The body is not a JSON object"},
        401: {"model": ErrorBody, "description": "Forged or missing signature: nothing kept"},
        404: {"model": ErrorBody, "description": "No such source, or it is disabled"},
        429: {"model": ErrorBody, "description": "Too many forged requests from this address"},
    },
)
async def receive(source_id: str, request: Request, session: Session) -> ReceiveResult:
    """Where a provider posts: the signature is checked as the source's kind requires, then the
    payload is kept and mapped. 200 whenever the payload was kept, whatever its outcome. Forged
    signatures count as failed authentications: an address with too many gets 429."""
    limiter: RateLimiter = request.app.state.rate_limiter
    address = client_ip(request)
    limiter.check_address(address)
    try:
        return await service.receive(
            session,
            get_settings(request),
            source_id=source_id,
            headers=request.headers,
            body=await request.body(),
        )
    except InvalidSignature:
        await limiter.record_auth_failure(address)
        raise
