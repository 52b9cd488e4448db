"""The Developers page: where to send requests and how a key looks."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from leadgate.api_keys.service import key_prefix_for
from leadgate.console.auth import InTenant, check_csrf
from leadgate.console.rendering import render
from leadgate.db import Session
from leadgate.urls import tenant_base_url
from leadgate.web import get_settings

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])


@router.get("/developers", include_in_schema=False)
async def developers_page(request: Request, session: Session, current: InTenant) -> Response:
    settings = get_settings(request)
    return render(
        request,
        "console/developers.html",
        {
            "base_url": settings.public_url.rstrip("/"),
            # The tenant's own address, port included: the one the server answers on.
            "subdomain_url": tenant_base_url(settings, current.tenant.slug),
            "key_prefix": await key_prefix_for(session, settings, current.tenant.id),
        },
    )
