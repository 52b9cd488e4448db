"""Recording events. Never commits: the event shares the fate of the change that caused it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.events.catalogue import CATALOGUE
from leadgate.events.repository import EventRepository
from leadgate.ids import new_id
from leadgate.models import utcnow

EVENT_TYPES = tuple(event_type.type for event_type in CATALOGUE)
# The ids of the events emitted inside `collecting()` (the automation worker marks the events
# its own actions cause, so they do not trigger rules again).
_collected: ContextVar[list[str] | None] = ContextVar("collected_events", default=None)


@contextmanager
def collecting() -> Iterator[list[str]]:
    ids: list[str] = []
    token = _collected.set(ids)
    try:
        yield ids
    finally:
        _collected.reset(token)


def new_event(event_type: str, data_json: str) -> dict[str, Any]:
    """An event row for a repository that writes it with the change itself (`LeadWriter`), its
    `data` already JSON text."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    return {"id": new_id("evt"), "type": event_type, "data": data_json, "created_at": utcnow()}


async def emit(session: AsyncSession, tenant_id: str, event_type: str, data: dict[str, Any]) -> str:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type}")
    event_id = new_id("evt")
    await EventRepository(session, tenant_id).insert(event_id, event_type, data, utcnow())
    collected = _collected.get()
    if collected is not None:
        collected.append(event_id)
    return event_id
