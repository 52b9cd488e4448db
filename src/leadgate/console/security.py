"""The console's browser defences: cookies, CSRF tokens, and the security headers of every
response (console, API explorer and API)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadgate.settings import Settings

SESSION_COOKIE = "lg_session"
ANON_COOKIE = "lg_anon"  # a pre-session for the sign-in and sign-up forms' CSRF tokens
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def header_set(
    policy: str, referrer: str, *extra: tuple[bytes, bytes]
) -> list[tuple[bytes, bytes]]:
    """A response's security headers: its CSP and referrer policy; never framed or sniffed."""
    return [
        (b"content-security-policy", policy.encode()),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", referrer.encode()),
        (b"x-content-type-options", b"nosniff"),
        *extra,
    ]


SECURITY_HEADERS = header_set(
    CONTENT_SECURITY_POLICY, "same-origin", (b"cache-control", b"no-store")
)


def _hostname(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        return parts.hostname if parts.scheme in ("http", "https") else None
    except ValueError:
        return None


def is_foreign(request: Request, settings: Settings) -> bool:
    """Whether a state-changing request comes from another site, by what the browser says:
    `Sec-Fetch-Site: cross-site`, or an `Origin` whose host is neither the one the request was
    sent to nor the configured public URL's (`null` included). Hosts, not ports, are compared:
    a proxy passes `Host` without its port, and cookies do not tell ports apart either. A request
    with neither header (a script, an older browser) is left to the CSRF token alone."""
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    host = _hostname(origin.strip())
    if host is None:
        return True
    own = {_hostname("http://" + request.headers.get("host", "")), _hostname(settings.public_url)}
    return host not in own - {None}


def csrf_token(settings: Settings, basis: str) -> str:
    """The synchronizer token for one (pre-)session: an HMAC of its cookie under the secret.

    Nothing is stored, and no other session's token can be derived from it.
    """
    return hmac.new(settings.secret_bytes, b"csrf:" + basis.encode(), hashlib.sha256).hexdigest()


def new_anon_token() -> str:
    return secrets.token_urlsafe(24)


def cookies_secure(request: Request, settings: Settings) -> bool:
    if settings.console_secure_cookies is not None:
        return settings.console_secure_cookies
    return request.url.scheme == "https" or settings.public_url.startswith("https://")


def set_cookie(
    response: Response, request: Request, settings: Settings, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        secure=cookies_secure(request, settings),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, request: Request, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name,
        path="/console",
        secure=cookies_secure(request, settings),
        httponly=True,
        samesite="lax",
    )


# The JSON API and everything else outside the console: nothing there is meant to be framed,
# sniffed as another type or to leak its URL (which may carry `?api_key=`) as a Referer.
API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
API_SECURITY_HEADERS = header_set(API_CONTENT_SECURITY_POLICY, "no-referrer")
# The API explorer (/docs): Swagger UI's own files only; it styles elements inline.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS_SECURITY_HEADERS = header_set(DOCS_CONTENT_SECURITY_POLICY, "same-origin")
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def security_headers_for(path: str) -> list[tuple[bytes, bytes]]:
    if path == "/console" or path.startswith("/console/"):
        return SECURITY_HEADERS
    if path == "/docs":
        return DOCS_SECURITY_HEADERS
    return API_SECURITY_HEADERS


class SecurityHeadersMiddleware:
    """Adds security headers to every HTTP response: the console's strict set under `/console`,
    the explorer's on `/docs`, the API's elsewhere; HSTS when the deployment is served over
    https (the request's scheme, or an https `LEADGATE_PUBLIC_URL` behind a proxy)."""

    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        self.app = app
        self.https_deployment = settings is not None and settings.public_url.startswith("https://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(security_headers_for(scope.get("path", "")))
        if self.https_deployment or scope.get("scheme") == "https":
            extra.append(HSTS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(header for header in extra if header[0] not in present),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
