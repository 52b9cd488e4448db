"""Which URLs an endpoint may have: https to public addresses (SSRF guard), checked at creation
and again before every attempt, since a name's addresses can change (DNS rebinding)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048


class UnsafeUrl(ValueError):
    """A URL leadgate will not send to; the message says why, for the client."""


def check_form(url: str, *, allow_private: bool) -> tuple[str, int]:
    """The URL's host and port if its form is acceptable (no network)."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeUrl(f"not a valid URL ({error})") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeUrl("must be an https:// URL")
    if not parts.hostname:
        raise UnsafeUrl("must name a host")
    if parts.username or parts.password:
        raise UnsafeUrl("must not carry credentials")
    if parts.fragment:
        raise UnsafeUrl("must not have a #fragment")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_target(url: str, *, allow_private: bool) -> None:
    """Refuses URLs of the wrong form and, unless private targets are allowed, any host that
    resolves to a loopback, private, link-local or otherwise non-public address."""
    host, port = check_form(url, allow_private=allow_private)
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise UnsafeUrl(f"host {host!r} does not resolve") from None
    for info in infos:
        address = str(info[4][0])
        if not is_public(address):
            raise UnsafeUrl(f"host {host!r} resolves to a non-public address ({address})")
