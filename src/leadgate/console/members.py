"""The Team page: a workspace's members, their roles, and invitation links."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from leadgate.console.auth import InTenant, Manager, check_csrf
from leadgate.console.forms import InviteForm, RoleForm
from leadgate.console.rendering import page_errors, redirect, render
from leadgate.db import Session
from leadgate.models import utcnow
from leadgate.users import service as users
from leadgate.users.repository import InvitationRepository, MemberRepository
from leadgate.web import client_ip, get_settings

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])


async def members_context(session: Session, current: InTenant) -> dict[str, Any]:
    members = await MemberRepository(session, current.tenant.id).list()
    invitations = (
        await InvitationRepository(session, current.tenant.id).pending(utcnow())
        if current.role in users.MANAGER_ROLES
        else []
    )
    return {"members": members, "invitations": invitations, "roles": users.ROLES}


@router.get("/team", include_in_schema=False)
async def members_page(request: Request, session: Session, current: InTenant) -> Response:
    return render(request, "console/team.html", await members_context(session, current))


@router.post("/team/invitations", include_in_schema=False)
async def invite(request: Request, session: Session, current: Manager) -> Response:
    form = InviteForm.read(await request.form())
    with page_errors():
        invitation, token = await users.create_invitation(
            session,
            get_settings(request),
            tenant_id=current.tenant.id,
            inviter=current.user,
            inviter_role=current.role,
            role=form.role,
            ip=client_ip(request),
        )
    link = str(request.base_url).rstrip("/") + f"/console/invitations/{token}"
    context = await members_context(session, current)
    return render(
        request,
        "console/team.html",
        {**context, "invite_link": link, "invite_role": invitation.role},
        status=201,
    )


@router.post("/team/invitations/{invitation_id}/cancel", include_in_schema=False)
async def cancel_invitation(
    request: Request, invitation_id: str, session: Session, current: Manager
) -> Response:
    with page_errors():
        await users.cancel_invitation(
            session,
            tenant_id=current.tenant.id,
            actor=current.user,
            actor_role=current.role,
            invitation_id=invitation_id,
            ip=client_ip(request),
        )
    return redirect("/console/team")


@router.post("/team/members/{membership_id}/role", include_in_schema=False)
async def change_role(
    request: Request, membership_id: str, session: Session, current: Manager
) -> Response:
    form = RoleForm.read(await request.form())
    with page_errors():
        await users.change_role(
            session,
            tenant_id=current.tenant.id,
            actor=current.user,
            actor_role=current.role,
            membership_id=membership_id,
            role=form.role,
            ip=client_ip(request),
        )
    return redirect("/console/team")


@router.post("/team/members/{membership_id}/remove", include_in_schema=False)
async def remove_member(
    request: Request, membership_id: str, session: Session, current: Manager
) -> Response:
    with page_errors():
        await users.remove_member(
            session,
            tenant_id=current.tenant.id,
            actor=current.user,
            actor_role=current.role,
            membership_id=membership_id,
            ip=client_ip(request),
        )
    return redirect("/console/team")
