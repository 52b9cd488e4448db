"""Prometheus metrics of the limiter (served by `/metrics`)."""

from __future__ import annotations

from prometheus_client import Counter

REDIS_FAILURES = Counter(
    "leadgate_ratelimit_redis_failures_total",
    "Rate-limit checks that could not reach Redis.",
)
UNCHECKED_REQUESTS = Counter(
    "leadgate_ratelimit_unchecked_requests_total",
    "Requests served without a rate-limit check because Redis was unavailable (fail open).",
)
REFUSED_REQUESTS = Counter(
    "leadgate_ratelimit_refused_total",
    "Requests refused with 429, by reason.",
    ["reason"],
)
