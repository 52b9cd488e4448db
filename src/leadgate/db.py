"""Engines, sessions, the tenant-scoped repository base every domain's repository builds on, and
how to tell a database that is away from a statement that failed."""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import asyncpg
import orjson
import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from leadgate.models.base import Base
from leadgate.settings import Settings

M = TypeVar("M", bound=Base)


def create_engine(settings: Settings) -> AsyncEngine:
    """The backend's engine. `hide_parameters`: a database error's message, which is logged with
    its traceback, never carries the statement's values (lead data, key and session hashes,
    encrypted webhook secrets, password hashes)."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # One connection per process: SQLite has one writer at a time, and queueing in the pool
        # is cheaper than SQLite's busy-wait. Other processes (the CLI) wait on busy_timeout.
        engine = create_async_engine(
            url,
            pool_size=1,
            max_overflow=0,
            pool_timeout=30,
            connect_args={"timeout": 30},
            # Every use ends its transaction itself (sessions commit or roll back, Connection
            # rolls back on close, `LeadWriter` commits or rolls back its own), and with
            # aiosqlite a reset is a thread hand-off for nothing on every checkin.
            pool_reset_on_return=None,
            hide_parameters=True,
            json_serializer=json_text,
        )
        _configure_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if "+asyncpg" in url:
        # Every wait is bounded, so a database that is away or unreachable costs a request a
        # 503 after a known time instead of a hang.
        connect_args = {
            "timeout": settings.db_connect_timeout_seconds,
            "command_timeout": settings.db_command_timeout_seconds,
        }
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=0,  # a burst waits for a pooled connection rather than opening and closing one
        # Off by default: a connection that died with the server fails its request once (503),
        # and SQLAlchemy then renews the whole pool, so serving resumes by itself.
        pool_pre_ping=settings.db_pool_pre_ping,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_args=connect_args,
        hide_parameters=True,
        json_serializer=json_text,
    )


def json_text(value: Any) -> str:
    """JSON columns are written through orjson (the stdlib's encoder was a visible cost of
    every lead written)."""
    return orjson.dumps(value).decode()


def _configure_sqlite(engine: AsyncEngine) -> None:
    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading
        # a read transaction to a write one.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


StatementObserver = Callable[[str], None]
DATABASE = "leadgate.database"  # session.info: the Database a session came from
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Database:
    """One engine and session factory per process.

    `reader` makes sessions for requests that only read. On PostgreSQL they run without a
    transaction (asyncpg autocommit): each statement already sees its own snapshot under READ
    COMMITTED, so BEGIN and COMMIT were two round trips that bought nothing. On SQLite the one
    connection is shared and its transactions are cheap, so both factories are the same.
    """

    def __init__(self, settings: Settings) -> None:
        # For rules deep in a service that need the server secret (the suppression list's keyed
        # hash at lead intake): `session.info[DATABASE].settings`.
        self.settings = settings
        self.engine = create_engine(settings)
        self.dialect = self.engine.dialect.name
        info = {DATABASE: self}
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, info=info)
        # A statement run on the driver's connection (below SQLAlchemy) is announced here, so
        # tests can count statements on every path.
        self.observers: list[StatementObserver] = []
        if self.dialect == "postgresql":
            self.autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self.reader = async_sessionmaker(self.autocommit, expire_on_commit=False, info=info)
        else:
            self.autocommit = self.engine
            self.reader = self.sessionmaker

    def observe(self, statement: str) -> None:
        for observer in self.observers:
            observer(statement)

    async def dispose(self) -> None:
        await self.engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed when the handler returns, rolled back if it raises.

    Registered with `scope="function"` so the commit happens before the response is sent: a client
    never sees a 201 for a row that a failed commit lost. A session costs nothing until it is
    used (no connection, no BEGIN), and a read-only request's session runs without a transaction
    (`Database.reader`).
    """
    database: Database = request.app.state.database
    factory = database.reader if request.method in READ_METHODS else database.sessionmaker
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


@asynccontextmanager
async def driver_connection(session: AsyncSession) -> AsyncIterator[tuple[Any, bool]]:
    """The driver's own connection (asyncpg or sqlite3 via aiosqlite) for statements compiled
    once (`sql.CompiledStatement`), and whether it is inside the session's transaction.

    Inside one (the session has already read or written): the session's connection, so the
    statements share its fate. Otherwise a pooled connection outside any transaction, on which
    the caller's statements must commit by themselves: a write that is one statement (or one
    SQLite transaction run in one call) then costs one round trip instead of three.
    """
    if session.in_transaction():
        connection = await session.connection()
        yield (await connection.get_raw_connection()).driver_connection, True
        return
    bind = session.bind
    assert isinstance(bind, AsyncEngine)
    async with bind.connect() as connection:
        try:
            yield (await connection.get_raw_connection()).driver_connection, False
        except BaseException as error:
            # A statement cut off (lost connection, cancelled request) may leave the driver's
            # connection in any state: it is not handed to the next request. When the server
            # went away, the pool's other connections are as old: the pool is renewed, as
            # SQLAlchemy does when it sees a disconnect on its own statements.
            with contextlib.suppress(Exception):
                await connection.invalidate()
            if database_unavailable(error):
                await bind.dispose(close=False)
            raise


@asynccontextmanager
async def reading(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A session for reads that the request's unit of work does not depend on (lookups before
    its first write): the request's own once it has begun a transaction (so a read sees what
    it wrote, and SQLite's one connection is never asked for twice), else a reader session
    (`Database.reader`), which on PostgreSQL costs no BEGIN and no COMMIT."""
    database: Database | None = session.info.get(DATABASE)
    if session.in_transaction() or database is None:
        yield session
        return
    async with database.reader() as reader:
        yield reader


class TenantScopedRepository:
    """Base of every repository over tenant data: each statement is scoped by `_scoped`."""

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def _scoped(self, model: type[M]) -> sa.Select[tuple[M]]:
        return sa.select(model).where(model.tenant_id == self.tenant_id)  # type: ignore[attr-defined]

    def _scoped_update(self, model: type[M]) -> sa.Update:
        return sa.update(model).where(model.tenant_id == self.tenant_id)  # type: ignore[attr-defined]

    def _scoped_delete(self, model: type[M]) -> sa.Delete:
        return sa.delete(model).where(model.tenant_id == self.tenant_id)  # type: ignore[attr-defined]

    def _with_tenant(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows for a bulk INSERT, each stamped with this repository's tenant."""
        return [{**row, "tenant_id": self.tenant_id} for row in rows]

    def _tenant_filter(self, model: type[Base]) -> sa.ColumnElement[bool]:
        """The tenant condition itself, for statements that select columns, not entities."""
        column: sa.ColumnElement[str] = model.tenant_id  # type: ignore[attr-defined]
        return column == self.tenant_id


# SQLSTATEs of a server that is away: connection exceptions (class 08), shutting down or still
# starting up (57P01-57P03), no connection slot left (53300).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
_UNAVAILABLE_MESSAGES = (
    "connection is closed",
    "connection was closed",
    "the database system is",  # ... shutting down / starting up / in recovery mode
    "database is locked",  # SQLite: another process held the write lock past busy_timeout
    "unable to open database file",
)
_UNREACHABLE_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}
)

# Exceptions that may mean the database is unavailable (`database_unavailable` decides): the
# driver's own, SQLAlchemy's wrappers, and the socket errors asyncpg raises unwrapped on connect.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sa.exc.DBAPIError,
    sa.exc.TimeoutError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # a pooled connection the server dropped, before sending
)


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached now (down, restarting, unreachable,
    no free connection), rather than that a statement failed. The first is worth a retry later
    (503); the second is a bug (500)."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if _unavailable(current):
            return True
        # Only explicit causes: SQLAlchemy's `.orig` and `raise ... from` of the drivers.
        for cause in (getattr(current, "orig", None), current.__cause__):
            if isinstance(cause, BaseException):
                pending.append(cause)
    return False


def _unavailable(error: BaseException) -> bool:
    if isinstance(error, sa.exc.TimeoutError | ConnectionError | TimeoutError | socket.gaierror):
        return True
    if isinstance(error, asyncpg.InternalClientError):
        # A pooled connection the server dropped while idle refuses the statement before
        # sending it: nothing ran, and a retry on a new connection will do.
        return True  # pool exhausted; refused, reset, timed out (connect or command); no DNS
    if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, OSError) and error.errno in _UNREACHABLE_ERRNOS:
        return True
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
        return True
    if isinstance(error, sa.exc.DBAPIError | asyncpg.PostgresError | asyncpg.InterfaceError):
        text = str(error).lower()
        return any(message in text for message in _UNAVAILABLE_MESSAGES)
    return False


def is_unique_violation(error: sa.exc.IntegrityError) -> bool:
    text = str(error.orig).lower()
    return "unique" in text or "duplicate key" in text
