"""The Reports page: the funnel, leads by source, weighted pipeline value (charts) and won
revenue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from leadgate.console.auth import InTenant, check_csrf
from leadgate.console.contacts import member_principal_of
from leadgate.console.rendering import render
from leadgate.db import Session
from leadgate.reports import service as reports

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])

# --- reports ---------------------------------------------------------------------------------


def _bars(rows: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """Horizontal bars as percentages of the largest value (drawn by CSS widths in the page)."""
    peak = max((value for _, value in rows), default=0)
    return [
        {"label": label, "value": value, "percent": round(100 * value / peak) if peak else 0}
        for label, value in rows
    ]


@router.get("/reports", include_in_schema=False)
async def reports_page(request: Request, session: Session, current: InTenant) -> Response:
    principal = member_principal_of(current)
    funnel = (await reports.funnel_report(session, principal, None, None)).data
    pipeline = (await reports.pipeline_report(session, principal, None)).data
    sources = (await reports.leads_report(session, principal, "source", "month", None, None)).data
    revenue = (await reports.revenue_report(session, principal, "month", None, None)).data
    by_source: dict[str, int] = {}
    for row in sources:
        by_source[row.key or "(none)"] = by_source.get(row.key or "(none)", 0) + row.count
    weighted: dict[str, int] = {}
    for stage in pipeline:
        label = f"{stage.stage_name} ({stage.currency})" if stage.currency else stage.stage_name
        weighted[label] = weighted.get(label, 0) + stage.weighted_amount
    context = {
        "funnel": funnel,
        "funnel_bars": _bars([(s.step, s.count) for s in funnel]),
        "source_bars": _bars(sorted(by_source.items(), key=lambda item: -item[1])),
        "pipeline_bars": _bars(list(weighted.items())),
        "revenue": revenue,
    }
    return render(request, "console/reports.html", context)
