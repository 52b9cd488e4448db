"""The rules of teams: one name per tenant; what a team-limited caller may see and do; what
deleting a team does to its leads and keys. Never commits.

Deleting a team that still has live leads or live keys limited to it is refused (409
`team_in_use`) unless the caller names another team to move them to (`moveTo`): the leads then
belong to that team and the keys are limited to it instead. Nothing is left pointing at a team
that is gone, and no key silently widens to every team.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import audit
from leadgate.api_keys.cache import invalidate_on_commit
from leadgate.api_keys.scopes import ALL_TEAMS
from leadgate.auth.principal import Principal
from leadgate.db import is_unique_violation
from leadgate.errors import Conflict, Forbidden, InvalidRequest, NotFound
from leadgate.events.service import emit
from leadgate.ids import new_id
from leadgate.models import Team, utcnow
from leadgate.teams.repository import TeamRepository
from leadgate.teams.schemas import TeamDeleted, TeamList, TeamOut

SYSTEM_ACTOR = {"type": "system", "id": "cli", "name": "leadgate CLI"}


class TeamNameTaken(Conflict):
    code = "team_name_taken"


class TeamInUse(Conflict):
    code = "team_in_use"


def _taken(name: str) -> TeamNameTaken:
    return TeamNameTaken(
        f"A team named {name!r} already exists.",
        details=[{"field": "name", "message": "already used in this tenant", "type": "duplicate"}],
    )


def team_public(team: Team, lead_count: int = 0, key_count: int = 0) -> dict[str, Any]:
    """A team's JSON as the API shows it, for responses and events."""
    return team_out(team, lead_count, key_count).model_dump(mode="json", by_alias=True)


def team_out(team: Team, lead_count: int = 0, key_count: int = 0) -> TeamOut:
    return TeamOut(
        id=team.id,
        name=team.name,
        created_at=team.created_at,
        lead_count=lead_count,
        key_count=key_count,
    )


def _visible(principal: Principal | None) -> list[str] | None:
    """The teams a caller may see: its own if it is limited to teams, else all (None)."""
    if principal is None or principal.team_scope == ALL_TEAMS:
        return None
    return list(principal.team_ids)


def _check_manager(principal: Principal | None) -> None:
    if principal is not None and principal.team_scope != ALL_TEAMS:
        raise Forbidden("Only a key for all teams may create, rename or delete teams.")


async def _key_counts(repository: TeamRepository) -> Counter[str]:
    counts: Counter[str] = Counter()
    for key in await repository.team_limited_keys():
        if key.revoked_at is None:
            counts.update(set(key.team_ids))
    return counts


async def list_teams(
    session: AsyncSession, tenant_id: str, principal: Principal | None = None
) -> TeamList:
    repository = TeamRepository(session, tenant_id)
    teams = await repository.list(only=_visible(principal))
    leads = await repository.lead_counts()
    keys = await _key_counts(repository)
    return TeamList(data=[team_out(t, leads.get(t.id, 0), keys[t.id]) for t in teams])


async def get_team(
    session: AsyncSession, tenant_id: str, team_id: str, principal: Principal | None = None
) -> TeamOut:
    repository = TeamRepository(session, tenant_id)
    team = await _existing(repository, team_id, principal)
    leads = await repository.lead_counts()
    keys = await _key_counts(repository)
    return team_out(team, leads.get(team.id, 0), keys[team.id])


async def _existing(repository: TeamRepository, team_id: str, principal: Principal | None) -> Team:
    visible = _visible(principal)
    team = await repository.get(team_id)
    # A team outside the caller's is reported as absent, not forbidden: no oracle.
    if team is None or (visible is not None and team.id not in visible):
        raise NotFound(f"No team {team_id}.")
    return team


async def create_team(
    session: AsyncSession,
    *,
    tenant_id: str,
    name: str,
    principal: Principal | None = None,
    actor: dict[str, Any] | None = None,
    ip: str | None = None,
) -> Team:
    _check_manager(principal)
    name = " ".join(name.split())
    if not name:
        raise InvalidRequest(
            "A team needs a name.",
            details=[{"field": "name", "message": "must not be blank", "type": "missing"}],
        )
    repository = TeamRepository(session, tenant_id)
    team = Team(id=new_id("team"), tenant_id=tenant_id, name=name, created_at=utcnow())
    try:
        # A savepoint: a name taken concurrently leaves the request's transaction usable.
        async with session.begin_nested():
            await repository.add(team)
    except sa.exc.IntegrityError as error:
        if is_unique_violation(error):
            raise _taken(name) from None
        raise  # pragma: no cover
    actor = actor or (principal.actor if principal else SYSTEM_ACTOR)
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="team.created",
        actor=actor,
        target_type="team",
        target_id=team.id,
        after={"name": team.name},
        ip=ip,
    )
    await emit(session, tenant_id, "team.created", team_public(team))
    return team


async def rename_team(
    session: AsyncSession,
    *,
    tenant_id: str,
    team_id: str,
    name: str,
    principal: Principal | None = None,
    actor: dict[str, Any] | None = None,
    ip: str | None = None,
) -> TeamOut:
    _check_manager(principal)
    repository = TeamRepository(session, tenant_id)
    team = await _existing(repository, team_id, principal)
    name = " ".join(name.split())
    if not name:
        raise InvalidRequest(
            "A team needs a name.",
            details=[{"field": "name", "message": "must not be blank", "type": "missing"}],
        )
    if name != team.name:
        before = team.name
        team.name = name
        try:
            async with session.begin_nested():
                await session.flush()
        except sa.exc.IntegrityError as error:
            if is_unique_violation(error):
                raise _taken(name) from None
            raise  # pragma: no cover
        await audit.record(
            session,
            tenant_id=tenant_id,
            action="team.renamed",
            actor=actor or (principal.actor if principal else SYSTEM_ACTOR),
            target_type="team",
            target_id=team.id,
            before={"name": before},
            after={"name": name},
            ip=ip,
        )
        await emit(
            session, tenant_id, "team.renamed", {**team_public(team), "previousName": before}
        )
    return await get_team(session, tenant_id, team.id)


async def delete_team(
    session: AsyncSession,
    *,
    tenant_id: str,
    team_id: str,
    move_to: str | None = None,
    principal: Principal | None = None,
    actor: dict[str, Any] | None = None,
    ip: str | None = None,
) -> TeamDeleted:
    """Deletes a team; its live leads and keys must be moved to `move_to` (see the module)."""
    _check_manager(principal)
    repository = TeamRepository(session, tenant_id)
    team = await _existing(repository, team_id, principal)
    if move_to is not None and (move_to == team.id or await repository.get(move_to) is None):
        raise InvalidRequest(
            "Move the team's leads and keys to another existing team.",
            details=[{"field": "moveTo", "message": f"no other team {move_to}", "type": "value"}],
        )
    leads = (await repository.lead_counts()).get(team.id, 0)
    keys = [k for k in await repository.team_limited_keys() if team.id in k.team_ids]
    live_keys = sum(1 for k in keys if k.revoked_at is None)
    if move_to is None and (leads or live_keys):
        raise TeamInUse(
            f"The team {team.name!r} still has {leads} lead(s) and {live_keys} key(s); "
            "move them to another team (moveTo) first.",
            details=[
                {"field": "moveTo", "message": f"{leads} leads, {live_keys} keys", "type": "in_use"}
            ],
        )
    moved = await repository.move_leads(team.id, move_to)
    for key in keys:
        remaining = [t for t in key.team_ids if t != team.id]
        if move_to is not None and key.revoked_at is None and move_to not in remaining:
            remaining.append(move_to)
        key.team_ids = remaining
        key.updated_at = utcnow()
        invalidate_on_commit(session, key.id)
    snapshot = team_public(team, leads, live_keys)
    await repository.delete(team.id)
    result = TeamDeleted(
        id=team.id, moved_to=move_to, leads_moved=moved if move_to else 0, keys_changed=live_keys
    )
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="team.deleted",
        actor=actor or (principal.actor if principal else SYSTEM_ACTOR),
        target_type="team",
        target_id=team.id,
        before={"name": team.name},
        after={"movedTo": move_to, "leadsMoved": result.leads_moved, "keysChanged": live_keys},
        ip=ip,
    )
    await emit(
        session,
        tenant_id,
        "team.deleted",
        {**snapshot, "movedTo": move_to, "leadsMoved": result.leads_moved},
    )
    return result
