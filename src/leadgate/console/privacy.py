"""The console's privacy page: erase a person, suppress an address, set the retention periods.

Owners and admins only: an erasure cannot be undone. Each form calls `privacy.service`, the
API's own rules; a refused form is shown again with the message and its transaction rolled back.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from leadgate.console.auth import Manager, check_csrf
from leadgate.console.forms import Form
from leadgate.console.rendering import invalid_body, redirect, refuse, render
from leadgate.console.service import member_actor
from leadgate.db import Session
from leadgate.errors import ApiError, InvalidRequest
from leadgate.privacy import service
from leadgate.privacy.retention import PERIODS
from leadgate.privacy.schemas import RetentionUpdate
from leadgate.web import client_ip, get_settings

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])

TEMPLATE = "console/privacy.html"
REASONS = ("unsubscribed", "requested", "erased")


class ErasureForm(Form):
    email: str = ""
    phone: str = ""
    suppress: str = ""


class SuppressionForm(Form):
    email: str = ""
    reason: str = "unsubscribed"


class RetentionForm(Form):
    """Days per kind, fields named as the API names them; blank: the deployment default."""

    eventPayloads: str = ""
    events: str = ""
    deliveryAttempts: str = ""
    idempotencyRecords: str = ""
    usage: str = ""
    audit: str = ""


async def _context(
    request: Request, session: Session, current: Manager, **extra: Any
) -> dict[str, Any]:
    settings = get_settings(request)
    retention = await service.retention_of(session, settings, current.tenant.id)
    stored = {name: f"{days:g}" for name, days in retention.tenant.items()}
    return {
        "retention": retention,
        "retention_form": RetentionForm(**stored),
        "erasure_form": ErasureForm(suppress="on"),
        "suppression_form": SuppressionForm(),
        "reasons": REASONS,
        **extra,
    }


@router.get("/privacy", include_in_schema=False)
async def privacy_page(request: Request, session: Session, current: Manager) -> Response:
    saved = {
        "suppressed": request.query_params.get("suppressed") == "1",
        "retention_saved": request.query_params.get("retention") == "1",
    }
    return render(request, TEMPLATE, await _context(request, session, current, **saved))


@router.post("/privacy/erasures", include_in_schema=False)
async def erase_person(request: Request, session: Session, current: Manager) -> Response:
    form = ErasureForm.read(await request.form())
    settings = get_settings(request)
    try:
        person = await service.identify_in_tenant(
            session, settings, current.tenant.id, form.email.strip() or None,
            form.phone.strip() or None,
        )  # fmt: skip
        erasure = await service.erase_person(
            session,
            settings,
            tenant_id=current.tenant.id,
            person=person,
            suppress=form.suppress == "on",
            actor=member_actor(current.user, current.role),
            ip=client_ip(request),
        )
    except ApiError as error:
        context = await _context(request, session, current, erasure_form=form)
        raise refuse(request, error, TEMPLATE, context) from None
    # Shown at once (not redirected): the result names no one, only ids and counts.
    return render(request, TEMPLATE, await _context(request, session, current, erasure=erasure))


@router.post("/privacy/suppressions", include_in_schema=False)
async def suppress(request: Request, session: Session, current: Manager) -> Response:
    form = SuppressionForm.read(await request.form())
    settings = get_settings(request)
    try:
        if form.reason not in REASONS:
            raise InvalidRequest(
                "Choose a reason.",
                details=[{"field": "reason", "message": "unknown reason", "type": "enum"}],
            )
        person = await service.identify_in_tenant(
            session, settings, current.tenant.id, form.email.strip() or None, None
        )
        if person.email is None:
            raise InvalidRequest("Give an e-mail address.")
        await service.add_suppression(
            session, settings, current.tenant.id, person.email, form.reason
        )
    except ApiError as error:
        context = await _context(request, session, current, suppression_form=form)
        raise refuse(request, error, TEMPLATE, context) from None
    return redirect("/console/privacy?suppressed=1")


@router.post("/privacy/retention", include_in_schema=False)
async def set_retention(request: Request, session: Session, current: Manager) -> Response:
    form = RetentionForm.read(await request.form())
    settings = get_settings(request)
    values = {name: getattr(form, name).strip() or None for name in PERIODS}
    try:
        try:
            changes = RetentionUpdate.model_validate(values)
        except ValidationError as error:
            raise invalid_body(error) from None
        await service.set_retention(
            session,
            settings,
            tenant_id=current.tenant.id,
            changes=changes,
            actor=member_actor(current.user, current.role),
            ip=client_ip(request),
        )
    except ApiError as error:
        context = await _context(request, session, current, retention_form=form)
        raise refuse(request, error, TEMPLATE, context) from None
    return redirect("/console/privacy?retention=1")
