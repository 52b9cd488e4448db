"""Usage reports, the quota figure a limiter starts from, and near-limit notices. Never commits."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.events.service import emit
from leadgate.ids import new_id
from leadgate.models import utcnow
from leadgate.usage.recorder import hour_of
from leadgate.usage.repository import NoticeRepository, UsageRepository
from leadgate.usage.schemas import (
    EndpointUsage,
    NoticeList,
    NoticeOut,
    StatusCounts,
    UsagePoint,
    UsageReport,
    month_start,
)

HOURLY_DAYS = 7
DAILY_DAYS = 90
TOP_ENDPOINTS = 10


def _add(counts: StatusCounts, status_class: str, count: int) -> None:
    counts.total += count
    if status_class in ("2xx", "3xx"):
        counts.success += count
    elif status_class == "429":
        counts.rate_limited += count
        counts.client_errors += count
    elif status_class == "4xx":
        counts.client_errors += count
    elif status_class == "5xx":
        counts.server_errors += count


def _series(
    rows: Iterable[tuple[datetime, str, int]], start: datetime, step: timedelta, buckets: int
) -> list[UsagePoint]:
    points = [UsagePoint(start=start + step * i) for i in range(buckets)]
    for hour, status_class, count in rows:
        index = int((hour - start) / step)
        if 0 <= index < buckets:
            _add(points[index], status_class, count)
    return points


async def usage_report(
    session: AsyncSession, tenant_id: str, *, key_id: str | None, now: datetime | None = None
) -> UsageReport:
    """Current hour and month, hourly for 7 days, daily for 90, and the most-called endpoints.

    Figures are what the servers have flushed (every `usage_flush_seconds`).
    """
    now = now or utcnow()
    repository = UsageRepository(session, tenant_id)
    this_hour = hour_of(now)
    today = this_hour.replace(hour=0)
    daily_start = today - timedelta(days=DAILY_DAYS - 1)
    hourly_start = this_hour - timedelta(hours=HOURLY_DAYS * 24 - 1)
    rows = await repository.hourly(min(daily_start, month_start(now)), key_id)

    current_hour, current_month = StatusCounts(), StatusCounts()
    for hour, status_class, count in rows:
        if hour >= this_hour:
            _add(current_hour, status_class, count)
        if hour >= month_start(now):
            _add(current_month, status_class, count)
    daily_rows = [(hour_of(h).replace(hour=0), s, c) for h, s, c in rows]

    endpoints: dict[tuple[str, str], EndpointUsage] = {}
    for method, route, status_class, count in await repository.by_route(daily_start, key_id):
        entry = endpoints.setdefault((method, route), EndpointUsage(method=method, route=route))
        _add(entry, status_class, count)
    top = sorted(endpoints.values(), key=lambda e: (-e.total, e.route, e.method))
    return UsageReport(
        key_id=key_id,
        generated_at=now,
        current_hour=current_hour,
        current_month=current_month,
        hourly=_series(rows, hourly_start, timedelta(hours=1), HOURLY_DAYS * 24),
        daily=_series(daily_rows, daily_start, timedelta(days=1), DAILY_DAYS),
        top_endpoints=top[:TOP_ENDPOINTS],
    )


async def admitted_this_month(
    session: AsyncSession, tenant_id: str, key_id: str, now: datetime | None = None
) -> int:
    """The flushed count of a key's admitted requests this month: where a quota counter starts."""
    return await UsageRepository(session, tenant_id).admitted_since(
        key_id, month_start(now or utcnow())
    )


async def record_threshold_reached(
    session: AsyncSession,
    tenant_id: str,
    *,
    key_id: str,
    key_name: str,
    kind: str,
    period: str,
    used: int,
    limit: int,
    threshold: float,
) -> bool:
    """A console notice and a `usage.threshold_reached` event, once per key, kind and period.

    False when another request or process already recorded this one.
    """
    what = "per-minute rate limit" if kind == "rate_limit" else "monthly quota"
    message = (
        f"API key {key_name!r} has used {used} of its {what} of {limit} "
        f"({round(threshold * 100)}% alert threshold, period {period})."
    )
    notice: dict[str, Any] = {
        "id": new_id("ntc"),
        "api_key_id": key_id,
        "kind": kind,
        "period": period,
        "message": message,
        "created_at": utcnow(),
    }
    if not await NoticeRepository(session, tenant_id).insert_once(notice):
        return False
    await emit(
        session,
        tenant_id,
        "usage.threshold_reached",
        {
            "keyId": key_id,
            "keyName": key_name,
            "kind": kind,
            "period": period,
            "used": used,
            "limit": limit,
            "threshold": threshold,
            "noticeId": notice["id"],
        },
    )
    return True


async def list_notices(
    session: AsyncSession, tenant_id: str, *, key_id: str | None, limit: int = 100
) -> NoticeList:
    notices = await NoticeRepository(session, tenant_id).list(api_key_id=key_id, limit=limit)
    return NoticeList(
        data=[
            NoticeOut(
                id=n.id,
                key_id=n.api_key_id,
                kind=n.kind,
                period=n.period,
                message=n.message,
                created_at=n.created_at,
                read_at=n.read_at,
            )
            for n in notices
        ]
    )


async def mark_notices_read(session: AsyncSession, tenant_id: str, *, key_id: str | None) -> int:
    """The console's "Mark all read": unread notices of the tenant (or one key) become read."""
    return await NoticeRepository(session, tenant_id).mark_read(api_key_id=key_id, at=utcnow())
