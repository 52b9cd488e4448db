"""The scopes webhook routes need."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from leadgate.auth.principal import Principal
from leadgate.teams.auth import require_all_teams

# Deliveries carry every team's events: keys limited to teams are refused.
WebhooksRead = Annotated[Principal, Depends(require_all_teams("webhooks:read"))]
WebhooksWrite = Annotated[Principal, Depends(require_all_teams("webhooks:write"))]
