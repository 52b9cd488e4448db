"""What an API key can carry: permissions (PRODUCT.md §2), an expiration, and access to all of a
tenant's teams or chosen ones (the API calls teams `accounts`, after the Snappy seed)."""

from __future__ import annotations

from typing import Literal, get_args

Scope = Literal[
    "leads:read",
    "leads:write",
    "tags:read",
    "tags:write",
    "keys:read",
    "keys:write",
    "webhooks:read",
    "webhooks:write",
    "usage:read",
    "users:read",
    "forms:read",
    "forms:write",
    "sources:read",
    "sources:write",
    "privacy:read",
    "privacy:write",
    "contacts:read",
    "contacts:write",
    "deals:read",
    "deals:write",
    "activities:read",
    "activities:write",
    "automations:read",
    "automations:write",
    "reports:read",
]
ALL_SCOPES: tuple[str, ...] = get_args(Scope)
EXPIRATION_DAYS: tuple[int, ...] = (30, 60, 90, 180, 365)
ALL_TEAMS = "all-accounts"
SPECIFIC_TEAMS = "specific-accounts"
# Limits as the columns hold them (a 32-bit integer on PostgreSQL), checked where they enter.
MAX_RATE_LIMIT_PER_MINUTE = 1_000_000
MAX_MONTHLY_QUOTA = 2**31 - 1
