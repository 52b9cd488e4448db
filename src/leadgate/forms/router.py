"""HTTP routes of the forms API: forms (`forms:read`/`forms:write`) and their quarantine."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from leadgate.db import Session
from leadgate.forms import service
from leadgate.forms.auth import FormsRead, FormsWrite
from leadgate.forms.schemas import (
    FormCreate,
    FormList,
    FormOut,
    FormUpdate,
    QuarantineList,
    Released,
)
from leadgate.openapi import request_body
from leadgate.payload import read_body
from leadgate.responses import ERROR_RESPONSES
from leadgate.web import get_settings

router = APIRouter(tags=["forms"], responses=ERROR_RESPONSES)


@router.post(
    "/forms",
    status_code=201,
    response_model=FormOut,
    summary="Create a web form",
    openapi_extra=request_body(FormCreate),
)
async def create_form(request: Request, principal: FormsWrite, session: Session) -> FormOut:
    """The form's `id` (`form_…`) is public: put it in a page; it can only create leads by
    this form's rules. `urls` has the hosted page, the submit URL and the embed script."""
    body = await read_body(request, FormCreate)
    form = await service.create_form(
        session,
        get_settings(request),
        tenant_id=principal.tenant_id,
        data=body,
        actor=principal.actor,
    )
    return service.form_out(form, get_settings(request))


@router.get("/forms", response_model=FormList, summary="List web forms")
async def list_forms(request: Request, principal: FormsRead, session: Session) -> FormList:
    forms = await service.list_forms(session, principal.tenant_id)
    settings = get_settings(request)
    return FormList(data=[service.form_out(f, settings) for f in forms])


@router.get("/forms/{form_id}", response_model=FormOut, summary="Get a web form")
async def get_form(
    request: Request, form_id: str, principal: FormsRead, session: Session
) -> FormOut:
    form = await service.get_form(session, principal.tenant_id, form_id)
    return service.form_out(form, get_settings(request))


@router.patch(
    "/forms/{form_id}",
    response_model=FormOut,
    summary="Update a web form",
    openapi_extra=request_body(FormUpdate),
)
async def update_form(
    request: Request, form_id: str, principal: FormsWrite, session: Session
) -> FormOut:
    body = await read_body(request, FormUpdate)
    form = await service.update_form(
        session,
        get_settings(request),
        tenant_id=principal.tenant_id,
        form_id=form_id,
        data=body,
        actor=principal.actor,
    )
    return service.form_out(form, get_settings(request))


@router.delete("/forms/{form_id}", status_code=204, summary="Delete a web form")
async def delete_form(form_id: str, principal: FormsWrite, session: Session) -> Response:
    """Its page and submit URL answer 404 from now on; leads it created stay."""
    await service.delete_form(
        session, tenant_id=principal.tenant_id, form_id=form_id, actor=principal.actor
    )
    return Response(status_code=204)


@router.get(
    "/form-quarantine", response_model=QuarantineList, summary="List quarantined submissions"
)
async def list_quarantine(
    principal: FormsRead,
    session: Session,
    form_id: Annotated[str | None, Query(alias="formId", max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> QuarantineList:
    """Submissions held as suspect (honeypot filled, posted too fast or without the form's
    signed timestamp), newest first. They made no lead and fired no webhook."""
    held = await service.list_quarantine(session, principal.tenant_id, form_id=form_id, limit=limit)
    return QuarantineList(data=[service.quarantined_out(s) for s in held])


@router.post(
    "/form-quarantine/{submission_id}/release",
    response_model=Released,
    summary="Release a quarantined submission",
)
async def release(submission_id: str, principal: FormsWrite, session: Session) -> Released:
    """Creates its lead now, under the tenant's duplicate policy; `lead.created` fires."""
    return await service.release(
        session, tenant_id=principal.tenant_id, submission_id=submission_id, actor=principal.actor
    )


@router.delete(
    "/form-quarantine/{submission_id}",
    status_code=204,
    summary="Delete a quarantined submission",
)
async def delete_quarantined(
    submission_id: str, principal: FormsWrite, session: Session
) -> Response:
    await service.delete_quarantined(
        session, tenant_id=principal.tenant_id, submission_id=submission_id, actor=principal.actor
    )
    return Response(status_code=204)
