"""Automation rule, run and trigger bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from leadgate.leads.schemas import LeadStatus
from leadgate.schemas import RequestModel, ResponseModel, Timestamp

Name = Annotated[str, StringConstraints(min_length=1, max_length=120)]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=40)]
TagName = Annotated[str, StringConstraints(min_length=1, max_length=60)]
Operator = Literal["eq", "neq", "in", "contains", "exists", "gt", "lt"]
Scalar = str | int | float | bool | None
RecordType = Literal["lead", "contact", "deal"]
MAX_PAGE = 100


class Condition(RequestModel):
    """`field` names a field of the event's record (camelCase, as in the event; `tags` compares
    tag names; `customFields.x` a custom field)."""

    field: FieldName
    op: Operator = "eq"
    value: Scalar | list[Scalar] = None


class SetStatus(RequestModel):
    type: Literal["set_status"]
    status: LeadStatus


class SetStage(RequestModel):
    type: Literal["set_stage"]
    stage_id: Id


class AddTags(RequestModel):
    type: Literal["add_tags"]
    tags: list[TagName] = Field(min_length=1, max_length=20)


class RemoveTags(RequestModel):
    type: Literal["remove_tags"]
    tags: list[TagName] = Field(min_length=1, max_length=20)


class AssignTeam(RequestModel):
    type: Literal["assign_team"]
    team_id: Id


class AssignOwner(RequestModel):
    type: Literal["assign_owner"]
    owner_id: Id


class CreateTask(RequestModel):
    type: Literal["create_task"]
    subject: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    due_in_days: Annotated[int, Field(ge=0, le=3650)] | None = None


class Emit(RequestModel):
    """Sends `automation.triggered` to the webhook endpoints subscribed to it."""

    type: Literal["emit"]


Action = Annotated[
    SetStatus | SetStage | AddTags | RemoveTags | AssignTeam | AssignOwner | CreateTask | Emit,
    Field(discriminator="type"),
]


class AutomationCreate(RequestModel):
    name: Name
    event_type: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    conditions: list[Condition] = Field(default_factory=list, max_length=20)
    actions: list[Action] = Field(min_length=1, max_length=10)
    enabled: bool = True

    @field_validator("event_type", mode="after")
    @classmethod
    def _known(cls, value: str) -> str:
        from leadgate.automations.rules import TRIGGERS

        if value not in TRIGGERS:
            raise ValueError("one of: " + ", ".join(TRIGGERS))
        return value


class AutomationUpdate(RequestModel):
    name: Name | None = None
    conditions: list[Condition] | None = Field(None, max_length=20)
    actions: list[Action] | None = Field(None, min_length=1, max_length=10)
    enabled: bool | None = None


class AutomationOut(ResponseModel):
    id: str
    name: str
    event_type: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    enabled: bool
    created_at: Timestamp
    updated_at: Timestamp


class AutomationList(ResponseModel):
    data: list[AutomationOut]


class AutomationDeleted(ResponseModel):
    id: str
    deleted: bool = True


class RunOut(ResponseModel):
    id: str
    automation_id: str
    event_id: str | None
    record_type: str | None
    record_id: str | None
    matched: bool
    actions_taken: list[dict[str, Any]]
    error: str | None
    created_at: Timestamp


class RunPage(ResponseModel):
    data: list[RunOut]
    has_more: bool
    next_cursor: str | None


class TriggerRequest(RequestModel):
    record_type: RecordType
    record_id: Id
