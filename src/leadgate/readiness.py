"""`/readyz` and `/healthz`: whether this process should get traffic, and whether it is alive.

Liveness (`/healthz`) touches nothing: a slow database must not get a healthy process restarted.
Readiness (`/readyz`) checks what serving needs: the database answers and its schema is the one
this code expects (Alembic revision at head), and Redis answers when it is configured. Each check
is bounded, so a hanging dependency turns into a 503 within a few seconds, never a hung probe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from fastapi import Request

from leadgate.db import Database
from leadgate.errors import error_body
from leadgate.migrate import current_revision, head_revision
from leadgate.responses import JsonResponse
from leadgate.settings import Settings

CHECK_TIMEOUT_SECONDS = 2.0


def code_head(request: Request) -> str | None:
    """The newest migration this code ships (read from the migration scripts once)."""
    state = request.app.state
    if not hasattr(state, "schema_head"):
        settings: Settings = state.settings
        state.schema_head = head_revision(settings)
    head: str | None = state.schema_head
    return head


async def check_database(database: Database, head: str | None) -> dict[str, Any]:
    async with database.engine.connect() as connection:
        revision = await connection.run_sync(current_revision)
    if revision != head:
        return {
            "status": "failed",
            "message": f"The database schema is at {revision or 'nothing'}, this code needs "
            f"{head}: run `leadgate db upgrade`.",
            "revision": revision,
            "head": head,
        }
    return {"status": "ok", "revision": revision}


async def check_redis(request: Request) -> dict[str, Any]:
    await request.app.state.redis.ping()
    return {"status": "ok"}


async def _bounded(name: str, check: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        result = {"status": "failed", "message": f"{name} did not answer within 2 s."}
    except Exception as error:  # any failure to answer is "not ready", with its kind
        result = {"status": "failed", "message": f"{name} is unreachable: {type(error).__name__}."}
    result["durationMs"] = round((time.perf_counter() - started) * 1000, 1)
    return result


async def readyz(request: Request) -> JsonResponse:
    names = ["database"]
    checks: list[Awaitable[dict[str, Any]]] = [
        _bounded("The database", check_database(request.app.state.database, code_head(request)))
    ]
    if request.app.state.redis is not None:
        names.append("redis")
        checks.append(_bounded("Redis", check_redis(request)))
    results = dict(zip(names, await asyncio.gather(*checks), strict=True))
    failed = [name for name, result in results.items() if result["status"] != "ok"]
    if not failed:
        return JsonResponse({"status": "ready", "checks": results})
    return JsonResponse(
        error_body(
            "service_unavailable",
            f"Not ready: {', '.join(failed)} check failed.",
            details=[{"check": name, "message": results[name]["message"]} for name in failed],
            extra={"checks": results},
        ),
        status_code=503,
        headers={"Retry-After": "5", "Cache-Control": "no-store"},
    )


async def healthz() -> dict[str, str]:
    return {"status": "ok"}
