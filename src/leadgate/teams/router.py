"""HTTP routes of teams: create, list, get, rename, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from leadgate.db import Session
from leadgate.idempotency.route import IdempotentRoute
from leadgate.openapi import request_body
from leadgate.payload import read_body
from leadgate.responses import CONFLICT_RESPONSE, ERROR_RESPONSES
from leadgate.teams import service
from leadgate.teams.auth import TeamsRead, TeamsWrite
from leadgate.teams.schemas import TeamCreate, TeamDeleted, TeamList, TeamOut, TeamUpdate
from leadgate.web import client_ip

router = APIRouter(tags=["teams"], responses=ERROR_RESPONSES, route_class=IdempotentRoute)


@router.get("/teams", response_model=TeamList, summary="List teams")
async def list_teams(principal: TeamsRead, session: Session) -> TeamList:
    """The tenant's teams by name (a key limited to teams sees only those), with how many live
    leads and live keys each has."""
    return await service.list_teams(session, principal.tenant_id, principal)


@router.post(
    "/teams",
    status_code=201,
    response_model=TeamOut,
    summary="Create a team",
    openapi_extra=request_body(TeamCreate),
    responses=CONFLICT_RESPONSE,
)
async def create_team(request: Request, principal: TeamsWrite, session: Session) -> TeamOut:
    """Names are unique per tenant (409 `team_name_taken`). Needs a key for all teams."""
    data = await read_body(request, TeamCreate)
    team = await service.create_team(
        session,
        tenant_id=principal.tenant_id,
        name=data.name,
        principal=principal,
        ip=client_ip(request),
    )
    return service.team_out(team)


@router.get("/teams/{team_id}", response_model=TeamOut, summary="Get a team")
async def get_team(team_id: str, principal: TeamsRead, session: Session) -> TeamOut:
    return await service.get_team(session, principal.tenant_id, team_id, principal)


@router.patch(
    "/teams/{team_id}",
    response_model=TeamOut,
    summary="Rename a team",
    openapi_extra=request_body(TeamUpdate),
    responses=CONFLICT_RESPONSE,
)
async def rename_team(
    request: Request, team_id: str, principal: TeamsWrite, session: Session
) -> TeamOut:
    data = await read_body(request, TeamUpdate)
    return await service.rename_team(
        session,
        tenant_id=principal.tenant_id,
        team_id=team_id,
        name=data.name,
        principal=principal,
        ip=client_ip(request),
    )


@router.delete(
    "/teams/{team_id}",
    response_model=TeamDeleted,
    summary="Delete a team",
    responses=CONFLICT_RESPONSE,
)
async def delete_team(
    request: Request,
    team_id: str,
    principal: TeamsWrite,
    session: Session,
    move_to: Annotated[
        str | None,
        Query(alias="moveTo", description="Team that takes over the leads and keys."),
    ] = None,
) -> TeamDeleted:
    """Deletes a team. One with live leads or live keys limited to it is refused (409
    `team_in_use`) unless `moveTo` names another team: its leads then move there, and its keys
    are limited to that team instead."""
    return await service.delete_team(
        session,
        tenant_id=principal.tenant_id,
        team_id=team_id,
        move_to=move_to,
        principal=principal,
        ip=client_ip(request),
    )
