"""Leads as CSV: the export's columns, streaming in keyset batches, and reading rows back in."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.auth.principal import Principal
from leadgate.db import Database
from leadgate.errors import ApiError, DuplicateLead, validation_details
from leadgate.leads import service
from leadgate.leads.repository import LeadFilters, Position
from leadgate.leads.schemas import LeadCreate, LeadOut
from leadgate.leads.service import Policy
from leadgate.schemas import iso_utc

COLUMNS = (
    "id", "firstName", "lastName", "email", "phone", "company", "website", "source", "address",
    "city", "state", "zipcode", "country", "status", "tags", "teamId", "customFields",
    "requestSource", "createdAt", "updatedAt", "attribution",
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
        lead.attribution.model_dump_json(exclude_none=True) if lead.attribution else "",
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
        elif column in ("customFields", "attribution"):
            try:
                payload[column] = json.loads(value)
            except json.JSONDecodeError:
                payload[column] = value  # refused by validation, with the field named
        else:
            payload[column] = value
    return payload


# Spreadsheets write commas, or semicolons where the comma is the decimal mark, or tabs.
DELIMITERS = ",;\t|"
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


class CsvUnreadable(ValueError):
    """A file that is not CSV leadgate can read, with the reason for a person."""


def decode_csv(data: bytes, encoding: str | None = None) -> str:
    """The file's text: in `encoding` if given; else by its byte-order mark (UTF-8, UTF-16),
    else UTF-8, else Windows-1252 (what Excel writes on Windows without a BOM)."""
    if encoding is not None:
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError) as error:
            raise CsvUnreadable(f"cannot read the file as {encoding}: {error}") from None
    for mark, name in _BOMS:
        if data.startswith(mark):
            return data.decode(name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def sniff_delimiter(text: str) -> str:
    """The header line's separator: `,`, `;`, tab or `|`, whichever the sniffer finds in the
    first lines (quotes and all); else the one the header holds most of."""
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = text.splitlines()[0] if text else ""
        return max(DELIMITERS, key=header.count)


def _column_key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).casefold()


_BY_KEY = {
    **{_column_key(column): column for column in COLUMNS},
    "emailaddress": "email",
    "phonenumber": "phone",
    "zip": "zipcode",
    "postalcode": "zipcode",
    "companyname": "company",
}


def read_lead_rows(
    data: bytes,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    mapping: dict[str, str] | None = None,
) -> list[dict[str, str | None]]:
    """A spreadsheet's CSV as rows keyed by the export's columns.

    The header row may be in any order; a header names a column as the export does, or loosely
    (`First Name`, `first_name`, `E-Mail` for `email`), or through `mapping` (header → column).
    Excel's quoting (doubled quotes, line breaks inside quotes) is read as Excel writes it.
    Raises `CsvUnreadable` when the header leaves out firstName or lastName or names a column
    leadgate does not know."""
    text = decode_csv(data, encoding)
    if not text.strip():
        raise CsvUnreadable("the file is empty")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter or sniff_delimiter(text))
    header = next(reader)
    explicit = {_column_key(k): v for k, v in (mapping or {}).items()}
    columns: list[str | None] = []
    unknown = []
    for name in header:
        key = _column_key(name)
        column = explicit.get(key) or _BY_KEY.get(key)
        if column is None and key:
            unknown.append(name)
        columns.append(column)
    bad_targets = sorted(set((mapping or {}).values()) - set(COLUMNS))
    if unknown or bad_targets or not {"firstName", "lastName"} <= set(columns):
        raise CsvUnreadable(
            "the header must name firstName and lastName"
            + (f"; unknown columns: {', '.join(unknown)}" if unknown else "")
            + (f"; not a column: {', '.join(bad_targets)}" if bad_targets else "")
            + f"\n  columns: {', '.join(COLUMNS)}"
        )
    rows: list[dict[str, str | None]] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue  # the blank lines spreadsheets leave at the end
        row: dict[str, str | None] = {}
        for index, cell in enumerate(cells):
            column = columns[index] if index < len(columns) else None
            if index >= len(columns):
                row[None] = cell  # type: ignore[index]  # more cells than headers: refused
            elif column is not None:
                row[column] = cell
        rows.append(row)
    return rows


@dataclass
class ImportReport:
    created: int = 0
    merged: int = 0
    duplicate: int = 0
    invalid: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


async def import_rows(
    database: Database,
    principal: Principal,
    rows: Sequence[dict[str, str | None]],
    *,
    policy: Policy,
    created_by: dict[str, Any],
    default_region: str = "US",
    on_progress: Callable[[int], None] = lambda _: None,
    chunk_size: int = 200,
) -> ImportReport:
    """Creates a lead per row through the intake rules (validation, tags, duplicate policy).

    Each row has a savepoint of its own and each chunk of rows a transaction of its own, so a
    bad row never undoes the others and an interrupted import keeps what it wrote. Re-running
    it is safe: rows already imported are duplicates (or, under `merge`, merge to no change).
    """
    region = principal.phone_region or default_region
    report = ImportReport()
    for start in range(0, len(rows), chunk_size):
        chunk = rows[start : start + chunk_size]
        async with database.sessionmaker() as session, session.begin():
            for offset, row in enumerate(chunk):
                line = start + offset + 2  # 1-based, after the header line
                await _import_row(session, principal, row, line, region, policy, created_by, report)
        on_progress(len(chunk))
    return report


async def _import_row(
    session: AsyncSession,
    principal: Principal,
    row: dict[str, str | None],
    line: int,
    region: str,
    policy: Policy,
    created_by: dict[str, Any],
    report: ImportReport,
) -> None:
    try:
        data = LeadCreate.model_validate(payload_from_row(row), context={"phone_region": region})
    except ValidationError as error:
        report.invalid += 1
        for detail in validation_details(error.errors()):
            report.errors.append((line, f"{detail['field']}: {detail['message']}"))
        return
    try:
        async with session.begin_nested():
            result = await service.create_lead(
                session,
                principal,
                data,
                request_source="import",
                policy=policy,
                created_by=created_by,
            )
    except DuplicateLead:
        report.duplicate += 1
    except ApiError as error:
        report.invalid += 1
        fields = "; ".join(f"{d.get('field')}: {d.get('message')}" for d in error.details)
        report.errors.append((line, f"{error.message} {fields}".strip()))
    else:
        if result.outcome == "merged":
            report.merged += 1
        else:
            report.created += 1
