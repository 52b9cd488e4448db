"""HTTP routes of reports: JSON by default, CSV with `?format=csv`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query
from starlette.responses import Response

from leadgate.db import Session
from leadgate.leads.csv_format import render
from leadgate.reports import service
from leadgate.reports.auth import ReportsRead
from leadgate.reports.repository import LeadDimension, Period
from leadgate.reports.schemas import (
    FunnelReport,
    LeadsReport,
    PipelineReport,
    RevenueReport,
    UsageReport,
)
from leadgate.responses import ERROR_RESPONSES
from leadgate.schemas import ResponseModel

router = APIRouter(tags=["reports"], responses=ERROR_RESPONSES)

PeriodParam = Annotated[Period, Query(description="Rows per day, ISO week or month (UTC).")]
From = Annotated[datetime | None, Query(alias="from", description="Inclusive, ISO 8601.")]
To = Annotated[datetime | None, Query(alias="to", description="Exclusive, ISO 8601.")]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}
}


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _answer(report: ResponseModel, name: str, form: str) -> ResponseModel | Response:
    if form == "json":
        return report
    rows: list[dict[str, Any]] = report.model_dump(mode="json", by_alias=True)["data"]
    row_model = get_args(type(report).model_fields["data"].annotation)[0]
    columns = [field.alias or name for name, field in row_model.model_fields.items()]
    body = render(
        [columns, *([("" if r[c] is None else str(r[c])) for c in columns] for r in rows)]
    )
    return Response(
        content=body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/reports/leads", response_model=LeadsReport, responses=CSV_RESPONSE,
            summary="Leads by source, status or team over time")  # fmt: skip
async def leads_report(
    principal: ReportsRead,
    session: Session,
    group_by: Annotated[LeadDimension, Query(alias="groupBy")] = "source",
    period: PeriodParam = "month",
    start: From = None,
    end: To = None,
    form: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> ResponseModel | Response:
    report = await service.leads_report(
        session, principal, group_by, period, _utc(start), _utc(end)
    )
    return _answer(report, "leads-report", form)


@router.get("/reports/funnel", response_model=FunnelReport, responses=CSV_RESPONSE,
            summary="Lead → contact → deal → won")  # fmt: skip
async def funnel_report(
    principal: ReportsRead,
    session: Session,
    start: From = None,
    end: To = None,
    form: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> ResponseModel | Response:
    """Of the leads created in the range: how many became contacts, got a deal, won one; each
    step's rate is of the step before."""
    report = await service.funnel_report(session, principal, _utc(start), _utc(end))
    return _answer(report, "funnel", form)


@router.get("/reports/pipeline", response_model=PipelineReport, responses=CSV_RESPONSE,
            summary="Pipeline value by stage")  # fmt: skip
async def pipeline_report(
    principal: ReportsRead,
    session: Session,
    pipeline_id: Annotated[str | None, Query(alias="pipelineId", max_length=40)] = None,
    form: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> ResponseModel | Response:
    """Per stage (and currency): deals, amount and the amount weighted by the stage's
    probability, in minor units. The default pipeline unless `pipelineId` is given."""
    report = await service.pipeline_report(session, principal, pipeline_id)
    return _answer(report, "pipeline", form)


@router.get("/reports/revenue", response_model=RevenueReport, responses=CSV_RESPONSE,
            summary="Won revenue per period")  # fmt: skip
async def revenue_report(
    principal: ReportsRead,
    session: Session,
    period: PeriodParam = "month",
    start: From = None,
    end: To = None,
    form: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> ResponseModel | Response:
    """Won deals per period of their closing, per currency (minor units)."""
    report = await service.revenue_report(session, principal, period, _utc(start), _utc(end))
    return _answer(report, "revenue", form)


@router.get("/reports/usage", response_model=UsageReport, responses=CSV_RESPONSE,
            summary="API requests per period")  # fmt: skip
async def usage_report(
    principal: ReportsRead,
    session: Session,
    period: PeriodParam = "day",
    start: From = None,
    end: To = None,
    form: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> ResponseModel | Response:
    """The tenant's API requests per period and status class (`2xx`, `4xx`, `429`, …)."""
    report = await service.usage_report(session, principal, period, _utc(start), _utc(end))
    return _answer(report, "usage", form)
