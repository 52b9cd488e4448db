"""`leadgate tenant`: provisioning tenants and changing their settings."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.cli.common import JsonFlag, emit, run
from leadgate.models import Tenant
from leadgate.schemas import iso_utc
from leadgate.settings import Settings
from leadgate.tenants.repository import TenantRepository
from leadgate.tenants.service import provision_tenant
from leadgate.urls import command_path

app = typer.Typer(help="Tenants (companies / workspaces).")


def tenant_json(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "slug": tenant.slug,
        "name": tenant.name,
        "plan": tenant.plan,
        "createdAt": iso_utc(tenant.created_at),
    }


@app.command("create")
def tenant_create(
    slug: Annotated[str, typer.Argument(help="Subdomain-safe id: a-z, 0-9, '-'.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    plan: Annotated[str, typer.Option(help="Plan name.")] = "free",
    key_prefix: Annotated[
        str | None,
        typer.Option("--key-prefix", help="The tenant's own key prefix (snap, hcrm, …)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a tenant and its first key (every scope). The key is printed this once."""

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        provisioned = await provision_tenant(
            session, config, slug=slug, name=name, plan=plan, key_prefix=key_prefix
        )
        return {
            "tenant": tenant_json(provisioned.tenant),
            "apiKey": {"id": provisioned.first_key.key.id, "key": provisioned.first_key.plaintext},
        }

    result = run(work)
    emit(
        result,
        as_json,
        f"Created tenant {result['tenant']['slug']} ({result['tenant']['id']}).\n"
        f"API key ({result['apiKey']['id']}), shown only this once:\n\n"
        f"    {result['apiKey']['key']}\n",
    )


@app.command("list")
def tenant_list(as_json: JsonFlag = False) -> None:
    """List tenants."""

    async def work(session: AsyncSession, _config: Settings) -> list[dict[str, Any]]:
        return [tenant_json(t) for t in await TenantRepository(session).list()]

    tenants = run(work)
    lines = [f"{t['slug']:<24} {t['id']}  {t['name']}" for t in tenants] or ["(no tenants)"]
    emit(tenants, as_json, "\n".join(lines))


@app.command("demo")
def tenant_demo(slug: Annotated[str, typer.Option(help="Demo tenant slug.")] = "demo") -> None:
    """Provision a demo tenant on first run and print its key; later runs say it exists."""

    async def work(session: AsyncSession, config: Settings) -> str | None:
        if await TenantRepository(session).by_slug(slug) is not None:
            return None
        provisioned = await provision_tenant(session, config, slug=slug, name="Demo Company")
        return provisioned.first_key.plaintext

    key = run(work)
    if key is None:
        typer.echo(
            f"Tenant '{slug}' exists; its first key was printed when it was created. "
            f"New key: {command_path()} keys create --tenant {slug} --name NAME --scope leads:write"
        )
    else:
        typer.echo(f"Created tenant '{slug}'. Its API key, shown only this once:\n\n    {key}\n")


@app.command("update")
def tenant_update(
    slug: Annotated[str, typer.Argument(help="The tenant's slug.")],
    duplicate_policy: Annotated[
        str | None,
        typer.Option("--duplicate-policy", help="reject (409), allow, or merge duplicates."),
    ] = None,
    phone_region: Annotated[
        str | None, typer.Option("--phone-region", help="Default phone region, e.g. GB.")
    ] = None,
    key_prefix: Annotated[
        str | None,
        typer.Option(
            "--key-prefix",
            help="Prefix of keys issued from now on (snap, hcrm; '' for the deployment's). "
            "Keys issued earlier keep theirs and keep working.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a tenant's settings."""
    from leadgate.tenants.service import key_prefix_of, update_tenant

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        tenant = await update_tenant(
            session,
            slug,
            duplicate_policy=duplicate_policy,
            phone_region=phone_region,
            key_prefix=key_prefix,
        )
        return {
            **tenant_json(tenant),
            "duplicatePolicy": tenant.duplicate_policy,
            "phoneRegion": tenant.phone_region,
            "keyPrefix": key_prefix_of(tenant) or config.key_prefix,
        }

    result = run(work)
    emit(
        result,
        as_json,
        f"{result['slug']}: duplicate policy {result['duplicatePolicy']}, "
        f"phone region {result['phoneRegion'] or '(deployment default)'}, "
        f"key prefix {result['keyPrefix']}",
    )
