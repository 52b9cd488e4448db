"""The Leads pages: the filtered list, CSV export, one lead with its history, status and tags,
through the leads service (the API's rules)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from leadgate.console import service
from leadgate.console.auth import InTenant, check_csrf
from leadgate.console.forms import LeadStatusForm, LeadTagsForm
from leadgate.console.rendering import (
    invalid_body,
    page_error,
    page_errors,
    redirect,
    refuse,
    render,
)
from leadgate.db import Session
from leadgate.errors import ApiError, InvalidRequest
from leadgate.leads import csv_format
from leadgate.leads import service as leads
from leadgate.leads.repository import LeadFilters
from leadgate.leads.schemas import LeadUpdate
from leadgate.responses import csv_download
from leadgate.tags import service as tags
from leadgate.web import get_settings

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])

LEAD_STATUSES = list(leads.STATUS_TRANSITIONS)
PAGE_SIZE = 25


def _day(text: str, field: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time(), UTC)
    except ValueError:
        raise InvalidRequest(
            "Dates are written YYYY-MM-DD.", details=[{"field": field, "message": "not a date"}]
        ) from None


async def _lead_filters(
    session: Session, current: InTenant, query: dict[str, str]
) -> LeadFilters | None:
    created_to = _day(query.get("to", ""), "to")
    return await leads.lead_filters(
        session,
        service.member_principal(current.tenant.id, current.tenant.slug, current.user),
        status=query.get("status") or None,
        tag=query.get("tag") or None,
        source=query.get("source") or None,
        created_after=_day(query.get("from", ""), "from"),
        created_before=created_to + timedelta(days=1) if created_to else None,
        q=query.get("q") or None,
        team_id=query.get("team") or None,
    )


FILTER_NAMES = ("q", "status", "tag", "source", "from", "to", "team")


@router.get("/leads", include_in_schema=False)
async def leads_page(request: Request, session: Session, current: InTenant) -> Response:
    query = {name: request.query_params.get(name, "").strip()[:200] for name in FILTER_NAMES}
    principal = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    tag_list = await tags.list_tags(session, principal)
    context: dict[str, Any] = {
        "query": query,
        "statuses": LEAD_STATUSES,
        "tags": tag_list.data,
        "filtered": any(query.values()),
        "export_query": urlencode({k: v for k, v in query.items() if v}),
    }
    try:
        if query["status"] and query["status"] not in LEAD_STATUSES:
            raise InvalidRequest("Choose a status from the list.")
        filters = await _lead_filters(session, current, query)
        cursor = request.query_params.get("cursor") or None
        page = await leads.list_leads(session, principal, filters, cursor=cursor, limit=PAGE_SIZE)
    except ApiError as error:
        return render(
            request, "console/leads.html", {**context, "rows": [], "error": error.message}, 400
        )
    next_link = None
    if page.next_cursor:
        next_link = "?" + urlencode(
            {**{k: v for k, v in query.items() if v}, "cursor": page.next_cursor}
        )
    return render(request, "console/leads.html", {**context, "rows": page.data, "next": next_link})


@router.get("/leads/export.csv", include_in_schema=False)
async def export_leads(request: Request, session: Session, current: InTenant) -> Response:
    query = {name: request.query_params.get(name, "").strip()[:200] for name in FILTER_NAMES}
    with page_errors():
        filters = await _lead_filters(session, current, query)
    stream = csv_format.stream_csv(
        request.app.state.database,
        current.tenant.id,
        filters,
        get_settings(request).export_batch_size,
    )
    return csv_download(stream, "leads.csv")


async def _lead_context(session: Session, current: InTenant, lead_id: str) -> dict[str, Any]:
    principal = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    lead = await leads.get_lead(session, principal, lead_id)
    return {
        "lead": lead,
        "next_statuses": sorted(leads.STATUS_TRANSITIONS[lead.status], key=LEAD_STATUSES.index),
        "history": await service.lead_history(session, current.tenant.id, lead_id),
        "tag_names": ", ".join(t.name for t in lead.tags),
    }


@router.get("/leads/{lead_id}", include_in_schema=False)
async def lead_page(
    request: Request, lead_id: str, session: Session, current: InTenant
) -> Response:
    with page_errors():
        context = await _lead_context(session, current, lead_id)
    return render(request, "console/lead.html", context)


async def _change_lead(
    request: Request, session: Session, current: InTenant, lead_id: str, body: dict[str, Any]
) -> Response:
    principal = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    try:
        try:
            data = LeadUpdate.model_validate(body, context={"phone_region": None})
        except ValidationError as error:
            raise invalid_body(error) from None
        await leads.update_lead(session, principal, lead_id, data)
    except ApiError as error:
        if error.status_code == 404:
            raise page_error(error) from None
        context = await _lead_context(session, current, lead_id)
        raise refuse(request, error, "console/lead.html", context) from None
    return redirect(f"/console/leads/{lead_id}")


@router.post("/leads/{lead_id}/status", include_in_schema=False)
async def change_status(
    request: Request, lead_id: str, session: Session, current: InTenant
) -> Response:
    form = LeadStatusForm.read(await request.form())
    return await _change_lead(request, session, current, lead_id, {"status": form.status})


@router.post("/leads/{lead_id}/tags", include_in_schema=False)
async def change_tags(
    request: Request, lead_id: str, session: Session, current: InTenant
) -> Response:
    form = LeadTagsForm.read(await request.form())
    names = [name.strip() for name in form.tags.split(",") if name.strip()]
    return await _change_lead(request, session, current, lead_id, {"tags": names})
