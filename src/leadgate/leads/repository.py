"""Every query on leads."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from leadgate.db import DATABASE, TenantScopedRepository, driver_connection
from leadgate.idempotency.repository import Completion
from leadgate.models import Event, IdempotencyRecord, Lead, LeadTag, Suppression
from leadgate.sql import CompiledStatement, InsertIgnoringConflicts


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
    # Matched against either touch of the lead's attribution.
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
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
    ) -> list[dict[str, Any]]:
        """Live leads newest first, strictly after `after`: keyset paging, stable under inserts.
        Rows as column values, not ORM objects: a page is only read (no identity map to fill)."""
        statement = (
            sa.select(*cast(sa.Table, Lead.__table__).columns)
            .where(self._tenant_filter(Lead))
            .where(Lead.deleted_at.is_(None))
        )
        if filters.status is not None:
            statement = statement.where(Lead.status == filters.status)
        if filters.team_id is not None:
            statement = statement.where(Lead.team_id == filters.team_id)
        if filters.team_ids is not None:
            statement = statement.where(Lead.team_id.in_(filters.team_ids))
        if filters.source is not None:
            statement = statement.where(Lead.source == filters.source)
        for key, value in (
            ("utmSource", filters.utm_source),
            ("utmMedium", filters.utm_medium),
            ("utmCampaign", filters.utm_campaign),
        ):
            if value is not None:
                statement = statement.where(
                    sa.or_(
                        Lead.attribution[("firstTouch", key)].as_string() == value,
                        Lead.attribution[("lastTouch", key)].as_string() == value,
                    )
                )
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
        return [dict(row._mapping) for row in await self.session.execute(statement)]

    async def purge_deleted(self, before: datetime) -> int:
        """Removes leads soft-deleted before `before` (their tag links go by cascade)."""
        result: Any = await self.session.execute(
            self._scoped_delete(Lead)
            .where(Lead.deleted_at.is_not(None))
            .where(Lead.deleted_at < before)
        )
        return int(result.rowcount or 0)

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


# --- creating a lead in one round trip ----------------------------------------------------

LEADS = cast(sa.Table, Lead.__table__)
EVENTS = cast(sa.Table, Event.__table__)
LEAD_TAGS = cast(sa.Table, LeadTag.__table__)
SUPPRESSIONS = cast(sa.Table, Suppression.__table__)
IDEMPOTENCY_RECORDS = cast(sa.Table, IdempotencyRecord.__table__)


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
    """Each column's scalar default, else NULL: what a row these statements write holds where
    the caller gives no value (they name every column, leaving nothing to execution-time
    defaults)."""
    return {
        column.name: (
            column.default.arg  # type: ignore[attr-defined]
            if column.default is not None and column.default.is_scalar
            else None
        )
        for column in table.columns
    }


_DEFAULTS = {table.name: _column_defaults(table) for table in (LEADS, EVENTS)}


def _complete_row(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    return {**_DEFAULTS[table.name], **values}


_COMPLETE = (
    sa.update(IDEMPOTENCY_RECORDS)
    .where(
        IDEMPOTENCY_RECORDS.c.id == sa.bindparam("record_id"),
        IDEMPOTENCY_RECORDS.c.tenant_id == sa.bindparam("record_tenant_id"),
    )
    .values(
        response_status=sa.bindparam("response_status", type_=sa.Integer()),
        response_body=sa.bindparam("response_body", type_=sa.Text()),
        completed_at=sa.bindparam("completed_at", type_=IDEMPOTENCY_RECORDS.c.completed_at.type),
    )
)


@functools.cache
def _postgresql_statement(
    dialect: Dialect, tagged: bool, keyed: bool, screened: bool
) -> CompiledStatement:
    """PostgreSQL: one statement. The lead is `INSERT … ON CONFLICT DO NOTHING` in a CTE, and
    the event, the tag links and the key's recorded response are written from its RETURNING, so
    a duplicate writes none of them. `screened`: the lead is inserted only if its e-mail's keyed
    hashes are not on the tenant's suppression list (`INSERT … SELECT … WHERE NOT EXISTS`).
    Compiled once per shape."""
    row = _bound_row(LEADS, "lead_")
    if screened:
        hashes = sa.bindparam("suppression_hashes", type_=postgresql.ARRAY(sa.String()))
        suppressed = (
            sa.select(1)
            .select_from(SUPPRESSIONS)
            .where(
                SUPPRESSIONS.c.tenant_id == row["tenant_id"],
                SUPPRESSIONS.c.email_hash == sa.any_(hashes),
            )
            .exists()
        )
        lead_insert = InsertIgnoringConflicts(LEADS).from_select(
            list(row), sa.select(*row.values()).where(~suppressed)
        )
    else:
        lead_insert = InsertIgnoringConflicts(LEADS).values(row)
    new_lead = lead_insert.returning(LEADS.c.id).cte("new_lead")
    event_insert = sa.insert(EVENTS).from_select(
        [c.name for c in EVENTS.columns],
        sa.select(*_event_row("event_", dialect).values()).select_from(new_lead),
    )
    statement = sa.select(sa.func.count()).select_from(new_lead)
    statement = statement.add_cte(event_insert.cte("new_event"))
    if tagged:
        tag = (
            sa.func.unnest(sa.bindparam("tag_ids", type_=postgresql.ARRAY(sa.String())))
            .table_valued("tag_id")
            .render_derived()
        )
        links = sa.insert(LEAD_TAGS).from_select(
            ["tenant_id", "lead_id", "tag_id"],
            sa.select(sa.bindparam("lead_tenant_id"), new_lead.c.id, tag.c.tag_id).select_from(
                new_lead.join(tag, sa.true())
            ),
        )
        statement = statement.add_cte(links.cte("new_links"))
    if keyed:
        recorded = _COMPLETE.where(sa.exists(sa.select(1).select_from(new_lead)))
        statement = statement.add_cte(recorded.cte("recorded"))
    return CompiledStatement.of(statement, dialect)


@functools.cache
def _sqlite_statements(dialect: Dialect) -> tuple[CompiledStatement, ...]:
    """SQLite (no writes in CTEs): lead, event, tag link and recorded response, run in one
    transaction in one call on the driver's thread. Compiled once."""
    return (
        CompiledStatement.of(InsertIgnoringConflicts(LEADS).values(_bound_row(LEADS, "")), dialect),
        CompiledStatement.of(sa.insert(EVENTS).values(_event_row("", dialect)), dialect),
        CompiledStatement.of(sa.insert(LEAD_TAGS).values(_bound_row(LEAD_TAGS, "")), dialect),
        CompiledStatement.of(_COMPLETE, dialect),
    )


@functools.cache
def _sqlite_screen(dialect: Dialect, count: int) -> CompiledStatement:
    """SQLite: whether one of an e-mail's `count` keyed hashes is on the tenant's suppression
    list. Compiled once per count (one hash per server secret in use)."""
    hashes = [sa.bindparam(f"hash_{index}", type_=sa.String()) for index in range(count)]
    statement = (
        sa.select(sa.literal_column("1"))
        .select_from(SUPPRESSIONS)
        .where(
            SUPPRESSIONS.c.tenant_id == sa.bindparam("tenant_id", type_=sa.String()),
            SUPPRESSIONS.c.email_hash.in_(hashes),
        )
    )
    return CompiledStatement.of(statement, dialect)


class LeadWriter(TenantScopedRepository):
    """Writes a new lead with its `lead.created` event, its tag links and (with an
    `Idempotency-Key`) its recorded response, in one database round trip, with statements
    compiled once (`sql.CompiledStatement`) and run on the driver's connection
    (`db.driver_connection`): inside the request's transaction when it has one (tags it had to
    create), else as a statement that commits by itself. Every row carries this repository's
    tenant."""

    async def create(
        self,
        lead: dict[str, Any],
        event: dict[str, Any],
        tag_ids: Sequence[str] = (),
        completion: Completion | None = None,
        suppression_hashes: Sequence[str] = (),
    ) -> bool:
        """True: written. False: nothing was written, because a live lead holds the email or
        name, or (given its `suppression_hashes`) the e-mail is on the suppression list; the
        caller tells which. The event's `data` is JSON text."""
        lead_row = _complete_row(LEADS, {**lead, "tenant_id": self.tenant_id})
        event_row = _complete_row(EVENTS, {**event, "tenant_id": self.tenant_id})
        completed = None
        if completion is not None:
            completed = {
                "record_id": completion.record_id,
                "record_tenant_id": self.tenant_id,
                "response_status": completion.status,
                "response_body": completion.body,
                "completed_at": completion.at,
            }
        database: Any = self.session.info.get(DATABASE)
        observe = database.observe if database is not None else _ignore
        async with driver_connection(self.session) as (driver, in_transaction):
            dialect = self.session.get_bind().dialect
            if dialect.name == "postgresql":
                statement = _postgresql_statement(
                    dialect, bool(tag_ids), completed is not None, bool(suppression_hashes)
                )
                values = {**_prefixed("lead_", lead_row), **_prefixed("event_", event_row)}
                if tag_ids:
                    values["tag_ids"] = list(tag_ids)
                if suppression_hashes:
                    values["suppression_hashes"] = list(suppression_hashes)
                observe(statement.sql)
                return bool(
                    await driver.fetchval(
                        statement.sql, *statement.arguments(values | (completed or {}))
                    )
                )
            lead_sql, event_sql, link_sql, complete_sql = _sqlite_statements(dialect)
            steps: list[tuple[str, list[Sequence[Any]]]] = [
                (lead_sql.sql, [lead_sql.arguments(lead_row)]),
                (event_sql.sql, [event_sql.arguments(event_row)]),
            ]
            if tag_ids:
                links = [
                    link_sql.arguments(
                        {"tenant_id": self.tenant_id, "lead_id": lead_row["id"], "tag_id": tag_id}
                    )
                    for tag_id in tag_ids
                ]
                steps.append((link_sql.sql, links))
            if completed is not None:
                steps.append((complete_sql.sql, [complete_sql.arguments(completed)]))
            screen = None
            if suppression_hashes:
                compiled = _sqlite_screen(dialect, len(suppression_hashes))
                named = {f"hash_{i}": value for i, value in enumerate(suppression_hashes)}
                arguments = compiled.arguments({"tenant_id": self.tenant_id, **named})
                screen = (compiled.sql, list(arguments))
                observe(compiled.sql)
            for sql, _ in steps:
                observe(sql)
            # aiosqlite runs each call on its own thread; one call for the whole write saves a
            # thread hand-off per statement (the private `_execute` is that call).
            written: bool = await driver._execute(
                _sqlite_write, driver._conn, steps, not in_transaction, screen
            )
            return written


def _ignore(_statement: str) -> None:
    return None


def _sqlite_write(
    connection: sqlite3.Connection,
    steps: list[tuple[str, list[Sequence[Any]]]],
    own: bool,
    screen: tuple[str, list[Any]] | None = None,
) -> bool:
    """Runs on aiosqlite's thread: the suppression screen (if any), then the lead; when the
    e-mail is suppressed or the lead is a duplicate (no row), nothing else. `own`: in a
    transaction of its own (else inside the request's)."""
    if own:
        connection.execute("BEGIN IMMEDIATE")
    try:
        (lead_sql, lead_arguments), *rest = steps
        suppressed = screen is not None and connection.execute(*screen).fetchone() is not None
        if suppressed or connection.execute(lead_sql, lead_arguments[0]).rowcount == 0:
            if own:
                connection.execute("ROLLBACK")
            return False
        for sql, rows in rest:
            connection.executemany(sql, rows)
        if own:
            connection.execute("COMMIT")
    except BaseException:
        if own and connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return True
