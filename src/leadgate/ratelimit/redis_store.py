"""GCRA in Redis: one Lua script, one round trip per request, shared by every server process.

The script reads Redis's own clock (`TIME`), so processes on hosts with skewed clocks still share
one timeline. It is sent once per connection pool by EVALSHA (redis-py loads it again after a
Redis restart empties the script cache).
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

# KEYS[1] GCRA TAT of the key · KEYS[2] the key's quota counter for this month (only when a quota
# is given); both carry the API key's id as hash tag, `{key_…}`, so they share a cluster slot
# ARGV: limit, interval ms, quota (0 = none), quota seed, quota TTL seconds
GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local period = limit * interval
local raw = redis.call('GET', KEYS[1])
local tat = now
if raw then
  tat = tonumber(raw)
  if tat < now then tat = now end
end
local new_tat = tat + interval
if now < new_tat - period then
  return {0, new_tat - period - now, -1}
end
local used = -1
local quota = tonumber(ARGV[3])
if quota > 0 then
  redis.call('SET', KEYS[2], ARGV[4], 'NX', 'EX', ARGV[5])
  used = tonumber(redis.call('GET', KEYS[2]))
  if used >= quota then
    return {2, new_tat - now, used}
  end
  used = redis.call('INCR', KEYS[2])
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', new_tat - now)
return {1, new_tat - now, used}
"""


class RedisStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self._script: Any = client.register_script(GCRA_SCRIPT)

    async def consume(
        self,
        key: str,
        limit: int,
        interval: int,
        *,
        quota_key: str | None = None,
        quota: int = 0,
        quota_seed: int = 0,
        quota_ttl: int = 1,
    ) -> tuple[int, int, int]:
        # Only the keys the script touches are declared (Redis Cluster requires them in one slot:
        # see hash_tag in service.py); without a quota, KEYS[2] is never read.
        outcome, span, used = await self._script(
            keys=[key, quota_key] if quota_key else [key],
            args=[limit, interval, quota if quota_key else 0, quota_seed, quota_ttl],
        )
        return int(outcome), int(span), int(used)
