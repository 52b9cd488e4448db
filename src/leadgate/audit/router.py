"""HTTP routes of the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from leadgate.audit.schemas import AuditEventList, AuditEventOut
from leadgate.audit.service import list_events
from leadgate.auth.principal import Principal
from leadgate.db import Session
from leadgate.responses import ERROR_RESPONSES
from leadgate.teams.auth import require_all_teams

# The log covers every team's keys and teams: keys limited to teams are refused.
AuditRead = Annotated[Principal, Depends(require_all_teams("keys:read"))]

router = APIRouter(tags=["audit"], responses=ERROR_RESPONSES)


@router.get("/audit-events", response_model=AuditEventList, summary="List audit events")
async def list_audit_events(
    principal: AuditRead,
    session: Session,
    api_key_id: Annotated[
        str | None, Query(alias="apiKeyId", max_length=40, description="Only this key's events.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditEventList:
    """The tenant's audit log, newest first: who did what to which key, with before/after."""
    events = await list_events(session, principal.tenant_id, target_id=api_key_id, limit=limit)
    return AuditEventList(data=[AuditEventOut.model_validate(event) for event in events])
