"""HTTP routes of leads. Handlers parse, call the service, and shape the response."""

from __future__ import annotations

from fastapi import APIRouter, Request

from leadgate.auth.dependencies import Session
from leadgate.leads import service
from leadgate.leads.auth import LeadsRead, LeadsWrite
from leadgate.leads.schemas import LeadCreate, LeadOut
from leadgate.openapi import request_body
from leadgate.payload import is_form, read_payload
from leadgate.responses import CONFLICT_RESPONSE, ERROR_RESPONSES

router = APIRouter(tags=["leads"], responses=ERROR_RESPONSES)


@router.post(
    "/leads",
    status_code=201,
    response_model=LeadOut,
    summary="Create a lead",
    openapi_extra=request_body(LeadCreate, form=True),
    responses=CONFLICT_RESPONSE,
)
async def create_lead(request: Request, principal: LeadsWrite, session: Session) -> LeadOut:
    """Creates a lead from JSON or an HTML form post. Duplicates (same email, or same first and
    last name) are refused with 409 `duplicate_lead` unless the tenant's policy allows them."""
    payload = await read_payload(request)
    region = principal.phone_region or request.app.state.settings.default_phone_region
    data = LeadCreate.model_validate(payload, context={"phone_region": region})
    source = "web_form" if is_form(request) else "api_native"
    return await service.create_lead(session, principal, data, request_source=source)


router.add_api_route(
    "/leads/intake",
    create_lead,
    methods=["POST"],
    status_code=201,
    response_model=LeadOut,
    include_in_schema=False,
)


@router.get("/leads/{lead_id}", response_model=LeadOut, summary="Get a lead")
async def get_lead(lead_id: str, principal: LeadsRead, session: Session) -> LeadOut:
    return await service.get_lead(session, principal, lead_id)
