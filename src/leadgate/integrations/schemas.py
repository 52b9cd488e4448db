"""REST-hook request and response bodies, shaped as Zapier, Make and n8n call them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from leadgate.leads.schemas import LeadOut
from leadgate.schemas import RequestModel, ResponseModel, Timestamp

HookApp = Literal["zapier", "make", "n8n", "other"]


class HookSubscribe(RequestModel):
    hook_url: str = Field(
        min_length=1, max_length=2048, description="Where the platform wants the events."
    )
    event: str = Field(
        min_length=1, max_length=60, description="One event type, e.g. lead.created."
    )
    app: HookApp = Field("other", description="Which platform subscribes (shown on the endpoint).")


class HookOut(ResponseModel):
    id: str = Field(description="The subscription: a webhook endpoint's id.")
    event: str
    hook_url: str
    secret: str = Field(description="Signs every delivery (Standard Webhooks), shown only here.")
    created_at: Timestamp


class HookDeleted(ResponseModel):
    id: str
    deleted: bool = True


class LeadFoundOrCreated(LeadOut):
    created: bool = Field(description="True: made now; false: the existing lead it matched.")
