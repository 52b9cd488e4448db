"""The rules of tags: one name per tenant (compared case-insensitively), `#rrggbb` colours."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.auth.principal import Principal
from leadgate.errors import Conflict, InvalidRequest, NotFound
from leadgate.ids import new_id
from leadgate.models import Tag, utcnow
from leadgate.tags.repository import TagRepository
from leadgate.tags.schemas import TagCreate, TagDeleted, TagDetail, TagList, TagUpdate


class TagNameTaken(Conflict):
    code = "tag_name_taken"


def name_key(name: str) -> str:
    """Tag names compare case-insensitively, with inner spacing folded (as lead intake does)."""
    return " ".join(name.split()).casefold()


def _taken(name: str) -> TagNameTaken:
    return TagNameTaken(
        f"A tag named {name!r} already exists.",
        details=[{"field": "name", "message": "already used in this tenant", "type": "duplicate"}],
    )


def tag_detail(tag: Tag) -> TagDetail:
    return TagDetail(id=tag.id, name=tag.name, color=tag.color, created_at=tag.created_at)


async def list_tags(session: AsyncSession, principal: Principal) -> TagList:
    tags = await TagRepository(session, principal.tenant_id).list()
    return TagList(data=[tag_detail(tag) for tag in tags])


async def get_tag(session: AsyncSession, principal: Principal, tag_id: str) -> TagDetail:
    return tag_detail(await _existing(session, principal, tag_id))


async def _existing(session: AsyncSession, principal: Principal, tag_id: str) -> Tag:
    tag = await TagRepository(session, principal.tenant_id).get(tag_id)
    if tag is None:
        raise NotFound(f"No tag {tag_id}.")
    return tag


async def create_tag(session: AsyncSession, principal: Principal, data: TagCreate) -> TagDetail:
    name = " ".join(data.name.split())
    values = {
        "id": new_id("tag"),
        "name": name,
        "name_key": name_key(name),
        "color": data.color,
        "created_at": utcnow(),
    }
    if not await TagRepository(session, principal.tenant_id).insert(values):
        raise _taken(name)
    return TagDetail(id=values["id"], name=name, color=data.color, created_at=values["created_at"])


async def update_tag(
    session: AsyncSession, principal: Principal, tag_id: str, data: TagUpdate
) -> TagDetail:
    tag = await _existing(session, principal, tag_id)
    changes: dict[str, Any] = {}
    if "name" in data.model_fields_set:
        if data.name is None:
            raise InvalidRequest(
                "A tag needs a name.",
                details=[{"field": "name", "message": "cannot be cleared", "type": "missing"}],
            )
        name = " ".join(data.name.split())
        changes.update(name=name, name_key=name_key(name))
    if "color" in data.model_fields_set:
        changes["color"] = data.color
    if not changes:
        return tag_detail(tag)
    repository = TagRepository(session, principal.tenant_id)
    # The unique index decides a rename; the savepoint keeps the transaction usable after it.
    try:
        async with session.begin_nested():
            await repository.update(tag.id, changes)
    except sa.exc.IntegrityError:
        raise _taken(str(changes["name"])) from None
    return TagDetail(
        id=tag.id,
        name=changes.get("name", tag.name),
        color=changes.get("color", tag.color),
        created_at=tag.created_at,
    )


async def delete_tag(session: AsyncSession, principal: Principal, tag_id: str) -> TagDeleted:
    """Deletes the tag and takes it off every lead."""
    tag = await _existing(session, principal, tag_id)
    await TagRepository(session, principal.tenant_id).delete(tag.id)
    return TagDeleted(id=tag.id)
