"""Privacy request and response bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from leadgate.schemas import RequestModel, ResponseModel, Timestamp

SuppressionReason = Literal["erased", "unsubscribed", "requested"]


class PersonQuery(RequestModel):
    """A person, by e-mail and/or phone (at least one)."""

    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=40)

    @model_validator(mode="after")
    def _one_identifier(self) -> PersonQuery:
        if not self.email and not self.phone:
            raise ValueError("give an email or a phone")
        return self


class ErasureRequest(PersonQuery):
    suppress: bool = Field(
        True, description="Put the e-mail on the suppression list, so intake refuses it later."
    )


class ErasureCounts(ResponseModel):
    leads: int
    events: int
    pending_deliveries: int
    delivery_attempts: int
    idempotency_records: int
    audit_events: int
    consents: int
    quarantined_submissions: int
    pending_confirmations: int
    source_payloads: int
    contacts: int
    activities: int


class ErasureOut(ResponseModel):
    id: str
    lead_ids: list[str]
    counts: ErasureCounts
    suppressed: bool


class PersonExport(ResponseModel):
    """Every record, and every copy, that holds the person (Art. 15)."""

    subject: dict[str, str | None]
    leads: list[dict[str, Any]]
    events: list[dict[str, Any]]
    webhook_deliveries: list[dict[str, Any]]
    webhook_attempts: list[dict[str, Any]]
    idempotency_records: list[dict[str, Any]]
    audit_events: list[dict[str, Any]]
    consents: list[dict[str, Any]] = Field(
        description="What the person agreed to with a form: text, version, when, from where."
    )
    quarantined_submissions: list[dict[str, Any]]
    pending_confirmations: list[dict[str, Any]]
    source_payloads: list[dict[str, Any]] = Field(
        description="What inbound sources (form builders, ad platforms) sent about them."
    )
    contacts: list[dict[str, Any]]
    deals: list[dict[str, Any]] = Field(
        description="Deals with their contacts or from their leads (kept by an erasure, unlinked)."
    )
    activities: list[dict[str, Any]]
    suppression: dict[str, Any] | None


class SuppressionRequest(RequestModel):
    email: str = Field(max_length=254)
    reason: SuppressionReason = "requested"


class SuppressionOut(ResponseModel):
    suppressed: bool
    reason: SuppressionReason | None = None
    created_at: Timestamp | None = None


class RetentionPeriods(ResponseModel):
    """Days each kind is kept; `idempotencyRecords` null: until the record expires."""

    event_payloads: float
    events: float
    delivery_attempts: float
    idempotency_records: float | None
    usage: float
    audit: float


class RetentionOut(ResponseModel):
    effective: RetentionPeriods
    tenant: dict[str, float]
    defaults: RetentionPeriods


class RetentionUpdate(RequestModel):
    """Days per kind; null returns that kind to the deployment default."""

    event_payloads: float | None = Field(None, gt=0, le=36_500)
    events: float | None = Field(None, gt=0, le=36_500)
    delivery_attempts: float | None = Field(None, gt=0, le=36_500)
    idempotency_records: float | None = Field(None, gt=0, le=36_500)
    usage: float | None = Field(None, gt=0, le=36_500)
    audit: float | None = Field(None, gt=0, le=36_500)
