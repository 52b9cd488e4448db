"""FastAPI dependencies that authenticate a request and check the scope its route needs."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.api_keys.auth_checks import check_client_certificate, expiry_warning_headers
from leadgate.api_keys.cache import VerifiedKey
from leadgate.api_keys.mtls import is_trusted_proxy
from leadgate.api_keys.service import verify_api_key
from leadgate.auth.credentials import find_credential
from leadgate.auth.principal import Principal
from leadgate.context import set_tenant_id
from leadgate.db import get_session
from leadgate.errors import ApiError, InsufficientScope, InvalidApiKey, TenantNotFound
from leadgate.ratelimit.service import RateLimiter, enforce
from leadgate.settings import Settings
from leadgate.tenants.repository import TenantRepository
from leadgate.usage.service import admitted_this_month

Session = Annotated[AsyncSession, Depends(get_session, scope="function")]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def host_tenant_slug(request: Request, settings: Settings) -> str | None:
    """The tenant slug named by the Host header (`acme.<base domain>`), if any."""
    return tenant_slug_of_host(request.headers.get("host", ""), settings)


def tenant_slug_of_host(host: str, settings: Settings) -> str | None:
    if not settings.base_domain:
        return None
    host = host.rsplit(":", 1)[0].lower().rstrip(".")
    suffix = "." + settings.base_domain
    if not host.endswith(suffix):
        return None
    label = host[: -len(suffix)]
    return label if label and "." not in label else None


async def authenticate(request: Request, response: Response, session: Session) -> Principal:
    """Verifies the request's API key and returns who is calling.

    A key verified recently comes from the in-memory cache (no database round trip). On a
    tenant's subdomain an unknown tenant is 404, and a key of another tenant is 401.
    """
    settings = get_settings(request)
    slug = host_tenant_slug(request, settings)
    try:
        credential = await find_credential(request)
        if credential is None or not credential.value:
            raise InvalidApiKey("API key is missing or does not match.")
        key = await verify_api_key(session, settings, request.app.state.key_cache, credential.value)
        if slug is not None and key.tenant_slug != slug:
            raise InvalidApiKey("API key is missing or does not match.")
    except ApiError:
        # Checked only on failure: a key of the subdomain's tenant proves the tenant exists.
        if slug is not None and await TenantRepository(session).by_slug(slug) is None:
            raise TenantNotFound(f"No tenant {slug!r} here.") from None
        raise
    if key.enforce_mtls:
        check_client_certificate(request, settings, key)
    principal = principal_of(key, settings, credential.source)
    state = request.scope.setdefault("state", {})
    state.update(tenant_id=key.tenant_id, api_key_id=key.key_id, key_source=credential.source)
    set_tenant_id(key.tenant_id)
    request.app.state.key_usage.touch(key.tenant_id, key.key_id, client_ip(request))
    response.headers.update(expiry_warning_headers(key))
    return principal


def principal_of(key: VerifiedKey, settings: Settings, source: str) -> Principal:
    """The caller a verified key makes, with its plan's limits filled in."""
    return Principal(
        tenant_id=key.tenant_id,
        tenant_slug=key.tenant_slug,
        api_key_id=key.key_id,
        api_key_name=key.name,
        scopes=key.scopes,
        team_scope=key.team_scope,
        team_ids=key.team_ids,
        rate_limit_per_minute=key.rate_limit_per_minute or settings.rate_limit_for_plan(key.plan),
        monthly_quota=key.monthly_quota or settings.monthly_quota_for_plan(key.plan),
        expires_at=key.expires_at,
        key_source=source,
        phone_region=key.phone_region,
        duplicate_policy=key.duplicate_policy,
        duplicate_fields=key.duplicate_fields,
        plan=key.plan,
        extra={"created_by": key.created_by},
    )


def client_ip(request: Request) -> str | None:
    """The caller's address: the connection's peer or, when the peer is a trusted proxy
    (`LEADGATE_TRUSTED_PROXIES`), the nearest address in `X-Forwarded-For` that is not one —
    entries left of it could have been written by the client itself."""
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers.get("x-forwarded-for"), get_settings(request))


def client_address(peer: str | None, forwarded: str | None, settings: Settings) -> str | None:
    """`client_ip` from the peer address and the `X-Forwarded-For` header's value."""
    if not forwarded or not is_trusted_proxy(peer, settings):
        return peer
    for hop in reversed(forwarded.split(",")):
        address = hop.strip()
        if not is_trusted_proxy(address, settings):
            return address if _is_ip(address) else peer
    return peer


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


# --- issue 4: rate limits ---
async def authenticate_limited(request: Request, response: Response, session: Session) -> Principal:
    """`authenticate` behind the failed-authentication throttle, then the key's rate limit and
    quota: a throttled address never reaches the key lookup, and a refused request (429) never
    reaches the scope check or the handler."""
    limiter: RateLimiter = request.app.state.rate_limiter
    address = client_ip(request)
    limiter.check_address(address)
    try:
        principal = await authenticate(request, response, session)
    except ApiError as error:
        if error.status_code == 401:
            await limiter.record_auth_failure(address)
        raise

    async def quota_seed() -> int:
        return await admitted_this_month(session, principal.tenant_id, principal.api_key_id)

    await enforce(request, principal, limiter, quota_seed)
    return principal


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates and then demands `scope` (403 naming it otherwise)."""

    async def dependency(
        principal: Annotated[Principal, Depends(authenticate_limited)],
    ) -> Principal:
        if scope not in principal.scopes:
            raise InsufficientScope(
                f"This API key lacks the '{scope}' scope.",
                extra={"requiredScope": scope},
            )
        return principal

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency
