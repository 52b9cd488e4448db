"""HTTP routes of the console's working pages: key edit and roll, usage, leads, tags, webhooks.

Each handler reads its form and calls the domain's own service (the API's rules); a refused
form is shown again with the message, and its transaction is rolled back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError

from leadgate.api_keys.scopes import ALL_SCOPES
from leadgate.console import service
from leadgate.console.auth import InTenant, Manager, check_csrf
from leadgate.console.charts import bar_chart
from leadgate.console.forms import (
    EditKeyForm,
    EnableForm,
    EndpointForm,
    LeadStatusForm,
    LeadTagsForm,
    ReplayForm,
    RollKeyForm,
    TagForm,
    TesterForm,
)
from leadgate.console.router import SCOPE_LABELS, page_error, redirect, refuse, render
from leadgate.db import Session
from leadgate.errors import ApiError, InvalidRequest
from leadgate.events.catalogue import CATALOGUE
from leadgate.leads import csv_format
from leadgate.leads import service as leads
from leadgate.leads.repository import LeadFilters
from leadgate.leads.schemas import LeadUpdate
from leadgate.tags import service as tags
from leadgate.tags.schemas import TagCreate, TagUpdate
from leadgate.usage import service as usage
from leadgate.users.service import user_actor
from leadgate.web import client_ip, get_settings
from leadgate.webhooks import service as webhooks
from leadgate.webhooks.delivery import new_client
from leadgate.webhooks.schemas import EndpointCreate, EndpointUpdate

pages = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])

LEAD_STATUSES = list(leads.STATUS_TRANSITIONS)
PAGE_SIZE = 25


def _invalid(error: ValidationError) -> InvalidRequest:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ()))
    message = f"{field}: {first.get('msg', 'invalid')}" if field else str(first.get("msg"))
    return InvalidRequest(message, details=[{"field": field, "message": message}])


# --- Settings → API Access: edit and roll ---------------------------------------------------


def _edit_context(key: Any, form: EditKeyForm) -> dict[str, Any]:
    return {"key": key, "form": form, "scopes": ALL_SCOPES, "scope_labels": SCOPE_LABELS}


@pages.get("/settings/api-keys/{key_id}/edit", include_in_schema=False)
async def edit_key_page(
    request: Request, key_id: str, session: Session, current: InTenant
) -> Response:
    try:
        key = await service.get_key(session, current.tenant.id, key_id)
    except ApiError as error:
        raise page_error(error) from None
    limit = "" if key.rate_limit_per_minute is None else str(key.rate_limit_per_minute)
    form = EditKeyForm(name=key.name, scopes=list(key.scopes), rate_limit=limit)
    return render(request, "console/api_key_edit.html", _edit_context(key, form))


@pages.post("/settings/api-keys/{key_id}/edit", include_in_schema=False)
async def edit_key(request: Request, key_id: str, session: Session, current: InTenant) -> Response:
    form = EditKeyForm.read(await request.form())
    try:
        await service.edit_key(
            session,
            tenant_id=current.tenant.id,
            user=current.user,
            role=current.role,
            key_id=key_id,
            form=form,
            ip=client_ip(request),
        )
    except ApiError as error:
        if error.status_code in (403, 404):
            raise page_error(error) from None
        key = await service.get_key(session, current.tenant.id, key_id)
        await session.refresh(key)
        raise refuse(
            request, error, "console/api_key_edit.html", _edit_context(key, form)
        ) from None
    return redirect("/console/settings/api-keys")


@pages.get("/settings/api-keys/{key_id}/roll", include_in_schema=False)
async def roll_key_page(
    request: Request, key_id: str, session: Session, current: InTenant
) -> Response:
    try:
        key = await service.get_key(session, current.tenant.id, key_id)
    except ApiError as error:
        raise page_error(error) from None
    context = {"key": key, "grace_periods": service.GRACE_PERIODS, "form": RollKeyForm()}
    return render(request, "console/api_key_roll.html", context)


@pages.post("/settings/api-keys/{key_id}/roll", include_in_schema=False)
async def roll_key(request: Request, key_id: str, session: Session, current: InTenant) -> Response:
    form = RollKeyForm.read(await request.form())
    try:
        issued = await service.roll_key(
            session,
            get_settings(request),
            tenant_id=current.tenant.id,
            user=current.user,
            role=current.role,
            key_id=key_id,
            grace_period=form.grace_period,
            ip=client_ip(request),
        )
    except ApiError as error:
        raise page_error(error) from None
    context = {"issued": issued, "rolled": True, "grace": int(form.grace_period)}
    return render(request, "console/api_key_created.html", context, status=201)


# --- usage ----------------------------------------------------------------------------------


@pages.get("/usage", include_in_schema=False)
async def usage_page(
    request: Request, session: Session, current: InTenant, key: str = ""
) -> Response:
    keys = await service.list_keys(session, current.tenant.id)
    selected = next((row.key for row in keys if row.key.id == key), None)
    if key and selected is None:
        raise page_error(InvalidRequest("No such API key in this workspace."))
    key_id = selected.id if selected else None
    report = await usage.usage_report(session, current.tenant.id, key_id=key_id)
    notices = await usage.list_notices(session, current.tenant.id, key_id=key_id, limit=20)
    names = {row.key.id: row.key.name for row in keys}
    context = {
        "keys": keys,
        "selected": selected,
        "report": report,
        "hourly": bar_chart("Requests per hour, last 7 days", report.hourly, hourly=True),
        "daily": bar_chart("Requests per day, last 90 days", report.daily, hourly=False),
        "notices": notices.data,
        "key_names": names,
    }
    return render(request, "console/usage.html", context)


@pages.post("/usage/notices/read", include_in_schema=False)
async def mark_notices_read(
    request: Request, session: Session, current: InTenant, key: str = ""
) -> Response:
    keys = await service.list_keys(session, current.tenant.id)
    if key and key not in {row.key.id for row in keys}:
        raise page_error(InvalidRequest("No such API key in this workspace."))
    await usage.mark_notices_read(session, current.tenant.id, key_id=key or None)
    return redirect("/console/usage" + (f"?key={key}" if key else ""))


# --- leads ----------------------------------------------------------------------------------


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
    )


FILTER_NAMES = ("q", "status", "tag", "source", "from", "to")


@pages.get("/leads", include_in_schema=False)
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


@pages.get("/leads/export.csv", include_in_schema=False)
async def export_leads(request: Request, session: Session, current: InTenant) -> Response:
    query = {name: request.query_params.get(name, "").strip()[:200] for name in FILTER_NAMES}
    try:
        filters = await _lead_filters(session, current, query)
    except ApiError as error:
        raise page_error(error) from None
    stream = csv_format.stream_csv(
        request.app.state.database,
        current.tenant.id,
        filters,
        get_settings(request).export_batch_size,
    )
    return StreamingResponse(
        stream,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="leads.csv"'},
    )


async def _lead_context(session: Session, current: InTenant, lead_id: str) -> dict[str, Any]:
    principal = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    lead = await leads.get_lead(session, principal, lead_id)
    return {
        "lead": lead,
        "next_statuses": sorted(leads.STATUS_TRANSITIONS[lead.status], key=LEAD_STATUSES.index),
        "history": await service.lead_history(session, current.tenant.id, lead_id),
        "tag_names": ", ".join(t.name for t in lead.tags),
    }


@pages.get("/leads/{lead_id}", include_in_schema=False)
async def lead_page(
    request: Request, lead_id: str, session: Session, current: InTenant
) -> Response:
    try:
        context = await _lead_context(session, current, lead_id)
    except ApiError as error:
        raise page_error(error) from None
    return render(request, "console/lead.html", context)


async def _change_lead(
    request: Request, session: Session, current: InTenant, lead_id: str, body: dict[str, Any]
) -> Response:
    principal = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    try:
        try:
            data = LeadUpdate.model_validate(body, context={"phone_region": None})
        except ValidationError as error:
            raise _invalid(error) from None
        await leads.update_lead(session, principal, lead_id, data)
    except ApiError as error:
        if error.status_code == 404:
            raise page_error(error) from None
        context = await _lead_context(session, current, lead_id)
        raise refuse(request, error, "console/lead.html", context) from None
    return redirect(f"/console/leads/{lead_id}")


@pages.post("/leads/{lead_id}/status", include_in_schema=False)
async def change_status(
    request: Request, lead_id: str, session: Session, current: InTenant
) -> Response:
    form = LeadStatusForm.read(await request.form())
    return await _change_lead(request, session, current, lead_id, {"status": form.status})


@pages.post("/leads/{lead_id}/tags", include_in_schema=False)
async def change_tags(
    request: Request, lead_id: str, session: Session, current: InTenant
) -> Response:
    form = LeadTagsForm.read(await request.form())
    names = [name.strip() for name in form.tags.split(",") if name.strip()]
    return await _change_lead(request, session, current, lead_id, {"tags": names})


# --- tags -----------------------------------------------------------------------------------


async def _tags_context(session: Session, current: InTenant) -> dict[str, Any]:
    principal = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    return {"tags": (await tags.list_tags(session, principal)).data, "form": TagForm()}


@pages.get("/tags", include_in_schema=False)
async def tags_page(request: Request, session: Session, current: InTenant) -> Response:
    return render(request, "console/tags.html", await _tags_context(session, current))


def _tag_body(form: TagForm) -> dict[str, Any]:
    color = None if form.no_color == "on" else form.color.strip() or None
    return {"name": form.name, "color": color}


@pages.post("/tags", include_in_schema=False)
async def create_tag(request: Request, session: Session, current: InTenant) -> Response:
    form = TagForm.read(await request.form())
    principal = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    try:
        try:
            data = TagCreate.model_validate(_tag_body(form))
        except ValidationError as error:
            raise _invalid(error) from None
        await tags.create_tag(session, principal, data)
    except ApiError as error:
        context = {**await _tags_context(session, current), "form": form}
        raise refuse(request, error, "console/tags.html", context) from None
    return redirect("/console/tags")


@pages.post("/tags/{tag_id}", include_in_schema=False)
async def update_tag(
    request: Request, tag_id: str, session: Session, current: InTenant
) -> Response:
    form = TagForm.read(await request.form())
    principal = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    try:
        try:
            data = TagUpdate.model_validate(_tag_body(form))
        except ValidationError as error:
            raise _invalid(error) from None
        await tags.update_tag(session, principal, tag_id, data)
    except ApiError as error:
        if error.status_code == 404:
            raise page_error(error) from None
        context = await _tags_context(session, current)
        raise refuse(request, error, "console/tags.html", context) from None
    return redirect("/console/tags")


@pages.post("/tags/{tag_id}/delete", include_in_schema=False)
async def delete_tag(
    request: Request, tag_id: str, session: Session, current: InTenant
) -> Response:
    principal = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    try:
        await tags.delete_tag(session, principal, tag_id)
    except ApiError as error:
        raise page_error(error) from None
    return redirect("/console/tags")


# --- webhooks -------------------------------------------------------------------------------


def _actor(current: InTenant) -> dict[str, Any]:
    return {**user_actor(current.user), "role": current.role}


@pages.get("/webhooks", include_in_schema=False)
async def webhooks_page(request: Request, session: Session, current: InTenant) -> Response:
    endpoints = await webhooks.list_endpoints(session, current.tenant.id)
    context = {"endpoints": endpoints, "form": EndpointForm(), "catalogue": CATALOGUE}
    return render(request, "console/webhooks.html", context)


def _endpoint_body(form: EndpointForm) -> dict[str, Any]:
    return {
        "url": form.url.strip(),
        "description": form.description.strip(),
        "eventTypes": [t for t in form.event_types if t] or None,
    }


@pages.post("/webhooks", include_in_schema=False)
async def create_endpoint(request: Request, session: Session, current: Manager) -> Response:
    form = EndpointForm.read(await request.form())
    try:
        try:
            data = EndpointCreate.model_validate(_endpoint_body(form))
        except ValidationError as error:
            raise _invalid(error) from None
        endpoint, secret = await webhooks.create_endpoint(
            session, get_settings(request), tenant_id=current.tenant.id, data=data,
            actor=_actor(current),
        )  # fmt: skip
    except ApiError as error:
        endpoints = await webhooks.list_endpoints(session, current.tenant.id)
        context = {"endpoints": endpoints, "form": form, "catalogue": CATALOGUE}
        raise refuse(request, error, "console/webhooks.html", context) from None
    context = {"endpoint": endpoint, "secret": secret, "created": True}
    return render(request, "console/webhook_secret.html", context, status=201)


async def _endpoint_context(
    session: Session, current: InTenant, endpoint_id: str
) -> dict[str, Any]:
    endpoint = await webhooks.get_endpoint(session, current.tenant.id, endpoint_id)
    deliveries, has_more = await webhooks.list_deliveries(
        session, current.tenant.id, endpoint_id, limit=25, before=None
    )
    form = EndpointForm(
        url=endpoint.url, description=endpoint.description, event_types=list(endpoint.event_types)
    )
    return {
        "endpoint": endpoint,
        "deliveries": deliveries,
        "more_deliveries": has_more,
        "form": form,
        "catalogue": CATALOGUE,
        "tester": TesterForm(),
    }


@pages.get("/webhooks/{endpoint_id}", include_in_schema=False)
async def endpoint_page(
    request: Request, endpoint_id: str, session: Session, current: InTenant
) -> Response:
    try:
        context = await _endpoint_context(session, current, endpoint_id)
    except ApiError as error:
        raise page_error(error) from None
    return render(request, "console/webhook.html", context)


@pages.post("/webhooks/{endpoint_id}", include_in_schema=False)
async def update_endpoint(
    request: Request, endpoint_id: str, session: Session, current: Manager
) -> Response:
    form = EndpointForm.read(await request.form())
    body = _endpoint_body(form)
    body["eventTypes"] = body["eventTypes"] or []
    try:
        try:
            data = EndpointUpdate.model_validate(body)
        except ValidationError as error:
            raise _invalid(error) from None
        await webhooks.update_endpoint(
            session, get_settings(request), tenant_id=current.tenant.id, endpoint_id=endpoint_id,
            data=data, actor=_actor(current),
        )  # fmt: skip
    except ApiError as error:
        if error.status_code == 404:
            raise page_error(error) from None
        context = {**await _endpoint_context(session, current, endpoint_id), "form": form}
        raise refuse(request, error, "console/webhook.html", context) from None
    return redirect(f"/console/webhooks/{endpoint_id}")


@pages.post("/webhooks/{endpoint_id}/enabled", include_in_schema=False)
async def enable_endpoint(
    request: Request, endpoint_id: str, session: Session, current: Manager
) -> Response:
    form = EnableForm.read(await request.form())
    data = EndpointUpdate(enabled=form.enabled == "true")
    try:
        await webhooks.update_endpoint(
            session, get_settings(request), tenant_id=current.tenant.id, endpoint_id=endpoint_id,
            data=data, actor=_actor(current),
        )  # fmt: skip
    except ApiError as error:
        raise page_error(error) from None
    return redirect(f"/console/webhooks/{endpoint_id}")


@pages.post("/webhooks/{endpoint_id}/rotate", include_in_schema=False)
async def rotate_secret(
    request: Request, endpoint_id: str, session: Session, current: Manager
) -> Response:
    try:
        endpoint, secret, grace_until = await webhooks.rotate_secret(
            session, get_settings(request), tenant_id=current.tenant.id, endpoint_id=endpoint_id,
            actor=_actor(current),
        )  # fmt: skip
    except ApiError as error:
        raise page_error(error) from None
    context = {"endpoint": endpoint, "secret": secret, "grace_until": grace_until}
    return render(request, "console/webhook_secret.html", context)


@pages.post("/webhooks/{endpoint_id}/test", include_in_schema=False)
async def test_endpoint(
    request: Request, endpoint_id: str, session: Session, current: Manager
) -> Response:
    form = TesterForm.read(await request.form())
    settings = get_settings(request)
    try:
        async with new_client(settings) as client:
            result = await webhooks.send_test(
                session, settings, client, tenant_id=current.tenant.id, endpoint_id=endpoint_id,
                event_type=form.event_type,
            )  # fmt: skip
    except ApiError as error:
        if error.status_code == 404:
            raise page_error(error) from None
        context = {**await _endpoint_context(session, current, endpoint_id), "tester": form}
        raise refuse(request, error, "console/webhook.html", context) from None
    context = {**await _endpoint_context(session, current, endpoint_id), "tester": form}
    return render(request, "console/webhook.html", {**context, "result": result})


@pages.post("/webhooks/{endpoint_id}/replay", include_in_schema=False)
async def replay(
    request: Request, endpoint_id: str, session: Session, current: Manager
) -> Response:
    form = ReplayForm.read(await request.form())
    try:
        await webhooks.replay_event(
            session, tenant_id=current.tenant.id, event_id=form.event_id, endpoint_id=endpoint_id
        )
    except ApiError as error:
        raise page_error(error) from None
    return redirect(f"/console/webhooks/{endpoint_id}?replayed={form.event_id}")
