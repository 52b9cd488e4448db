"""ASGI middleware: request ids, the body-size limit and the access log (with keys redacted)."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from urllib.parse import parse_qsl, urlencode

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadgate.context import start_request
from leadgate.errors import error_body
from leadgate.metrics import observe_request
from leadgate.ratelimit.headers import rate_limit_headers
from leadgate.redaction import redact_path

access_log = structlog.get_logger("leadgate.access")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
KEY_EXPIRY_HEADERS = "key_expiry_headers"  # request state: Deprecation/Sunset/Warning
REDACTED_PARAMS = frozenset({"api_key", "apikey", "key", "token"})


def redact_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    # A value may itself carry a path with a token (a sign-in's `next`).
    return urlencode(
        [(k, "[redacted]" if k.lower() in REDACTED_PARAMS else redact_path(v)) for k, v in pairs]
    )


class ClientGone(Exception):
    """The client disconnected before its request body was complete."""


class RequestContextMiddleware:
    """Gives each request an id (echoed as `X-Request-Id`), bounds its body and logs it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_header_bytes: int,
        access_log_enabled: bool,
        body_timeout_seconds: float = 30.0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.body_timeout_seconds = body_timeout_seconds
        self.access_log_enabled = access_log_enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_request_id(scope) or f"req_{secrets.token_hex(12)}"
        start_request(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        header_value = request_id.encode()
        status_holder = [0]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", header_value))
                headers.extend(limit_headers_and_usage(scope, message["status"]))
                message["headers"] = headers
            await send(message)

        try:
            await self._dispatch(scope, receive, send_with_id)
            if status_holder[0] == 0:
                status_holder[0] = 499  # the client left before sending its whole body
        except BaseException:
            # The 500 itself is answered outside this middleware (ServerErrorMiddleware, see
            # app._unhandled); the access log still gets its line.
            status_holder[0] = status_holder[0] or 500
            raise
        finally:
            elapsed = time.perf_counter() - started
            observe_request(scope, status_holder[0], elapsed)
            if self.access_log_enabled:
                self._log(scope, request_id, status_holder[0], elapsed)

    async def _dispatch(self, scope: Scope, receive: Receive, send_with_id: Send) -> None:
        declared = _content_length(scope)
        header_bytes = sum(len(k) + len(v) + 4 for k, v in scope.get("headers", ()))
        if _has_nul(scope):
            await self._refuse(
                send_with_id, 400, "invalid_request", "The URL may not contain NUL characters."
            )
        elif header_bytes > self.max_header_bytes:
            await self._refuse(
                send_with_id,
                431,
                "headers_too_large",
                f"The request headers are larger than {self.max_header_bytes} bytes.",
            )
        elif declared is not None and declared > self.max_body_bytes:
            await self._too_large(send_with_id)
        elif declared or (declared is None and _has_body(scope)):
            # The whole body is read here, under one deadline: a client trickling it byte by
            # byte gets 408 instead of holding the request (and a database session) open.
            try:
                async with asyncio.timeout(self.body_timeout_seconds):
                    body = await self._buffer(receive)
            except ClientGone:
                # A body cut short (a form missing its end can still parse) is never handled.
                return
            except TimeoutError:
                await self._refuse(
                    send_with_id,
                    408,
                    "request_timeout",
                    f"The request body did not arrive within {self.body_timeout_seconds:g} s.",
                )
                return
            if body is None:
                await self._too_large(send_with_id)
            else:
                await self.app(scope, replay_body(body, receive), send_with_id)
        else:
            await self.app(scope, receive, send_with_id)

    def _log(self, scope: Scope, request_id: str, status: int, elapsed: float) -> None:
        state = scope.get("state", {})
        access_log.info(
            "request",
            method=scope["method"],
            path=redact_path(scope["path"]),
            query=redact_query(scope.get("query_string", b"").decode("latin-1")),
            status=status,
            duration_ms=round(elapsed * 1000, 2),
            request_id=request_id,
            tenant_id=state.get("tenant_id"),
            api_key_id=state.get("api_key_id"),
            key_source=state.get("key_source"),
        )

    async def _buffer(self, receive: Receive) -> bytes | None:
        """Reads the whole body; None when it passes the limit. Raises ClientGone when the
        client disconnects first: what arrived is not the body it meant to send."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _too_large(self, send: Send) -> None:
        await self._refuse(
            send,
            413,
            "payload_too_large",
            f"The request body is larger than {self.max_body_bytes} bytes.",
        )

    async def _refuse(self, send: Send, status: int, code: str, message: str) -> None:
        body = orjson.dumps(error_body(code, message))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# --- rate-limit headers and usage counts ---
def limit_headers_and_usage(scope: Scope, status: int) -> list[tuple[bytes, bytes]]:
    """Counts an authenticated request's response for usage, and returns the headers the
    authenticator left for it: the rate-limit decision's and a nearing expiry's (so every
    response carries them, errors included)."""
    app_state = getattr(scope.get("app"), "state", None)
    usage = getattr(app_state, "usage", None)
    if usage is not None:
        usage.record_response(scope, status)
    state = scope.get("state", {})
    decision = state.get("rate_limit")
    headers = rate_limit_headers(decision) if decision is not None else []
    expiry: dict[str, str] | None = state.get(KEY_EXPIRY_HEADERS)
    if expiry:
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in expiry.items()]
    return headers


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def _incoming_request_id(scope: Scope) -> str | None:
    raw = _header(scope, b"x-request-id")
    if raw is None:
        return None
    value = raw.decode("latin-1")
    return value if _REQUEST_ID_RE.match(value) else None


def _has_nul(scope: Scope) -> bool:
    query = bytes(scope.get("query_string", b"")).lower()
    return "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query


def _content_length(scope: Scope) -> int | None:
    raw = _header(scope, b"content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _has_body(scope: Scope) -> bool:
    return _header(scope, b"transfer-encoding") is not None


def replay_body(body: bytes, receive: Receive) -> Receive:
    """Hands the buffered body to the app once, then passes on the server's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
