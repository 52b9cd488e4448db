"""The intake fast path: `POST /api/v1/leads` served end to end below FastAPI's routing.

Why: creating a lead is most of leadgate's traffic, and the general machinery (routing,
dependency injection, an ORM session with BEGIN/COMMIT round trips) cost ten times the work
itself. This ASGI layer serves the common request — a JSON body, a key in `X-API-Key` or a
bearer token that the key cache already holds, no tags or team, the tenant's `reject` duplicate
policy, with or without an `Idempotency-Key` — with the same rules as the route (same
validation model, same key checks, same rate limiter, same response model), and writes the lead,
its event and, when keyed, its replayable response in one database round trip
(`leads.repository.IntakeWriter`).

Anything else goes to the route, unchanged: the fast path hands a request on before it has done
anything (a cold key cache, a form post, a validation error, tags...), or after its only side
effects are ones the route knows about: the rate limiter's admission (marked in the request state,
so the route does not count the request again) and a write that wrote nothing (a duplicate: the
route then finds the lead it duplicates and answers 409). So every error a client sees comes from
one place, the route.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from prometheus_client import Counter
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadgate import crypto
from leadgate.api_keys.auth_checks import expiry_warning_headers
from leadgate.api_keys.cache import VerifiedKey
from leadgate.api_keys.service import check_usable
from leadgate.auth.dependencies import client_address, principal_of, tenant_slug_of_host
from leadgate.auth.principal import Principal
from leadgate.context import set_tenant_id
from leadgate.db import Database
from leadgate.errors import ApiError
from leadgate.idempotency import service as idempotency
from leadgate.ids import new_id
from leadgate.leads.repository import IntakeWriter
from leadgate.leads.schemas import LeadCreate
from leadgate.leads.service import lead_out, new_lead_values
from leadgate.middleware import replay_body
from leadgate.models import utcnow
from leadgate.payload import CREDENTIAL_FIELD, find_nul
from leadgate.ratelimit.service import ADMITTED, RateLimiter
from leadgate.settings import Settings
from leadgate.usage.service import admitted_this_month

INTAKE_REQUESTS = Counter(
    "leadgate_intake_fast_path_total",
    "Lead-creation requests the fast path saw: served itself, or handed to the route.",
    ["outcome"],
)
SERVED = INTAKE_REQUESTS.labels("served")
HANDED_ON = INTAKE_REQUESTS.labels("handed_on")
PATHS = frozenset({"/api/v1/leads", "/api/leads", "/api/v1/leads/intake", "/api/leads/intake"})
WANTED_HEADERS = frozenset(
    {
        b"content-type",
        b"x-api-key",
        b"authorization",
        b"idempotency-key",
        b"host",
        b"x-forwarded-for",
    }
)


@dataclass(frozen=True, slots=True)
class _Route:
    """What `scope["route"]` says for usage and metrics: the route this path would match."""

    path: str


class IntakeFastPath:
    """ASGI middleware in front of the app's routing; see the module's docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] not in PATHS
            or scope["query_string"]
        ):
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in WANTED_HEADERS:
                if name in headers:  # a repeated header: the route decides what it means
                    await self.app(scope, receive, send)
                    return
                headers[name] = value
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        try:
            handled = await self._serve(scope, headers, body, send)
        except Exception as error:  # the app's own handlers answer (429, 500, 503...)
            SERVED.inc()
            await _send_handled(scope, error, send)
            return
        if not handled:
            HANDED_ON.inc()
            await self.app(scope, replay_body(body, receive), send)

    async def _serve(
        self, scope: Scope, headers: dict[bytes, bytes], body: bytes, send: Send
    ) -> bool:
        """Serves the request and returns True, or returns False to hand it to the route."""
        app_state = scope["app"].state
        settings: Settings = app_state.settings
        content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if content_type != b"application/json":
            return False
        if tenant_slug_of_host(headers.get(b"host", b"").decode("latin-1"), settings) is not None:
            return False
        found = _credential(headers)
        if found is None:
            return False
        plaintext, source = found
        key = _cached_key(app_state, settings, plaintext)
        if key is None or key.enforce_mtls or "leads:write" not in key.scopes:
            return False
        principal = principal_of(key, settings, source)
        if principal.team_scope != "all-accounts" or principal.duplicate_policy != "reject":
            return False
        data = _lead(body, principal.phone_region or settings.default_phone_region)
        if data is None or data.names_tags or data.team_id is not None:
            return False
        claim_key = headers.get(b"idempotency-key")
        if claim_key is not None:
            claim_key = claim_key.strip()
            if not idempotency.KEY_PATTERN.match(claim_key.decode("latin-1")):
                return False
        limiter: RateLimiter = app_state.rate_limiter
        client = scope.get("client")
        forwarded = headers.get(b"x-forwarded-for")
        address = client_address(
            client[0] if client else None,
            None if forwarded is None else forwarded.decode("latin-1"),
            settings,
        )
        try:
            limiter.check_address(address)
        except ApiError:
            return False
        state = scope.setdefault("state", {})
        state.update(tenant_id=key.tenant_id, api_key_id=key.key_id, key_source=source)
        set_tenant_id(key.tenant_id)
        scope["route"] = _Route(scope["path"])
        await _admit(scope, app_state, principal, limiter)

        values = new_lead_values(principal, data, None, "api_native", None)
        lead = lead_out(values, [])
        response = lead.model_dump_json(by_alias=True)
        now = utcnow()
        # The event's data is the lead as the response shows it (leads.service.lead_event_data).
        event = {"id": new_id("evt"), "type": "lead.created", "data": response, "created_at": now}
        claim = None
        if claim_key is not None:
            claim = _claim(settings, scope, principal, claim_key.decode(), body, response, now)
        writer: IntakeWriter = app_state.intake
        outcome = await writer.create(principal.tenant_id, values, event, claim)
        if outcome != "created":
            return False
        app_state.key_usage.touch(key.tenant_id, key.key_id, address)
        SERVED.inc()  # before the answer leaves, so a client that reads /metrics next sees it
        await _send(send, 201, response.encode(), expiry_warning_headers(key))
        return True


def _credential(headers: dict[bytes, bytes]) -> tuple[str, str] | None:
    """The key and where it came from, when exactly one header place carries it."""
    header = headers.get(b"x-api-key")
    authorization = headers.get(b"authorization")
    if header is not None and authorization is None:
        return header.decode("latin-1").strip(), "header"
    if authorization is not None and header is None:
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer":
            return token.strip(), "bearer"
    return None


def _cached_key(app_state: Any, settings: Settings, plaintext: str) -> VerifiedKey | None:
    """The key from the verified-key cache, if it is there and usable; never a storage read."""
    if not crypto.is_well_formed(plaintext):
        return None
    key: VerifiedKey | None = app_state.key_cache.get(
        crypto.hash_api_key(plaintext, settings.secret_bytes)
    )
    if key is None:
        return None
    try:
        check_usable(key)
    except ApiError:
        return None
    return key


def _lead(body: bytes, region: str) -> LeadCreate | None:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict) or CREDENTIAL_FIELD in payload:
        return None
    # JSON can carry U+0000 only as the escape `\u0000`: no such bytes, no NUL to look for.
    if b"\\u0000" in body and find_nul(payload):
        return None
    try:
        return LeadCreate.model_validate(payload, context={"phone_region": region})
    except ValidationError:
        return None


async def _admit(scope: Scope, app_state: Any, principal: Principal, limiter: RateLimiter) -> None:
    """The rate limit and quota, as `ratelimit.service.enforce` applies them (429 raised)."""

    async def quota_seed() -> int:
        database: Database = app_state.database
        async with database.sessionmaker() as session:
            return await admitted_this_month(session, principal.tenant_id, principal.api_key_id)

    decision = await limiter.admit(principal, quota_seed)
    state = scope["state"]
    state[ADMITTED] = principal.api_key_id
    if decision is None:
        return
    state["rate_limit"] = decision
    app_state.usage_alerts.observe(principal, decision)
    limiter.refuse(decision)


def _claim(
    settings: Settings,
    scope: Scope,
    principal: Principal,
    key: str,
    body: bytes,
    response: str,
    now: Any,
) -> dict[str, Any]:
    """The Idempotency-Key record, completed with this request's 201 (see IntakeWriter)."""
    target = idempotency.request_target(scope["path"], "")
    return {
        "id": new_id("idem"),
        "key": key,
        "fingerprint": idempotency.fingerprint(principal.api_key_id, "POST", target, body),
        "method": "POST",
        "path": scope["path"][:2048],
        "created_at": now,
        "expires_at": now + timedelta(hours=settings.idempotency_ttl_hours),
        "response_status": 201,
        "response_body": response,
        "completed_at": now,
    }


async def _send_handled(scope: Scope, error: Exception, send: Send) -> None:
    """Answers `error` with the app's own exception handler for it (ApiError → its JSON)."""
    handlers = scope["app"].exception_handlers
    handler = next((handlers[cls] for cls in type(error).__mro__ if cls in handlers), None)
    if handler is None:  # pragma: no cover - the app handles Exception
        raise error
    response = await handler(Request(scope), error)
    await response(scope, _no_body, send)


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
