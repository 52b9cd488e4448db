"""Plain factory functions: tenants, keys and leads, made through leadgate's own services."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, TypeVar

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.api_keys.service import issue_api_key
from leadgate.models import Base
from leadgate.tenants.service import create_team, provision_tenant
from tests.conftest import Backend

ACTOR = {"type": "system", "id": "tests", "name": "tests"}
Row = TypeVar("Row", bound=Base)


class RequestParts(TypedDict, total=False):
    """Keyword arguments of an httpx request: where a test puts the key, and the body."""

    headers: dict[str, str]
    params: dict[str, str]
    json: dict[str, Any]


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
        await session.execute(
            sa.update(model).where(model.__table__.c.id == row_id).values(**values)
        )

    backend.transaction(work)


def count_rows(backend: Backend, model: type[Base], tenant_id: str, **filters: Any) -> int:
    async def work(session: AsyncSession) -> int:
        statement = sa.select(sa.func.count()).select_from(model)
        statement = statement.where(model.__table__.c.tenant_id == tenant_id)
        for name, value in filters.items():
            statement = statement.where(getattr(model, name) == value)
        return int((await session.execute(statement)).scalar_one())

    return backend.transaction(work)


def fetch_rows(backend: Backend, model: type[Row], tenant_id: str) -> list[Row]:
    async def work(session: AsyncSession) -> list[Row]:
        statement = sa.select(model).where(model.__table__.c.tenant_id == tenant_id)
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


def complete_lines(log: Path) -> list[str]:
    """The log's lines that are written whole: the servers may be writing the last one. Split
    on newlines only: a logged path may hold U+2028 or U+0085, which `splitlines` splits on."""
    text = log.read_text()
    return [line for line in text[: text.rfind("\n")].split("\n") if line]


def log_entries(log: Path) -> list[dict[str, Any]]:
    """The JSON lines of the test servers' log (other lines, if any, left out)."""
    return [json.loads(line) for line in complete_lines(log) if line.startswith("{")]


def access_line(log: Path, request_id: str, timeout: float = 30) -> dict[str, Any]:
    """The access-log line of request `request_id` in the test servers' log, once written: it is
    written as the request ends, after its answer has left (or its client has)."""
    deadline = time.monotonic() + timeout
    while True:
        for line in complete_lines(log):
            if request_id in line and line.startswith("{"):
                entry: dict[str, Any] = json.loads(line)
                if entry.get("event") == "request" and entry.get("request_id") == request_id:
                    return entry
        assert time.monotonic() < deadline, f"no access-log line for {request_id}"
        time.sleep(0.05)


def eventually_status(
    call: Callable[[], httpx.Response], status: int, within: float = 30.0
) -> httpx.Response | None:
    """Repeats `call` until it answers `status`; None if it never did within `within` seconds.

    For changes that reach a server's key cache asynchronously (about 1 s, docs/api-keys.md).
    The bound is far above that: it only ends a test that would otherwise wait forever, since a
    loaded machine can take seconds where an idle one takes milliseconds.
    """
    deadline = time.monotonic() + within
    while True:
        response = call()
        if response.status_code == status:
            return response
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)
