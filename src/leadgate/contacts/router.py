"""HTTP routes of contacts and of converting a lead."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from leadgate.contacts import csv_format, service
from leadgate.contacts.auth import ContactsRead, ContactsWrite
from leadgate.contacts.repository import ContactFilters
from leadgate.contacts.schemas import (
    MAX_PAGE,
    ContactCreate,
    ContactDeleted,
    ContactDuplicatePolicy,
    ContactOut,
    ContactPage,
    ContactUpdate,
    LeadConversion,
    LeadConvert,
    LeadConverted,
)
from leadgate.db import Session
from leadgate.idempotency.route import IdempotentRoute
from leadgate.leads.auth import LeadsRead
from leadgate.openapi import request_body
from leadgate.payload import read_payload
from leadgate.responses import CONFLICT_RESPONSE, ERROR_RESPONSES, csv_download

router = APIRouter(tags=["contacts"], responses=ERROR_RESPONSES, route_class=IdempotentRoute)

OnDuplicate = Annotated[
    ContactDuplicatePolicy | None,
    Query(alias="onDuplicate", description="Overrides the tenant's duplicate policy."),
]


def _region(request: Request, phone_region: str | None) -> str:
    return phone_region or request.app.state.settings.default_phone_region


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@router.post(
    "/contacts",
    status_code=201,
    response_model=ContactOut,
    summary="Create a contact",
    openapi_extra=request_body(ContactCreate),
    responses=CONFLICT_RESPONSE,
)
async def create_contact(
    request: Request, principal: ContactsWrite, session: Session, on_duplicate: OnDuplicate = None
) -> ContactOut:
    """Duplicates (same email, or same first and last name, as a live contact) are refused with
    409 `duplicate_contact` unless the policy (the tenant's `allow`, or `?onDuplicate=allow`)
    lets them in."""
    payload = await read_payload(request)
    context = {"phone_region": _region(request, principal.phone_region)}
    data = ContactCreate.model_validate(payload, context=context)
    return await service.create_contact(session, principal, data, policy=on_duplicate)


async def contact_filter_params(
    principal: ContactsRead,
    team_id: Annotated[str | None, Query(alias="teamId", max_length=40)] = None,
    owner_id: Annotated[str | None, Query(alias="ownerId", max_length=40)] = None,
    company: Annotated[str | None, Query(max_length=255)] = None,
    created_after: Annotated[datetime | None, Query(alias="createdAfter")] = None,
    created_before: Annotated[datetime | None, Query(alias="createdBefore")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in the name, email, company or phone.")
    ] = None,
) -> ContactFilters:
    return service.contact_filters(
        principal,
        team_id=team_id,
        owner_id=owner_id,
        company=company,
        created_after=_utc(created_after),
        created_before=_utc(created_before),
        q=q,
    )


Filters = Annotated[ContactFilters, Depends(contact_filter_params)]


@router.get("/contacts", response_model=ContactPage, summary="List contacts")
async def list_contacts(
    principal: ContactsRead,
    session: Session,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 25,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> ContactPage:
    """Contacts newest first; pass `nextCursor` as `cursor` for the next page."""
    return await service.list_contacts(session, principal, filters, cursor=cursor, limit=limit)


@router.get(
    "/contacts/export.csv",
    response_class=StreamingResponse,
    summary="Export contacts as CSV",
    responses={200: {"content": {"text/csv": {}}, "description": "The matching contacts"}},
)
async def export_contacts(request: Request, principal: ContactsRead, filters: Filters) -> Any:
    """Streams every matching contact (the list's filters) as CSV, newest first."""
    stream = csv_format.stream_csv(
        request.app.state.database,
        principal.tenant_id,
        filters,
        request.app.state.settings.export_batch_size,
    )
    return csv_download(stream, "contacts.csv")


@router.get("/contacts/{contact_id}", response_model=ContactOut, summary="Get a contact")
async def get_contact(contact_id: str, principal: ContactsRead, session: Session) -> ContactOut:
    return await service.get_contact(session, principal, contact_id)


@router.patch(
    "/contacts/{contact_id}",
    response_model=ContactOut,
    summary="Update a contact",
    openapi_extra=request_body(ContactUpdate),
    responses=CONFLICT_RESPONSE,
)
async def update_contact(
    request: Request, contact_id: str, principal: ContactsWrite, session: Session
) -> ContactOut:
    """Changes the fields given (`null` clears one); the duplicate rule is checked again."""
    payload = await read_payload(request)
    context = {"phone_region": _region(request, principal.phone_region)}
    data = ContactUpdate.model_validate(payload, context=context)
    return await service.update_contact(session, principal, contact_id, data)


@router.delete("/contacts/{contact_id}", response_model=ContactDeleted, summary="Delete a contact")
async def delete_contact(
    contact_id: str, principal: ContactsWrite, session: Session
) -> ContactDeleted:
    return await service.delete_contact(session, principal, contact_id)


@router.post(
    "/leads/{lead_id}/convert",
    status_code=201,
    response_model=LeadConverted,
    summary="Convert a lead into a contact (and a deal)",
    openapi_extra=request_body(LeadConvert),
    responses=CONFLICT_RESPONSE,
)
async def convert_lead(
    request: Request,
    lead_id: str,
    principal: ContactsWrite,
    session: Session,
    on_duplicate: OnDuplicate = None,
) -> LeadConverted:
    """Needs `contacts:write` (and `deals:write` with a `deal`): converting is a contact write,
    and the lead's status change is part of it. The contact
    takes the lead's fields and keeps its id (`leadId`); the lead becomes `converted`. 409
    `lead_already_converted`, `invalid_status_transition` (a lost lead) or `duplicate_contact`
    write nothing."""
    payload = await read_payload(request)
    data = LeadConvert.model_validate(payload or {})
    return await service.convert_lead(session, principal, lead_id, data, policy=on_duplicate)


@router.get(
    "/leads/{lead_id}/conversion",
    response_model=LeadConversion,
    summary="The contact and deal a lead became",
)
async def lead_conversion(lead_id: str, principal: LeadsRead, session: Session) -> LeadConversion:
    return await service.conversion_of(session, principal, lead_id)
