"""What every area of the `leadgate` command shares: settings, the transaction edge around a
command's work, errors and output."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.db import Database
from leadgate.errors import ApiError
from leadgate.models import Tenant
from leadgate.settings import Settings
from leadgate.tenants.repository import TenantRepository

T = TypeVar("T")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant slug.")]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return Settings()
    except ValueError as error:
        fail(f"invalid settings: {error}")


@asynccontextmanager
async def unit_of_work(config: Settings) -> AsyncIterator[AsyncSession]:
    """The CLI's transaction edge: commit when the command's work succeeds, then tell running
    servers which cached keys the commit changed (the CLI has no key cache of its own)."""
    from leadgate.api_keys.cache import notify_other_processes, pending_invalidations

    database = Database(config)
    try:
        async with database.sessionmaker() as session:
            async with session.begin():
                yield session
                changed = pending_invalidations(session)
            await notify_other_processes(config, changed)
    finally:
        await database.dispose()


def run(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    config = settings()

    async def main() -> T:
        async with unit_of_work(config) as session:
            return await work(session, config)

    try:
        return asyncio.run(main())
    except ApiError as error:
        fail(
            error.message
            + "".join(f"\n  {d.get('field')}: {d.get('message')}" for d in error.details)
        )


def emit(data: Any, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, indent=2) if as_json else text)


async def tenant_by_slug(session: AsyncSession, slug: str) -> Tenant:
    tenant = await TenantRepository(session).by_slug(slug)
    if tenant is None:
        fail(f"no tenant {slug!r}")
    return tenant
