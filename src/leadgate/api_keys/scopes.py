"""The permissions an API key can carry (PRODUCT.md §2)."""

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
