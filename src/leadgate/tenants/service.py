"""Provisioning tenants: the tenant row and its first, all-scopes key (shown once)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import crypto
from leadgate.api_keys.cache import invalidate_on_commit
from leadgate.api_keys.grantor import OPERATOR
from leadgate.api_keys.repository import ApiKeyRepository
from leadgate.api_keys.scopes import ALL_SCOPES
from leadgate.api_keys.service import TENANT_PREFIX_SETTING, IssuedKey, issue_api_key
from leadgate.db import is_unique_violation
from leadgate.errors import Conflict, InvalidRequest, NotFound
from leadgate.ids import new_id
from leadgate.models import Tenant, utcnow
from leadgate.settings import Settings
from leadgate.teams.service import create_team
from leadgate.tenants.repository import TenantRepository

__all__ = ["create_team", "provision_tenant", "update_tenant"]

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
    key_prefix: str | None = None,
) -> ProvisionedTenant:
    tenant = await create_tenant(session, slug=slug, name=name, plan=plan)
    if key_prefix is not None:
        set_key_prefix(tenant, key_prefix)
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


async def update_tenant(
    session: AsyncSession,
    slug: str,
    *,
    duplicate_policy: str | None = None,
    phone_region: str | None = None,
    key_prefix: str | None = None,
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
    if key_prefix is not None:
        set_key_prefix(tenant, key_prefix)
    await session.flush()  # so the CLI reports what the database now holds
    # Verified keys are cached with their tenant's policy and region: drop them everywhere.
    for key in await ApiKeyRepository(session, tenant.id).list():
        invalidate_on_commit(session, key.id)
    return tenant


def set_key_prefix(tenant: Tenant, prefix: str) -> None:
    """The tenant's own prefix for keys issued from now on; "" goes back to the deployment's.
    Keys already issued keep their prefix and keep working."""
    prefix = prefix.strip().lower()
    if prefix and not crypto.is_valid_prefix(prefix):
        raise InvalidRequest(
            "Invalid key prefix.",
            details=[
                {
                    "field": "keyPrefix",
                    "message": "2-12 characters of a-z and 0-9, starting with a letter",
                    "type": "pattern",
                }
            ],
        )
    settings = {k: v for k, v in tenant.settings.items() if k != TENANT_PREFIX_SETTING}
    if prefix:
        settings[TENANT_PREFIX_SETTING] = prefix
    tenant.settings = settings  # a new dict: the JSON column sees the change


def key_prefix_of(tenant: Tenant) -> str | None:
    value = tenant.settings.get(TENANT_PREFIX_SETTING)
    return value if isinstance(value, str) and value else None
