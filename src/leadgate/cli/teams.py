"""`leadgate teams`: a tenant's teams (sub-accounts that leads and keys can be limited to)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.api_keys.grantor import OPERATOR
from leadgate.cli.common import JsonFlag, emit, run, tenant_by_slug
from leadgate.settings import Settings

app = typer.Typer(help="Teams: sub-accounts of a tenant (leads and keys limited to them).")
TenantSlug = Annotated[str, typer.Option("--tenant", help="Tenant slug.")]


def _team_line(team: dict[str, Any]) -> str:
    return f"{team['id']}  {team['name']:<30} leads {team['leadCount']:<6} keys {team['keyCount']}"


@app.command("list")
def teams_list(tenant: TenantSlug, as_json: JsonFlag = False) -> None:
    """List a tenant's teams, with their live leads and keys."""
    from leadgate.teams.service import list_teams

    async def work(session: AsyncSession, _config: Settings) -> list[dict[str, Any]]:
        found = await tenant_by_slug(session, tenant)
        listed = await list_teams(session, found.id)
        return [t.model_dump(mode="json", by_alias=True) for t in listed.data]

    teams = run(work)
    emit(teams, as_json, "\n".join(_team_line(t) for t in teams) or "(no teams)")


@app.command("create")
def teams_create(
    name: Annotated[str, typer.Argument(help="Unique in the tenant.")],
    tenant: TenantSlug,
    as_json: JsonFlag = False,
) -> None:
    """Create a team."""
    from leadgate.teams.service import create_team, team_public

    async def work(session: AsyncSession, _config: Settings) -> dict[str, Any]:
        found = await tenant_by_slug(session, tenant)
        team = await create_team(session, tenant_id=found.id, name=name, actor=OPERATOR.actor)
        return team_public(team)

    team = run(work)
    emit(team, as_json, f"Created team {team['name']} ({team['id']}).")


@app.command("rename")
def teams_rename(
    team_id: Annotated[str, typer.Argument(help="team_…")],
    name: Annotated[str, typer.Argument(help="The new name.")],
    tenant: TenantSlug,
    as_json: JsonFlag = False,
) -> None:
    """Rename a team."""
    from leadgate.teams.service import rename_team

    async def work(session: AsyncSession, _config: Settings) -> dict[str, Any]:
        found = await tenant_by_slug(session, tenant)
        team = await rename_team(
            session, tenant_id=found.id, team_id=team_id, name=name, actor=OPERATOR.actor
        )
        return team.model_dump(mode="json", by_alias=True)

    team = run(work)
    emit(team, as_json, f"Renamed {team['id']} to {team['name']}.")


@app.command("delete")
def teams_delete(
    team_id: Annotated[str, typer.Argument(help="team_…")],
    tenant: TenantSlug,
    move_to: Annotated[
        str | None,
        typer.Option(
            "--move-to", help="Team that takes over its leads and keys (required if any)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Delete a team; one with leads or keys needs --move-to."""
    from leadgate.teams.service import delete_team

    async def work(session: AsyncSession, _config: Settings) -> dict[str, Any]:
        found = await tenant_by_slug(session, tenant)
        deleted = await delete_team(
            session, tenant_id=found.id, team_id=team_id, move_to=move_to, actor=OPERATOR.actor
        )
        return deleted.model_dump(mode="json", by_alias=True)

    result = run(work)
    moved = f"; {result['leadsMoved']} leads moved to {result['movedTo']}" if move_to else ""
    emit(result, as_json, f"Deleted team {result['id']}{moved}.")
