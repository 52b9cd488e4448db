"""Webhook request and response bodies (camelCase on the wire)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from leadgate.schemas import RequestModel, ResponseModel, Timestamp


class EndpointCreate(RequestModel):
    url: str = Field(min_length=1, max_length=2048, description="https URL that receives events.")
    description: str = Field("", max_length=500)
    event_types: list[str] | None = Field(
        None, description="Event types to receive; omitted, null or empty: every type."
    )
    enabled: bool = True


class EndpointUpdate(RequestModel):
    url: str | None = Field(None, min_length=1, max_length=2048)
    description: str | None = Field(None, max_length=500)
    event_types: list[str] | None = None
    enabled: bool | None = None


class EndpointOut(ResponseModel):
    id: str
    url: str
    description: str
    event_types: list[str] | None = Field(description="null: every event type.")
    enabled: bool
    disabled_reason: str | None
    failing_since: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="The signing secret (`whsec_…`). Shown only here.")


class RotatedSecret(ResponseModel):
    id: str
    secret: str = Field(description="The new signing secret (`whsec_…`). Shown only here.")
    previous_secret_expires_at: Timestamp = Field(
        description="Until then the old secret signs too (a second signature)."
    )


class EndpointList(ResponseModel):
    data: list[EndpointOut]


class EventTypeOut(ResponseModel):
    type: str
    description: str
    sample: dict[str, Any] = Field(description="A sample of the event's `data`.")


class EventTypeList(ResponseModel):
    data: list[EventTypeOut]


class EventOut(ResponseModel):
    id: str
    type: str
    data: dict[str, Any]
    created_at: Timestamp
    dispatched_at: Timestamp | None
    # Set when retention or an erasure emptied `data`; such an event cannot be replayed.
    payload_purged_at: Timestamp | None = None


class EventList(ResponseModel):
    data: list[EventOut]
    has_more: bool


class AttemptOut(ResponseModel):
    id: str
    attempt_number: int
    attempted_at: Timestamp
    status_code: int | None
    latency_ms: int
    response_body: str | None = Field(description="The first 2 KiB of the response body.")
    error: str | None


class DeliveryOut(ResponseModel):
    id: str
    event_id: str
    event_type: str
    endpoint_id: str
    trigger: str = Field(description="event, replay or test.")
    status: str = Field(
        description="pending, succeeded, failed or cancelled (its event's payload was purged "
        "or erased)."
    )
    attempts: int
    next_attempt_at: Timestamp | None
    last_attempt_at: Timestamp | None
    created_at: Timestamp
    attempt_log: list[AttemptOut]


class DeliveryList(ResponseModel):
    data: list[DeliveryOut]
    has_more: bool


class ReplayRequest(RequestModel):
    endpoint_id: str | None = Field(
        None,
        description="Only this endpoint; default: every "
        "enabled endpoint subscribed to the event's type.",
    )


class ReplayOut(ResponseModel):
    event_id: str
    deliveries: list[str] = Field(description="Ids of the deliveries queued.")


class SentRequest(ResponseModel):
    url: str
    headers: dict[str, str]
    body: str


class ReceivedResponse(ResponseModel):
    status_code: int | None
    body: str | None
    latency_ms: int


class TesterResult(ResponseModel):
    success: bool
    delivery_id: str
    event_id: str
    request: SentRequest
    response: ReceivedResponse
    error: str | None
