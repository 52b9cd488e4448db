"""`leadgate leads`: CSV export and import, purging deleted leads."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from leadgate.api_keys.grantor import OPERATOR
from leadgate.api_keys.scopes import ALL_SCOPES
from leadgate.auth.principal import Principal
from leadgate.cli.common import TenantOption, fail, settings, tenant_by_slug
from leadgate.db import Database
from leadgate.models import Tenant

app = typer.Typer(help="Leads: CSV export and import, purging deleted leads.")


def cli_principal(tenant: Tenant) -> Principal:
    """The CLI acts in a tenant with every scope and no team limit."""
    return Principal(
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        api_key_id=OPERATOR.actor["id"],
        api_key_name=OPERATOR.actor["name"],
        scopes=frozenset(ALL_SCOPES),
        phone_region=tenant.phone_region,
        duplicate_policy=tenant.duplicate_policy,
    )


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@app.command("export")
def leads_export(
    tenant: TenantOption,
    status: Annotated[str | None, typer.Option(help="Only leads with this status.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only leads with this tag (id or name).")] = None,
    team_id: Annotated[str | None, typer.Option("--team-id", help="Only this team.")] = None,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    q: Annotated[str | None, typer.Option("--q", help="Text in name/email/company/phone.")] = None,
    created_after: Annotated[
        datetime | None, typer.Option("--created-after", help="Inclusive; UTC if no offset.")
    ] = None,
    created_before: Annotated[
        datetime | None, typer.Option("--created-before", help="Exclusive; UTC if no offset.")
    ] = None,
) -> None:
    """Write the tenant's leads as CSV to stdout (`> leads.csv`), newest first."""
    from leadgate.leads.csv_format import stream_csv
    from leadgate.leads.service import lead_filters

    config = settings()

    async def main() -> None:
        database = Database(config)
        try:
            async with database.sessionmaker() as session:
                found = await tenant_by_slug(session, tenant)
                filters = await lead_filters(
                    session,
                    cli_principal(found),
                    status=status,
                    tag=tag,
                    team_id=team_id,
                    source=source,
                    q=q,
                    created_after=_utc(created_after),
                    created_before=_utc(created_before),
                )
            async for chunk in stream_csv(database, found.id, filters, config.export_batch_size):
                sys.stdout.write(chunk)
        finally:
            await database.dispose()

    asyncio.run(main())
    sys.stdout.flush()


@app.command("import")
def leads_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with a header row (the export's columns).", exists=True, dir_okay=False
        ),
    ],
    tenant: TenantOption,
    on_duplicate: Annotated[
        str | None,
        typer.Option(
            "--on-duplicate",
            help="reject or merge; default: the tenant's policy (allow imports as reject, so "
            "a re-run never doubles a lead).",
        ),
    ] = None,
) -> None:
    """Import leads from CSV through the API's validation and duplicate rules."""
    import csv

    from leadgate.leads.csv_format import COLUMNS, import_rows

    if on_duplicate not in (None, "reject", "merge"):
        fail("--on-duplicate must be reject or merge")
    # utf-8-sig: spreadsheets often start a CSV with a byte-order mark.
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    unknown = sorted(set(reader.fieldnames or ()) - set(COLUMNS))
    if unknown or not {"firstName", "lastName"} <= set(reader.fieldnames or ()):
        fail(
            "the header must name firstName and lastName"
            + (f"; unknown columns: {', '.join(unknown)}" if unknown else "")
            + f"\n  columns: {', '.join(COLUMNS)}"
        )
    config = settings()

    async def main(progress: Any) -> Any:
        database = Database(config)
        try:
            async with database.sessionmaker() as session:
                found = await tenant_by_slug(session, tenant)
            policy = on_duplicate or ("merge" if found.duplicate_policy == "merge" else "reject")
            return await import_rows(
                database,
                cli_principal(found),
                rows,
                policy=policy,  # type: ignore[arg-type]
                created_by=OPERATOR.actor,
                default_region=config.default_phone_region,
                on_progress=progress,
            )
        finally:
            await database.dispose()

    with typer.progressbar(length=len(rows), label="Importing", file=sys.stderr) as bar:
        report = asyncio.run(main(bar.update))
    for line, message in report.errors:
        typer.echo(f"row {line}: {message}", err=True)
    typer.echo(
        f"{len(rows)} rows: {report.created} created, {report.merged} merged, "
        f"{report.duplicate} duplicates, {report.invalid} invalid"
    )
    if report.invalid:
        raise typer.Exit(1)


@app.command("purge")
def leads_purge(
    older_than_days: Annotated[
        float | None,
        typer.Option("--older-than-days", help="Default: LEADGATE_LEAD_RETENTION_DAYS."),
    ] = None,
) -> None:
    """Delete for good the leads deleted longer ago than the retention period, and expired
    idempotency records (the server also does this every LEADGATE_HOUSEKEEPING_INTERVAL_SECONDS)."""
    from leadgate.housekeeping import purge_once

    config = settings()

    async def main() -> Any:
        database = Database(config)
        try:
            return await purge_once(database, config, retention_days=older_than_days)
        finally:
            await database.dispose()

    purged = asyncio.run(main())
    typer.echo(
        f"Purged {purged.leads} deleted leads and {purged.idempotency_records} expired "
        "idempotency records."
    )
