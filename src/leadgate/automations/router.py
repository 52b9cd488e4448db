"""HTTP routes of automations, their run history and triggering one by hand."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from leadgate.automations import service
from leadgate.automations.auth import AutomationsRead, AutomationsWrite
from leadgate.automations.schemas import (
    MAX_PAGE,
    AutomationCreate,
    AutomationDeleted,
    AutomationList,
    AutomationOut,
    AutomationUpdate,
    RunOut,
    RunPage,
    TriggerRequest,
)
from leadgate.db import Session
from leadgate.idempotency.route import IdempotentRoute
from leadgate.openapi import request_body
from leadgate.payload import read_body
from leadgate.responses import ERROR_RESPONSES

router = APIRouter(tags=["automations"], responses=ERROR_RESPONSES, route_class=IdempotentRoute)


@router.get("/automations", response_model=AutomationList, summary="List automations")
async def list_automations(principal: AutomationsRead, session: Session) -> AutomationList:
    return await service.list_automations(session, principal)


@router.post(
    "/automations",
    status_code=201,
    response_model=AutomationOut,
    summary="Create an automation",
    openapi_extra=request_body(AutomationCreate),
)
async def create_automation(
    request: Request, principal: AutomationsWrite, session: Session
) -> AutomationOut:
    """When `eventType` happens and every condition holds on the event's record, the actions
    run (in order, all or none): `set_status`, `set_stage`, `add_tags`, `remove_tags`,
    `assign_team`, `assign_owner`, `create_task`, `emit` (`automation.triggered`). Rules run in
    the worker, from the event outbox, never in the request that caused the event."""
    data = await read_body(request, AutomationCreate)
    return await service.create_automation(session, principal, data)


@router.get("/automations/{automation_id}", response_model=AutomationOut, summary="Get one")
async def get_automation(
    automation_id: str, principal: AutomationsRead, session: Session
) -> AutomationOut:
    return await service.get_automation(session, principal, automation_id)


@router.patch(
    "/automations/{automation_id}",
    response_model=AutomationOut,
    summary="Change or disable an automation",
    openapi_extra=request_body(AutomationUpdate),
)
async def update_automation(
    request: Request, automation_id: str, principal: AutomationsWrite, session: Session
) -> AutomationOut:
    data = await read_body(request, AutomationUpdate)
    return await service.update_automation(session, principal, automation_id, data)


@router.delete(
    "/automations/{automation_id}", response_model=AutomationDeleted, summary="Delete one"
)
async def delete_automation(
    automation_id: str, principal: AutomationsWrite, session: Session
) -> AutomationDeleted:
    return await service.delete_automation(session, principal, automation_id)


@router.get(
    "/automations/{automation_id}/runs", response_model=RunPage, summary="An automation's runs"
)
async def list_runs(
    automation_id: str,
    principal: AutomationsRead,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 25,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> RunPage:
    """Newest first: the event, the record, whether it matched, the actions taken, the error."""
    return await service.list_runs(session, principal, automation_id, cursor=cursor, limit=limit)


@router.post(
    "/automations/{automation_id}/trigger",
    response_model=RunOut,
    summary="Run an automation on a record now",
    openapi_extra=request_body(TriggerRequest),
)
async def trigger(
    request: Request, automation_id: str, principal: AutomationsWrite, session: Session
) -> RunOut:
    """Evaluates the rule on the record's current fields and takes its actions if it matches."""
    data = await read_body(request, TriggerRequest)
    return await service.trigger(session, principal, automation_id, data)
