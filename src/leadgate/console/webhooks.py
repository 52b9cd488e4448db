"""The Webhooks pages: endpoints, their deliveries, secrets, the tester and replays, through the
webhooks service (the API's rules)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from leadgate.console import service
from leadgate.console.auth import InTenant, Manager, check_csrf
from leadgate.console.forms import EnableForm, EndpointForm, ReplayForm, TesterForm
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
from leadgate.events.catalogue import CATALOGUE
from leadgate.web import get_settings
from leadgate.webhooks import service as webhooks
from leadgate.webhooks.delivery import new_client
from leadgate.webhooks.schemas import EndpointCreate, EndpointUpdate
from leadgate.webhooks.tester import stored_test_result

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])


@router.get("/webhooks", include_in_schema=False)
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


@router.post("/webhooks", include_in_schema=False)
async def create_endpoint(request: Request, session: Session, current: Manager) -> Response:
    form = EndpointForm.read(await request.form())
    try:
        try:
            data = EndpointCreate.model_validate(_endpoint_body(form))
        except ValidationError as error:
            raise invalid_body(error) from None
        endpoint, secret = await webhooks.create_endpoint(
            session, get_settings(request), tenant_id=current.tenant.id, data=data,
            actor=service.member_actor(current.user, current.role),
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


@router.get("/webhooks/{endpoint_id}", include_in_schema=False)
async def endpoint_page(
    request: Request, endpoint_id: str, session: Session, current: InTenant
) -> Response:
    with page_errors():
        context = await _endpoint_context(session, current, endpoint_id)
    tested = request.query_params.get("tested")
    if tested:
        stored = await stored_test_result(
            session, get_settings(request), current.tenant.id, endpoint_id, tested
        )
        if stored is not None:
            context.update(result=stored.result, tester=TesterForm(event_type=stored.event_type))
    return render(request, "console/webhook.html", context)


@router.post("/webhooks/{endpoint_id}", include_in_schema=False)
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
            raise invalid_body(error) from None
        await webhooks.update_endpoint(
            session, get_settings(request), tenant_id=current.tenant.id, endpoint_id=endpoint_id,
            data=data, actor=service.member_actor(current.user, current.role),
        )  # fmt: skip
    except ApiError as error:
        if error.status_code == 404:
            raise page_error(error) from None
        context = {**await _endpoint_context(session, current, endpoint_id), "form": form}
        raise refuse(request, error, "console/webhook.html", context) from None
    return redirect(f"/console/webhooks/{endpoint_id}")


@router.post("/webhooks/{endpoint_id}/enabled", include_in_schema=False)
async def enable_endpoint(
    request: Request, endpoint_id: str, session: Session, current: Manager
) -> Response:
    form = EnableForm.read(await request.form())
    data = EndpointUpdate(enabled=form.enabled == "true")
    with page_errors():
        await webhooks.update_endpoint(
            session, get_settings(request), tenant_id=current.tenant.id, endpoint_id=endpoint_id,
            data=data, actor=service.member_actor(current.user, current.role),
        )  # fmt: skip
    return redirect(f"/console/webhooks/{endpoint_id}")


@router.post("/webhooks/{endpoint_id}/rotate", include_in_schema=False)
async def rotate_secret(
    request: Request, endpoint_id: str, session: Session, current: Manager
) -> Response:
    with page_errors():
        endpoint, secret, grace_until = await webhooks.rotate_secret(
            session, get_settings(request), tenant_id=current.tenant.id, endpoint_id=endpoint_id,
            actor=service.member_actor(current.user, current.role),
        )  # fmt: skip
    context = {"endpoint": endpoint, "secret": secret, "grace_until": grace_until}
    return render(request, "console/webhook_secret.html", context)


@router.post("/webhooks/{endpoint_id}/test", include_in_schema=False)
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
    # Post/redirect/get: the result is read back from the stored test, so a reload shows it.
    return redirect(f"/console/webhooks/{endpoint_id}?tested={result.delivery_id}")


@router.post("/webhooks/{endpoint_id}/replay", include_in_schema=False)
async def replay(
    request: Request, endpoint_id: str, session: Session, current: Manager
) -> Response:
    form = ReplayForm.read(await request.form())
    with page_errors():
        await webhooks.replay_event(
            session, tenant_id=current.tenant.id, event_id=form.event_id, endpoint_id=endpoint_id
        )
    return redirect(f"/console/webhooks/{endpoint_id}?replayed={form.event_id}")
