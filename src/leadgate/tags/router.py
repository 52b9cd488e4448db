"""HTTP routes of tags."""

from __future__ import annotations

from fastapi import APIRouter, Request

from leadgate.db import Session
from leadgate.idempotency.route import IdempotentRoute
from leadgate.openapi import request_body
from leadgate.payload import read_body
from leadgate.responses import CONFLICT_RESPONSE, ERROR_RESPONSES
from leadgate.tags import service
from leadgate.tags.auth import TagsRead, TagsWrite
from leadgate.tags.schemas import TagCreate, TagDeleted, TagDetail, TagList, TagUpdate

router = APIRouter(tags=["tags"], responses=ERROR_RESPONSES, route_class=IdempotentRoute)


@router.get("/tags", response_model=TagList, summary="List tags")
async def list_tags(principal: TagsRead, session: Session) -> TagList:
    """Every tag of the tenant, by name."""
    return await service.list_tags(session, principal)


@router.post(
    "/tags",
    status_code=201,
    response_model=TagDetail,
    summary="Create a tag",
    openapi_extra=request_body(TagCreate),
    responses=CONFLICT_RESPONSE,
)
async def create_tag(request: Request, principal: TagsWrite, session: Session) -> TagDetail:
    """Names are unique per tenant, compared case-insensitively (409 `tag_name_taken`)."""
    data = await read_body(request, TagCreate)
    return await service.create_tag(session, principal, data)


@router.get("/tags/{tag_id}", response_model=TagDetail, summary="Get a tag")
async def get_tag(tag_id: str, principal: TagsRead, session: Session) -> TagDetail:
    return await service.get_tag(session, principal, tag_id)


@router.patch(
    "/tags/{tag_id}",
    response_model=TagDetail,
    summary="Rename or recolour a tag",
    openapi_extra=request_body(TagUpdate),
    responses=CONFLICT_RESPONSE,
)
async def update_tag(
    request: Request, tag_id: str, principal: TagsWrite, session: Session
) -> TagDetail:
    data = await read_body(request, TagUpdate)
    return await service.update_tag(session, principal, tag_id, data)


@router.delete("/tags/{tag_id}", response_model=TagDeleted, summary="Delete a tag")
async def delete_tag(tag_id: str, principal: TagsWrite, session: Session) -> TagDeleted:
    """Deletes the tag and removes it from every lead."""
    return await service.delete_tag(session, principal, tag_id)
