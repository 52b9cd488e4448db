"""The scopes team routes need, and the guard for routes whose data spans every team.

Reading teams is part of reading leads (a lead's `teamId`); creating, renaming and deleting them
administers the workspace, like managing keys. A key limited to teams reads and writes only its
teams' data: routes whose answers carry every team's data (webhook endpoints and deliveries, the
audit log) refuse it (`403 forbidden`) rather than leak other teams' leads.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends

from leadgate.api_keys.scopes import ALL_TEAMS
from leadgate.auth.dependencies import require
from leadgate.auth.principal import Principal
from leadgate.errors import Forbidden

TeamsRead = Annotated[Principal, Depends(require("leads:read"))]
TeamsWrite = Annotated[Principal, Depends(require("keys:write"))]


def require_all_teams(scope: str) -> Callable[..., Awaitable[Principal]]:
    """`require(scope)`, for a key that serves every team."""
    scoped = require(scope)

    async def dependency(principal: Annotated[Principal, Depends(scoped)]) -> Principal:
        if principal.team_scope != ALL_TEAMS:
            raise Forbidden(
                "This API key is limited to teams; this data covers every team of the workspace."
            )
        return principal

    dependency.__name__ = f"require_all_teams_{scope.replace(':', '_')}"
    return dependency
