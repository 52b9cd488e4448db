"""Rules contacts, deals and activities share: who acts, who may own a record."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.auth.principal import Principal
from leadgate.contacts.repository import MemberRepository
from leadgate.errors import Forbidden, InvalidRequest
from leadgate.tenants.repository import TeamRepository


def actor_of(principal: Principal) -> dict[str, Any]:
    """The caller as it appears in `createdBy`, history and the audit log: the API key, or the
    automation or console user a worker or page acts for (`Principal.extra["actor"]`)."""
    actor = principal.extra.get("actor")
    return dict(actor) if actor else principal.actor


async def check_owner(session: AsyncSession, principal: Principal, owner_id: str | None) -> None:
    """An owner is a member of the tenant (a console user)."""
    if owner_id is None:
        return
    if not await MemberRepository(session, principal.tenant_id).is_member(owner_id):
        raise InvalidRequest(
            "Unknown owner.",
            details=[{"field": "ownerId", "message": f"no member {owner_id}", "type": "not_found"}],
        )


async def check_team(session: AsyncSession, principal: Principal, team_id: str | None) -> None:
    """A record's team must exist and be one of the key's; a team-scoped key writes only
    records of its teams."""
    if team_id is None:
        if principal.team_scope != "all-accounts":
            raise Forbidden("This API key may only write records of its teams; name a teamId.")
        return
    if not principal.can_use_team(team_id):
        raise Forbidden(f"This API key has no access to team {team_id}.")
    if team_id not in await TeamRepository(session, principal.tenant_id).existing_ids([team_id]):
        raise InvalidRequest(
            "Unknown team.",
            details=[{"field": "teamId", "message": f"no team {team_id}", "type": "not_found"}],
        )
