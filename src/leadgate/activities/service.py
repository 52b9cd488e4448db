"""The rules of activities (a task is done or not; other kinds are done when logged) and the
timeline that merges a record's activities, events and stage changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic.alias_generators import to_camel
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.activities.repository import ActivityFilters, ActivityRepository
from leadgate.activities.schemas import (
    ActivityCreate,
    ActivityDeleted,
    ActivityOut,
    ActivityPage,
    ActivityUpdate,
    Timeline,
    TimelineEntry,
)
from leadgate.auth.principal import Principal
from leadgate.contacts import service as contacts
from leadgate.contacts.common import actor_of
from leadgate.deals import service as deals
from leadgate.errors import InvalidRequest, NotFound
from leadgate.events.service import emit
from leadgate.ids import new_id
from leadgate.leads import service as leads
from leadgate.leads.repository import Position
from leadgate.models import Activity, utcnow
from leadgate.schemas import iso_utc

TIMELINE_LIMIT = 200


async def check_record(
    session: AsyncSession, principal: Principal, record_type: str, record_id: str
) -> None:
    """The record exists and the caller's teams see it (404 otherwise)."""
    if record_type == "lead":
        await leads.get_lead(session, principal, record_id)
    elif record_type == "contact":
        await contacts.get_contact(session, principal, record_id)
    else:
        await deals.get_deal(session, principal, record_id)


async def create_activity(
    session: AsyncSession, principal: Principal, data: ActivityCreate
) -> ActivityOut:
    try:
        await check_record(session, principal, data.record_type, data.record_id)
    except NotFound:
        raise InvalidRequest(
            f"No {data.record_type} {data.record_id}.",
            details=[{"field": "recordId", "message": "not found", "type": "not_found"}],
        ) from None
    if data.due_at is not None and data.kind != "task":
        raise InvalidRequest(
            "Only tasks have a due date.",
            details=[{"field": "dueAt", "message": "tasks only", "type": "invalid"}],
        )
    now = utcnow()
    values: dict[str, Any] = {
        "id": new_id("act"),
        "kind": data.kind,
        "record_type": data.record_type,
        "record_id": data.record_id,
        "subject": data.subject,
        "body": data.body,
        "due_at": data.due_at,
        # A note, call, meeting or e-mail is logged after the fact; a task is done when marked.
        "done_at": now if data.done or data.kind != "task" else None,
        "created_by": actor_of(principal),
        "created_at": now,
        "updated_at": now,
    }
    await ActivityRepository(session, principal.tenant_id).insert(values)
    out = activity_out(values)
    await emit(session, principal.tenant_id, "activity.created", out.model_dump(mode="json"))
    return out


async def _visible(session: AsyncSession, principal: Principal, activity_id: str) -> Activity:
    activity = await ActivityRepository(session, principal.tenant_id).get(activity_id)
    if activity is None:
        raise NotFound(f"No activity {activity_id}.")
    try:
        await check_record(session, principal, activity.record_type, activity.record_id)
    except NotFound:
        raise NotFound(f"No activity {activity_id}.") from None
    return activity


async def get_activity(
    session: AsyncSession, principal: Principal, activity_id: str
) -> ActivityOut:
    return activity_out(_row(await _visible(session, principal, activity_id)))


async def list_activities(
    session: AsyncSession,
    principal: Principal,
    filters: ActivityFilters,
    *,
    cursor: str | None,
    limit: int,
) -> ActivityPage:
    if filters.record_id is not None and filters.record_type is not None:
        await check_record(session, principal, filters.record_type, filters.record_id)
    elif principal.team_scope != "all-accounts":
        raise InvalidRequest(
            "A team-scoped key lists the activities of one record: give recordType and recordId.",
            details=[{"field": "recordId", "message": "required for this key", "type": "missing"}],
        )
    after = leads.decode_cursor(cursor) if cursor else None
    rows = await ActivityRepository(session, principal.tenant_id).page(
        filters, after=after, limit=limit + 1
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        leads.encode_cursor(Position(rows[-1].created_at, rows[-1].id)) if has_more else None
    )
    return ActivityPage(
        data=[activity_out(_row(r)) for r in rows], has_more=has_more, next_cursor=next_cursor
    )


async def update_activity(
    session: AsyncSession, principal: Principal, activity_id: str, data: ActivityUpdate
) -> ActivityOut:
    activity = await _visible(session, principal, activity_id)
    given = data.model_fields_set
    changes: dict[str, Any] = {
        name: getattr(data, name)
        for name in ("subject", "body", "due_at")
        if name in given and getattr(data, name) != getattr(activity, name)
    }
    if "due_at" in changes and activity.kind != "task":
        raise InvalidRequest(
            "Only tasks have a due date.",
            details=[{"field": "dueAt", "message": "tasks only", "type": "invalid"}],
        )
    if data.done is not None and data.done != (activity.done_at is not None):
        changes["done_at"] = utcnow() if data.done else None
    if not changes:
        return activity_out(_row(activity))
    previous = {to_camel(k): _jsonable(getattr(activity, k)) for k in changes}
    changes["updated_at"] = utcnow()
    await ActivityRepository(session, principal.tenant_id).update(activity.id, changes)
    out = activity_out({**_row(activity), **changes})
    await emit(
        session,
        principal.tenant_id,
        "activity.updated",
        {
            **out.model_dump(mode="json"),
            "changedFields": [k for k in previous],
            "previousAttributes": previous,
        },
    )
    return out


async def delete_activity(
    session: AsyncSession, principal: Principal, activity_id: str
) -> ActivityDeleted:
    activity = await _visible(session, principal, activity_id)
    await ActivityRepository(session, principal.tenant_id).delete(activity.id)
    return ActivityDeleted(id=activity.id)


async def timeline(
    session: AsyncSession, principal: Principal, record_type: str, record_id: str
) -> Timeline:
    """The record's activities, its events (creation, field changes with what they were,
    conversion, won/lost) and, for a deal, its stage changes; newest first."""
    await check_record(session, principal, record_type, record_id)
    repository = ActivityRepository(session, principal.tenant_id)
    entries: list[TimelineEntry] = []
    activities = await repository.page(
        ActivityFilters(record_type=record_type, record_id=record_id),
        after=None,
        limit=TIMELINE_LIMIT,
    )
    for activity in activities:
        out = activity_out(_row(activity))
        entries.append(TimelineEntry(at=out.created_at, type="activity", id=out.id, activity=out))
    for event in await repository.events_about(record_type, record_id, TIMELINE_LIMIT):
        entries.append(
            TimelineEntry(
                at=event.created_at,
                type="event",
                id=event.id,
                event_type=event.type,
                changed_fields=event.data.get("changedFields"),
                previous_attributes=event.data.get("previousAttributes"),
            )
        )
    if record_type == "deal":
        for change in await deals.deal_history(session, principal, record_id):
            entries.append(
                TimelineEntry(
                    at=change.changed_at,
                    type="stage_change",
                    id=change.id,
                    from_stage_id=change.from_stage_id,
                    to_stage_id=change.to_stage_id,
                    actor=change.actor,
                )
            )
    entries.sort(key=lambda e: (e.at, e.id), reverse=True)
    return Timeline(
        record_type=record_type,
        record_id=record_id,
        data=entries[:TIMELINE_LIMIT],
    )


def _jsonable(value: Any) -> Any:
    return iso_utc(value) if isinstance(value, datetime) else value


def _row(activity: Activity) -> dict[str, Any]:
    return {column.key: getattr(activity, column.key) for column in Activity.__table__.columns}


def activity_out(values: dict[str, Any]) -> ActivityOut:
    return ActivityOut.model_validate(
        {name: values[name] for name in ActivityOut.model_fields if name in values}
    )
