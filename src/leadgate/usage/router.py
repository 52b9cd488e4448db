"""HTTP routes of usage: the usage report and the console's notices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from leadgate.db import Session
from leadgate.responses import ERROR_RESPONSES
from leadgate.usage import service
from leadgate.usage.auth import UsageRead
from leadgate.usage.schemas import NoticeList, UsageReport

router = APIRouter(tags=["usage"], responses=ERROR_RESPONSES)

KeyFilter = Annotated[
    str | None,
    Query(alias="keyId", max_length=40, description="One key's usage; omit for the whole tenant."),
]


@router.get("/usage", response_model=UsageReport, summary="Usage of the tenant or one key")
async def get_usage(
    principal: UsageRead, session: Session, key_id: KeyFilter = None
) -> UsageReport:
    """Requests in the current hour and month, hourly for 7 days, daily for 90 days, and the
    most-called endpoints, each split into successes, 4xx, 429 and 5xx. Figures lag by at most
    the servers' usage flush interval (`LEADGATE_USAGE_FLUSH_SECONDS`)."""
    return await service.usage_report(session, principal.tenant_id, key_id=key_id)


@router.get("/usage/notices", response_model=NoticeList, summary="Usage notices")
async def get_notices(
    principal: UsageRead, session: Session, key_id: KeyFilter = None
) -> NoticeList:
    """Notices for the console, newest first: keys that reached the alert threshold of their
    per-minute limit or monthly quota (at most one per key per minute or month)."""
    return await service.list_notices(session, principal.tenant_id, key_id=key_id)
