"""The rules of rate limiting: which limit applies, where its state lives, what a refusal says.

`RateLimiter` runs GCRA in this process (embedded default) or in Redis (whenever
`LEADGATE_REDIS_URL` is set, so the limit holds across processes). When Redis fails it fails open
(or closed, by setting), counts the failure in a metric, logs it, and skips Redis for
`rate_limit_redis_retry_seconds` so a dead Redis costs requests no connect timeouts; the first
request after that tries Redis again, and limiting resumes when it answers.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from leadgate.auth.principal import Principal
from leadgate.errors import QuotaExceeded, RateLimited, ServiceUnavailable
from leadgate.ratelimit.gcra import Decision, MemoryStore, decide, interval_ms
from leadgate.ratelimit.metrics import REDIS_FAILURES, REFUSED_REQUESTS, UNCHECKED_REQUESTS
from leadgate.ratelimit.redis_store import RedisStore
from leadgate.redis import REDIS_TIMEOUT_SECONDS, redis_key
from leadgate.settings import Settings

log = structlog.get_logger("leadgate.ratelimit")

Raw = tuple[int, int, int]
QuotaSeed = Callable[[], Awaitable[int]]


def hash_tag(value: str) -> str:
    """`{value}`: Redis Cluster places keys by the part in braces, so every key with the same tag
    lands in one slot — which the GCRA script needs, as it touches two keys of one API key."""
    return "{" + value.replace("{", "").replace("}", "") + "}"


def limit_key(settings: Settings, api_key_id: str) -> str:
    return redis_key(settings, "rl", hash_tag(api_key_id))


def quota_key_for(settings: Settings, api_key_id: str, month: str) -> str:
    return redis_key(settings, "quota", hash_tag(api_key_id), month)


def auth_failure_key(settings: Settings, address: str) -> str:
    return redis_key(settings, "authfail", hash_tag(address))


def next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


class RateLimiter:
    def __init__(self, settings: Settings, redis: aioredis.Redis | None) -> None:
        self.settings = settings
        self._memory = MemoryStore()
        self._redis = RedisStore(redis) if redis is not None else None
        self._skip_redis_until = 0.0
        self._redis_failing = False
        self._quota_seeds: dict[tuple[str, str], int] = {}
        self._blocked: dict[str, float] = {}  # client address → monotonic time it may retry

    # --- per-key limit and quota ---------------------------------------------------------

    async def admit(self, principal: Principal, quota_seed: QuotaSeed) -> Decision | None:
        """Consumes one request of the key's allowance. None: unchecked (Redis down, fail open)."""
        limit = principal.rate_limit_per_minute or self.settings.default_rate_limit_per_minute
        interval = interval_ms(limit)
        quota = principal.monthly_quota or 0
        now = datetime.now(UTC)
        month = f"{now.year}{now.month:02d}"
        quota_key, seed, ttl = None, 0, 1
        if quota:
            quota_key = quota_key_for(self.settings, principal.api_key_id, month)
            seed_key = (principal.api_key_id, month)
            if seed_key not in self._quota_seeds:
                self._quota_seeds[seed_key] = await quota_seed()
            seed = self._quota_seeds[seed_key]
            ttl = math.ceil((next_month(now) - now).total_seconds()) + 86_400
        raw = await self._consume(
            limit_key(self.settings, principal.api_key_id),
            limit,
            interval,
            strict=True,
            quota_key=quota_key,
            quota=quota,
            quota_seed=seed,
            quota_ttl=ttl,
        )
        return None if raw is None else decide(limit, interval, *raw)

    def refuse(self, decision: Decision) -> None:
        """Raises the 429 a refused decision means; the request does no work."""
        if decision.quota_exceeded:
            now = datetime.now(UTC)
            wait = max(1, math.ceil((next_month(now) - now).total_seconds()))
            REFUSED_REQUESTS.labels("quota").inc()
            raise QuotaExceeded(
                "This API key has used its monthly quota; it resets when the month turns (UTC).",
                headers={"Retry-After": str(wait)},
                extra={"retryAfter": wait},
            )
        if not decision.allowed:
            REFUSED_REQUESTS.labels("rate").inc()
            raise RateLimited(
                f"Rate limit of {decision.limit} requests per minute exceeded; "
                f"retry in {decision.retry_after} s.",
                headers={"Retry-After": str(decision.retry_after)},
                extra={"retryAfter": decision.retry_after},
            )

    # --- failed-authentication throttle -------------------------------------------------

    def check_address(self, address: str | None) -> None:
        """429 for an address that failed authentication too often, before any key lookup."""
        if address is None:
            return
        until = self._blocked.get(address)
        if until is None:
            return
        wait = until - time.monotonic()
        if wait <= 0:
            del self._blocked[address]
            return
        REFUSED_REQUESTS.labels("auth_failures").inc()
        seconds = max(1, math.ceil(wait))
        raise RateLimited(
            f"Too many requests with invalid API keys from this address; retry in {seconds} s.",
            headers={"Retry-After": str(seconds)},
            extra={"retryAfter": seconds},
        )

    async def record_auth_failure(self, address: str | None) -> None:
        """Counts a failed authentication; blocks the address once it reaches the limit.

        The count is shared through Redis; each process learns of the block from its own next
        failure from that address, so at most one more lookup per process slips through.
        """
        if address is None:
            return
        limit = self.settings.auth_failure_limit
        window_ms = round(self.settings.auth_failure_window_seconds * 1000)
        interval = interval_ms(limit, window_ms)
        raw = await self._consume(
            auth_failure_key(self.settings, address), limit, interval, strict=False
        )
        if raw is None:
            return
        outcome, span, _ = raw
        if outcome == 0:
            self._block(address, span)
            return
        period = interval * limit
        remaining = (period - span) // interval
        if remaining <= 0:
            self._block(address, span - (period - interval))

    async def admit_address(self, bucket: str, address: str | None, per_minute: int) -> None:
        """429 once `address` made more than `per_minute` requests to an unauthenticated route
        (`bucket` names the route); shared through Redis like the key limits."""
        if address is None:
            return
        interval = interval_ms(per_minute)
        raw = await self._consume(
            redis_key(self.settings, bucket, address), per_minute, interval, strict=False
        )
        if raw is None:
            return
        decision = decide(per_minute, interval, *raw)
        if not decision.allowed:
            REFUSED_REQUESTS.labels(bucket).inc()
            raise RateLimited(
                f"Too many requests from this address; retry in {decision.retry_after} s.",
                headers={"Retry-After": str(decision.retry_after)},
                extra={"retryAfter": decision.retry_after},
            )

    def _block(self, address: str, wait_ms: int) -> None:
        if len(self._blocked) > 100_000:
            now = time.monotonic()
            self._blocked = {a: t for a, t in self._blocked.items() if t > now}
        self._blocked[address] = time.monotonic() + max(wait_ms, 1) / 1000

    # --- the store ------------------------------------------------------------------------

    async def _consume(
        self,
        key: str,
        limit: int,
        interval: int,
        *,
        strict: bool,
        quota_key: str | None = None,
        quota: int = 0,
        quota_seed: int = 0,
        quota_ttl: int = 1,
    ) -> Raw | None:
        if self._redis is None:
            return self._memory.consume(
                key, limit, interval, quota_key=quota_key, quota=quota, quota_seed=quota_seed
            )
        if time.monotonic() < self._skip_redis_until:
            self._unchecked(strict)
            return None
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_SECONDS):
                raw = await self._redis.consume(
                    key,
                    limit,
                    interval,
                    quota_key=quota_key,
                    quota=quota,
                    quota_seed=quota_seed,
                    quota_ttl=quota_ttl,
                )
        except (RedisError, OSError) as error:
            REDIS_FAILURES.inc()
            self._redis_failing = True
            self._quota_seeds.clear()  # a Redis that comes back empty re-reads the month's usage
            self._skip_redis_until = time.monotonic() + self.settings.rate_limit_redis_retry_seconds
            log.warning(
                "ratelimit_redis_unavailable",
                error=type(error).__name__,
                fail_open=self.settings.rate_limit_fail_open,
            )
            self._unchecked(strict)
            return None
        if self._redis_failing:
            self._redis_failing = False
            log.info("ratelimit_redis_restored")
        return raw

    def _unchecked(self, strict: bool) -> None:
        """Fail closed (503) or count the request as served unchecked."""
        if strict and not self.settings.rate_limit_fail_open:
            raise ServiceUnavailable(
                "Rate limiting is temporarily unavailable; retry shortly.",
                headers={"Retry-After": "1"},
            )
        if strict:
            UNCHECKED_REQUESTS.inc()
