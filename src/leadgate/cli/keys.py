"""`leadgate keys`: issuing, showing, changing, rolling and revoking API keys."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.api_keys.grantor import OPERATOR
from leadgate.api_keys.scopes import ALL_SCOPES, ALL_TEAMS
from leadgate.api_keys.service import (
    KeyChanges,
    get_api_key,
    issue_api_key,
    key_public,
    list_api_keys,
    revoke_api_key,
    roll_api_key,
    update_api_key,
)
from leadgate.cli.common import JsonFlag, TenantOption, emit, fail, run, tenant_by_slug
from leadgate.models import ApiKey
from leadgate.settings import Settings

app = typer.Typer(help="API keys.")


@app.command("create")
def keys_create(
    tenant: TenantOption,
    name: Annotated[str, typer.Option("--name", help="Unique name in the tenant.")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help=f"Repeat; one of {', '.join(ALL_SCOPES)}.")
    ] = None,
    expires_in_days: Annotated[
        int | None, typer.Option("--expires-in-days", help="30, 60, 90, 180 or 365.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an API key; the key is printed this once."""
    if not scope:
        fail("give at least one --scope")

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        found = await tenant_by_slug(session, tenant)
        issued = await issue_api_key(
            session,
            config,
            tenant_id=found.id,
            name=name,
            scopes=list(scope),
            expiration_in_days=expires_in_days,
            created_by=OPERATOR.actor,
        )
        return {**key_public(issued.key), "apiKey": issued.plaintext}

    result = run(work)
    emit(
        result,
        as_json,
        f"Created key {result['id']} ({result['name']}), shown only this once:\n\n"
        f"    {result['apiKey']}\n",
    )


@app.command("list")
def keys_list(
    tenant: TenantOption,
    as_json: JsonFlag = False,
) -> None:
    """List a tenant's keys (never their secrets)."""

    async def work(session: AsyncSession, _config: Settings) -> list[dict[str, Any]]:
        found = await tenant_by_slug(session, tenant)
        return [key_public(k) for k in await list_api_keys(session, found.id)]

    keys = run(work)
    lines = [
        f"{k['id']}  {k['hint']}…  {k['name']:<24} "
        f"{'revoked' if k['revokedAt'] else 'active':<8} {' '.join(k['permissions'])}"
        for k in keys
    ]
    emit(keys, as_json, "\n".join(lines) or "(no keys)")


@app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_…).")]) -> None:
    """Revoke a key at once."""

    async def work(session: AsyncSession, _config: Settings) -> ApiKey:
        tenant_id = await _key_tenant(session, key_id)
        return await revoke_api_key(session, tenant_id=tenant_id, key_id=key_id, grantor=OPERATOR)

    key = run(work)
    typer.echo(f"Revoked {key.id} ({key.name}).")


async def _key_tenant(session: AsyncSession, key_id: str) -> str:
    from leadgate.api_keys.repository import KeyOwnerRepository

    tenant_id = await KeyOwnerRepository(session).tenant_of(key_id)
    if tenant_id is None:
        fail(f"no API key {key_id}")
    return tenant_id


def _key_text(data: dict[str, Any]) -> str:
    access = data["accountsAccess"]
    teams = "all teams" if access["scope"] == ALL_TEAMS else ", ".join(access["ids"])
    lines = [
        f"{data['id']}  {data['name']}  ({data['status']})",
        f"  hint:        {data['hint']}…",
        f"  permissions: {' '.join(data['permissions'])}",
        f"  teams:       {teams}",
        f"  expires:     {data['expirationDate'] or 'never'}",
        f"  rate limit:  {data['rateLimitPerMinute'] or 'default'}/min"
        f", monthly quota: {data['monthlyQuota'] or 'none'}",
        f"  mTLS:        {'enforced' if data['enforceMtls'] else 'off'}",
        f"  last used:   {data['lastUsedAt'] or 'never'} from {data['lastUsedIp'] or '-'}",
        f"  created by:  {data['createdBy'].get('name') or data['createdBy'].get('id')}",
    ]
    return "\n".join(lines)


@app.command("show")
def keys_show(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…).")],
    as_json: JsonFlag = False,
) -> None:
    """Show a key (never its secret)."""

    async def work(session: AsyncSession, _config: Settings) -> dict[str, Any]:
        tenant_id = await _key_tenant(session, key_id)
        return key_public(await get_api_key(session, tenant_id, key_id))

    data = run(work)
    emit(data, as_json, _key_text(data))


@app.command("roll")
def keys_roll(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…).")],
    grace_minutes: Annotated[
        int,
        typer.Option(
            "--grace-minutes", min=0, max=10080, help="How long the old secret keeps working."
        ),
    ] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Give a key a new secret (printed this once); the old one works for the grace period."""

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        tenant_id = await _key_tenant(session, key_id)
        issued = await roll_api_key(
            session,
            config,
            tenant_id=tenant_id,
            key_id=key_id,
            grace_period_minutes=grace_minutes,
            grantor=OPERATOR,
        )
        return {**key_public(issued.key), "apiKey": issued.plaintext}

    result = run(work)
    ends = "at once" if grace_minutes == 0 else f"in {grace_minutes} minutes"
    emit(
        result,
        as_json,
        f"Rolled {result['id']} ({result['name']}). The old secret stops working {ends}.\n"
        f"New key, shown only this once:\n\n    {result['apiKey']}\n",
    )


@app.command("update")
def keys_update(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…).")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="Repeat; replaces the key's permissions."),
    ] = None,
    rate_limit: Annotated[
        int | None, typer.Option("--rate-limit", min=1, help="Requests per minute.")
    ] = None,
    monthly_quota: Annotated[
        int | None, typer.Option("--monthly-quota", min=1, help="Requests per month.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a key's permissions, rate limit, quota or name; effective without reissuing."""
    fields = {"rate_limit_per_minute"} if rate_limit is not None else set()
    if monthly_quota is not None:
        fields.add("monthly_quota")
    if not (scope or fields or name):
        fail("give --scope, --rate-limit, --monthly-quota or --name")

    async def work(session: AsyncSession, _config: Settings) -> dict[str, Any]:
        tenant_id = await _key_tenant(session, key_id)
        changes = KeyChanges(
            name=name,
            scopes=list(scope) if scope else None,
            rate_limit_per_minute=rate_limit,
            monthly_quota=monthly_quota,
            fields=frozenset(fields),
        )
        key = await update_api_key(
            session, tenant_id=tenant_id, key_id=key_id, changes=changes, grantor=OPERATOR
        )
        return key_public(key)

    data = run(work)
    emit(data, as_json, "Updated.\n" + _key_text(data))
