"""The console's Teams page: every member sees the workspace's teams, with their leads and keys;
owners and admins create, rename and delete them (through `teams.service`, like the API)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from leadgate.console.auth import InTenant, Manager, check_csrf
from leadgate.console.forms import Form
from leadgate.console.rendering import page_error, redirect, refuse, render
from leadgate.console.service import member_actor
from leadgate.db import Session
from leadgate.errors import ApiError
from leadgate.teams import service as teams
from leadgate.web import client_ip

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])


class TeamForm(Form):
    name: str = ""


class DeleteTeamForm(Form):
    move_to: str = ""


async def _context(session: Session, current: InTenant) -> dict[str, Any]:
    listed = await teams.list_teams(session, current.tenant.id)
    return {"teams": listed.data, "form": TeamForm(), "manager": current.visitor.is_manager}


@router.get("/teams", include_in_schema=False)
async def teams_page(request: Request, session: Session, current: InTenant) -> Response:
    return render(request, "console/teams.html", await _context(session, current))


@router.post("/teams", include_in_schema=False)
async def create_team(request: Request, session: Session, current: Manager) -> Response:
    form = TeamForm.read(await request.form())
    try:
        await teams.create_team(
            session,
            tenant_id=current.tenant.id,
            name=form.name,
            actor=member_actor(current.user, current.role),
            ip=client_ip(request),
        )
    except ApiError as error:
        context = {**await _context(session, current), "form": form}
        raise refuse(request, error, "console/teams.html", context) from None
    return redirect("/console/teams")


@router.post("/teams/{team_id}", include_in_schema=False)
async def rename_team(
    request: Request, team_id: str, session: Session, current: Manager
) -> Response:
    form = TeamForm.read(await request.form())
    try:
        await teams.rename_team(
            session,
            tenant_id=current.tenant.id,
            team_id=team_id,
            name=form.name,
            actor=member_actor(current.user, current.role),
            ip=client_ip(request),
        )
    except ApiError as error:
        if error.status_code == 404:
            raise page_error(error) from None
        raise refuse(
            request, error, "console/teams.html", await _context(session, current)
        ) from None
    return redirect("/console/teams")


@router.post("/teams/{team_id}/delete", include_in_schema=False)
async def delete_team(
    request: Request, team_id: str, session: Session, current: Manager
) -> Response:
    form = DeleteTeamForm.read(await request.form())
    try:
        await teams.delete_team(
            session,
            tenant_id=current.tenant.id,
            team_id=team_id,
            move_to=form.move_to or None,
            actor=member_actor(current.user, current.role),
            ip=client_ip(request),
        )
    except ApiError as error:
        if error.status_code == 404:
            raise page_error(error) from None
        raise refuse(
            request, error, "console/teams.html", await _context(session, current)
        ) from None
    return redirect("/console/teams")
