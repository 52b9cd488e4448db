"""Inbound source request and response bodies, and the field mapping's shape."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from leadgate.leads.schemas import CustomValue, LeadPreview, TagName
from leadgate.schemas import RequestModel, ResponseModel, Timestamp

SourceKindName = Literal["typeform", "webflow", "google_ads", "json"]
Verification = Literal["hmac", "secret"]
Outcome = Literal["created", "merged", "duplicate", "failed", "test"]
LEAD_TARGETS = (
    "firstName", "lastName", "fullName", "email", "phone", "company", "website", "source",
    "address", "city", "state", "zipcode", "country", "status",
)  # fmt: skip
CUSTOM_PREFIX = "custom:"
MAX_RULES = 100


class MappingRule(RequestModel):
    """One lead field filled from a provider field (`from`) or with a constant (`value`).
    `to` is a lead field, `fullName` (split into first and last name), or `custom:<name>`."""

    from_: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, alias="from"
    )
    to: Annotated[str, StringConstraints(min_length=1, max_length=71)]
    value: CustomValue = None

    @field_validator("to")
    @classmethod
    def _known_target(cls, value: str) -> str:
        if value in LEAD_TARGETS:
            return value
        name = value.removeprefix(CUSTOM_PREFIX)
        if value.startswith(CUSTOM_PREFIX) and 1 <= len(name) <= 64:
            return value
        raise ValueError(f"'{value}' is not a lead field, fullName or custom:<name>")

    @model_validator(mode="after")
    def _one_origin(self) -> MappingRule:
        if (self.from_ is None) == (self.value is None):
            raise ValueError("a rule has either `from` (a provider field) or `value` (a constant)")
        return self


class SourceMapping(RequestModel):
    rules: list[MappingRule] = Field(default_factory=list, max_length=MAX_RULES)
    tags: list[TagName] = Field(default_factory=list, max_length=20)
    team_id: Annotated[str, StringConstraints(max_length=40)] | None = None


class SourceCreate(RequestModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    kind: SourceKindName
    verification: Verification = Field(
        "hmac", description="Generic JSON only: a signed body (`hmac`) or the secret in a header."
    )
    secret: Annotated[str, StringConstraints(min_length=16, max_length=200)] | None = Field(
        None,
        description="The provider's signing secret (required for Webflow, which makes its own); "
        "generated when left out.",
    )
    mapping: SourceMapping | None = Field(
        None, description="The provider's usual fields if left out."
    )
    enabled: bool = True

    @model_validator(mode="after")
    def _webflow_secret(self) -> SourceCreate:
        if self.kind == "webflow" and self.secret is None:
            raise ValueError("a Webflow source needs the secret Webflow signs with")
        return self


class SourceUpdate(RequestModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None
    secret: Annotated[str, StringConstraints(min_length=16, max_length=200)] | None = None
    mapping: SourceMapping | None = None
    enabled: bool | None = None


class MappingRuleOut(ResponseModel):
    from_: str | None = Field(None, serialization_alias="from")
    to: str
    value: CustomValue = None


class SourceMappingOut(ResponseModel):
    rules: list[MappingRuleOut]
    tags: list[str]
    team_id: str | None


class SourceOut(ResponseModel):
    id: str
    name: str
    kind: SourceKindName
    verification: Verification
    url: str = Field(description="Paste this into the provider as the webhook URL.")
    mapping: SourceMappingOut
    enabled: bool
    last_received_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class SourceWithSecret(SourceOut):
    secret: str = Field(description="The signing secret or key; shown at creation only.")


class SourceList(ResponseModel):
    data: list[SourceOut]


class PayloadError(ResponseModel):
    error: str
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)
    existing_lead_id: str | None = Field(None, description="The lead a duplicate matched.")


class PayloadOut(ResponseModel):
    id: str
    source_id: str
    outcome: Outcome
    lead_id: str | None
    error: PayloadError | None
    attempts: int
    received_at: Timestamp
    processed_at: Timestamp
    body: dict[str, Any]


class PayloadList(ResponseModel):
    data: list[PayloadOut]
    has_more: bool


class ReceiveResult(ResponseModel):
    """What a provider is told: the payload was kept (2xx), and what became of it."""

    payload_id: str
    outcome: Outcome
    lead_id: str | None = None


class PreviewRequest(RequestModel):
    mapping: SourceMapping | None = Field(None, description="The source's own if left out.")
    payload_id: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        None, description="The last payload received if left out."
    )


class MappingPreview(ResponseModel):
    payload_id: str | None
    fields: dict[str, Any] = Field(description="The provider fields the mapping can name.")
    attribution: dict[str, str]
    outcome: Literal["created", "duplicate", "merged", "failed", "test", "empty"]
    lead: LeadPreview | None = None
    existing_lead_id: str | None = None
    error: PayloadError | None = None
