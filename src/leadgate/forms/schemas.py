"""Form request and response bodies, and what a visitor's submission is answered with."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, StringConstraints, field_validator, model_validator

from leadgate.leads.schemas import MAX_TAGS, TagName
from leadgate.schemas import RequestModel, ResponseModel, Timestamp

# The lead fields a form can take, by their API names; any other field name is a custom field.
LEAD_FIELDS = (
    "firstName", "lastName", "email", "phone", "company", "website", "source", "address",
    "city", "state", "zipcode", "country",
)  # fmt: skip
FieldType = Literal["text", "email", "tel", "url", "textarea"]
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
# Names a form field may not take: what leadgate itself posts alongside the visitor's fields.
RESERVED_PREFIXES = ("_lg", "utm_", "altcha")
RESERVED_NAMES = frozenset({"gclid", "fbclid", "msclkid", "api_key", "tags", "tagIds", "teamId"})
MAX_FIELDS = 30
MAX_ORIGINS = 20
DEFAULT_MESSAGE = "Thank you. We received your details."

Label = Annotated[str, StringConstraints(min_length=1, max_length=120)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


def default_type(name: str) -> FieldType:
    return {"email": "email", "phone": "tel", "website": "url"}.get(name, "text")  # type: ignore[return-value]


class FormField(RequestModel):
    """One input of the form: a lead field (`email`) or a custom field (any other name)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    label: Label
    required: bool = False
    type: FieldType | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not FIELD_NAME.match(value):
            raise ValueError("a field name is a letter, then letters, digits or _ (at most 64)")
        if value.startswith(RESERVED_PREFIXES) or value in RESERVED_NAMES:
            raise ValueError(f"{value!r} is reserved")
        return value


class FormSpam(RequestModel):
    """Bot defences: a hidden field people leave empty, a minimum time between the form being
    issued and posted (a signed timestamp in the form), and a proof-of-work (ALTCHA) the
    hosted page and the embed script solve in the browser."""

    honeypot: bool = True
    min_fill_seconds: int = Field(3, ge=0, le=3600)
    proof_of_work: bool = True
    # A third-party CAPTCHA as well (its secret and verify URL are server settings).
    captcha: Literal["turnstile", "hcaptcha", "recaptcha"] | None = None
    captcha_site_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _site_key(self) -> FormSpam:
        if self.captcha is not None and self.captcha_site_key is None:
            raise ValueError("captchaSiteKey is required with captcha")
        return self


def _origin(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise ValueError(f"{value!r} is not an origin such as https://www.example.com")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    return value


class FormSettings(RequestModel):
    """What create and update share; each field's rules."""

    hidden_fields: dict[str, Annotated[str, StringConstraints(max_length=255)]] | None = None
    tags: list[TagName] | None = Field(None, max_length=MAX_TAGS)
    team_id: Annotated[str, StringConstraints(max_length=40)] | None = None
    allowed_origins: list[str] | None = Field(None, max_length=MAX_ORIGINS)
    redirect_url: Url | None = None
    success_message: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    spam: FormSpam | None = None
    enabled: bool | None = None
    # Shown next to a required checkbox; changing it starts a new version.
    consent_text: Annotated[str, StringConstraints(max_length=5000)] | None = None
    double_opt_in: bool | None = None

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(_origin(v) for v in value))

    @field_validator("redirect_url")
    @classmethod
    def _redirect(cls, value: str | None) -> str | None:
        return _http_url(value)

    @field_validator("hidden_fields")
    @classmethod
    def _hidden(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name in value or {}:
            if not FIELD_NAME.match(name):
                raise ValueError(f"{name!r} is not a field name")
        return value


def check_names_a_lead(fields: list[FormField], hidden: dict[str, str]) -> None:
    """Every lead needs a first and a last name: the form asks for them or fixes them."""
    names = {f.name for f in fields if f.required} | {k for k, v in hidden.items() if v}
    missing = [n for n in ("firstName", "lastName") if n not in names]
    if missing:
        raise ValueError(
            f"{' and '.join(missing)} must be a required field or a hidden field with a value"
        )


def check_asks_for_email(fields: list[FormField]) -> None:
    if not any(f.name == "email" and f.required for f in fields):
        raise ValueError("double opt-in needs email as a required field")


class FormCreate(FormSettings):
    name: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    fields: list[FormField] = Field(min_length=1, max_length=MAX_FIELDS)

    @model_validator(mode="after")
    def _consistent(self) -> FormCreate:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("field names must be unique")
        check_names_a_lead(self.fields, self.hidden_fields or {})
        if self.double_opt_in:
            check_asks_for_email(self.fields)
        return self


class FormUpdate(FormSettings):
    """A partial update: fields left out stay; `null` clears `redirectUrl` or `teamId`."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None
    fields: list[FormField] | None = Field(None, min_length=1, max_length=MAX_FIELDS)

    @model_validator(mode="after")
    def _unique(self) -> FormUpdate:
        if self.fields is not None:
            names = [f.name for f in self.fields]
            if len(set(names)) != len(names):
                raise ValueError("field names must be unique")
        return self


class FormFieldOut(ResponseModel):
    name: str
    label: str
    required: bool
    type: FieldType


class FormSpamOut(ResponseModel):
    honeypot: bool
    min_fill_seconds: int
    proof_of_work: bool
    captcha: str | None
    captcha_site_key: str | None


class FormUrls(ResponseModel):
    submit: str
    hosted: str
    script: str


class FormOut(ResponseModel):
    id: str
    name: str
    fields: list[FormFieldOut]
    hidden_fields: dict[str, str]
    tags: list[str]
    team_id: str | None
    allowed_origins: list[str]
    redirect_url: str | None
    success_message: str
    spam: FormSpamOut
    enabled: bool
    consent_text: str
    consent_version: int
    double_opt_in: bool
    urls: FormUrls
    created_at: Timestamp
    updated_at: Timestamp


class FormList(ResponseModel):
    data: list[FormOut]


class QuarantinedOut(ResponseModel):
    id: str
    form_id: str
    lead: dict[str, Any]
    consent: dict[str, Any] | None
    reasons: list[str]
    client_address: str | None
    user_agent: str | None
    created_at: Timestamp


class QuarantineList(ResponseModel):
    data: list[QuarantinedOut]


class Released(ResponseModel):
    id: str
    lead_id: str | None = None
    outcome: Literal["created", "merged", "duplicate"]


class SubmissionReceived(ResponseModel):
    """What a visitor's browser is told: the same whether the lead is new, a duplicate or held
    for review, so a form can never tell anybody whether an e-mail is known."""

    status: Literal["received"] = "received"
    message: str
    redirect_url: str | None
