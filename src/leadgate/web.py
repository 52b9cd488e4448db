"""What a request says about itself: the app's settings, the caller's address, the tenant its
Host names. Shared by the API's authenticator, the console and the public routes."""

from __future__ import annotations

import ipaddress

from fastapi import Request

from leadgate.api_keys.mtls import is_trusted_proxy
from leadgate.settings import Settings


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
