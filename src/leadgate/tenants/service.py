"""Provisioning tenants: the tenant row and its first, all-scopes key (shown once)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.api_keys.cache import invalidate_on_commit
from leadgate.api_keys.grantor import OPERATOR
from leadgate.api_keys.repository import ApiKeyRepository
from leadgate.api_keys.scopes import ALL_SCOPES
from leadgate.api_keys.service import IssuedKey, issue_api_key
from leadgate.db import is_unique_violation
from leadgate.errors import Conflict, InvalidRequest, NotFound
from leadgate.ids import new_id
from leadgate.models import Team, Tenant, utcnow
from leadgate.settings import Settings
from leadgate.tenants.repository import TeamRepository, TenantRepository

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
RESERVED_SLUGS = frozenset({"www", "api", "app", "console", "admin", "static", "docs", "mail"})
DUPLICATE_POLICIES = ("reject", "allow", "merge")


@dataclass(frozen=True, slots=True)
class ProvisionedTenant:
    tenant: Tenant
    first_key: IssuedKey


def validate_slug(slug: str) -> str:
    if len(slug) < 2 or not SLUG_RE.match(slug):
        raise InvalidRequest(
            "Invalid slug.",
            details=[
                {
                    "field": "slug",
                    "message": "2-40 characters of a-z, 0-9 and '-', not starting or ending "
                    "with '-'",
                    "type": "pattern",
                }
            ],
        )
    if slug in RESERVED_SLUGS:
        raise InvalidRequest(
            "Reserved slug.",
            details=[{"field": "slug", "message": f"{slug!r} is reserved", "type": "reserved"}],
        )
    return slug


async def provision_tenant(
    session: AsyncSession,
    settings: Settings,
    *,
    slug: str,
    name: str,
    plan: str = "free",
    created_by: dict[str, str] | None = None,
) -> ProvisionedTenant:
    tenant = await create_tenant(session, slug=slug, name=name, plan=plan)
    actor = created_by or OPERATOR.actor
    first_key = await issue_api_key(
        session,
        settings,
        tenant_id=tenant.id,
        name="Default key",
        scopes=list(ALL_SCOPES),
        created_by=actor,
    )
    return ProvisionedTenant(tenant=tenant, first_key=first_key)


async def create_tenant(
    session: AsyncSession, *, slug: str, name: str, plan: str = "free"
) -> Tenant:
    """The tenant row alone (the console's sign-up issues no key: people generate their own)."""
    slug = validate_slug(slug.strip().lower())
    if not name.strip():
        raise InvalidRequest(
            "A tenant needs a name.",
            details=[{"field": "name", "message": "must not be blank", "type": "missing"}],
        )
    repository = TenantRepository(session)
    if await repository.by_slug(slug) is not None:
        raise Conflict(f"The slug {slug!r} is taken.", code="tenant_slug_taken")
    tenant = Tenant(
        id=new_id("ten"),
        slug=slug,
        name=name.strip(),
        plan=plan,
        duplicate_policy="reject",
        settings={},
        created_at=utcnow(),
    )
    try:
        await repository.add(tenant)
    except sa.exc.IntegrityError as error:
        if is_unique_violation(error):
            raise Conflict(f"The slug {slug!r} is taken.", code="tenant_slug_taken") from None
        raise  # pragma: no cover
    return tenant


async def create_team(session: AsyncSession, *, tenant_id: str, name: str) -> Team:
    team = Team(id=new_id("team"), tenant_id=tenant_id, name=name.strip(), created_at=utcnow())
    try:
        await TeamRepository(session, tenant_id).add(team)
    except sa.exc.IntegrityError as error:
        if is_unique_violation(error):
            raise Conflict(f"A team named {name!r} already exists.") from None
        raise  # pragma: no cover
    return team


async def update_tenant(
    session: AsyncSession,
    slug: str,
    *,
    duplicate_policy: str | None = None,
    phone_region: str | None = None,
) -> Tenant:
    """Operator settings of a tenant: its duplicate policy and default phone region."""
    tenant = await TenantRepository(session).by_slug(slug)
    if tenant is None:
        raise NotFound(f"No tenant {slug!r}.")
    if duplicate_policy is not None:
        if duplicate_policy not in DUPLICATE_POLICIES:
            raise InvalidRequest(
                "Unknown duplicate policy.",
                details=[
                    {
                        "field": "duplicatePolicy",
                        "message": f"one of {', '.join(DUPLICATE_POLICIES)}",
                        "type": "enum",
                    }
                ],
            )
        tenant.duplicate_policy = duplicate_policy
    if phone_region is not None:
        region = phone_region.strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", region):
            raise InvalidRequest(
                "A phone region is a two-letter country code.",
                details=[{"field": "phoneRegion", "message": "e.g. US, GB", "type": "pattern"}],
            )
        tenant.phone_region = region
    await session.flush()  # so the CLI reports what the database now holds
    # Verified keys are cached with their tenant's policy and region: drop them everywhere.
    for key in await ApiKeyRepository(session, tenant.id).list():
        invalidate_on_commit(session, key.id)
    return tenant
