"""Client certificates for keys with `enforceMtls`: where a request's verified certificate is from.

Two sources, and only these two:
- `leadgate serve --ssl-ca-certs …` terminates TLS itself and asks for a client certificate
  (optional at the handshake, so keys without mTLS keep working; a certificate that is presented
  must chain to the CA or the handshake fails). uvicorn does not pass the peer certificate to the
  app, so `TlsH11Protocol` adds it as the ASGI TLS extension (`scope["extensions"]["tls"]`).
- A reverse proxy that verified the certificate forwards it (URL-encoded PEM, nginx's
  `$ssl_client_escaped_cert`) in `LEADGATE_MTLS_CERTIFICATE_HEADER`, or its SHA-256 thumbprint in
  `LEADGATE_MTLS_THUMBPRINT_HEADER`; both are honoured only from `LEADGATE_TRUSTED_PROXIES`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import ssl
from asyncio import BaseTransport
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from leadgate.settings import Settings

THUMBPRINT = re.compile(r"^[0-9a-f]{64}$")


def normalise_thumbprint(value: str) -> str | None:
    """`AB:CD:…` or `abcd…` → 64 lower-case hex digits; None if it is not a SHA-256."""
    cleaned = value.strip().replace(":", "").lower()
    return cleaned if THUMBPRINT.match(cleaned) else None


def thumbprint_of_der(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def client_thumbprint(request: Request, settings: Settings) -> str | None:
    """SHA-256 of the verified client certificate that came with this request, if any."""
    tls = (request.scope.get("extensions") or {}).get("tls")
    if tls and tls.get("client_cert_chain"):
        return thumbprint_of_der(ssl.PEM_cert_to_DER_cert(tls["client_cert_chain"][0]))
    if not is_trusted_proxy(request.client.host if request.client else None, settings):
        return None
    forwarded_cert = request.headers.get(settings.mtls_certificate_header)
    if forwarded_cert:
        return _thumbprint_of_forwarded(forwarded_cert)
    header = request.headers.get(settings.mtls_thumbprint_header)
    return normalise_thumbprint(header) if header else None


def _thumbprint_of_forwarded(value: str) -> str | None:
    """A URL-encoded PEM certificate, as nginx's `$ssl_client_escaped_cert` forwards it."""
    try:
        return thumbprint_of_der(ssl.PEM_cert_to_DER_cert(unquote(value).strip()))
    except ValueError:
        return None


def is_trusted_proxy(host: str | None, settings: Settings) -> bool:
    if not host or not settings.trusted_proxies:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(net, strict=False) for net in settings.trusted_proxies
    )


class _WithTls:
    """Wraps the app for one connection, adding that connection's TLS facts to each scope."""

    def __init__(self, app: ASGIApp, tls: dict[str, Any]) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            extensions = scope.get("extensions") or {}
            extensions["tls"] = self.tls
            scope["extensions"] = extensions
        await self.app(scope, receive, send)


class TlsH11Protocol(H11Protocol):
    """uvicorn's h11 protocol that passes the verified peer certificate to the app.

    asyncio calls `connection_made` after the TLS handshake, so the certificate is known here.
    """

    def connection_made(self, transport: BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return
        der = ssl_object.getpeercert(binary_form=True)
        cipher = ssl_object.cipher()
        tls = {
            "server_cert": None,
            "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "client_cert_name": None,
            "client_cert_error": None,
            "tls_version": None,
            "cipher_suite": None,
            "leadgate_tls_version_name": ssl_object.version(),
            "leadgate_cipher_name": cipher[0] if cipher else None,
        }
        self.app = _WithTls(self.app, tls)


def uvicorn_tls_options(
    certfile: str | None, keyfile: str | None, ca_certs: str | None
) -> dict[str, Any]:
    """uvicorn settings for serving TLS, asking clients for a certificate when a CA is given."""
    if not certfile:
        return {}
    options: dict[str, Any] = {
        "ssl_certfile": certfile,
        "ssl_keyfile": keyfile,
        "http": TlsH11Protocol,
    }
    if ca_certs:
        options.update(ssl_ca_certs=ca_certs, ssl_cert_reqs=ssl.CERT_OPTIONAL)
    return options
