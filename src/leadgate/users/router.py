"""HTTP routes of the workspace's people (Lead Fuel's `users:read`)."""

from __future__ import annotations

from fastapi import APIRouter

from leadgate.db import Session
from leadgate.responses import ERROR_RESPONSES
from leadgate.users import service
from leadgate.users.auth import UsersRead
from leadgate.users.schemas import MemberList, MemberOut

router = APIRouter(tags=["users"], responses=ERROR_RESPONSES)


@router.get("/users", response_model=MemberList, summary="List the workspace's members")
async def list_users(principal: UsersRead, session: Session) -> MemberList:
    """People who can sign in to this tenant's console, with their roles, oldest member first.
    Invitations not yet accepted are not listed (their e-mail addresses stay private)."""
    members = await service.list_members(session, principal.tenant_id)
    return MemberList(
        data=[
            MemberOut(
                id=user.id,
                name=user.name,
                email=user.email,
                role=membership.role,
                member_since=membership.created_at,
            )
            for membership, user in members
        ]
    )
