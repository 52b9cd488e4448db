"""Who acts on API keys: what a party may hand out (scopes, teams) and whether it may change
rate limits. Routes build a `Grantor` from the calling key, the console from the signed-in user,
the CLI uses `OPERATOR` (everything). A grantor can neither mint nor manage a key broader than
itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from leadgate.api_keys.scopes import ALL_SCOPES, ALL_TEAMS
from leadgate.errors import Forbidden, InsufficientScope
from leadgate.models import ApiKey


@dataclass(frozen=True, slots=True)
class Grantor:
    """What the acting party may hand out. `None` means unlimited (operators, owners, admins)."""

    actor: dict[str, Any]
    scopes: frozenset[str] | None = None
    team_ids: frozenset[str] | None = None
    may_change_limits: bool = False
    own_key_id: str | None = None

    def check_scopes(self, scopes: Sequence[str]) -> None:
        if self.scopes is None:
            return
        missing = [s for s in ALL_SCOPES if s in scopes and s not in self.scopes]
        if missing:
            raise InsufficientScope(
                f"This API key cannot grant scopes it lacks: {', '.join(missing)}.",
                extra={"requiredScope": missing[0]},
            )

    def check_teams(self, team_scope: str, team_ids: Sequence[str]) -> None:
        if self.team_ids is None:
            return
        if team_scope == ALL_TEAMS or not set(team_ids) <= self.team_ids:
            raise Forbidden("This API key cannot grant access to teams beyond its own.")

    def check_may_manage(self, key: ApiKey) -> None:
        """A grantor manages only keys no broader than itself (or its own key)."""
        if key.id == self.own_key_id:
            return
        self.check_scopes(key.scopes)
        self.check_teams(key.team_scope, key.team_ids)


OPERATOR = Grantor(
    actor={"type": "system", "id": "cli", "name": "leadgate CLI"}, may_change_limits=True
)


def may_change_limits(created_by: dict[str, Any]) -> bool:
    """A key acts on an owner's behalf when an operator or an owner/admin created it."""
    return created_by.get("type") == "system" or (
        created_by.get("type") == "user" and created_by.get("role") in ("owner", "admin")
    )
