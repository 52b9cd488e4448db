"""`leadgate usage`: a tenant's or a key's request counts."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.cli.common import JsonFlag, TenantOption, emit, run, tenant_by_slug
from leadgate.settings import Settings


def usage(
    tenant: TenantOption,
    key: Annotated[str | None, typer.Option("--key", help="Only this key (key_…).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a tenant's (or one key's) usage: this hour, this month, the most-called endpoints."""
    from leadgate.usage.service import usage_report

    async def work(session: AsyncSession, _config: Settings) -> dict[str, Any]:
        found = await tenant_by_slug(session, tenant)
        report = await usage_report(session, found.id, key_id=key)
        return report.model_dump(mode="json", by_alias=True)

    report = run(work)
    hour, month = report["currentHour"], report["currentMonth"]

    def line(label: str, counts: dict[str, Any]) -> str:
        return (
            f"{label:<14} {counts['total']:>8} requests  {counts['success']:>8} ok  "
            f"{counts['clientErrors']:>6} 4xx  {counts['rateLimited']:>6} 429  "
            f"{counts['serverErrors']:>6} 5xx"
        )

    lines = [
        f"Usage of {tenant}" + (f", key {key}" if key else "") + " (UTC):",
        line("this hour", hour),
        line("this month", month),
        "",
        "Most-called endpoints (90 days):",
    ]
    lines += [line(f"  {e['method']} {e['route']}", e) for e in report["topEndpoints"]] or [
        "  (none)"
    ]
    emit(report, as_json, "\n".join(lines))
