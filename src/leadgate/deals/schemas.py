"""Pipeline, stage and deal request and response bodies."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from leadgate.schemas import RequestModel, ResponseModel, Timestamp

StageKind = Literal["open", "won", "lost"]
DealStatus = Literal["open", "won", "lost"]
StageName = Annotated[str, StringConstraints(min_length=1, max_length=120)]
DealName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")]
Id = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Probability = Annotated[int, Field(ge=0, le=100)]
# Minor units (cents); up to what a BIGINT holds.
Amount = Annotated[int, Field(ge=0, le=2**62)]
MAX_STAGES = 30
MAX_PAGE = 100


class StageIn(RequestModel):
    name: StageName
    kind: StageKind = "open"
    probability: Probability | None = None


class StageCreate(StageIn):
    """A new stage; `position` (0-based) inserts it there, otherwise it goes last."""

    position: Annotated[int, Field(ge=0)] | None = None


class StageUpdate(RequestModel):
    name: StageName | None = None
    kind: StageKind | None = None
    probability: Probability | None = None
    position: Annotated[int, Field(ge=0)] | None = None


class PipelineCreate(RequestModel):
    name: StageName
    stages: list[StageIn] = Field(min_length=1, max_length=MAX_STAGES)
    is_default: bool = False


class PipelineUpdate(RequestModel):
    name: StageName | None = None
    is_default: Literal[True] | None = None


class StageOut(ResponseModel):
    id: str
    name: str
    position: int
    kind: StageKind
    probability: int


class PipelineOut(ResponseModel):
    id: str
    name: str
    is_default: bool
    stages: list[StageOut]
    created_at: Timestamp


class PipelineList(ResponseModel):
    data: list[PipelineOut]


class Deleted(ResponseModel):
    id: str
    deleted: bool = True


class DealFields(RequestModel):
    amount: Amount | None = None
    currency: Currency | None = None
    pipeline_id: Id | None = None
    stage_id: Id | None = None
    contact_id: Id | None = None
    team_id: Id | None = None
    owner_id: Id | None = None
    expected_close_date: date | None = None

    @field_validator("currency", mode="after")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else None


class DealCreate(DealFields):
    """A deal; without `pipelineId` it joins the default pipeline, without `stageId` its first
    stage."""

    name: DealName
    amount: Amount = 0
    currency: Currency = "USD"


class DealUpdate(DealFields):
    """Fields left out stay; `stageId` moves the deal (into a won or lost stage closes it)."""

    name: DealName | None = None

    @field_validator("name", "amount", "currency", "stage_id", mode="after")
    @classmethod
    def _required(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be cleared")
        return value


class DealOut(ResponseModel):
    id: str
    name: str
    amount: int
    currency: str
    pipeline_id: str
    stage_id: str
    status: DealStatus
    contact_id: str | None
    lead_id: str | None
    team_id: str | None
    owner_id: str | None
    expected_close_date: date | None
    closed_at: Timestamp | None
    created_by: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp


class DealPage(ResponseModel):
    data: list[DealOut]
    has_more: bool
    next_cursor: str | None


class StageChangeOut(ResponseModel):
    id: str
    from_stage_id: str | None
    to_stage_id: str
    actor: dict[str, Any]
    changed_at: Timestamp


class DealHistory(ResponseModel):
    data: list[StageChangeOut]
