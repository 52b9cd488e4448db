"""ORM models. Importing this package registers every table on `Base.metadata`."""

from leadgate.models.api_key import ApiKey, ApiKeySecret
from leadgate.models.audit import AuditEvent, Event
from leadgate.models.base import Base, TenantScoped, utcnow
from leadgate.models.idempotency import IdempotencyRecord
from leadgate.models.lead import Lead, LeadTag, Tag
from leadgate.models.tenant import Membership, Team, Tenant, User

__all__ = [
    "ApiKey",
    "ApiKeySecret",
    "AuditEvent",
    "Base",
    "Event",
    "IdempotencyRecord",
    "Lead",
    "LeadTag",
    "Membership",
    "Tag",
    "Team",
    "Tenant",
    "TenantScoped",
    "User",
    "utcnow",
]
