"""HTTP routes of privacy: erasure and export of a person, the suppression list, retention."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from leadgate.auth.principal import Principal
from leadgate.db import Session
from leadgate.openapi import request_body
from leadgate.payload import read_body
from leadgate.privacy import service
from leadgate.privacy.auth import PrivacyRead, PrivacyWrite
from leadgate.privacy.schemas import (
    ErasureOut,
    ErasureRequest,
    PersonExport,
    RetentionOut,
    RetentionUpdate,
    SuppressionOut,
    SuppressionRequest,
)
from leadgate.responses import ERROR_RESPONSES
from leadgate.web import client_ip, get_settings

router = APIRouter(prefix="/privacy", tags=["privacy"], responses=ERROR_RESPONSES)

Email = Annotated[str | None, Query(max_length=254, description="The person's e-mail.")]
Phone = Annotated[str | None, Query(max_length=40, description="The person's phone.")]


def _region(request: Request, principal: Principal) -> str:
    return principal.phone_region or get_settings(request).default_phone_region


@router.post(
    "/erasures",
    response_model=ErasureOut,
    summary="Erase a person",
    openapi_extra=request_body(ErasureRequest),
)
async def erase_person(request: Request, principal: PrivacyWrite, session: Session) -> ErasureOut:
    """Deletes every lead with the e-mail or phone and scrubs every copy of their data (event
    payloads, pending deliveries, attempt snippets, idempotency records, audit values). With
    `suppress` (default true) the e-mail goes on the suppression list. Audited; emits
    `person.erased` with lead ids and counts only."""
    body = await read_body(request, ErasureRequest)
    person = service.identify(body.email, body.phone, _region(request, principal))
    return await service.erase_person(
        session,
        get_settings(request),
        tenant_id=principal.tenant_id,
        person=person,
        suppress=body.suppress,
        actor=principal.actor,
        ip=client_ip(request),
    )


@router.get("/exports", response_model=PersonExport, summary="Export a person's data")
async def export_person(
    request: Request,
    principal: PrivacyRead,
    session: Session,
    email: Email = None,
    phone: Phone = None,
) -> PersonExport:
    """Every record that is the person and every copy that holds their data, as JSON."""
    person = service.identify(email, phone, _region(request, principal))
    return await service.export_person(
        session, get_settings(request), tenant_id=principal.tenant_id, person=person
    )


@router.post(
    "/suppressions",
    response_model=SuppressionOut,
    summary="Suppress an e-mail address",
    openapi_extra=request_body(SuppressionRequest),
)
async def add_suppression(
    request: Request, principal: PrivacyWrite, session: Session
) -> SuppressionOut:
    """Puts the address on the suppression list (only its keyed hash is stored): intake then
    refuses leads with it (422 `email_suppressed`)."""
    body = await read_body(request, SuppressionRequest)
    person = service.identify(body.email, None, _region(request, principal))
    assert person.email is not None
    settings = get_settings(request)
    await service.add_suppression(session, settings, principal.tenant_id, person.email, body.reason)
    found = await service.find_suppression(session, settings, principal.tenant_id, person.email)
    return service.suppression_out(found)


@router.get("/suppressions", response_model=SuppressionOut, summary="Is an address suppressed?")
async def get_suppression(
    request: Request, principal: PrivacyRead, session: Session, email: Email = None
) -> SuppressionOut:
    person = service.identify(email, None, _region(request, principal))
    assert person.email is not None
    found = await service.find_suppression(
        session, get_settings(request), principal.tenant_id, person.email
    )
    return service.suppression_out(found)


@router.delete("/suppressions", response_model=SuppressionOut, summary="Lift a suppression")
async def remove_suppression(
    request: Request, principal: PrivacyWrite, session: Session, email: Email = None
) -> SuppressionOut:
    """Takes the address off the list (the person consented again)."""
    person = service.identify(email, None, _region(request, principal))
    assert person.email is not None
    await service.remove_suppression(
        session, get_settings(request), principal.tenant_id, person.email
    )
    return service.suppression_out(None)


@router.get("/retention", response_model=RetentionOut, summary="Retention periods")
async def get_retention(request: Request, principal: PrivacyRead, session: Session) -> RetentionOut:
    return await service.retention_of(session, get_settings(request), principal.tenant_id)


@router.put(
    "/retention",
    response_model=RetentionOut,
    summary="Set retention periods",
    openapi_extra=request_body(RetentionUpdate),
)
async def set_retention(
    request: Request, principal: PrivacyWrite, session: Session
) -> RetentionOut:
    """Days per kind for this tenant; null returns a kind to the deployment default. The audit
    log must be kept at least as long as anything else."""
    body = await read_body(request, RetentionUpdate)
    return await service.set_retention(
        session,
        get_settings(request),
        tenant_id=principal.tenant_id,
        changes=body,
        actor=principal.actor,
        ip=client_ip(request),
    )
