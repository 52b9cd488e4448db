"""Settings → API Access: a workspace's API keys, generated, edited, rolled and revoked
through the key service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from leadgate.api_keys.grantor import GRANTABLE_SCOPES
from leadgate.api_keys.scopes import ALL_SCOPES, EXPIRATION_DAYS
from leadgate.api_keys.service import get_api_key
from leadgate.console import service
from leadgate.console.auth import InTenant, check_csrf
from leadgate.console.forms import EditKeyForm, GenerateKeyForm, RollKeyForm
from leadgate.console.rendering import page_error, page_errors, redirect, refuse, render
from leadgate.db import Session
from leadgate.errors import ApiError
from leadgate.web import client_ip, get_settings

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])

SCOPE_LABELS = {
    "leads:read": "Read leads",
    "leads:write": "Create and update leads",
    "tags:read": "Read tags",
    "tags:write": "Manage tags",
    "keys:read": "Read API keys",
    "keys:write": "Manage API keys",
    "webhooks:read": "Read webhooks",
    "webhooks:write": "Manage webhooks",
    "sources:read": "See inbound sources and their payloads",
    "sources:write": "Manage inbound sources and replay payloads",
    "usage:read": "Read usage",
    "users:read": "Read users",
    "forms:read": "Read web forms",
    "forms:write": "Manage web forms",
    "privacy:read": "Export a person's data",
    "privacy:write": "Erase people, suppression list, retention",
}


def grantable(role: str) -> list[str]:
    """The scopes the form offers: those the role may grant."""
    allowed = GRANTABLE_SCOPES.get(role, frozenset())
    return [scope for scope in ALL_SCOPES if scope in allowed]


def key_form_context(form: GenerateKeyForm, teams: Any, role: str) -> dict[str, Any]:
    return {
        "form": form,
        "scopes": grantable(role),
        "scope_labels": SCOPE_LABELS,
        "expirations": [*EXPIRATION_DAYS, "never"],
        "teams": teams,
    }


@router.get("/settings/api-keys", include_in_schema=False)
async def api_keys_page(request: Request, session: Session, current: InTenant) -> Response:
    rows = await service.list_keys(session, current.tenant.id)
    return render(request, "console/api_keys.html", {"rows": rows})


@router.get("/settings/api-keys/new", include_in_schema=False)
async def new_api_key_page(request: Request, session: Session, current: InTenant) -> Response:
    teams = await service.list_teams(session, current.tenant.id)
    form = GenerateKeyForm(scopes=["leads:write"])
    return render(request, "console/api_key_new.html", key_form_context(form, teams, current.role))


@router.post("/settings/api-keys", include_in_schema=False)
async def generate_api_key(request: Request, session: Session, current: InTenant) -> Response:
    form = GenerateKeyForm.read(await request.form())
    try:
        issued = await service.generate_key(
            session,
            get_settings(request),
            tenant_id=current.tenant.id,
            user=current.user,
            role=current.role,
            form=form,
            ip=client_ip(request),
        )
    except ApiError as error:
        if error.status_code == 403:
            raise page_error(error) from None
        teams = await service.list_teams(session, current.tenant.id)
        context = key_form_context(form, teams, current.role)
        raise refuse(request, error, "console/api_key_new.html", context) from None
    return render(request, "console/api_key_created.html", {"issued": issued}, status=201)


@router.get("/settings/api-keys/{key_id}/revoke", include_in_schema=False)
async def revoke_page(
    request: Request, key_id: str, session: Session, current: InTenant
) -> Response:
    with page_errors():
        key = await get_api_key(session, current.tenant.id, key_id)
    return render(request, "console/api_key_revoke.html", {"key": key})


@router.post("/settings/api-keys/{key_id}/revoke", include_in_schema=False)
async def revoke(request: Request, key_id: str, session: Session, current: InTenant) -> Response:
    with page_errors():
        await service.revoke_key(
            session,
            tenant_id=current.tenant.id,
            user=current.user,
            role=current.role,
            key_id=key_id,
            ip=client_ip(request),
        )
    return redirect("/console/settings/api-keys")


def _edit_context(key: Any, form: EditKeyForm, role: str) -> dict[str, Any]:
    return {"key": key, "form": form, "scopes": grantable(role), "scope_labels": SCOPE_LABELS}


@router.get("/settings/api-keys/{key_id}/edit", include_in_schema=False)
async def edit_key_page(
    request: Request, key_id: str, session: Session, current: InTenant
) -> Response:
    with page_errors():
        key = await get_api_key(session, current.tenant.id, key_id)
    limit = "" if key.rate_limit_per_minute is None else str(key.rate_limit_per_minute)
    form = EditKeyForm(name=key.name, scopes=list(key.scopes), rate_limit=limit)
    return render(request, "console/api_key_edit.html", _edit_context(key, form, current.role))


@router.post("/settings/api-keys/{key_id}/edit", include_in_schema=False)
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
        key = await get_api_key(session, current.tenant.id, key_id)
        await session.refresh(key)
        raise refuse(
            request, error, "console/api_key_edit.html", _edit_context(key, form, current.role)
        ) from None
    return redirect("/console/settings/api-keys")


@router.get("/settings/api-keys/{key_id}/roll", include_in_schema=False)
async def roll_key_page(
    request: Request, key_id: str, session: Session, current: InTenant
) -> Response:
    with page_errors():
        key = await get_api_key(session, current.tenant.id, key_id)
    context = {"key": key, "grace_periods": service.GRACE_PERIODS, "form": RollKeyForm()}
    return render(request, "console/api_key_roll.html", context)


@router.post("/settings/api-keys/{key_id}/roll", include_in_schema=False)
async def roll_key(request: Request, key_id: str, session: Session, current: InTenant) -> Response:
    form = RollKeyForm.read(await request.form())
    with page_errors():
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
    context = {"issued": issued, "rolled": True, "grace": int(form.grace_period)}
    return render(request, "console/api_key_created.html", context, status=201)
