"""The Developers page: where to send requests and how a key looks."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from leadgate.console.auth import InTenant, check_csrf
from leadgate.console.rendering import render
from leadgate.web import get_settings

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])


@router.get("/developers", include_in_schema=False)
async def developers_page(request: Request, current: InTenant) -> Response:
    settings = get_settings(request)
    base = settings.public_url.rstrip("/")
    subdomain = None
    if settings.base_domain:
        scheme = urlsplit(base).scheme or "https"
        subdomain = f"{scheme}://{current.tenant.slug}.{settings.base_domain}"
    return render(
        request,
        "console/developers.html",
        {"base_url": base, "subdomain_url": subdomain, "key_prefix": settings.key_prefix},
    )
