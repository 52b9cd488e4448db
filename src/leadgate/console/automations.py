"""The Automations page: rules with their recent runs, a new rule (conditions and actions as
JSON), enabling and disabling."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from leadgate.automations import service as automations
from leadgate.automations.rules import TRIGGERS
from leadgate.automations.schemas import AutomationCreate, AutomationUpdate
from leadgate.console.auth import InTenant, check_csrf
from leadgate.console.contacts import form_values, member_principal_of, parse_body
from leadgate.console.rendering import page_errors, redirect, refuse, render
from leadgate.db import Session
from leadgate.errors import ApiError, InvalidRequest

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])

# --- automations -----------------------------------------------------------------------------


async def _automations_context(session: Session, current: InTenant) -> dict[str, Any]:
    principal = member_principal_of(current)
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


@router.get("/automations", include_in_schema=False)
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


@router.post("/automations", include_in_schema=False)
async def create_automation(request: Request, session: Session, current: InTenant) -> Response:
    values = await form_values(request)
    try:
        body = {
            "name": values.get("name", ""),
            "eventType": values.get("eventType", ""),
            "conditions": _json_field(values, "conditions"),
            "actions": _json_field(values, "actions"),
        }
        await automations.create_automation(
            session, member_principal_of(current), parse_body(AutomationCreate, body)
        )
    except ApiError as error:
        context = {**await _automations_context(session, current), "form": values}
        raise refuse(request, error, "console/automations.html", context) from None
    return redirect("/console/automations")


@router.post("/automations/{automation_id}/enabled", include_in_schema=False)
async def toggle_automation(
    request: Request, automation_id: str, session: Session, current: InTenant
) -> Response:
    values = await form_values(request)
    update = AutomationUpdate.model_validate({"enabled": values.get("enabled") == "on"})
    with page_errors():
        await automations.update_automation(
            session, member_principal_of(current), automation_id, update
        )
    return redirect("/console/automations")
