"""The event types a webhook endpoint can subscribe to, each with what it means and a sample."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_LEAD: dict[str, Any] = {
    "id": "lead_01m7ym8hfsgtxyzccy24shk0aj",
    "firstName": "Jane",
    "lastName": "Smith",
    "email": "jane@example.com",
    "phone": "+15551234567",
    "company": "Acme Inc",
    "website": "https://acme.com",
    "source": "website",
    "address": "123 Main St",
    "city": "New York",
    "state": "NY",
    "zipcode": "10001",
    "country": None,
    "status": "new",
    "tags": [],
    "customFields": {},
    "teamId": None,
    "createdBy": {"type": "api_key", "id": "key_01m7ym8de47xf09erntk40q8ge", "name": "Website"},
    "requestSource": "api_native",
    "attribution": None,
    "createdAt": "2026-11-21T08:41:12.441Z",
    "updatedAt": "2026-11-21T08:41:12.441Z",
}
_KEY: dict[str, Any] = {
    "id": "key_01m7ym8de47xf09erntk40q8ge",
    "name": "Website form",
    "hint": "lg_Ab3x",
    "status": "active",
    "permissions": ["leads:write"],
    "accountsAccess": {"scope": "all-accounts", "ids": []},
    "expirationDate": "2027-02-19T08:41:12.441Z",
    "createdAt": "2026-11-21T08:41:12.441Z",
    "updatedAt": "2026-11-21T08:41:12.441Z",
    "enforceMtls": False,
    "mtlsThumbprints": [],
    "rateLimitPerMinute": None,
    "monthlyQuota": None,
    "createdBy": {"type": "user", "id": "usr_01m7ym8de47xf09erntk40q8gf", "name": "Grace Hopper"},
    "lastUsedAt": None,
    "lastUsedIp": None,
    "revokedAt": None,
    "tenantId": "ten_01m7ym8de036ed7v3s2yeb24g4",
    "companyId": "ten_01m7ym8de036ed7v3s2yeb24g4",
    "prefix": "lg",
}
_TEAM: dict[str, Any] = {
    "id": "team_01m7ym8de47xf09erntk40q8gk",
    "name": "East",
    "createdAt": "2026-11-21T08:41:12.441Z",
    "leadCount": 0,
    "keyCount": 0,
}

_CONTACT: dict[str, Any] = {
    "id": "cont_01m7ym8hfsgtxyzccy24shk0ak",
    "firstName": "Jane",
    "lastName": "Smith",
    "email": "jane@example.com",
    "phone": "+15551234567",
    "company": "Acme Inc",
    "title": "Head of Operations",
    "customFields": {},
    "teamId": None,
    "ownerId": None,
    "leadId": "lead_01m7ym8hfsgtxyzccy24shk0aj",
    "createdBy": {"type": "api_key", "id": "key_01m7ym8de47xf09erntk40q8ge", "name": "CRM sync"},
    "createdAt": "2026-11-21T08:41:12.441Z",
    "updatedAt": "2026-11-21T08:41:12.441Z",
}
_DEAL: dict[str, Any] = {
    "id": "deal_01m7ym8hfsgtxyzccy24shk0am",
    "name": "Acme Inc: 50 seats",
    "amount": 1250000,
    "currency": "USD",
    "pipelineId": "pipe_01m7ym8hfsgtxyzccy24shk0an",
    "stageId": "stg_01m7ym8hfsgtxyzccy24shk0ap",
    "status": "open",
    "contactId": "cont_01m7ym8hfsgtxyzccy24shk0ak",
    "leadId": "lead_01m7ym8hfsgtxyzccy24shk0aj",
    "teamId": None,
    "ownerId": None,
    "expectedCloseDate": "2026-12-31",
    "closedAt": None,
    "createdBy": {"type": "api_key", "id": "key_01m7ym8de47xf09erntk40q8ge", "name": "CRM sync"},
    "createdAt": "2026-11-21T08:41:12.441Z",
    "updatedAt": "2026-11-21T08:41:12.441Z",
}
_WON: dict[str, Any] = {
    **_DEAL,
    "stageId": "stg_01m7ym8hfsgtxyzccy24shk0aq",
    "status": "won",
    "closedAt": "2026-11-28T15:02:00.000Z",
    "updatedAt": "2026-11-28T15:02:00.000Z",
    "previousStageId": "stg_01m7ym8hfsgtxyzccy24shk0ap",
}
_ACTIVITY: dict[str, Any] = {
    "id": "act_01m7ym8hfsgtxyzccy24shk0ar",
    "kind": "call",
    "recordType": "contact",
    "recordId": "cont_01m7ym8hfsgtxyzccy24shk0ak",
    "subject": "Intro call",
    "body": "Interested in the annual plan.",
    "dueAt": None,
    "doneAt": "2026-11-22T10:00:00.000Z",
    "createdBy": {"type": "api_key", "id": "key_01m7ym8de47xf09erntk40q8ge", "name": "CRM sync"},
    "createdAt": "2026-11-22T10:00:00.000Z",
    "updatedAt": "2026-11-22T10:00:00.000Z",
}


@dataclass(frozen=True, slots=True)
class EventType:
    type: str
    description: str
    sample: dict[str, Any]


CATALOGUE: tuple[EventType, ...] = (
    EventType("lead.created", "A lead was created (API, form or import).", _LEAD),
    EventType(
        "lead.updated",
        "A lead's fields, status or tags changed (`changedFields`, `previousAttributes`).",
        {
            **_LEAD,
            "status": "contacted",
            "updatedAt": "2026-11-21T09:12:00.000Z",
            "changedFields": ["status"],
            "previousAttributes": {"status": "new"},
        },
    ),
    EventType(
        "lead.deleted",
        "A lead was deleted (soft delete; purged after the retention period).",
        {**_LEAD, "deletedAt": "2026-11-21T10:00:00.000Z"},
    ),
    EventType("api_key.created", "An API key was created.", _KEY),
    EventType(
        "api_key.rolled",
        "An API key was rolled: a new secret; the old one works until the grace period ends.",
        {**_KEY, "hint": "lg_Q7pz", "gracePeriodMinutes": 60},
    ),
    EventType(
        "api_key.revoked",
        "An API key was revoked; `reason` is `requested` (by a person, key or operator) or "
        "`leaked` (reported exposed: `POST /api-keys/revoke-leaked` or GitHub secret scanning).",
        {
            **_KEY,
            "status": "revoked",
            "revokedAt": "2026-11-21T10:00:00.000Z",
            "reason": "requested",
        },
    ),
    EventType("api_key.expiring", "An API key expires soon (notice sent once).", _KEY),
    EventType("team.created", "A team was created.", _TEAM),
    EventType("team.renamed", "A team was renamed.", {**_TEAM, "previousName": "Eastern"}),
    EventType(
        "team.deleted",
        "A team was deleted; its leads and keys moved to `movedTo` (null when it had none).",
        {**_TEAM, "movedTo": "team_01m7ym8de47xf09erntk40q8gm", "leadsMoved": 12},
    ),
    EventType(
        "usage.threshold_reached",
        "A key used its alert share (default 80%) of its per-minute limit or monthly quota; "
        "once per key, kind and period.",
        {
            "keyId": _KEY["id"],
            "keyName": _KEY["name"],
            "kind": "monthly_quota",
            "period": "2026-11",
            "used": 8000,
            "limit": 10000,
            "threshold": 0.8,
            "noticeId": "ntc_01m7ym8de47xf09erntk40q8gh",
        },
    ),
    EventType(
        "person.erased",
        "A person's leads and every copy of their data were erased (`POST /privacy/erasures`); "
        "the ids of the erased leads, so receivers can erase their own copies. No personal data.",
        {
            "erasureId": "era_01m7ym8de47xf09erntk40q8ge",
            "leadIds": [_LEAD["id"]],
            "counts": {
                "leads": 1,
                "events": 3,
                "pendingDeliveries": 1,
                "deliveryAttempts": 2,
                "idempotencyRecords": 1,
                "auditEvents": 0,
            },
            "suppressed": True,
        },
    ),
    EventType(
        "webhook.test",
        "Sent by the endpoint tester only (`POST /webhook-endpoints/{id}/test`).",
        {"endpointId": "whep_01m7ym8de47xf09erntk40q8ge", "message": "A test from leadgate."},
    ),
    EventType(
        "contact.created", "A contact was created (directly or by converting a lead).", _CONTACT
    ),
    EventType(
        "contact.updated",
        "A contact's fields changed (`changedFields`, `previousAttributes`).",
        {
            **_CONTACT,
            "title": "COO",
            "changedFields": ["title"],
            "previousAttributes": {"title": "Head of Operations"},
        },
    ),
    EventType(
        "contact.deleted",
        "A contact was deleted.",
        {**_CONTACT, "deletedAt": "2026-11-21T10:00:00.000Z"},
    ),
    EventType(
        "lead.converted",
        "A lead became a contact (and a deal, when one was asked for) in one transaction.",
        {
            "leadId": _LEAD["id"],
            "contactId": _CONTACT["id"],
            "dealId": _DEAL["id"],
            "lead": {**_LEAD, "status": "converted"},
            "contact": _CONTACT,
            "deal": _DEAL,
        },
    ),
    EventType("deal.created", "A deal was created.", _DEAL),
    EventType(
        "deal.updated",
        "A deal's fields or stage changed (`changedFields`, `previousAttributes`).",
        {
            **_DEAL,
            "amount": 1500000,
            "changedFields": ["amount"],
            "previousAttributes": {"amount": 1250000},
        },
    ),
    EventType("deal.won", "A deal entered a won stage (`previousStageId`: where it was).", _WON),
    EventType(
        "deal.lost",
        "A deal entered a lost stage (`previousStageId`: where it was).",
        {**_WON, "status": "lost", "stageId": "stg_01m7ym8hfsgtxyzccy24shk0as"},
    ),
    EventType(
        "deal.deleted", "A deal was deleted.", {**_DEAL, "deletedAt": "2026-11-21T10:00:00.000Z"}
    ),
    EventType(
        "activity.created",
        "A note, call, meeting, e-mail or task was logged on a lead, contact or deal.",
        _ACTIVITY,
    ),
    EventType(
        "activity.updated",
        "An activity changed (a task done: `doneAt`).",
        {**_ACTIVITY, "changedFields": ["doneAt"], "previousAttributes": {"doneAt": None}},
    ),
    EventType(
        "automation.triggered",
        "An automation's rule matched an event and took its actions (the `emit` action).",
        {
            "automationId": "auto_01m7ym8hfsgtxyzccy24shk0at",
            "automationName": "Tag website leads",
            "runId": "arun_01m7ym8hfsgtxyzccy24shk0au",
            "eventId": "evt_01m7ym8hfsgtxyzccy24shk0av",
            "eventType": "lead.created",
            "recordType": "lead",
            "recordId": _LEAD["id"],
            "actionsTaken": [{"type": "add_tags", "tags": ["website"]}],
        },
    ),
)
