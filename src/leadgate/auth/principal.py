"""The verified caller of a request."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    tenant_slug: str
    api_key_id: str
    api_key_name: str
    scopes: frozenset[str]
    team_scope: str = "all-accounts"
    team_ids: tuple[str, ...] = ()
    rate_limit_per_minute: int | None = None
    monthly_quota: int | None = None
    expires_at: datetime | None = None
    key_source: str = "header"
    phone_region: str | None = None
    duplicate_policy: str = "reject"
    duplicate_fields: tuple[str, ...] = ("email", "name")
    plan: str = "free"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def actor(self) -> dict[str, Any]:
        """How this caller appears in `createdBy` and the audit log."""
        return {"type": "api_key", "id": self.api_key_id, "name": self.api_key_name}

    def can_use_team(self, team_id: str | None) -> bool:
        if self.team_scope == "all-accounts":
            return True
        return team_id is not None and team_id in self.team_ids
