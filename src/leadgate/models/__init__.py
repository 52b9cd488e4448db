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
from leadgate.models.forms import (
    LeadConsent,
    PendingConfirmation,
    QuarantinedSubmission,
    WebForm,
)
from leadgate.models.idempotency import IdempotencyRecord
from leadgate.models.lead import Lead, LeadTag, Tag
from leadgate.models.privacy import Suppression
from leadgate.models.source import InboundSource, SourcePayload
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
    "InboundSource",
    "Invitation",
    "Lead",
    "LeadConsent",
    "LeadTag",
    "LoginFailure",
    "Membership",
    "Notice",
    "PendingConfirmation",
    "Pipeline",
    "QuarantinedSubmission",
    "SourcePayload",
    "Stage",
    "Suppression",
    "Tag",
    "Team",
    "Tenant",
    "TenantScoped",
    "UsageCount",
    "User",
    "WebForm",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "utcnow",
]
