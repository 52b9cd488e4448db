"""The audit log page (owners and admins)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from leadgate.console import service
from leadgate.console.auth import InTenant, check_csrf
from leadgate.console.rendering import page_errors, render
from leadgate.db import Session

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])


@router.get("/audit", include_in_schema=False)
async def audit_page(request: Request, session: Session, current: InTenant) -> Response:
    with page_errors():
        events = await service.audit_log(session, current.tenant.id, current.role)
    rows = [(event, service.describe_change(event)) for event in events]
    return render(request, "console/audit.html", {"rows": rows})
