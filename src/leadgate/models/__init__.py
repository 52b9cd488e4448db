"""ORM models. Importing this package registers every table on `Base.metadata`."""

from leadgate.models.api_key import ApiKey, ApiKeyIp, ApiKeySecret
from leadgate.models.audit import AuditEvent, Event
from leadgate.models.base import Base, TenantScoped, utcnow
from leadgate.models.console import ConsoleSession, Invitation, LoginFailure
from leadgate.models.crm import (
    Activity,
    Automation,
    AutomationRun,
    Contact,
    Deal,
    DealStageChange,
    Pipeline,
    Stage,
)
from leadgate.models.idempotency import IdempotencyRecord
from leadgate.models.lead import Lead, LeadTag, Tag
from leadgate.models.tenant import Membership, Team, Tenant, User
from leadgate.models.usage import Notice, UsageCount
from leadgate.models.webhook import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "Activity",
    "ApiKey",
    "ApiKeyIp",
    "ApiKeySecret",
    "AuditEvent",
    "Automation",
    "AutomationRun",
    "Base",
    "ConsoleSession",
    "Contact",
    "Deal",
    "DealStageChange",
    "Event",
    "IdempotencyRecord",
    "Invitation",
    "Lead",
    "LeadTag",
    "LoginFailure",
    "Membership",
    "Notice",
    "Pipeline",
    "Stage",
    "Tag",
    "Team",
    "Tenant",
    "TenantScoped",
    "UsageCount",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "utcnow",
]
