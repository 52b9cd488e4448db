"""Tag request and response bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints, field_validator

from leadgate.schemas import RequestModel, ResponseModel, Timestamp

TagName = Annotated[str, StringConstraints(min_length=1, max_length=60, strip_whitespace=True)]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]


class TagOut(ResponseModel):
    id: str
    name: str
    color: str | None = None


class TagDetail(TagOut):
    created_at: Timestamp


class TagList(ResponseModel):
    data: list[TagDetail]


class TagCreate(RequestModel):
    name: TagName
    color: Color | None = None

    @field_validator("color", mode="after")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else None


class TagUpdate(RequestModel):
    name: TagName | None = None
    color: Color | None = None

    @field_validator("color", mode="after")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else None


class TagDeleted(ResponseModel):
    id: str
    deleted: bool = True
