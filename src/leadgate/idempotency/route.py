"""The route class that gives a router's writes `Idempotency-Key` semantics.

The order of a keyed write, and why:

1. authenticate (the tenant scopes the key);
2. claim the key in a short transaction of its own (on PostgreSQL one autocommitted
   statement), committed before any work: a concurrent request with the same key sees the claim
   (409 `idempotency_key_in_use`) or the finished record (a replay). Holding the request
   session's connection while opening another would deadlock SQLite's one-connection pool;
3. the handler does the work in the request session;
4. a 2xx response is written to the record in the same transaction as the work, so the work and
   its replayable answer commit together (a write that is one statement, such as creating a
   lead, records it in that statement: `idempotency.service.completion`);
5. after the request session closes, a request that failed (or answered non-2xx) releases its
   claim, so the client may retry with the same key.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.auth.dependencies import authenticated
from leadgate.auth.principal import Principal
from leadgate.db import Database, Session
from leadgate.idempotency import service
from leadgate.responses import ErrorBody
from leadgate.settings import Settings

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_RESPONSES = {
    409: "A request with this Idempotency-Key is still running (`idempotency_key_in_use`), or "
    "the write conflicts",
    422: "This Idempotency-Key was used with another request (`idempotency_key_reused`), or the "
    "request was rejected",
}
IDEMPOTENCY_PARAMETER = {
    "name": service.HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": service.MAX_KEY_LENGTH},
    "description": "Makes a retry safe: the first response is kept for 24 h (per tenant) and "
    "replayed with `Idempotent-Replayed: true`; the same key with another body is 422 "
    "`idempotency_key_reused`, and while the first request runs, 409 `idempotency_key_in_use`.",
}


@dataclass
class _KeyedRequest:
    """What one request knows about its key, from the claim to the release."""

    database: Database
    tenant_id: str = ""
    record_id: str | None = None
    session: AsyncSession | None = None
    completed: bool = False

    async def record(self, response: Response) -> None:
        body = getattr(response, "body", None)
        if self.record_id is None or self.session is None or not isinstance(body, bytes):
            return
        if self.session.info.get(service.RECORDED):  # the work's own statement recorded it
            self.completed = True
            return
        if 200 <= response.status_code < 300:
            await service.complete(
                self.session, self.tenant_id, self.record_id, response.status_code, body.decode()
            )
            self.completed = True

    async def finish(
        self,
        exc_type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> bool:
        """Runs after the request session has committed or rolled back."""
        if self.record_id is not None and (exc_type is not None or not self.completed):
            async with self.database.sessionmaker() as session, session.begin():
                await service.release(session, self.tenant_id, self.record_id)
        return False


class _Replay(Exception):
    def __init__(self, outcome: service.Replay) -> None:
        super().__init__("idempotent replay")
        self.outcome = outcome


def request_target(request: Request) -> str:
    return service.request_target(request.url.path, request.url.query)


async def claim_idempotency_key(
    request: Request,
    principal: Annotated[Principal, Depends(authenticated)],
    session: Session,
) -> None:
    raw = request.headers.get(service.HEADER)
    if raw is None:
        return
    state = getattr(request.state, "idempotency", None)
    if not isinstance(state, _KeyedRequest):  # pragma: no cover - a wiring mistake
        raise RuntimeError("claim_idempotency_key runs only on an IdempotentRoute")
    key = service.validate_key(raw.strip())
    fingerprint = service.fingerprint(
        principal.api_key_id, request.method, request_target(request), await request.body()
    )
    # The claim commits before the work, on a connection of its own: the request session must
    # not hold one meanwhile (SQLite's pool holds exactly one).
    if session.in_transaction():
        await session.commit()
    settings: Settings = request.app.state.settings
    async with state.database.reader() as claim_session, claim_session.begin():
        outcome = await service.claim_key(
            claim_session,
            principal.tenant_id,
            key=key,
            fingerprint=fingerprint,
            method=request.method,
            path=request.url.path,
            ttl=timedelta(hours=settings.idempotency_ttl_hours),
            abandoned_after=timedelta(seconds=settings.idempotency_abandoned_after_seconds),
        )
    if isinstance(outcome, service.Replay):
        raise _Replay(outcome)
    state.tenant_id = principal.tenant_id
    state.record_id = outcome.record_id
    state.session = session
    session.info[service.OPEN_CLAIM] = (principal.tenant_id, outcome.record_id)


class IdempotentRoute(APIRoute):
    """An APIRoute whose write methods claim, record and replay `Idempotency-Key`s."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {method.upper() for method in kwargs.get("methods") or ()}
        self.idempotent = bool(methods & WRITE_METHODS)
        if self.idempotent:
            dependencies = list(kwargs.get("dependencies") or [])
            if not any(d.dependency is claim_idempotency_key for d in dependencies):
                dependencies.insert(0, Depends(claim_idempotency_key))
            kwargs["dependencies"] = dependencies
            extra = dict(kwargs.get("openapi_extra") or {})
            extra["parameters"] = [*extra.get("parameters", []), IDEMPOTENCY_PARAMETER]
            kwargs["openapi_extra"] = extra
            # What a keyed write may answer besides its own outcomes, on every such route.
            responses = dict(kwargs.get("responses") or {})
            for status, description in IDEMPOTENCY_RESPONSES.items():
                responses.setdefault(status, {"model": ErrorBody, "description": description})
            kwargs["responses"] = responses
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not self.idempotent:
            return handler

        async def keyed_handler(request: Request) -> Response:
            state = _KeyedRequest(request.app.state.database)
            request.state.idempotency = state
            # FastAPI closes this stack (and with it the request session) after the handler
            # returns; registered first, `finish` runs last, once the session is gone.
            stack = request.scope.get("fastapi_function_astack")
            if not isinstance(stack, AsyncExitStack):  # pragma: no cover - FastAPI changed
                raise RuntimeError("FastAPI no longer provides the function exit stack")
            stack.push_async_exit(state.finish)
            try:
                response = await handler(request)
            except _Replay as replay:
                return Response(
                    content=replay.outcome.body,
                    status_code=replay.outcome.status,
                    media_type="application/json",
                    headers={REPLAYED_HEADER: "true"},
                )
            await state.record(response)
            return response

        return keyed_handler
