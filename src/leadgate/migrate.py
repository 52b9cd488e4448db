"""Running Alembic from leadgate's own code (CLI `db upgrade`, tests), not an alembic.ini."""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from leadgate.settings import Settings


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("leadgate") / "migrations"))
    config.set_main_option("sqlalchemy.url", settings.resolved_database_url)
    config.set_main_option(
        "file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Migrates up to `revision`; safe to run from several processes at once (they take turns:
    an advisory lock on PostgreSQL, see migrations/env.py, a file lock next to SQLite's file)."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    with _sqlite_lock(settings):
        command.upgrade(alembic_config(settings), revision)


@contextmanager
def _sqlite_lock(settings: Settings) -> Iterator[None]:
    database = make_url(settings.resolved_database_url).database if settings.is_sqlite else None
    if not database or database == ":memory:":
        yield
        return
    with Path(f"{database}.migrate-lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def downgrade(settings: Settings, revision: str) -> None:
    with _sqlite_lock(settings):
        command.downgrade(alembic_config(settings), revision)


def current_revision_of(settings: Settings) -> str | None:
    async def read() -> str | None:
        engine = create_async_engine(settings.resolved_database_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(current_revision)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def head_revision(settings: Settings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
