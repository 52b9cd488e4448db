"""The console's HTML forms, read from `application/x-www-form-urlencoded` bodies.

Fields are kept as the browser sent them (strings, lists of checkbox values); the services
check them and say what is wrong in words a person reads on the page.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict
from starlette.datastructures import FormData

from leadgate.api_keys.scopes import ALL_TEAMS

_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}", re.ASCII)


def whole_number(text: str, low: int, high: int) -> int | None:
    """A form field's whole number when it is ASCII digits in [low, high], else None.

    Not `str.isdigit()` then `int()`: isdigit() accepts superscripts and other scripts' digits
    that int() refuses, and int() refuses thousands of digits; nine digits bound the work."""
    value = text.strip()
    if not _WHOLE_NUMBER.fullmatch(value):
        return None
    number = int(value)
    return number if low <= number <= high else None


class Form(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=False, extra="ignore")

    @classmethod
    def read(cls, form: FormData) -> Self:
        values: dict[str, object] = {}
        for name, field in cls.model_fields.items():
            if field.annotation == list[str]:
                values[name] = [str(v) for v in form.getlist(name)]
            elif name in form:
                values[name] = str(form[name])
        return cls.model_validate(values)


class SignUpForm(Form):
    name: str = ""
    email: str = ""
    password: str = ""
    company: str = ""
    slug: str = ""


class SignInForm(Form):
    email: str = ""
    password: str = ""
    next: str = ""


class PasswordForm(Form):
    current: str = ""
    new: str = ""
    confirm: str = ""


class WorkspaceForm(Form):
    company: str = ""
    slug: str = ""


class SwitchTenantForm(Form):
    tenant_id: str = ""


class GenerateKeyForm(Form):
    name: str = ""
    scopes: list[str] = []
    expiration: str = "90"
    rate_limit: str = ""
    team_access: str = ALL_TEAMS
    team_ids: list[str] = []
    enforce_mtls: str = ""
    thumbprints: str = ""


class InviteForm(Form):
    role: str = "member"


class RoleForm(Form):
    role: str = ""


class AcceptInvitationForm(Form):
    name: str = ""
    email: str = ""
    password: str = ""


class EditKeyForm(Form):
    name: str = ""
    scopes: list[str] = []
    rate_limit: str | None = None  # absent from a member's form: the limit is not touched


class RollKeyForm(Form):
    grace_period: str = "0"  # at once, as the API and SmartLead do; a grace is opt-in


class LeadStatusForm(Form):
    status: str = ""


class LeadTagsForm(Form):
    tags: str = ""


class TagForm(Form):
    name: str = ""
    color: str = ""
    no_color: str = ""  # the colour picker always sends a value: this checkbox clears it


class EndpointForm(Form):
    url: str = ""
    description: str = ""
    event_types: list[str] = []


class EnableForm(Form):
    enabled: str = ""


class TesterForm(Form):
    event_type: str = "webhook.test"


class ReplayForm(Form):
    event_id: str = ""
