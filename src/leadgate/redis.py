"""The process's Redis client, when `LEADGATE_REDIS_URL` is set (limits, cache invalidation)."""

from __future__ import annotations

import redis.asyncio as aioredis

from leadgate.settings import Settings

# How long a Redis call may take before the caller treats Redis as unavailable.
REDIS_TIMEOUT_SECONDS = 1.0


def create_redis(settings: Settings) -> aioredis.Redis | None:
    """A pooled client, or None for the embedded default (everything stays in-process).

    No `socket_timeout`: redis-py runs every write under `asyncio.wait_for` when one is set, a
    task per command (a twentieth of the intake path's CPU). Callers bound their calls with
    `asyncio.timeout(REDIS_TIMEOUT_SECONDS)` instead, which costs no task; a cancelled command's
    connection is dropped by redis-py, not reused."""
    if not settings.redis_url:
        return None
    return aioredis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


def redis_key(settings: Settings, *parts: str) -> str:
    """A namespaced key: `<prefix><part>:<part>…`, so deployments and tests can share a server."""
    return settings.redis_prefix + ":".join(parts)
