"""The Tags page: a workspace's tags, created, renamed, recoloured and deleted through the tags
service (the API's rules)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from leadgate.console import service
from leadgate.console.auth import InTenant, check_csrf
from leadgate.console.forms import TagForm
from leadgate.console.rendering import (
    invalid_body,
    page_error,
    page_errors,
    redirect,
    refuse,
    render,
)
from leadgate.db import Session
from leadgate.errors import ApiError
from leadgate.tags import service as tags
from leadgate.tags.schemas import TagCreate, TagUpdate

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])


async def _tags_context(session: Session, current: InTenant) -> dict[str, Any]:
    principal = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    return {"tags": (await tags.list_tags(session, principal)).data, "form": TagForm()}


@router.get("/tags", include_in_schema=False)
async def tags_page(request: Request, session: Session, current: InTenant) -> Response:
    return render(request, "console/tags.html", await _tags_context(session, current))


def _tag_body(form: TagForm) -> dict[str, Any]:
    color = None if form.no_color == "on" else form.color.strip() or None
    return {"name": form.name, "color": color}


@router.post("/tags", include_in_schema=False)
async def create_tag(request: Request, session: Session, current: InTenant) -> Response:
    form = TagForm.read(await request.form())
    principal = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    try:
        try:
            data = TagCreate.model_validate(_tag_body(form))
        except ValidationError as error:
            raise invalid_body(error) from None
        await tags.create_tag(session, principal, data)
    except ApiError as error:
        context = {**await _tags_context(session, current), "form": form}
        raise refuse(request, error, "console/tags.html", context) from None
    return redirect("/console/tags")


@router.post("/tags/{tag_id}", include_in_schema=False)
async def update_tag(
    request: Request, tag_id: str, session: Session, current: InTenant
) -> Response:
    form = TagForm.read(await request.form())
    principal = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    try:
        try:
            data = TagUpdate.model_validate(_tag_body(form))
        except ValidationError as error:
            raise invalid_body(error) from None
        await tags.update_tag(session, principal, tag_id, data)
    except ApiError as error:
        if error.status_code == 404:
            raise page_error(error) from None
        context = await _tags_context(session, current)
        raise refuse(request, error, "console/tags.html", context) from None
    return redirect("/console/tags")


@router.post("/tags/{tag_id}/delete", include_in_schema=False)
async def delete_tag(
    request: Request, tag_id: str, session: Session, current: InTenant
) -> Response:
    principal = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    with page_errors():
        await tags.delete_tag(session, principal, tag_id)
    return redirect("/console/tags")
