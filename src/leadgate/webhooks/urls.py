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


# IPv6 ranges whose addresses carry an IPv4 address that a translator or tunnel reaches.
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # RFC 4291 2.5.5.1, deprecated
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")  # RFC 3879, deprecated


def _field(bits: int, start: int, width: int) -> int:
    """`width` bits of a 128-bit address from bit `start` (0 is the most significant)."""
    return (bits >> (128 - start - width)) & ((1 << width) - 1)


def _rfc6052_candidates(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 address under each RFC 6052 (2.2) layout a /48 prefix allows: /48, /56, /64
    and /96 put it in different bits (bits 64-71 are always skipped). The address does not say
    which layout its translator uses, so the caller judges them all (in practice this refuses
    nearly every local-use address: leadgate does not send through a network's own NAT64)."""
    bits = int(ip)
    layouts = (
        (_field(bits, 48, 16) << 16) | _field(bits, 72, 16),  # /48
        (_field(bits, 56, 8) << 24) | _field(bits, 72, 24),  # /56
        _field(bits, 72, 32),  # /64
        _field(bits, 96, 32),  # /96
    )
    return [ipaddress.IPv4Address(value) for value in layouts]


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (the connection reaches them), or none."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _NAT64_WELL_KNOWN:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip in _NAT64_LOCAL_USE:
        return _rfc6052_candidates(ip)
    if ip.sixtofour is not None:  # 2002::/16, RFC 3056
        return [ip.sixtofour]
    if ip.teredo is not None:  # 2001::/32, RFC 4380: the relay and the client behind it
        server, client = ip.teredo
        return [server, client]
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # `::` and `::1` are themselves, not IPv4
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def _is_public_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return _is_public_ip(ip)
    if ip in _SITE_LOCAL:
        return False
    carried = embedded_ipv4(ip)
    if carried:
        # Judged by what it reaches, whatever Python's tables say of the IPv6 range itself.
        return all(_is_public_ip(v4) for v4 in carried)
    return _is_public_ip(ip)


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
