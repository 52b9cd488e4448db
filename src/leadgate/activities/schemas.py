"""Activity and timeline bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, StringConstraints, field_validator

from leadgate.schemas import RequestModel, ResponseModel, Timestamp

ActivityKind = Literal["note", "call", "meeting", "email", "task"]
RecordType = Literal["lead", "contact", "deal"]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Body = Annotated[str, StringConstraints(max_length=20000)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MAX_PAGE = 100


class ActivityCreate(RequestModel):
    kind: ActivityKind
    record_type: RecordType
    record_id: Id
    subject: Subject
    body: Body | None = None
    due_at: AwareDatetime | None = None
    done: bool = False


class ActivityUpdate(RequestModel):
    subject: Subject | None = None
    body: Body | None = None
    due_at: AwareDatetime | None = None
    done: bool | None = None

    @field_validator("subject", "done", mode="after")
    @classmethod
    def _required(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be cleared")
        return value


class ActivityOut(ResponseModel):
    id: str
    kind: ActivityKind
    record_type: RecordType
    record_id: str
    subject: str
    body: str | None
    due_at: Timestamp | None
    done_at: Timestamp | None
    created_by: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp


class ActivityPage(ResponseModel):
    data: list[ActivityOut]
    has_more: bool
    next_cursor: str | None


class ActivityDeleted(ResponseModel):
    id: str
    deleted: bool = True


class TimelineEntry(ResponseModel):
    """One thing that happened to a record: an activity, an event (with the fields it changed)
    or a deal's stage change."""

    at: Timestamp
    type: Literal["activity", "event", "stage_change"]
    id: str
    activity: ActivityOut | None = None
    event_type: str | None = None
    changed_fields: list[str] | None = None
    previous_attributes: dict[str, Any] | None = None
    from_stage_id: str | None = None
    to_stage_id: str | None = None
    actor: dict[str, Any] | None = None


class Timeline(ResponseModel):
    record_type: RecordType
    record_id: str
    data: list[TimelineEntry]
