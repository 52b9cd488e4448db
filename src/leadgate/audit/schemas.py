"""Audit-log response bodies."""

from __future__ import annotations

from typing import Any

from leadgate.schemas import ResponseModel, Timestamp


class AuditEventOut(ResponseModel):
    id: str
    action: str
    actor: dict[str, Any]
    target_type: str
    target_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ip: str | None
    request_id: str | None
    created_at: Timestamp


class AuditEventList(ResponseModel):
    data: list[AuditEventOut]
