"""The rate-limit response headers: one serializer, so a rename in the IETF draft is one line."""

from __future__ import annotations

from leadgate.ratelimit.gcra import Decision

POLICY_NAME = "per-key"


def rate_limit_headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    """`X-RateLimit-*` (the SnapCRM seed's) and the IETF draft's `RateLimit-Policy`/`RateLimit`."""
    values = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(decision.reset_seconds),
        "RateLimit-Policy": f'"{POLICY_NAME}";q={decision.limit};w={decision.window_seconds}',
        "RateLimit": f'"{POLICY_NAME}";r={decision.remaining};t={decision.reset_seconds}',
    }
    return [(name.lower().encode(), value.encode()) for name, value in values.items()]
