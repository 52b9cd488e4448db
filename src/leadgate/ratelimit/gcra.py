"""The Generic Cell Rate Algorithm, and the in-process store that runs it for one process.

GCRA keeps one number per key, the theoretical arrival time (TAT): when the key's bucket would be
empty again. A request is admitted when admitting it keeps TAT within one period of now. Unlike
fixed windows it never admits twice the limit across a window edge: the allowance refills evenly,
one request every `period / limit`. Times are integer milliseconds so the Redis script (which
runs the same arithmetic in Lua) and this module agree exactly.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

PERIOD_MS = 60_000


def interval_ms(limit: int, period_ms: int = PERIOD_MS) -> int:
    """Milliseconds between two requests at the steady rate; rounded up, so never over the limit."""
    return max(1, math.ceil(period_ms / limit))


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one request against a limit, with what the response headers report."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the window frees one more request
    retry_after: int  # whole seconds to wait when refused (≥ 1), else 0
    window_seconds: int = PERIOD_MS // 1000
    quota_used: int | None = None
    quota_exceeded: bool = False

    @property
    def used(self) -> int:
        return self.limit - self.remaining


def decide(limit: int, interval: int, outcome: int, span_ms: int, quota_used: int) -> Decision:
    """Turns a raw step result (from Python or Lua) into a Decision.

    `outcome` is 1 admitted, 0 over the rate, 2 over the quota. Over the rate, `span_ms` is how
    long until a request would be admitted; otherwise it is the new TAT - now.
    """
    used = None if quota_used < 0 else quota_used
    if outcome == 0:
        wait = max(1, math.ceil(span_ms / 1000))
        return Decision(False, limit, 0, wait, wait, quota_used=used)
    period = interval * limit
    remaining = max(0, (period - span_ms) // interval)
    frees_in = span_ms - (period - (remaining + 1) * interval)
    reset = max(0, math.ceil(frees_in / 1000))
    # Over the quota (2): the rate figures are those the request would have left.
    return Decision(
        outcome == 1, limit, remaining, reset, 0, quota_used=used, quota_exceeded=outcome == 2
    )


def step(tat: int | None, now: int, limit: int, interval: int) -> tuple[bool, int, int]:
    """One GCRA step: (admitted, new TAT, span) — span as `decide` reads it."""
    period = interval * limit
    start = now if tat is None or tat < now else tat
    new_tat = start + interval
    if now < new_tat - period:
        return False, start, new_tat - period - now
    return True, new_tat, new_tat - now


class MemoryStore:
    """GCRA state and quota counts of this process (the embedded, single-process default)."""

    def __init__(self) -> None:
        self._tats: dict[str, int] = {}
        self._counts: dict[str, int] = {}
        self._calls = 0

    def consume(
        self,
        key: str,
        limit: int,
        interval: int,
        *,
        quota_key: str | None = None,
        quota: int = 0,
        quota_seed: int = 0,
    ) -> tuple[int, int, int]:
        now = now_ms()
        self._sweep(now)
        admitted, new_tat, span = step(self._tats.get(key), now, limit, interval)
        if not admitted:
            return 0, span, -1
        used = -1
        if quota_key is not None and quota > 0:
            used = self._counts.setdefault(quota_key, quota_seed)
            if used >= quota:
                return 2, span, used
            used += 1
            self._counts[quota_key] = used
        self._tats[key] = new_tat
        return 1, span, used

    def _sweep(self, now: int) -> None:
        """Forgets keys whose bucket is full again, so memory follows the active keys."""
        self._calls += 1
        if self._calls % 10_000:
            return
        self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
