"""Path aliases: the other URLs the seeds' documents use for the API, rewritten to the one
canonical `/api/v1/…` path before routing.

Every route exists once, under `/api/v1`; an alias is not a second route (so nothing is
registered twice and the OpenAPI document shows only canonical paths). The table below is the
whole list; docs/api.md ("Path aliases") describes it for users.

A trailing slash on any path is served as if it were absent, never redirected (the router's
slash redirects are off): a redirect would repeat a key given as `?api_key=` in its `Location`,
and clients following it would send the key twice over the wire.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

CANONICAL = "/api/v1"

# (alias prefix, canonical prefix), longest first: the first that matches wins.
ALIASES: tuple[tuple[str, str], ...] = (
    # Snappy's company key API: POST/GET …/apiKeys, GET/DELETE …/apiKeys/{id}
    ("/public-api/v2/authentication/apiKeys", f"{CANONICAL}/api-keys"),
    ("/v2/authentication/apiKeys", f"{CANONICAL}/api-keys"),
    (CANONICAL, CANONICAL),
    # Lead Fuel's base URL `…/v1/`
    ("/v1", CANONICAL),
    # The HREF seed's unversioned `/api/…` (v1 for as long as v1 holds)
    ("/api", CANONICAL),
)


def canonical_path(path: str) -> str | None:
    """The `/api/v1/…` path an API path (alias or not) stands for; None outside the API."""
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    for alias, canonical in ALIASES:
        if path == alias or path.startswith(alias + "/"):
            return canonical + path[len(alias) :]
    return None


class PathAliases:
    """ASGI layer in front of the router: rewrites an alias (or a trailing slash) to the
    canonical path. The original path stays in `raw_path`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            canonical = canonical_path(path)
            if canonical is None and len(path) > 1 and path.endswith("/"):
                canonical = path.rstrip("/") or "/"
            if canonical is not None and canonical != path:
                # In place: the metrics and usage counters, read after the response, then
                # count an alias under its canonical route.
                scope["path"] = canonical
        await self.app(scope, receive, send)
