"""HTTP routes of activities and record timelines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from leadgate.activities import service
from leadgate.activities.auth import ActivitiesRead, ActivitiesWrite
from leadgate.activities.repository import ActivityFilters
from leadgate.activities.schemas import (
    MAX_PAGE,
    ActivityCreate,
    ActivityDeleted,
    ActivityKind,
    ActivityOut,
    ActivityPage,
    ActivityUpdate,
    RecordType,
    Timeline,
)
from leadgate.db import Session
from leadgate.idempotency.route import IdempotentRoute
from leadgate.openapi import request_body
from leadgate.payload import read_body
from leadgate.responses import ERROR_RESPONSES

router = APIRouter(tags=["activities"], responses=ERROR_RESPONSES, route_class=IdempotentRoute)


@router.post(
    "/activities",
    status_code=201,
    response_model=ActivityOut,
    summary="Log an activity",
    openapi_extra=request_body(ActivityCreate),
)
async def create_activity(
    request: Request, principal: ActivitiesWrite, session: Session
) -> ActivityOut:
    """A note, call, meeting or e-mail (done when logged), or a task (`dueAt`, `done`) on a
    lead, contact or deal."""
    data = await read_body(request, ActivityCreate)
    return await service.create_activity(session, principal, data)


@router.get("/activities", response_model=ActivityPage, summary="List activities")
async def list_activities(
    principal: ActivitiesRead,
    session: Session,
    record_type: Annotated[RecordType | None, Query(alias="recordType")] = None,
    record_id: Annotated[str | None, Query(alias="recordId", max_length=40)] = None,
    kind: ActivityKind | None = None,
    open_tasks: Annotated[
        bool | None, Query(alias="open", description="Tasks not done (true) or done (false).")
    ] = None,
    due_before: Annotated[datetime | None, Query(alias="dueBefore")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 25,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> ActivityPage:
    """Newest first; pass `nextCursor` as `cursor` for the next page."""
    if due_before is not None and due_before.tzinfo is None:
        due_before = due_before.replace(tzinfo=UTC)
    filters = ActivityFilters(
        record_type=record_type,
        record_id=record_id,
        kind=kind,
        open_tasks=open_tasks,
        due_before=due_before,
    )
    return await service.list_activities(session, principal, filters, cursor=cursor, limit=limit)


@router.get("/activities/{activity_id}", response_model=ActivityOut, summary="Get an activity")
async def get_activity(
    activity_id: str, principal: ActivitiesRead, session: Session
) -> ActivityOut:
    return await service.get_activity(session, principal, activity_id)


@router.patch(
    "/activities/{activity_id}",
    response_model=ActivityOut,
    summary="Update an activity (mark a task done)",
    openapi_extra=request_body(ActivityUpdate),
)
async def update_activity(
    request: Request, activity_id: str, principal: ActivitiesWrite, session: Session
) -> ActivityOut:
    data = await read_body(request, ActivityUpdate)
    return await service.update_activity(session, principal, activity_id, data)


@router.delete(
    "/activities/{activity_id}", response_model=ActivityDeleted, summary="Delete an activity"
)
async def delete_activity(
    activity_id: str, principal: ActivitiesWrite, session: Session
) -> ActivityDeleted:
    return await service.delete_activity(session, principal, activity_id)


@router.get(
    "/timeline/{record_type}/{record_id}", response_model=Timeline, summary="A record's timeline"
)
async def timeline(
    record_type: RecordType, record_id: str, principal: ActivitiesRead, session: Session
) -> Timeline:
    """Everything that happened to a lead, contact or deal, newest first: activities, events
    with the fields they changed (`changedFields`, `previousAttributes`), and stage changes."""
    return await service.timeline(session, principal, record_type, record_id)
