"""Usage report and notice bodies."""

from __future__ import annotations

from datetime import datetime

from leadgate.schemas import ResponseModel, Timestamp


class StatusCounts(ResponseModel):
    total: int = 0
    success: int = 0  # 2xx and 3xx
    client_errors: int = 0  # 4xx, 429 included
    rate_limited: int = 0  # 429
    server_errors: int = 0  # 5xx


class UsagePoint(StatusCounts):
    start: Timestamp


class EndpointUsage(StatusCounts):
    method: str
    route: str


class UsageReport(ResponseModel):
    key_id: str | None
    generated_at: Timestamp
    current_hour: StatusCounts
    current_month: StatusCounts
    hourly: list[UsagePoint]
    daily: list[UsagePoint]
    top_endpoints: list[EndpointUsage]


class NoticeOut(ResponseModel):
    id: str
    key_id: str | None
    kind: str
    period: str
    message: str
    created_at: Timestamp
    read_at: Timestamp | None


class NoticeList(ResponseModel):
    data: list[NoticeOut]


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
