"""Contact request and response bodies, and the lead conversion's."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import StringConstraints, ValidationInfo, field_validator

from leadgate.deals.schemas import DealCreate, DealOut
from leadgate.leads import normalize
from leadgate.leads.schemas import CustomValue, LeadOut, Name, Text40, Text120, Text254, Text255
from leadgate.schemas import RequestModel, ResponseModel, Timestamp

MAX_PAGE = 100
ContactDuplicatePolicy = Literal["reject", "allow"]


class ContactFields(RequestModel):
    email: Text254 | None = None
    phone: Text40 | None = None
    company: Text255 | None = None
    title: Text120 | None = None
    custom_fields: dict[str, CustomValue] | None = None
    team_id: Text40 | None = None
    owner_id: Text40 | None = None

    @field_validator("email", "phone", "company", "title", "team_id", "owner_id", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("email", mode="after")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalize.normalize_email(value) if value else None

    @field_validator("phone", mode="after")
    @classmethod
    def _phone(cls, value: str | None, info: ValidationInfo) -> str | None:
        region = (info.context or {}).get("phone_region", "US")
        return normalize.normalize_phone(value, region) if value else None


class ContactCreate(ContactFields):
    first_name: Name
    last_name: Name


class ContactUpdate(ContactFields):
    """Fields left out stay; `null` clears an optional field."""

    first_name: Name | None = None
    last_name: Name | None = None

    @field_validator("first_name", "last_name", mode="after")
    @classmethod
    def _required(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("may not be cleared")
        return value


class ContactOut(ResponseModel):
    id: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    company: str | None
    title: str | None
    custom_fields: dict[str, Any]
    team_id: str | None
    owner_id: str | None
    lead_id: str | None
    created_by: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp


class ContactPage(ResponseModel):
    data: list[ContactOut]
    has_more: bool
    next_cursor: str | None


class ContactDeleted(ResponseModel):
    id: str
    deleted: bool = True


class LeadConvert(RequestModel):
    """Converting a lead: the contact takes the lead's fields; `deal`, when given, is created for
    the contact in the same transaction."""

    title: Text120 | None = None
    owner_id: Text40 | None = None
    deal: DealCreate | None = None


class LeadConversion(ResponseModel):
    lead_id: str
    contact_id: str
    deal_id: str | None


class LeadConverted(ResponseModel):
    lead: LeadOut
    contact: ContactOut
    deal: DealOut | None


SearchText = Annotated[str, StringConstraints(max_length=200)]
