"""Contacts (and, through `stream_records`, deals) as CSV: streamed in keyset batches, each read
in a short session of its own, as the leads export does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.contacts.repository import ContactFilters, ContactRepository
from leadgate.contacts.service import contact_out
from leadgate.db import Database
from leadgate.leads.csv_format import _cell, render
from leadgate.leads.repository import Position
from leadgate.schemas import iso_utc

COLUMNS = (
    "id", "firstName", "lastName", "email", "phone", "company", "title", "teamId", "ownerId",
    "leadId", "customFields", "createdAt", "updatedAt",
)  # fmt: skip


async def stream_records(
    database: Database,
    columns: Sequence[str],
    page: Callable[[AsyncSession, Position | None, int], Awaitable[Sequence[Any]]],
    row: Callable[[Any], list[str]],
    batch_size: int,
) -> AsyncIterator[str]:
    """The header, then the rows `page` returns a batch at a time (newest first)."""
    yield render([list(columns)])
    after: Position | None = None
    while True:
        async with database.sessionmaker() as session:
            records = await page(session, after, batch_size)
        if records:
            yield render(row(record) for record in records)
        if len(records) < batch_size:
            return
        after = Position(records[-1].created_at, records[-1].id)


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if value else ""
    if hasattr(value, "tzinfo"):
        return iso_utc(value)
    return _cell(str(value))


def _row(contact: Any) -> list[str]:
    out = contact_out({c.key: getattr(contact, c.key) for c in contact.__table__.columns})
    values = out.model_dump(by_alias=False)
    return [text(values[name]) for name in (
        "id", "first_name", "last_name", "email", "phone", "company", "title", "team_id",
        "owner_id", "lead_id", "custom_fields", "created_at", "updated_at",
    )]  # fmt: skip


def stream_csv(
    database: Database, tenant_id: str, filters: ContactFilters, batch_size: int
) -> AsyncIterator[str]:
    async def page(session: AsyncSession, after: Position | None, limit: int) -> Sequence[Any]:
        return await ContactRepository(session, tenant_id).page(filters, after=after, limit=limit)

    return stream_records(database, COLUMNS, page, _row, batch_size)
