"""Reports over the tenant's whole data: a key limited to some teams may not read them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.auth.principal import Principal
from leadgate.deals import service as deals
from leadgate.errors import Forbidden
from leadgate.reports.repository import LeadDimension, Period, ReportRepository
from leadgate.reports.schemas import (
    FunnelReport,
    FunnelStep,
    LeadsReport,
    LeadsRow,
    PipelineReport,
    PipelineRow,
    RevenueReport,
    RevenueRow,
    UsageReport,
    UsageRow,
)


def _repository(session: AsyncSession, principal: Principal) -> ReportRepository:
    if principal.team_scope != "all-accounts":
        raise Forbidden("Reports cover every team; this API key is limited to some.")
    return ReportRepository(session, principal.tenant_id)


async def leads_report(
    session: AsyncSession,
    principal: Principal,
    group_by: LeadDimension,
    period: Period,
    start: datetime | None,
    end: datetime | None,
) -> LeadsReport:
    rows = await _repository(session, principal).leads_over_time(group_by, period, start, end)
    return LeadsReport(
        group_by=group_by,
        period=period,
        data=[LeadsRow(period=str(r.period), key=r.key, count=r.count) for r in rows],
    )


async def funnel_report(
    session: AsyncSession, principal: Principal, start: datetime | None, end: datetime | None
) -> FunnelReport:
    counts = await _repository(session, principal).funnel(start, end)
    steps: list[FunnelStep] = []
    previous: int | None = None
    for step in ("leads", "contacts", "deals", "won"):
        count = int(counts[step])
        if previous is None:
            rate = 1.0 if count else None
        else:
            rate = round(count / previous, 4) if previous else None
        steps.append(FunnelStep(step=step, count=count, conversion_rate=rate))
        previous = count
    return FunnelReport(data=steps)


async def pipeline_report(
    session: AsyncSession, principal: Principal, pipeline_id: str | None
) -> PipelineReport:
    repository = _repository(session, principal)
    if pipeline_id is None:
        pipeline_id = (await deals.default_pipeline(session, principal.tenant_id)).id
    else:
        await deals.get_pipeline(session, principal, pipeline_id)  # 404 for an unknown one
    rows = await repository.pipeline_value(pipeline_id)
    return PipelineReport(
        pipeline_id=pipeline_id,
        data=[
            PipelineRow(
                stage_id=r.id,
                stage_name=r.name,
                position=r.position,
                kind=r.kind,
                probability=r.probability,
                currency=r.currency,
                deals=r.deals,
                amount=int(r.amount),
                weighted_amount=int(r.weighted),
            )
            for r in rows
        ],
    )


async def revenue_report(
    session: AsyncSession,
    principal: Principal,
    period: Period,
    start: datetime | None,
    end: datetime | None,
) -> RevenueReport:
    rows = await _repository(session, principal).won_revenue(period, start, end)
    return RevenueReport(
        period=period,
        data=[
            RevenueRow(
                period=str(r.period), currency=r.currency, deals=r.deals, amount=int(r.amount)
            )
            for r in rows
        ],
    )


async def usage_report(
    session: AsyncSession,
    principal: Principal,
    period: Period,
    start: datetime | None,
    end: datetime | None,
) -> UsageReport:
    rows = await _repository(session, principal).api_usage(period, start, end)
    return UsageReport(
        period=period,
        data=[
            UsageRow(period=str(r.period), status_class=r.status_class, requests=int(r.requests))
            for r in rows
        ],
    )
