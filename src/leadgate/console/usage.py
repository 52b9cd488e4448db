"""The Usage page: a workspace's (or one key's) requests, charts and near-limit notices."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from leadgate.console import service
from leadgate.console.auth import InTenant, check_csrf
from leadgate.console.charts import bar_chart
from leadgate.console.rendering import page_error, redirect, render
from leadgate.db import Session
from leadgate.errors import InvalidRequest
from leadgate.usage import service as usage

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])


@router.get("/usage", include_in_schema=False)
async def usage_page(
    request: Request, session: Session, current: InTenant, key: str = ""
) -> Response:
    keys = await service.list_keys(session, current.tenant.id)
    selected = next((row.key for row in keys if row.key.id == key), None)
    if key and selected is None:
        raise page_error(InvalidRequest("No such API key in this workspace."))
    key_id = selected.id if selected else None
    report = await usage.usage_report(session, current.tenant.id, key_id=key_id)
    notices = await usage.list_notices(session, current.tenant.id, key_id=key_id, limit=20)
    names = {row.key.id: row.key.name for row in keys}
    context = {
        "keys": keys,
        "selected": selected,
        "report": report,
        "hourly": bar_chart("Requests per hour, last 7 days", report.hourly, hourly=True),
        "daily": bar_chart("Requests per day, last 90 days", report.daily, hourly=False),
        "notices": notices.data,
        "key_names": names,
    }
    return render(request, "console/usage.html", context)


@router.post("/usage/notices/read", include_in_schema=False)
async def mark_notices_read(
    request: Request, session: Session, current: InTenant, key: str = ""
) -> Response:
    keys = await service.list_keys(session, current.tenant.id)
    if key and key not in {row.key.id for row in keys}:
        raise page_error(InvalidRequest("No such API key in this workspace."))
    await usage.mark_notices_read(session, current.tenant.id, key_id=key or None)
    return redirect("/console/usage" + (f"?key={key}" if key else ""))
