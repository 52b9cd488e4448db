"""Console pages of contacts and of every record's timeline: the contacts list and form, a
contact's, deal's or lead's timeline with its activities, logging and completing activities, and
converting a lead. Also the helpers the other CRM pages share (the member as a principal, form
parsing)."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from leadgate.activities import service as activities
from leadgate.activities.schemas import ActivityCreate, ActivityUpdate
from leadgate.auth.principal import Principal
from leadgate.console import service
from leadgate.console.auth import InTenant, check_csrf
from leadgate.console.rendering import (
    invalid_body,
    page_error,
    page_errors,
    redirect,
    refuse,
    render,
)
from leadgate.contacts import service as contacts
from leadgate.contacts.schemas import ContactCreate, LeadConvert
from leadgate.db import Session
from leadgate.deals import service as deals
from leadgate.errors import ApiError, InvalidRequest
from leadgate.users.service import user_actor

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])
PAGE_SIZE = 25
RECORD_TYPES = ("lead", "contact", "deal")


def member_principal_of(current: InTenant) -> Principal:
    member = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    return dataclasses.replace(member, extra={"actor": user_actor(current.user)})


def parse_body(model: type[BaseModel], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body, context={"phone_region": None})
    except ValidationError as error:
        raise invalid_body(error) from None


async def form_values(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(v).strip() for k, v in form.items() if k != "csrf_token"}


def given_values(values: dict[str, str], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: values[name] for name in names if values.get(name)}


# --- contacts --------------------------------------------------------------------------------


async def _contacts_context(
    request: Request, session: Session, current: InTenant
) -> dict[str, Any]:
    principal = member_principal_of(current)
    q = request.query_params.get("q", "").strip()[:200]
    filters = contacts.contact_filters(principal, q=q or None)
    cursor = request.query_params.get("cursor") or None
    page = await contacts.list_contacts(session, principal, filters, cursor=cursor, limit=PAGE_SIZE)
    next_link = None
    if page.next_cursor:
        next_link = "?" + urlencode({**({"q": q} if q else {}), "cursor": page.next_cursor})
    return {"rows": page.data, "q": q, "next": next_link, "form": {}}


@router.get("/contacts", include_in_schema=False)
async def contacts_page(request: Request, session: Session, current: InTenant) -> Response:
    with page_errors():
        context = await _contacts_context(request, session, current)
    return render(request, "console/contacts.html", context)


@router.post("/contacts", include_in_schema=False)
async def create_contact(request: Request, session: Session, current: InTenant) -> Response:
    values = await form_values(request)
    body = given_values(values, ("firstName", "lastName", "email", "phone", "company", "title"))
    try:
        contact = await contacts.create_contact(
            session, member_principal_of(current), parse_body(ContactCreate, body)
        )
    except ApiError as error:
        context = {**await _contacts_context(request, session, current), "form": values}
        raise refuse(request, error, "console/contacts.html", context) from None
    return redirect(f"/console/contacts/{contact.id}")


# --- records and their timelines -------------------------------------------------------------


async def _record_context(
    session: Session, current: InTenant, record_type: str, record_id: str
) -> dict[str, Any]:
    principal = member_principal_of(current)
    context: dict[str, Any] = {"record_type": record_type, "record_id": record_id}
    if record_type == "contact":
        context["record"] = await contacts.get_contact(session, principal, record_id)
        context["title"] = f"{context['record'].first_name} {context['record'].last_name}"
    elif record_type == "deal":
        deal = await deals.get_deal(session, principal, record_id)
        pipeline = await deals.get_pipeline(session, principal, deal.pipeline_id)
        context.update(record=deal, title=deal.name, pipeline=pipeline)
        context["stage_names"] = {s.id: s.name for s in pipeline.stages}
    else:
        from leadgate.leads import service as leads

        lead = await leads.get_lead(session, principal, record_id)
        context.update(record=lead, title=f"{lead.first_name} {lead.last_name}")
    context["timeline"] = (
        await activities.timeline(session, principal, record_type, record_id)
    ).data
    context.setdefault("stage_names", {})
    return context


@router.get("/contacts/{contact_id}", include_in_schema=False)
async def contact_page(
    request: Request, contact_id: str, session: Session, current: InTenant
) -> Response:
    return await _record_page(request, session, current, "contact", contact_id)


@router.get("/deals/{deal_id}", include_in_schema=False)
async def deal_page(
    request: Request, deal_id: str, session: Session, current: InTenant
) -> Response:
    return await _record_page(request, session, current, "deal", deal_id)


@router.get("/leads/{lead_id}/timeline", include_in_schema=False)
async def lead_timeline_page(
    request: Request, lead_id: str, session: Session, current: InTenant
) -> Response:
    return await _record_page(request, session, current, "lead", lead_id)


async def _record_page(
    request: Request, session: Session, current: InTenant, record_type: str, record_id: str
) -> Response:
    with page_errors():
        context = await _record_context(session, current, record_type, record_id)
    return render(request, "console/record.html", context)


def _record_path(record_type: str, record_id: str) -> str:
    if record_type == "lead":
        return f"/console/leads/{record_id}/timeline"
    return f"/console/{record_type}s/{record_id}"


@router.post("/records/{record_type}/{record_id}/activities", include_in_schema=False)
async def log_activity(
    request: Request, record_type: str, record_id: str, session: Session, current: InTenant
) -> Response:
    if record_type not in RECORD_TYPES:
        raise page_error(InvalidRequest("Unknown kind of record."))
    values = await form_values(request)
    body: dict[str, Any] = {
        "recordType": record_type,
        "recordId": record_id,
        **given_values(values, ("kind", "subject", "body")),
    }
    if values.get("due"):
        body["dueAt"] = f"{values['due']}T09:00:00Z"
    try:
        await activities.create_activity(
            session, member_principal_of(current), parse_body(ActivityCreate, body)
        )
    except ApiError as error:
        context = await _record_context(session, current, record_type, record_id)
        raise refuse(request, error, "console/record.html", context) from None
    return redirect(_record_path(record_type, record_id))


@router.post("/activities/{activity_id}/done", include_in_schema=False)
async def complete_task(
    request: Request, activity_id: str, session: Session, current: InTenant
) -> Response:
    principal = member_principal_of(current)
    with page_errors():
        done = await activities.update_activity(
            session, principal, activity_id, ActivityUpdate.model_validate({"done": True})
        )
    return redirect(_record_path(done.record_type, done.record_id))


@router.post("/leads/{lead_id}/convert", include_in_schema=False)
async def convert_lead(
    request: Request, lead_id: str, session: Session, current: InTenant
) -> Response:
    values = await form_values(request)
    body: dict[str, Any] = {}
    if values.get("dealName"):
        body["deal"] = {"name": values["dealName"], "amount": minor_units(values.get("amount"))}
    with page_errors():
        result = await contacts.convert_lead(
            session, member_principal_of(current), lead_id, parse_body(LeadConvert, body)
        )
    return redirect(f"/console/contacts/{result.contact.id}")


def minor_units(text: str | None) -> Any:
    if not text:
        return 0
    try:
        return round(float(text) * 100)
    except ValueError:
        return text  # refused by validation, with the field named
