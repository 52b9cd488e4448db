"""Lead request and response bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from leadgate.leads import normalize
from leadgate.schemas import RequestModel, ResponseModel, Timestamp
from leadgate.tags.schemas import TagOut

LeadStatus = Literal["new", "contacted", "qualified", "converted", "lost"]
RequestSource = Literal[
    "api_native",
    "api_zapier",
    "api_make",
    "api_salesforce",
    "api_ftp",
    "web_form",
    "console",
    "import",
]
MAX_CUSTOM_FIELDS = 50
MAX_CUSTOM_VALUE = 1000
MAX_TAGS = 20


Text20 = Annotated[str, StringConstraints(max_length=20)]
Text40 = Annotated[str, StringConstraints(max_length=40)]
Text80 = Annotated[str, StringConstraints(max_length=80)]
Text120 = Annotated[str, StringConstraints(max_length=120)]
Text254 = Annotated[str, StringConstraints(max_length=254)]
Text255 = Annotated[str, StringConstraints(max_length=255)]
Text2048 = Annotated[str, StringConstraints(max_length=2048)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=80)]
TagName = Annotated[str, StringConstraints(min_length=1, max_length=60, strip_whitespace=True)]
DuplicatePolicy = Literal["reject", "allow", "merge"]
MAX_BATCH = 100
MAX_PAGE = 100
CustomValue = str | int | float | bool | None


class LeadFields(RequestModel):
    """The contact fields, all optional; shared by create and update."""

    email: Text254 | None = None
    phone: Text40 | None = None
    company: Text255 | None = None
    website: Text2048 | None = None
    source: Text80 | None = None
    address: Text255 | None = None
    city: Text120 | None = None
    state: Text120 | None = None
    zipcode: Text20 | None = None
    country: Text80 | None = None
    custom_fields: dict[str, CustomValue] | None = None
    team_id: Text40 | None = None

    @field_validator(
        "email", "phone", "company", "website", "source", "address", "city", "state",
        "zipcode", "country", "team_id", mode="after",
    )  # fmt: skip
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

    @field_validator("website", mode="after")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        return normalize.normalize_website(value) if value else None

    @field_validator("custom_fields", mode="after")
    @classmethod
    def _custom_fields(cls, value: dict[str, CustomValue] | None) -> dict[str, CustomValue] | None:
        if value is None:
            return None
        if len(value) > MAX_CUSTOM_FIELDS:
            raise ValueError(f"at most {MAX_CUSTOM_FIELDS} custom fields")
        for name, item in value.items():
            if not 1 <= len(name) <= 64:
                raise ValueError("custom field names are 1-64 characters")
            if isinstance(item, str) and len(item) > MAX_CUSTOM_VALUE:
                raise ValueError(f"custom field {name!r} is over {MAX_CUSTOM_VALUE} characters")
        return value


class LeadTagsInput(RequestModel):
    """Tags by id (`tagId`, `tagIds`) or by name (`tags`)."""

    tag_id: Text40 | None = None
    tag_ids: list[Annotated[str, StringConstraints(max_length=40)]] | None = Field(
        None, max_length=MAX_TAGS
    )
    tags: list[TagName] | None = Field(None, max_length=MAX_TAGS)

    @property
    def names_tags(self) -> bool:
        return bool({"tag_id", "tag_ids", "tags"} & self.model_fields_set)

    @model_validator(mode="before")
    @classmethod
    def _single_values_as_lists(cls, data: Any) -> Any:
        # HTML forms send one `tags=x` as a plain string.
        if isinstance(data, dict):
            for key in ("tagIds", "tags"):
                if isinstance(data.get(key), str):
                    data[key] = [data[key]]
        return data

    def wanted_tag_ids(self) -> list[str]:
        ids = list(self.tag_ids or [])
        if self.tag_id:
            ids.insert(0, self.tag_id)
        return list(dict.fromkeys(ids))


class Touch(RequestModel):
    """One visit: its UTM parameters, ad click ids, referrer and landing page."""

    utm_source: Text255 | None = None
    utm_medium: Text255 | None = None
    utm_campaign: Text255 | None = None
    utm_term: Text255 | None = None
    utm_content: Text255 | None = None
    gclid: Text255 | None = None
    fbclid: Text255 | None = None
    msclkid: Text255 | None = None
    referrer: Text2048 | None = None
    landing_page: Text2048 | None = None


class Attribution(RequestModel):
    """Where a lead came from: the visitor's first visit and the one that converted."""

    first_touch: Touch | None = None
    last_touch: Touch | None = None


class LeadCreate(LeadFields, LeadTagsInput):
    first_name: Name
    last_name: Name
    status: LeadStatus = "new"
    request_source: RequestSource | None = None
    attribution: Attribution | None = None


class LeadUpdate(LeadFields, LeadTagsInput):
    """A partial update: fields left out stay; `null` clears an optional field. Tags given
    (`tagIds`/`tags`) replace the lead's tags."""

    first_name: Name | None = None
    last_name: Name | None = None
    status: LeadStatus | None = None

    @model_validator(mode="after")
    def _names_not_cleared(self) -> LeadUpdate:
        for name in ("first_name", "last_name", "status"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be cleared")
        return self


class CreatedBy(ResponseModel):
    type: str
    id: str
    name: str | None = None


class TouchOut(ResponseModel):
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    gclid: str | None = None
    fbclid: str | None = None
    msclkid: str | None = None
    referrer: str | None = None
    landing_page: str | None = None


class AttributionOut(ResponseModel):
    first_touch: TouchOut | None = None
    last_touch: TouchOut | None = None


class LeadOut(ResponseModel):
    id: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    company: str | None
    website: str | None
    source: str | None
    address: str | None
    city: str | None
    state: str | None
    zipcode: str | None
    country: str | None
    status: LeadStatus
    tags: list[TagOut]
    custom_fields: dict[str, CustomValue]
    team_id: str | None
    created_by: CreatedBy
    request_source: str
    attribution: AttributionOut | None = None
    created_at: Timestamp
    updated_at: Timestamp


class LeadMerged(LeadOut):
    """The existing lead a duplicate was merged into, and the fields the merge filled."""

    merged_fields: list[str]


class LeadPage(ResponseModel):
    data: list[LeadOut]
    has_more: bool
    next_cursor: str | None


class LeadDeleted(ResponseModel):
    id: str
    deleted: bool = True


class LeadPreview(ResponseModel):
    """A lead as it would be stored: validated and normalised, not yet written."""

    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    company: str | None
    website: str | None
    source: str | None
    address: str | None
    city: str | None
    state: str | None
    zipcode: str | None
    country: str | None
    status: LeadStatus
    tags: list[str]
    custom_fields: dict[str, CustomValue]
    team_id: str | None


class LeadDryRun(ResponseModel):
    """What `POST /leads?dryRun=true` would have done."""

    dry_run: bool = True
    outcome: Literal["created", "duplicate", "merged"]
    lead: LeadPreview
    existing_lead_id: str | None = None
    matched_on: Literal["email", "phone", "name"] | None = None
    merged_fields: list[str] = Field(default_factory=list)
    new_tags: list[str] = Field(default_factory=list)


class LeadBatch(RequestModel):
    leads: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class BatchItemError(ResponseModel):
    error: str
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)


class BatchItem(ResponseModel):
    index: int
    status: Literal["created", "merged", "duplicate", "invalid"]
    lead: LeadOut | None = None
    existing_lead_id: str | None = None
    matched_on: str | None = None
    merged_fields: list[str] | None = None
    error: BatchItemError | None = None


class BatchSummary(ResponseModel):
    created: int = 0
    merged: int = 0
    duplicate: int = 0
    invalid: int = 0


class BatchResult(ResponseModel):
    atomic: bool
    summary: BatchSummary
    results: list[BatchItem]
