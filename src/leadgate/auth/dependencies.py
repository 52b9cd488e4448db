"""The scopes a route needs: `require(scope)`, over the app's one authenticator
(`api_keys.authenticator.Authenticator`, built in `app.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from leadgate.auth.principal import Principal
from leadgate.errors import InsufficientScope


async def authenticated(request: Request) -> Principal:
    """Who is calling (401/403/429 otherwise). FastAPI runs it once a request, however many
    dependencies ask for it."""
    principal: Principal = await request.app.state.authenticator(request)
    return principal


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates and then demands `scope` (403 naming it otherwise)."""

    async def dependency(
        principal: Annotated[Principal, Depends(authenticated)],
    ) -> Principal:
        if scope not in principal.scopes:
            raise InsufficientScope(
                f"This API key lacks the '{scope}' scope.",
                extra={"requiredScope": scope},
            )
        return principal

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency
