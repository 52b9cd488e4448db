"""Verified keys kept in memory, so a valid key costs no database round trip in the steady state.

Entries are keyed by the key's HMAC (never the plaintext) and hold what verification and the
`Principal` need, re-read from the database whenever an entry is (re)loaded, so narrowing a key's
scopes takes effect without reissuing it.

Staleness is bounded two ways:
- A change to a key (revoke, roll, update) drops its entries when the transaction commits: at once
  in this process, and in every other process through a Redis pub/sub message.
- Each entry lives at most `Settings.resolved_key_cache_ttl` seconds. While the Redis subscription
  is down the cache is bypassed entirely (every request reads the database), and it is emptied
  when the subscription is (re)made, since messages may have been missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import weakref
from typing import Any

import redis.asyncio as aioredis
import structlog
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from leadgate.api_keys.repository import VerifiedKey
from leadgate.metrics import KEY_CACHE_HIT, KEY_CACHE_MISS
from leadgate.redis import REDIS_TIMEOUT_SECONDS, redis_key
from leadgate.settings import Settings

log = structlog.get_logger("leadgate.api_keys.cache")

PENDING_INVALIDATIONS = "leadgate.api_keys.invalidate"
# Each process's cache, by the engine its sessions use: a commit finds the cache to tell.
_CACHES: weakref.WeakKeyDictionary[Engine, KeyCache] = weakref.WeakKeyDictionary()


def invalidation_channel(settings: Settings) -> str:
    return redis_key(settings, "api_keys", "invalidate")


class KeyCache:
    def __init__(
        self, settings: Settings, engine: Engine, redis: aioredis.Redis | None = None
    ) -> None:
        self.ttl = settings.resolved_key_cache_ttl
        self.redis = redis
        self.channel = invalidation_channel(settings)
        self._subscribed = asyncio.Event()
        self.generation = 0
        self._entries: dict[str, tuple[float, VerifiedKey]] = {}
        self._hashes_of: dict[str, set[str]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        _CACHES[engine] = self

    @property
    def listening(self) -> bool:
        """Entries are trusted without Redis, and with it only while subscribed."""
        return self.redis is None or self._subscribed.is_set()

    def get(self, secret_hash: str) -> VerifiedKey | None:
        entry = self._fresh(secret_hash)
        (KEY_CACHE_MISS if entry is None else KEY_CACHE_HIT).inc()
        return entry

    def _fresh(self, secret_hash: str) -> VerifiedKey | None:
        if not self.listening:
            return None
        found = self._entries.get(secret_hash)
        if found is None:
            return None
        loaded_at, entry = found
        if time.monotonic() - loaded_at > self.ttl:
            self._drop(secret_hash, entry.key_id)
            return None
        return entry

    def put(self, secret_hash: str, entry: VerifiedKey, generation: int) -> None:
        """Keeps an entry read while `generation` was current; an invalidation since then wins."""
        if generation != self.generation or not self.listening:
            return
        self._entries[secret_hash] = (time.monotonic(), entry)
        self._hashes_of.setdefault(entry.key_id, set()).add(secret_hash)

    def invalidate_local(self, key_ids: set[str] | list[str]) -> None:
        self.generation += 1
        for key_id in key_ids:
            for secret_hash in self._hashes_of.pop(key_id, set()):
                self._entries.pop(secret_hash, None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._hashes_of.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, secret_hash: str, key_id: str) -> None:
        self._entries.pop(secret_hash, None)
        hashes = self._hashes_of.get(key_id)
        if hashes is not None:
            hashes.discard(secret_hash)
            if not hashes:
                del self._hashes_of[key_id]

    def committed(self, key_ids: set[str]) -> None:
        """A transaction that changed these keys committed: forget them here and tell the others."""
        self.invalidate_local(key_ids)
        if self.redis is not None:
            task = asyncio.get_running_loop().create_task(self.publish(key_ids))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def publish(self, key_ids: set[str]) -> None:
        if self.redis is None:
            return
        try:
            await publish_invalidation(self.redis, self.channel, key_ids)
        except Exception:  # the TTL still bounds staleness; the request has succeeded
            log.exception("key_invalidation_publish_failed")

    async def listen(self, retry_seconds: float = 1.0) -> None:
        """Follows the invalidation channel until cancelled, resubscribing after failures."""
        assert self.redis is not None
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self.clear()
                self._subscribed.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if message is not None and message.get("type") == "message":
                        self.invalidate_local(json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("key_invalidation_subscription_lost", exc_info=True)
                self._subscribed.clear()
                self.clear()
                await asyncio.sleep(retry_seconds)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def wait_listening(self) -> None:
        await self._subscribed.wait()


async def publish_invalidation(redis: aioredis.Redis, channel: str, key_ids: set[str]) -> None:
    async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
        await redis.publish(channel, json.dumps(sorted(key_ids)))


def invalidate_on_commit(session: AsyncSession, key_id: str) -> None:
    """Drops the key from every process's cache once this session's transaction commits.

    After the commit, not before: another process must not re-read the old row after the
    message has passed.
    """
    pending: set[str] = session.sync_session.info.setdefault(PENDING_INVALIDATIONS, set())
    pending.add(key_id)


def pending_invalidations(session: AsyncSession) -> set[str]:
    """The keys this session's transaction has changed so far (before it commits)."""
    return set(session.sync_session.info.get(PENDING_INVALIDATIONS, ()))


async def notify_other_processes(settings: Settings, key_ids: set[str]) -> None:
    """For a process without a cache (the CLI): tells the servers that these keys changed."""
    if not settings.redis_url or not key_ids:
        return
    client = aioredis.from_url(settings.redis_url, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        await publish_invalidation(client, invalidation_channel(settings), key_ids)
    finally:
        await client.aclose()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    key_ids: set[str] | None = session.info.pop(PENDING_INVALIDATIONS, None)
    if not key_ids:
        return
    bind = session.get_bind()
    cache = _CACHES.get(bind) if isinstance(bind, Engine) else None
    if cache is not None:  # the CLI has none: it calls `notify_other_processes` itself
        cache.committed(key_ids)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING_INVALIDATIONS, None)
