"""Console pages of the CRM areas: contacts, the pipeline board, deals, record timelines with
their activities, automations with their run history, and reports with charts.

Handlers call the domains' services (the API's rules) as the signed-in member; a refused form is
shown again with its message and its transaction rolled back.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from leadgate.activities import service as activities
from leadgate.activities.schemas import ActivityCreate, ActivityUpdate
from leadgate.auth.dependencies import Session
from leadgate.auth.principal import Principal
from leadgate.automations import service as automations
from leadgate.automations.rules import TRIGGERS
from leadgate.automations.schemas import AutomationCreate, AutomationUpdate
from leadgate.console import service
from leadgate.console.auth import InTenant, check_csrf
from leadgate.console.router import page_error, redirect, refuse, render
from leadgate.contacts import service as contacts
from leadgate.contacts.schemas import ContactCreate, LeadConvert
from leadgate.deals import service as deals
from leadgate.deals.repository import DealFilters
from leadgate.deals.schemas import DealCreate, DealUpdate
from leadgate.errors import ApiError, InvalidRequest
from leadgate.reports import service as reports
from leadgate.users.service import user_actor

crm_pages = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])
PAGE_SIZE = 25
BOARD_SIZE = 100
RECORD_TYPES = ("lead", "contact", "deal")


def _principal(current: InTenant) -> Principal:
    member = service.member_principal(current.tenant.id, current.tenant.slug, current.user)
    return dataclasses.replace(member, extra={"actor": user_actor(current.user)})


def _parse(model: type[BaseModel], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body, context={"phone_region": None})
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ()))
        message = f"{field}: {first.get('msg', 'invalid')}" if field else str(first.get("msg"))
        raise InvalidRequest(message, details=[{"field": field, "message": message}]) from None


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(v).strip() for k, v in form.items() if k != "csrf_token"}


def _given(values: dict[str, str], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: values[name] for name in names if values.get(name)}


# --- contacts --------------------------------------------------------------------------------


async def _contacts_context(
    request: Request, session: Session, current: InTenant
) -> dict[str, Any]:
    principal = _principal(current)
    q = request.query_params.get("q", "").strip()[:200]
    filters = contacts.contact_filters(principal, q=q or None)
    cursor = request.query_params.get("cursor") or None
    page = await contacts.list_contacts(session, principal, filters, cursor=cursor, limit=PAGE_SIZE)
    next_link = None
    if page.next_cursor:
        next_link = "?" + urlencode({**({"q": q} if q else {}), "cursor": page.next_cursor})
    return {"rows": page.data, "q": q, "next": next_link, "form": {}}


@crm_pages.get("/contacts", include_in_schema=False)
async def contacts_page(request: Request, session: Session, current: InTenant) -> Response:
    try:
        context = await _contacts_context(request, session, current)
    except ApiError as error:
        raise page_error(error) from None
    return render(request, "console/contacts.html", context)


@crm_pages.post("/contacts", include_in_schema=False)
async def create_contact(request: Request, session: Session, current: InTenant) -> Response:
    values = await _form(request)
    body = _given(values, ("firstName", "lastName", "email", "phone", "company", "title"))
    try:
        contact = await contacts.create_contact(
            session, _principal(current), _parse(ContactCreate, body)
        )
    except ApiError as error:
        context = {**await _contacts_context(request, session, current), "form": values}
        raise refuse(request, error, "console/contacts.html", context) from None
    return redirect(f"/console/contacts/{contact.id}")


# --- records and their timelines -------------------------------------------------------------


async def _record_context(
    session: Session, current: InTenant, record_type: str, record_id: str
) -> dict[str, Any]:
    principal = _principal(current)
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


@crm_pages.get("/contacts/{contact_id}", include_in_schema=False)
async def contact_page(
    request: Request, contact_id: str, session: Session, current: InTenant
) -> Response:
    return await _record_page(request, session, current, "contact", contact_id)


@crm_pages.get("/deals/{deal_id}", include_in_schema=False)
async def deal_page(
    request: Request, deal_id: str, session: Session, current: InTenant
) -> Response:
    return await _record_page(request, session, current, "deal", deal_id)


@crm_pages.get("/leads/{lead_id}/timeline", include_in_schema=False)
async def lead_timeline_page(
    request: Request, lead_id: str, session: Session, current: InTenant
) -> Response:
    return await _record_page(request, session, current, "lead", lead_id)


async def _record_page(
    request: Request, session: Session, current: InTenant, record_type: str, record_id: str
) -> Response:
    try:
        context = await _record_context(session, current, record_type, record_id)
    except ApiError as error:
        raise page_error(error) from None
    return render(request, "console/record.html", context)


def _record_path(record_type: str, record_id: str) -> str:
    if record_type == "lead":
        return f"/console/leads/{record_id}/timeline"
    return f"/console/{record_type}s/{record_id}"


@crm_pages.post("/records/{record_type}/{record_id}/activities", include_in_schema=False)
async def log_activity(
    request: Request, record_type: str, record_id: str, session: Session, current: InTenant
) -> Response:
    if record_type not in RECORD_TYPES:
        raise page_error(InvalidRequest("Unknown kind of record."))
    values = await _form(request)
    body: dict[str, Any] = {
        "recordType": record_type,
        "recordId": record_id,
        **_given(values, ("kind", "subject", "body")),
    }
    if values.get("due"):
        body["dueAt"] = f"{values['due']}T09:00:00Z"
    try:
        await activities.create_activity(session, _principal(current), _parse(ActivityCreate, body))
    except ApiError as error:
        context = await _record_context(session, current, record_type, record_id)
        raise refuse(request, error, "console/record.html", context) from None
    return redirect(_record_path(record_type, record_id))


@crm_pages.post("/activities/{activity_id}/done", include_in_schema=False)
async def complete_task(
    request: Request, activity_id: str, session: Session, current: InTenant
) -> Response:
    principal = _principal(current)
    try:
        done = await activities.update_activity(
            session, principal, activity_id, ActivityUpdate.model_validate({"done": True})
        )
    except ApiError as error:
        raise page_error(error) from None
    return redirect(_record_path(done.record_type, done.record_id))


@crm_pages.post("/leads/{lead_id}/convert", include_in_schema=False)
async def convert_lead(
    request: Request, lead_id: str, session: Session, current: InTenant
) -> Response:
    values = await _form(request)
    body: dict[str, Any] = {}
    if values.get("dealName"):
        body["deal"] = {"name": values["dealName"], "amount": _minor_units(values.get("amount"))}
    try:
        result = await contacts.convert_lead(
            session, _principal(current), lead_id, _parse(LeadConvert, body)
        )
    except ApiError as error:
        raise page_error(error) from None
    return redirect(f"/console/contacts/{result.contact.id}")


def _minor_units(text: str | None) -> Any:
    if not text:
        return 0
    try:
        return round(float(text) * 100)
    except ValueError:
        return text  # refused by validation, with the field named


# --- the pipeline board ----------------------------------------------------------------------


async def _board_context(request: Request, session: Session, current: InTenant) -> dict[str, Any]:
    principal = _principal(current)
    pipelines = (await deals.list_pipelines(session, principal)).data
    wanted = request.query_params.get("pipeline")
    pipeline = next((p for p in pipelines if p.id == wanted), None) or next(
        p for p in pipelines if p.is_default
    )
    page = await deals.list_deals(
        session, principal, DealFilters(pipeline_id=pipeline.id), cursor=None, limit=BOARD_SIZE
    )
    columns = [
        {"stage": stage, "deals": [d for d in page.data if d.stage_id == stage.id]}
        for stage in pipeline.stages
    ]
    return {
        "pipelines": pipelines,
        "pipeline": pipeline,
        "columns": columns,
        "truncated": page.has_more,
        "form": {},
    }


@crm_pages.get("/deals", include_in_schema=False)
async def board_page(request: Request, session: Session, current: InTenant) -> Response:
    return render(request, "console/board.html", await _board_context(request, session, current))


@crm_pages.post("/deals", include_in_schema=False)
async def create_deal(request: Request, session: Session, current: InTenant) -> Response:
    values = await _form(request)
    body = _given(values, ("name", "currency", "pipelineId", "contactId", "expectedCloseDate"))
    if values.get("amount"):
        body["amount"] = _minor_units(values["amount"])
    try:
        await deals.create_deal(session, _principal(current), _parse(DealCreate, body))
    except ApiError as error:
        context = {**await _board_context(request, session, current), "form": values}
        raise refuse(request, error, "console/board.html", context) from None
    return redirect(f"/console/deals?pipeline={values.get('pipelineId', '')}")


@crm_pages.post("/deals/{deal_id}/stage", include_in_schema=False)
async def move_deal(
    request: Request, deal_id: str, session: Session, current: InTenant
) -> Response:
    values = await _form(request)
    try:
        deal = await deals.update_deal(
            session,
            _principal(current),
            deal_id,
            _parse(DealUpdate, {"stageId": values.get("stageId", "")}),
        )
    except ApiError as error:
        raise page_error(error) from None
    back = values.get("back") == "deal"
    return redirect(
        f"/console/deals/{deal.id}" if back else f"/console/deals?pipeline={deal.pipeline_id}"
    )


# --- automations -----------------------------------------------------------------------------


async def _automations_context(session: Session, current: InTenant) -> dict[str, Any]:
    principal = _principal(current)
    rules = (await automations.list_automations(session, principal)).data
    runs = {
        rule.id: (
            await automations.list_runs(session, principal, rule.id, cursor=None, limit=10)
        ).data
        for rule in rules
    }
    example_conditions = '[{"field": "source", "op": "eq", "value": "website"}]'
    example_actions = '[{"type": "add_tags", "tags": ["website"]}]'
    return {
        "rules": rules,
        "runs": runs,
        "triggers": TRIGGERS,
        "form": {"conditions": example_conditions, "actions": example_actions},
    }


@crm_pages.get("/automations", include_in_schema=False)
async def automations_page(request: Request, session: Session, current: InTenant) -> Response:
    return render(request, "console/automations.html", await _automations_context(session, current))


def _json_field(values: dict[str, str], name: str) -> Any:
    try:
        return json.loads(values.get(name) or "[]")
    except json.JSONDecodeError as error:
        raise InvalidRequest(
            f"{name}: not JSON ({error.msg}).",
            details=[{"field": name, "message": "not JSON", "type": "invalid"}],
        ) from None


@crm_pages.post("/automations", include_in_schema=False)
async def create_automation(request: Request, session: Session, current: InTenant) -> Response:
    values = await _form(request)
    try:
        body = {
            "name": values.get("name", ""),
            "eventType": values.get("eventType", ""),
            "conditions": _json_field(values, "conditions"),
            "actions": _json_field(values, "actions"),
        }
        await automations.create_automation(
            session, _principal(current), _parse(AutomationCreate, body)
        )
    except ApiError as error:
        context = {**await _automations_context(session, current), "form": values}
        raise refuse(request, error, "console/automations.html", context) from None
    return redirect("/console/automations")


@crm_pages.post("/automations/{automation_id}/enabled", include_in_schema=False)
async def toggle_automation(
    request: Request, automation_id: str, session: Session, current: InTenant
) -> Response:
    values = await _form(request)
    update = AutomationUpdate.model_validate({"enabled": values.get("enabled") == "on"})
    try:
        await automations.update_automation(session, _principal(current), automation_id, update)
    except ApiError as error:
        raise page_error(error) from None
    return redirect("/console/automations")


# --- reports ---------------------------------------------------------------------------------


def _bars(rows: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """Horizontal bars as percentages of the largest value (drawn by CSS widths in the page)."""
    peak = max((value for _, value in rows), default=0)
    return [
        {"label": label, "value": value, "percent": round(100 * value / peak) if peak else 0}
        for label, value in rows
    ]


@crm_pages.get("/reports", include_in_schema=False)
async def reports_page(request: Request, session: Session, current: InTenant) -> Response:
    principal = _principal(current)
    funnel = (await reports.funnel_report(session, principal, None, None)).data
    pipeline = (await reports.pipeline_report(session, principal, None)).data
    sources = (await reports.leads_report(session, principal, "source", "month", None, None)).data
    revenue = (await reports.revenue_report(session, principal, "month", None, None)).data
    by_source: dict[str, int] = {}
    for row in sources:
        by_source[row.key or "(none)"] = by_source.get(row.key or "(none)", 0) + row.count
    weighted: dict[str, int] = {}
    for stage in pipeline:
        label = f"{stage.stage_name} ({stage.currency})" if stage.currency else stage.stage_name
        weighted[label] = weighted.get(label, 0) + stage.weighted_amount
    context = {
        "funnel": funnel,
        "funnel_bars": _bars([(s.step, s.count) for s in funnel]),
        "source_bars": _bars(sorted(by_source.items(), key=lambda item: -item[1])),
        "pipeline_bars": _bars(list(weighted.items())),
        "revenue": revenue,
    }
    return render(request, "console/reports.html", context)
