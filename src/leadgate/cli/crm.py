"""CRM commands an operator needs: the automation worker as a process of its own, a tenant's
automations and their runs, and the reports."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.cli.common import (
    JsonFlag,
    TenantOption,
    emit,
    fail,
    run,
    settings,
    tenant_by_slug,
)
from leadgate.cli.leads import cli_principal
from leadgate.db import Database
from leadgate.settings import Settings

automations_app = typer.Typer(help="Automations: the worker, rules and their runs.")
reports_app = typer.Typer(help="Reports: the funnel and pipeline value.")


@automations_app.command("worker")
def automations_worker() -> None:
    """Run the tenants' automation rules on new events until SIGTERM/SIGINT (the round in progress
    is finished first). Run any number of these with LEADGATE_AUTOMATIONS_WORKER_ENABLED=false on
    `leadgate serve`."""
    import signal

    from leadgate.automations.worker import AutomationWorker
    from leadgate.logging import configure_logging

    config = settings()
    configure_logging(config.log_level, json=config.log_format == "json")

    async def main() -> None:
        database = Database(config)
        worker = AutomationWorker(database, config)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stop)
        typer.echo("leadgate automation worker started", err=True)
        try:
            await worker.run()
        finally:
            await database.dispose()
        typer.echo("leadgate automation worker stopped", err=True)

    asyncio.run(main())


@automations_app.command("list")
def automations_list(tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """List a tenant's automations."""
    from leadgate.automations.service import list_automations

    async def work(session: AsyncSession, _config: Settings) -> list[dict[str, Any]]:
        found = await tenant_by_slug(session, tenant)
        rules = await list_automations(session, cli_principal(found))
        return [r.model_dump(mode="json", by_alias=True) for r in rules.data]

    rules = run(work)
    lines = [
        f"{r['id']}  {'enabled ' if r['enabled'] else 'disabled'}  {r['eventType']}  {r['name']}"
        for r in rules
    ]
    emit(rules, as_json, "\n".join(lines) or "(no automations)")


@automations_app.command("runs")
def automations_runs(
    automation_id: Annotated[str, typer.Argument(help="The automation's id (auto_…).")],
    tenant: TenantOption,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """An automation's latest runs: the event, the record, matched, actions taken, error."""
    from leadgate.automations.service import list_runs
    from leadgate.errors import ApiError

    async def work(session: AsyncSession, _config: Settings) -> list[dict[str, Any]]:
        found = await tenant_by_slug(session, tenant)
        try:
            page = await list_runs(
                session, cli_principal(found), automation_id, cursor=None, limit=limit
            )
        except ApiError as error:
            fail(error.message)
        return [r.model_dump(mode="json", by_alias=True) for r in page.data]

    runs = run(work)
    lines = [
        f"{r['createdAt']}  {'matched' if r['matched'] else 'skipped'}  "
        f"{r['recordType']} {r['recordId']}  "
        f"{','.join(a['type'] for a in r['actionsTaken']) or '-'}"
        f"{'  error: ' + r['error'] if r['error'] else ''}"
        for r in runs
    ]
    emit(runs, as_json, "\n".join(lines) or "(no runs)")


@reports_app.command("funnel")
def report_funnel(tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """Leads → contacts → deals → won, with the conversion rate of each step."""
    from leadgate.reports.service import funnel_report

    async def work(session: AsyncSession, _config: Settings) -> list[dict[str, Any]]:
        found = await tenant_by_slug(session, tenant)
        report = await funnel_report(session, cli_principal(found), None, None)
        return [s.model_dump(mode="json", by_alias=True) for s in report.data]

    steps = run(work)
    lines = [
        f"{s['step']:<9} {s['count']:>9}  "
        + ("" if s["conversionRate"] is None else f"{s['conversionRate'] * 100:.1f}%")
        for s in steps
    ]
    emit(steps, as_json, "\n".join(lines))


@reports_app.command("pipeline")
def report_pipeline(tenant: TenantOption, as_json: JsonFlag = False) -> None:
    """The default pipeline's value by stage: deals, amount and weighted amount (minor units)."""
    from leadgate.reports.service import pipeline_report

    async def work(session: AsyncSession, _config: Settings) -> list[dict[str, Any]]:
        found = await tenant_by_slug(session, tenant)
        report = await pipeline_report(session, cli_principal(found), None)
        return [r.model_dump(mode="json", by_alias=True) for r in report.data]

    rows = run(work)
    lines = [
        f"{r['stageName']:<20} {r['currency'] or '':<3} {r['deals']:>6} {r['amount']:>14} "
        f"{r['weightedAmount']:>14}"
        for r in rows
    ]
    emit(rows, as_json, "\n".join(lines))
