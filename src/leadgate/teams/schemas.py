"""Team request and response bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from leadgate.schemas import RequestModel, ResponseModel, Timestamp

TeamName = Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)]


class TeamCreate(RequestModel):
    name: TeamName


class TeamUpdate(RequestModel):
    name: TeamName


class TeamOut(ResponseModel):
    id: str
    name: str
    created_at: Timestamp
    lead_count: int
    key_count: int


class TeamList(ResponseModel):
    data: list[TeamOut]


class TeamDeleted(ResponseModel):
    id: str
    moved_to: str | None
    leads_moved: int
    keys_changed: int
