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
    "createdAt": "2026-11-21T08:41:12.441Z",
    "updatedAt": "2026-11-21T08:41:12.441Z",
}
_KEY: dict[str, Any] = {
    "id": "key_01m7ym8de47xf09erntk40q8ge",
    "name": "Website form",
    "hint": "lg_Ab3x",
    "permissions": ["leads:write"],
    "expirationDate": "2027-02-19T08:41:12.441Z",
}


@dataclass(frozen=True, slots=True)
class EventType:
    type: str
    description: str
    sample: dict[str, Any]


CATALOGUE: tuple[EventType, ...] = (
    EventType("lead.created", "A lead was created (API, form or import).", _LEAD),
    EventType("lead.updated", "A lead's fields, status or tags changed.", _LEAD),
    EventType("lead.deleted", "A lead was deleted.", {"id": _LEAD["id"]}),
    EventType("api_key.created", "An API key was created.", _KEY),
    EventType(
        "api_key.rolled",
        "An API key was rolled: a new secret; the old one works until the grace period ends.",
        {**_KEY, "previousSecretExpiresAt": "2026-11-22T08:41:12.441Z"},
    ),
    EventType("api_key.revoked", "An API key was revoked.", {**_KEY, "revokedReason": "revoked"}),
    EventType("api_key.expiring", "An API key expires soon (notice sent once).", _KEY),
    EventType(
        "usage.threshold_reached",
        "A key or tenant used a set share of its monthly quota.",
        {"apiKeyId": _KEY["id"], "threshold": 0.8, "used": 8000, "quota": 10000},
    ),
    EventType(
        "webhook.test",
        "Sent by the endpoint tester only (`POST /webhook-endpoints/{id}/test`).",
        {"endpointId": "whep_01m7ym8de47xf09erntk40q8ge", "message": "A test from leadgate."},
    ),
)
