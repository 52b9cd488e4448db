"""The process's Redis client, when `LEADGATE_REDIS_URL` is set (limits, cache invalidation)."""

from __future__ import annotations

import redis.asyncio as aioredis

from leadgate.settings import Settings


def create_redis(settings: Settings) -> aioredis.Redis | None:
    """A pooled client, or None for the embedded default (everything stays in-process)."""
    if not settings.redis_url:
        return None
    return aioredis.from_url(
        settings.redis_url,
        socket_connect_timeout=1.0,
        socket_timeout=1.0,
        health_check_interval=30,
    )


def redis_key(settings: Settings, *parts: str) -> str:
    """A namespaced key: `<prefix><part>:<part>…`, so deployments and tests can share a server."""
    return settings.redis_prefix + ":".join(parts)
