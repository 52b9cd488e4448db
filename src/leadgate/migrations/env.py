"""Alembic environment: runs leadgate's migrations on the configured async engine.

On PostgreSQL the migration transaction first takes a transaction-level advisory lock, so two
`leadgate db upgrade` processes started at once run one after the other: the second reads the
version only after the first has committed, and finds nothing left to do. (SQLite: see
`leadgate.migrate.upgrade`, which holds a file lock.)
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from leadgate.models import Base

config = context.config
target_metadata = Base.metadata
# pg_advisory_xact_lock key for migrations: any fixed 64-bit number ("leadgate" in ASCII).
MIGRATION_LOCK_KEY = 0x6C65616467617465


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"))
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():  # pragma: no cover - leadgate always migrates online
    raise SystemExit("offline migrations are not supported")
existing = config.attributes.get("connection")
if existing is not None:
    _run(existing)
else:
    asyncio.run(_run_async())
