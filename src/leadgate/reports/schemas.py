"""Report bodies: each a list of rows (the same columns as the CSV)."""

from __future__ import annotations

from leadgate.schemas import ResponseModel


class LeadsRow(ResponseModel):
    period: str
    key: str | None
    count: int


class LeadsReport(ResponseModel):
    group_by: str
    period: str
    data: list[LeadsRow]


class FunnelStep(ResponseModel):
    step: str
    count: int
    # Of the step before (the first step: 1.0 when there is anything).
    conversion_rate: float | None


class FunnelReport(ResponseModel):
    data: list[FunnelStep]


class PipelineRow(ResponseModel):
    stage_id: str
    stage_name: str
    position: int
    kind: str
    probability: int
    currency: str | None
    deals: int
    amount: int
    weighted_amount: int


class PipelineReport(ResponseModel):
    pipeline_id: str
    data: list[PipelineRow]


class RevenueRow(ResponseModel):
    period: str
    currency: str
    deals: int
    amount: int


class RevenueReport(ResponseModel):
    period: str
    data: list[RevenueRow]


class UsageRow(ResponseModel):
    period: str
    status_class: str
    requests: int


class UsageReport(ResponseModel):
    period: str
    data: list[UsageRow]
