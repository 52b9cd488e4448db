"""HTTP routes of leads. Handlers parse, call the service, and shape the response."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from leadgate.auth.principal import Principal
from leadgate.db import Session
from leadgate.idempotency.route import IdempotentRoute
from leadgate.leads import csv_format, service
from leadgate.leads.auth import LeadsRead, LeadsWrite
from leadgate.leads.repository import LeadFilters
from leadgate.leads.schemas import (
    MAX_PAGE,
    BatchResult,
    DuplicatePolicy,
    LeadBatch,
    LeadCreate,
    LeadDeleted,
    LeadDryRun,
    LeadMerged,
    LeadOut,
    LeadPage,
    LeadStatus,
    LeadUpdate,
)
from leadgate.openapi import request_body
from leadgate.payload import is_form, read_body, read_payload
from leadgate.responses import CONFLICT_RESPONSE, ERROR_RESPONSES, ErrorBody, csv_download
from leadgate.schemas import UtcDateTime

router = APIRouter(tags=["leads"], responses=ERROR_RESPONSES, route_class=IdempotentRoute)

OnDuplicate = Annotated[
    DuplicatePolicy | None,
    Query(alias="onDuplicate", description="Overrides the tenant's duplicate policy."),
]


def _json(model: LeadMerged | LeadDryRun | BatchResult, status_code: int) -> Response:
    return Response(
        content=model.model_dump_json(by_alias=True),
        status_code=status_code,
        media_type="application/json",
    )


def _region(request: Request, principal: Principal) -> str:
    return principal.phone_region or request.app.state.settings.default_phone_region


@router.post(
    "/leads",
    status_code=201,
    response_model=LeadOut,
    summary="Create a lead",
    openapi_extra=request_body(LeadCreate, form=True),
    responses={
        **CONFLICT_RESPONSE,
        200: {
            "model": LeadMerged | LeadDryRun,
            "description": "Merged into an existing lead (`merge` policy), or a dry run",
        },
    },
)
async def create_lead(
    request: Request,
    principal: LeadsWrite,
    session: Session,
    on_duplicate: OnDuplicate = None,
    dry_run: Annotated[bool, Query(alias="dryRun")] = False,
) -> LeadOut | Response:
    """Creates a lead from JSON or an HTML form post. Duplicates (same email, or same first and
    last name) are refused with 409 `duplicate_lead` unless the policy (the tenant's, or
    `?onDuplicate=`) allows or merges them. `?dryRun=true` validates, normalises and checks for
    duplicates, and says what would happen without writing anything."""
    payload = await read_payload(request)
    data = LeadCreate.model_validate(payload, context={"phone_region": _region(request, principal)})
    if dry_run:
        preview = await service.preview_lead(session, principal, data, policy=on_duplicate)
        return _json(preview, 200)
    source = "web_form" if is_form(request) else "api_native"
    result = await service.create_lead(
        session, principal, data, request_source=source, policy=on_duplicate
    )
    if result.outcome == "merged":
        merged = LeadMerged(**result.lead.model_dump(), merged_fields=result.merged_fields)
        return _json(merged, 200)
    # The body recorded with the lead (and its Idempotency-Key), sent as it is.
    return Response(content=result.body, status_code=201, media_type="application/json")


router.add_api_route(
    "/leads/intake",
    create_lead,
    methods=["POST"],
    status_code=201,
    response_model=LeadOut,
    include_in_schema=False,
)


@router.post(
    "/leads/batch",
    status_code=207,
    response_model=BatchResult,
    summary="Create up to 100 leads",
    openapi_extra=request_body(LeadBatch),
    responses={422: {"model": ErrorBody, "description": "An atomic batch was rejected"}},
)
async def create_batch(
    request: Request,
    principal: LeadsWrite,
    session: Session,
    on_duplicate: OnDuplicate = None,
    atomic: Annotated[
        bool, Query(description="All or nothing: one failed lead rejects the batch (422).")
    ] = False,
) -> Response:
    """Creates each lead like `POST /leads` and answers 207 with a result per lead: `created`,
    `merged`, `duplicate` (with `existingLeadId`) or `invalid` (with the error). Each lead is
    written in its own savepoint unless `atomic=true`."""
    body = await read_body(request, LeadBatch)
    result = await service.create_batch(
        session,
        principal,
        body.leads,
        atomic=atomic,
        policy=on_duplicate,
        request_source="api_native",
        phone_region=_region(request, principal),
    )
    return _json(result, 207)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


async def lead_filter_params(
    principal: LeadsRead,
    session: Session,
    status: LeadStatus | None = None,
    tag: Annotated[str | None, Query(max_length=60, description="Tag id or name.")] = None,
    team_id: Annotated[str | None, Query(alias="teamId", max_length=40)] = None,
    source: Annotated[str | None, Query(max_length=80)] = None,
    created_after: Annotated[
        UtcDateTime | None, Query(alias="createdAfter", description="Inclusive, ISO 8601.")
    ] = None,
    created_before: Annotated[
        UtcDateTime | None, Query(alias="createdBefore", description="Exclusive, ISO 8601.")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Text in the name, email, company or phone."),
    ] = None,
    utm_source: Annotated[
        str | None,
        Query(alias="utmSource", max_length=255, description="In either touch's attribution."),
    ] = None,
    utm_medium: Annotated[str | None, Query(alias="utmMedium", max_length=255)] = None,
    utm_campaign: Annotated[str | None, Query(alias="utmCampaign", max_length=255)] = None,
) -> LeadFilters | None:
    return await service.lead_filters(
        session,
        principal,
        status=status,
        tag=tag,
        team_id=team_id,
        source=source,
        created_after=_utc(created_after),
        created_before=_utc(created_before),
        q=q,
        utm_source=utm_source,
        utm_medium=utm_medium,
        utm_campaign=utm_campaign,
    )


Filters = Annotated[LeadFilters | None, Depends(lead_filter_params)]


@router.get("/leads", response_model=LeadPage, summary="List leads")
async def list_leads(
    principal: LeadsRead,
    session: Session,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 25,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> LeadPage:
    """Leads newest first. Pass `nextCursor` as `cursor` for the next page; a walk returns each
    lead once even while new leads arrive."""
    return await service.list_leads(session, principal, filters, cursor=cursor, limit=limit)


@router.get(
    "/leads/export.csv",
    response_class=StreamingResponse,
    summary="Export leads as CSV",
    responses={200: {"content": {"text/csv": {}}, "description": "The matching leads"}},
)
async def export_leads(request: Request, principal: LeadsRead, filters: Filters) -> Any:
    """Streams every matching lead (the list's filters) as CSV, newest first."""
    settings = request.app.state.settings
    stream = csv_format.stream_csv(
        request.app.state.database, principal.tenant_id, filters, settings.export_batch_size
    )
    return csv_download(stream, "leads.csv")


@router.get("/leads/{lead_id}", response_model=LeadOut, summary="Get a lead")
async def get_lead(lead_id: str, principal: LeadsRead, session: Session) -> LeadOut:
    return await service.get_lead(session, principal, lead_id)


@router.patch(
    "/leads/{lead_id}",
    response_model=LeadOut,
    summary="Update a lead",
    openapi_extra=request_body(LeadUpdate),
    responses=CONFLICT_RESPONSE,
)
async def update_lead(
    request: Request, lead_id: str, principal: LeadsWrite, session: Session
) -> LeadOut:
    """Changes the fields given (`null` clears one); `tagIds`/`tags` replace the tags. Contact
    fields are normalised again and the duplicate rule checked again (409 `duplicate_lead`);
    `status` moves forward through new → contacted → qualified → converted, or to lost."""
    payload = await read_payload(request)
    data = LeadUpdate.model_validate(payload, context={"phone_region": _region(request, principal)})
    return await service.update_lead(session, principal, lead_id, data)


@router.delete("/leads/{lead_id}", response_model=LeadDeleted, summary="Delete a lead")
async def delete_lead(lead_id: str, principal: LeadsWrite, session: Session) -> LeadDeleted:
    """Removes the lead from every list at once (its email and name are free again); the row is
    purged after the retention period."""
    return await service.delete_lead(session, principal, lead_id)
