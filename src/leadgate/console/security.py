"""The console's browser defences: cookies, CSRF tokens and security headers."""

from __future__ import annotations

import hashlib
import hmac
import secrets

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
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]


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


class SecurityHeadersMiddleware:
    """Adds the console's security headers to every response under `/console`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == "/console" or path.startswith("/console/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
