"""Every query on leads."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from leadgate.db import TenantScopedRepository
from leadgate.models import Event, IdempotencyRecord, Lead, LeadTag
from leadgate.sql import CompiledStatement, InsertIgnoringConflicts, insert_ignoring_conflicts


@dataclass(frozen=True, slots=True)
class LeadFilters:
    """What a list or an export selects. `team_ids` limits a team-scoped key to its teams."""

    status: str | None = None
    tag_id: str | None = None
    team_id: str | None = None
    source: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    q: str | None = None
    team_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """A place in the list order (newest first): the last lead a page returned."""

    created_at: datetime
    id: str


def _like_pattern(text: str) -> str:
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class LeadRepository(TenantScopedRepository):
    async def insert_claiming(self, values: dict[str, Any]) -> bool:
        """Inserts a lead unless a live lead already claims its email or name.

        The partial unique indexes decide, so concurrent identical submissions create one lead;
        False means a duplicate holds the claim.
        """
        statement = (
            insert_ignoring_conflicts(Lead)
            .values(**values, tenant_id=self.tenant_id)
            .returning(Lead.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def insert(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(Lead).values(**values, tenant_id=self.tenant_id))

    async def find_claim_holder(
        self,
        email_key: str | None,
        name_key: str | None,
        phone_key: str | None = None,
        *,
        excluding: str | None = None,
    ) -> tuple[str, str] | None:
        """The live lead holding this email, phone or name, and which matched (in that order)."""
        wanted = {"email": email_key, "phone": phone_key, "name": name_key}
        columns = {"email": Lead.email_key, "phone": Lead.phone_key, "name": Lead.name_key}
        matches = [columns[field] == key for field, key in wanted.items() if key is not None]
        if not matches:
            return None
        statement = (
            sa.select(Lead.id, Lead.email_key, Lead.phone_key, Lead.name_key)
            .where(self._tenant_filter(Lead))
            .where(Lead.claims_duplicates.is_(True), Lead.deleted_at.is_(None))
            .where(sa.or_(*matches))
            .limit(3)
        )
        if excluding is not None:
            statement = statement.where(Lead.id != excluding)
        rows = (await self.session.execute(statement)).all()
        for field in ("email", "phone", "name"):
            for lead_id, *keys in rows:
                found = dict(zip(("email", "phone", "name"), keys, strict=True))
                if wanted[field] is not None and found[field] == wanted[field]:
                    return lead_id, field
        return None  # pragma: no cover - a row matched one of the keys

    async def get(self, lead_id: str) -> Lead | None:
        statement = self._scoped(Lead).where(Lead.id == lead_id).where(Lead.deleted_at.is_(None))
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def update(self, lead_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            self._scoped_update(Lead).where(Lead.id == lead_id).values(**values)
        )

    async def page(
        self, filters: LeadFilters, *, after: Position | None, limit: int
    ) -> Sequence[Lead]:
        """Live leads newest first, strictly after `after`: keyset paging, stable under inserts."""
        statement = self._scoped(Lead).where(Lead.deleted_at.is_(None))
        if filters.status is not None:
            statement = statement.where(Lead.status == filters.status)
        if filters.team_id is not None:
            statement = statement.where(Lead.team_id == filters.team_id)
        if filters.team_ids is not None:
            statement = statement.where(Lead.team_id.in_(filters.team_ids))
        if filters.source is not None:
            statement = statement.where(Lead.source == filters.source)
        if filters.created_after is not None:
            statement = statement.where(Lead.created_at >= filters.created_after)
        if filters.created_before is not None:
            statement = statement.where(Lead.created_at < filters.created_before)
        if filters.tag_id is not None:
            tagged = (
                sa.select(LeadTag.lead_id)
                .where(self._tenant_filter(LeadTag))
                .where(LeadTag.tag_id == filters.tag_id)
            )
            statement = statement.where(Lead.id.in_(tagged))
        if filters.q:
            pattern = _like_pattern(filters.q)
            searched = (
                Lead.first_name + " " + Lead.last_name,
                Lead.email,
                Lead.company,
                Lead.phone,
            )
            statement = statement.where(
                sa.or_(*(sa.func.lower(c).like(pattern, escape="\\") for c in searched))
            )
        if after is not None:
            # A row-value comparison, so PostgreSQL walks ix_leads_tenant_created to the spot.
            statement = statement.where(
                sa.tuple_(Lead.created_at, Lead.id)
                < sa.tuple_(
                    sa.literal(after.created_at, Lead.created_at.type), sa.literal(after.id)
                )
            )
        statement = statement.order_by(Lead.created_at.desc(), Lead.id.desc()).limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def purge_deleted(self, before: datetime) -> int:
        """Removes leads soft-deleted before `before` (their tag links go by cascade)."""
        result: Any = await self.session.execute(
            self._scoped_delete(Lead)
            .where(Lead.deleted_at.is_not(None))
            .where(Lead.deleted_at < before)
        )
        return int(result.rowcount or 0)

    async def count(self) -> int:
        statement = sa.select(sa.func.count()).select_from(Lead).where(self._tenant_filter(Lead))
        return int((await self.session.execute(statement)).scalar_one())

    async def live_claims(self) -> Sequence[sa.Row[tuple[str, str | None, str | None, str, str]]]:
        """The live leads that claim duplicate keys, oldest first (the first holds a key)."""
        statement = (
            sa.select(Lead.id, Lead.email, Lead.phone, Lead.first_name, Lead.last_name)
            .where(self._tenant_filter(Lead))
            .where(Lead.claims_duplicates.is_(True), Lead.deleted_at.is_(None))
            .order_by(Lead.created_at, Lead.id)
        )
        return (await self.session.execute(statement)).all()

    async def set_claim_keys(self, keys: Sequence[str], rows: list[dict[str, Any]]) -> None:
        """Clears the claim keys named, then writes each row's (`lead_id` and the keys): cleared
        first, so a key moving from one lead to another never meets itself in the index."""
        table = LEADS
        await self.session.execute(
            sa.update(table)
            .where(self._tenant_filter(Lead), Lead.claims_duplicates.is_(True))
            .values({key: None for key in keys})
        )
        if rows:
            await self.session.execute(
                sa.update(table)
                .where(self._tenant_filter(Lead), table.c.id == sa.bindparam("lead_id"))
                .values({key: sa.bindparam(f"new_{key}") for key in keys}),
                [{"lead_id": r["lead_id"], **{f"new_{k}": r[k] for k in keys}} for r in rows],
            )


# --- the intake fast path's writes (issue 8) -------------------------------------------------

IntakeOutcome = Literal["created", "duplicate", "key_taken"]
LEADS = cast(sa.Table, Lead.__table__)
EVENTS = cast(sa.Table, Event.__table__)
IDEMPOTENCY_RECORDS = cast(sa.Table, IdempotencyRecord.__table__)
StatementObserver = Callable[[str], None]


def _bound_row(table: sa.Table, prefix: str) -> dict[str, Any]:
    return {c.name: sa.bindparam(f"{prefix}{c.name}", type_=c.type) for c in table.columns}


def _event_row(prefix: str, dialect: Dialect) -> dict[str, Any]:
    """The event's columns, its `data` given as JSON text: the lead's response body is that
    text already, so it is not built and serialised a second time."""
    row = _bound_row(EVENTS, prefix)
    data = sa.bindparam(f"{prefix}data", type_=sa.Text())
    row["data"] = sa.cast(data, EVENTS.c.data.type) if dialect.name == "postgresql" else data
    return row


def _prefixed(prefix: str, row: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{name}": value for name, value in row.items()}


def _column_defaults(table: sa.Table) -> dict[str, Any]:
    """Each column's scalar default, else NULL: what a row the intake statements write holds
    where the caller gives no value (they name every column, leaving nothing to execution-time
    defaults)."""
    return {
        column.name: (
            column.default.arg  # type: ignore[attr-defined]
            if column.default is not None and column.default.is_scalar
            else None
        )
        for column in table.columns
    }


_DEFAULTS = {table.name: _column_defaults(table) for table in (LEADS, EVENTS, IDEMPOTENCY_RECORDS)}


def _complete_row(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    return {**_DEFAULTS[table.name], **values}


@dataclass(frozen=True, slots=True)
class _IntakeStatements:
    """The intake's statements for one dialect, compiled once per process."""

    create: CompiledStatement  # PostgreSQL: lead + event in one statement
    create_keyed: CompiledStatement  # PostgreSQL: lead + event + the key's recorded response
    claim: CompiledStatement
    release: CompiledStatement
    lead: CompiledStatement  # SQLite: the statements of one transaction
    event: CompiledStatement

    @classmethod
    def compile(cls, dialect: Dialect) -> _IntakeStatements:
        leads, events, keys = LEADS, EVENTS, IDEMPOTENCY_RECORDS
        lead_insert = InsertIgnoringConflicts(leads).values(_bound_row(leads, "lead_"))
        new_lead = lead_insert.returning(leads.c.id).cte("new_lead")
        event_insert = sa.insert(events).from_select(
            [c.name for c in events.columns],
            sa.select(*_event_row("event_", dialect).values()).select_from(new_lead),
        )
        created = sa.select(sa.func.count()).select_from(new_lead)
        create = created.add_cte(event_insert.cte("new_event"))
        key_match = (keys.c.id == sa.bindparam("key_id")) & (
            keys.c.tenant_id == sa.bindparam("tenant_id")
        )
        record = (
            sa.update(keys)
            .where(key_match, sa.exists(sa.select(1).select_from(new_lead)))
            .values(
                response_status=sa.bindparam("response_status", type_=keys.c.response_status.type),
                response_body=sa.bindparam("response_body", type_=keys.c.response_body.type),
                completed_at=sa.bindparam("completed_at", type_=keys.c.completed_at.type),
            )
        )
        create_keyed = create.add_cte(record.cte("recorded"))
        return cls(
            create=CompiledStatement.of(create, dialect),
            create_keyed=CompiledStatement.of(create_keyed, dialect),
            claim=CompiledStatement.of(
                InsertIgnoringConflicts(keys).values(_bound_row(keys, "")), dialect
            ),
            release=CompiledStatement.of(sa.delete(keys).where(key_match), dialect),
            lead=CompiledStatement.of(lead_insert, dialect),
            event=CompiledStatement.of(sa.insert(events).values(_event_row("", dialect)), dialect),
        )


class IntakeWriter:
    """Writes a new lead and its `lead.created` event in one round trip, on the driver's own
    connection (asyncpg or sqlite3), with statements compiled once.

    Connections: on PostgreSQL a pool of asyncpg connections of its own (`db_pool_size` at most),
    since checking a driver connection out of SQLAlchemy's pool and back cost more than the
    statement; its connections are never reset on release because these statements leave no
    session state (no transaction, SET, LISTEN or lock survives one). On SQLite, the engine's one
    connection: a second writer connection would only wait on SQLite's file lock.

    PostgreSQL: one statement, autocommitted — `INSERT … ON CONFLICT DO NOTHING` in a CTE, the
    event inserted from its RETURNING, so a duplicate writes neither. With an Idempotency-Key, the
    key is claimed first (its own statement, committed, as the slow path does), and the lead
    statement also records the response on the claim. SQLite: the same statements in one
    `BEGIN IMMEDIATE` transaction, run in one call on the driver's thread.

    Every statement is tenant-scoped by the `tenant_id` this writer stamps on its rows.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        pool_size: int = 10,
        connect_timeout: float = 5.0,
        command_timeout: float = 30.0,
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.statements = _IntakeStatements.compile(engine.dialect)
        self.observers: list[StatementObserver] = []  # tests count statements here
        self.pool_size = pool_size
        self.timeouts = {"timeout": connect_timeout, "command_timeout": command_timeout}
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def _asyncpg_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    url = self.engine.url.set(drivername="postgresql")
                    self._pool = await asyncpg.create_pool(
                        url.render_as_string(hide_password=False),
                        min_size=1,
                        max_size=self.pool_size,
                        reset=_keep_session,
                        **self.timeouts,  # the engine's bounds (settings.db_*_timeout_seconds)
                    )
        return self._pool

    async def create(
        self,
        tenant_id: str,
        lead: dict[str, Any],
        event: dict[str, Any],
        claim: dict[str, Any] | None = None,
    ) -> IntakeOutcome:
        """`created`; `duplicate` (a live lead holds the email or name: nothing written); or
        `key_taken` (the Idempotency-Key has a record: nothing written). The event's `data` is
        JSON text."""
        lead_row = _complete_row(LEADS, {**lead, "tenant_id": tenant_id})
        event_row = _complete_row(EVENTS, {**event, "tenant_id": tenant_id})
        claim_row = None
        if claim is not None:
            claim_row = _complete_row(IDEMPOTENCY_RECORDS, {**claim, "tenant_id": tenant_id})
        if self.dialect == "postgresql":
            pool = await self._asyncpg_pool()
            for attempt in (1, 2):
                async with pool.acquire() as driver:
                    try:
                        return await self._postgresql(driver, lead_row, event_row, claim_row)
                    except asyncpg.InternalClientError:
                        # Pooled connections the server dropped while idle (it restarted) can
                        # refuse a statement before sending it: nothing ran. The pool's other
                        # connections are as old, so all are replaced, and once more.
                        _terminate(driver)
                        await pool.expire_connections()
                        if attempt == 2:
                            raise
                    except BaseException:
                        # A lost connection or a cancelled statement: the pool opens a new one.
                        _terminate(driver)
                        raise
            raise AssertionError("unreachable")  # pragma: no cover - each attempt returns or raises
        async with self.engine.connect() as connection:
            try:
                driver = (await connection.get_raw_connection()).driver_connection
                return await self._sqlite(driver, lead_row, event_row, claim_row)
            except BaseException:
                await _invalidate(connection)
                raise

    async def _postgresql(
        self,
        driver: Any,
        lead_row: dict[str, Any],
        event_row: dict[str, Any],
        claim_row: dict[str, Any] | None,
    ) -> IntakeOutcome:
        statements = self.statements
        values = {**_prefixed("lead_", lead_row), **_prefixed("event_", event_row)}
        if claim_row is None:
            created = await self._run(driver, statements.create, values)
            return "created" if created else "duplicate"
        pending = {**claim_row, "response_status": None, "response_body": None}
        pending["completed_at"] = None
        if await self._run(driver, statements.claim, pending, returns=False) == "INSERT 0 0":
            return "key_taken"
        recorded = {
            "key_id": claim_row["id"],
            "tenant_id": claim_row["tenant_id"],
            "response_status": claim_row["response_status"],
            "response_body": claim_row["response_body"],
            "completed_at": claim_row["completed_at"],
        }
        if await self._run(driver, statements.create_keyed, {**values, **recorded}):
            return "created"
        # A duplicate: the claim is released, so the slow path may claim the key for its 409.
        release = {"key_id": claim_row["id"], "tenant_id": claim_row["tenant_id"]}
        await self._run(driver, statements.release, release, returns=False)
        return "duplicate"

    async def _run(
        self,
        driver: Any,
        statement: CompiledStatement,
        values: dict[str, Any],
        returns: bool = True,
    ) -> Any:
        for observe in self.observers:
            observe(statement.sql)
        arguments = statement.arguments(values)
        if returns:
            return await driver.fetchval(statement.sql, *arguments)
        return await driver.execute(statement.sql, *arguments)

    async def _sqlite(
        self,
        driver: Any,
        lead_row: dict[str, Any],
        event_row: dict[str, Any],
        claim_row: dict[str, Any] | None,
    ) -> IntakeOutcome:
        claims = [] if claim_row is None else [(self.statements.claim, claim_row)]
        steps = [
            *claims,
            (self.statements.lead, _prefixed("lead_", lead_row)),
            (self.statements.event, event_row),
        ]
        batch = [(s.sql, s.arguments(values)) for s, values in steps]
        for statement, _ in batch:
            for observe in self.observers:
                observe(statement)
        # aiosqlite runs each call on its own thread; one call for the whole transaction
        # saves a thread hand-off per statement (the private `_execute` is that call).
        keyed = claim_row is not None
        outcome: IntakeOutcome = await driver._execute(
            _sqlite_transaction, driver._conn, batch, keyed
        )
        return outcome


def _sqlite_transaction(
    connection: sqlite3.Connection, batch: list[tuple[str, Sequence[Any]]], keyed: bool
) -> IntakeOutcome:
    """Runs on aiosqlite's thread: claim (if any), lead, event; all or nothing."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        for index, (sql, arguments) in enumerate(batch):
            if connection.execute(sql, arguments).rowcount == 0:
                connection.execute("ROLLBACK")
                # The first statement of a keyed batch is the claim; the lead is next.
                return "key_taken" if keyed and index == 0 else "duplicate"
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return "created"


def _terminate(connection: asyncpg.Connection) -> None:
    # A connection the server closed may already be back with the pool, which replaces it.
    with contextlib.suppress(asyncpg.InterfaceError):
        connection.terminate()


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """asyncpg resets a connection on release with a round trip; nothing here needs it."""


async def _invalidate(connection: AsyncConnection) -> None:
    # Already broken: the error that got us here is the one to report.
    with contextlib.suppress(Exception):
        await connection.invalidate()
