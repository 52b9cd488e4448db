"""Plain factory functions: tenants, keys and leads, made through leadgate's own services."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.api_keys.service import issue_api_key
from leadgate.models import Base
from leadgate.tenants.service import create_team, provision_tenant
from tests.conftest import Backend

ACTOR = {"type": "system", "id": "tests", "name": "tests"}


@dataclass(frozen=True)
class TenantInfo:
    id: str
    slug: str
    key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


@dataclass(frozen=True)
class KeyInfo:
    id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


def unique_slug(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_tenant(backend: Backend, slug: str | None = None, **settings: Any) -> TenantInfo:
    slug = slug or unique_slug()

    async def work(session: AsyncSession) -> TenantInfo:
        provisioned = await provision_tenant(
            session, backend.settings, slug=slug, name=slug.title()
        )
        for name, value in settings.items():
            setattr(provisioned.tenant, name, value)
        return TenantInfo(
            id=provisioned.tenant.id,
            slug=slug,
            key=provisioned.first_key.plaintext,
            key_id=provisioned.first_key.key.id,
        )

    return backend.transaction(work)


def create_api_key(
    backend: Backend, tenant: TenantInfo, scopes: list[str], **options: Any
) -> KeyInfo:
    async def work(session: AsyncSession) -> KeyInfo:
        issued = await issue_api_key(
            session,
            backend.settings,
            tenant_id=tenant.id,
            name=options.pop("name", f"key-{uuid.uuid4().hex[:8]}"),
            scopes=scopes,
            created_by=ACTOR,
            **options,
        )
        return KeyInfo(id=issued.key.id, key=issued.plaintext)

    return backend.transaction(work)


def create_team_for(backend: Backend, tenant: TenantInfo, name: str) -> str:
    async def work(session: AsyncSession) -> str:
        return (await create_team(session, tenant_id=tenant.id, name=name)).id

    return backend.transaction(work)


def update_row(backend: Backend, model: type[Base], row_id: str, **values: Any) -> None:
    async def work(session: AsyncSession) -> None:
        await session.execute(sa.update(model).where(model.id == row_id).values(**values))  # type: ignore[attr-defined]

    backend.transaction(work)


def count_rows(backend: Backend, model: type[Base], tenant_id: str, **filters: Any) -> int:
    async def work(session: AsyncSession) -> int:
        statement = sa.select(sa.func.count()).select_from(model)
        statement = statement.where(model.tenant_id == tenant_id)  # type: ignore[attr-defined]
        for name, value in filters.items():
            statement = statement.where(getattr(model, name) == value)
        return int((await session.execute(statement)).scalar_one())

    return backend.transaction(work)


def fetch_rows(backend: Backend, model: type[Base], tenant_id: str) -> list[Any]:
    async def work(session: AsyncSession) -> list[Any]:
        statement = sa.select(model).where(model.tenant_id == tenant_id)  # type: ignore[attr-defined]
        return list((await session.execute(statement)).scalars().all())

    return backend.transaction(work)


def seed_lead(**overrides: Any) -> dict[str, Any]:
    """The SnapCRM seed's example lead (with the e-mail the copies scrubbed filled back in)."""
    lead = {
        "firstName": "Jane",
        "lastName": "Smith",
        "email": "jane@example.com",
        "phone": "+1 555-123-4567",
        "company": "Acme Inc",
        "website": "https://acme.com",
        "source": "website",
        "address": "123 Main St",
        "city": "New York",
        "state": "NY",
        "zipcode": "10001",
    }
    lead.update(overrides)
    return lead


def unique_lead(**overrides: Any) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:10]
    return seed_lead(**{"firstName": f"Jane{tag}", "email": f"jane.{tag}@example.com", **overrides})


def eventually_status(
    call: Callable[[], httpx.Response], status: int, within: float = 3.0
) -> httpx.Response | None:
    """Repeats `call` until it answers `status`; None if it never did within `within` seconds.

    For changes that reach a server's key cache asynchronously (the 1 s bound in
    docs/api-keys.md). The margin over 1 s absorbs the calls themselves on a loaded machine; the
    bound itself is asserted strictly in tests/test_revocation_processes.py.
    """
    deadline = time.monotonic() + within
    while True:
        response = call()
        if response.status_code == status:
            return response
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)
