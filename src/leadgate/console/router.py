"""Mounts the console under /console: one router per product area (accounts, keys, members,
audit, developers, usage, leads, tags, teams, webhooks, web forms, sources, privacy, contacts,
deals, automations, reports), its page-shaped errors and its security headers.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from leadgate.console import (
    accounts,
    audit,
    automations,
    contacts,
    deals,
    developers,
    keys,
    leads,
    members,
    privacy,
    reports,
    sources,
    tags,
    teams,
    usage,
    web_forms,
    webhooks,
)
from leadgate.console.auth import AnyVisitor, ConsolePageError, ConsoleRedirect, check_csrf
from leadgate.console.rendering import FormInvalid, redirect, render
from leadgate.console.security import SecurityHeadersMiddleware

AREAS = (
    accounts, keys, members, audit, developers, usage, leads, tags, teams, webhooks, web_forms,
    sources, privacy, contacts, deals, automations, reports,
)  # fmt: skip
# Included after every area: it answers any console path no area has.
fallback = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])


@fallback.get("/{unknown:path}", include_in_schema=False)
async def not_found(unknown: str, current: AnyVisitor) -> Response:
    raise ConsolePageError(404, "Not found", "There is no such console page.")


async def _redirect_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleRedirect)
    return redirect(exc.location)


async def _page_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsolePageError)
    return render(
        request,
        "console/error.html",
        {"title": exc.title, "message": exc.message},
        status=exc.status_code,
    )


async def _form_invalid_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FormInvalid)
    return exc.response


def install_console(app: FastAPI) -> None:
    """Mounts the console: its routes, its page-shaped errors and its security headers."""
    for area in AREAS:
        app.include_router(area.router)
    app.include_router(fallback)
    app.add_exception_handler(ConsoleRedirect, _redirect_handler)
    app.add_exception_handler(ConsolePageError, _page_error_handler)
    app.add_exception_handler(FormInvalid, _form_invalid_handler)
    app.add_middleware(SecurityHeadersMiddleware, settings=app.state.settings)
