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
from leadgate.auth.principal import Principal
from leadgate.errors import Forbidden, InsufficientScope
from leadgate.models import ApiKey

# Which scopes a console role may put on a key: the one table (docs/api-keys.md, "Who may grant
# which scope"). A member grants what the console lets a member do; not keys:read (it reads the
# audit log), keys:write (it manages every key) or webhooks:write (an endpoint hears of every
# lead), which the console keeps to owners and admins.
GRANTABLE_SCOPES: dict[str, frozenset[str]] = {
    "owner": frozenset(ALL_SCOPES),
    "admin": frozenset(ALL_SCOPES),
    "member": frozenset(
        {
            "leads:read",
            "leads:write",
            "tags:read",
            "tags:write",
            "webhooks:read",
            "usage:read",
            "users:read",
        }
    ),
}


@dataclass(frozen=True, slots=True)
class Grantor:
    """What the acting party may hand out. `None` means unlimited (operators, owners, admins)."""

    actor: dict[str, Any]
    scopes: frozenset[str] | None = None
    team_ids: frozenset[str] | None = None
    may_change_limits: bool = False
    own_key_id: str | None = None
    refusal: str = "This API key cannot grant scopes it lacks"

    def check_scopes(self, scopes: Sequence[str]) -> None:
        if self.scopes is None:
            return
        missing = [s for s in ALL_SCOPES if s in scopes and s not in self.scopes]
        if missing:
            raise InsufficientScope(
                f"{self.refusal}: {', '.join(missing)}.", extra={"requiredScope": missing[0]}
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


def creator_grants(created_by: dict[str, Any]) -> frozenset[str] | None:
    """The scopes a key's creator could grant: a console user's by the role recorded at creation;
    None (no limit of its own) for an operator, and for a key, which was bounded by its own
    scopes when it granted."""
    if created_by.get("type") != "user":
        return None
    return GRANTABLE_SCOPES.get(str(created_by.get("role")), frozenset())


def check_within_creator(created_by: dict[str, Any], scopes: Sequence[str]) -> None:
    """A key never carries more than its creator's role may grant: checked on create, update
    and roll, so a key made before this rule cannot be renewed or widened past it."""
    allowed = creator_grants(created_by)
    if allowed is None:
        return
    beyond = [s for s in ALL_SCOPES if s in scopes and s not in allowed]
    if beyond:
        raise InsufficientScope(
            f"A key created by a console {created_by.get('role')} cannot carry: "
            f"{', '.join(beyond)}.",
            extra={"requiredScope": beyond[0]},
        )


def member_grantor(actor: dict[str, Any], role: str) -> Grantor:
    """A console user grants what the role allows (GRANTABLE_SCOPES), every team; only owners
    and admins change limits (docs/api-keys.md)."""
    managers = role in ("owner", "admin")
    return Grantor(
        actor=actor,
        scopes=None if managers else GRANTABLE_SCOPES.get(role, frozenset()),
        may_change_limits=managers,
        refusal=f"A console {role} cannot grant",
    )


def key_grantor(principal: Principal) -> Grantor:
    """A calling key grants at most its own scopes and teams, and never beyond what its own
    creator's role could grant (a key a member made before that rule)."""
    scopes = principal.scopes
    allowed = creator_grants(principal.extra.get("created_by", {}))
    if allowed is not None:
        scopes = scopes & allowed
    return Grantor(
        actor=principal.actor,
        scopes=scopes,
        team_ids=None if principal.team_scope == ALL_TEAMS else frozenset(principal.team_ids),
        may_change_limits=may_change_limits(principal.extra.get("created_by", {})),
        own_key_id=principal.api_key_id,
        refusal="This API key cannot grant scopes it lacks or its creator's role does not allow",
    )
