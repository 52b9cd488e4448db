"""Leads as CSV: the export's columns, streaming in keyset batches, and reading rows back in."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator, Iterable
from typing import Any

from leadgate.db import Database
from leadgate.leads import service
from leadgate.leads.repository import LeadFilters, Position
from leadgate.leads.schemas import LeadOut
from leadgate.schemas import iso_utc

COLUMNS = (
    "id", "firstName", "lastName", "email", "phone", "company", "website", "source", "address",
    "city", "state", "zipcode", "country", "status", "tags", "teamId", "customFields",
    "requestSource", "createdAt", "updatedAt",
)  # fmt: skip
# Columns an import reads; the others (ids, timestamps) describe the exported row only.
IMPORTED = frozenset(COLUMNS) - {"id", "requestSource", "createdAt", "updatedAt"}
TAG_SEPARATOR = ";"
# Spreadsheets run cells that start with these as formulas; a leading quote keeps them text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SIGNED_NUMBER = re.compile(r"^[+-][\d ().-]*$")


def _cell(value: str | None) -> str:
    if not value:
        return ""
    if value.startswith(_FORMULA_START) and not _SIGNED_NUMBER.match(value):
        return "'" + value
    return value


def _uncell(value: str) -> str:
    if value.startswith("'") and value[1:].startswith(_FORMULA_START):
        return value[1:]
    return value


def csv_row(lead: LeadOut) -> list[str]:
    return [
        lead.id,
        *(
            _cell(getattr(lead, name))
            for name in (
                "first_name",
                "last_name",
                "email",
                "phone",
                "company",
                "website",
                "source",
                "address",
                "city",
                "state",
                "zipcode",
                "country",
                "status",
            )
        ),
        _cell(TAG_SEPARATOR.join(tag.name for tag in lead.tags)),
        lead.team_id or "",
        json.dumps(lead.custom_fields, ensure_ascii=False) if lead.custom_fields else "",
        lead.request_source,
        iso_utc(lead.created_at),
        iso_utc(lead.updated_at),
    ]


def render(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def stream_csv(
    database: Database, tenant_id: str, filters: LeadFilters | None, batch_size: int
) -> AsyncIterator[str]:
    """The header, then the matching leads a batch at a time, newest first.

    Each batch is read in a short session of its own (the request's session is closed by the
    time the body streams), so memory stays at one batch and no transaction spans the export.
    """
    yield render([list(COLUMNS)])
    if filters is None:
        return
    after: Position | None = None
    while True:
        async with database.sessionmaker() as session:
            leads = await service.page_of_leads(session, tenant_id, filters, after, batch_size)
        if leads:
            yield render(csv_row(lead) for lead in leads)
        if len(leads) < batch_size:
            return
        after = Position(leads[-1].created_at, leads[-1].id)


def payload_from_row(row: dict[str, str | None]) -> dict[str, Any]:
    """A CSV row as the JSON body `POST /leads` takes; blank cells are left out."""
    payload: dict[str, Any] = {}
    for column, raw in row.items():
        if column is None:
            payload["extraCells"] = raw  # more cells than headers: refused by validation
            continue
        value = _uncell((raw or "").strip())
        if not value or (column not in IMPORTED and column in COLUMNS):
            continue
        if column == "tags":
            payload["tags"] = [name for name in value.split(TAG_SEPARATOR) if name.strip()]
        elif column == "customFields":
            try:
                payload["customFields"] = json.loads(value)
            except json.JSONDecodeError:
                payload["customFields"] = value  # refused by validation, with the field named
        else:
            payload[column] = value
    return payload
