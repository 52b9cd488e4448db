"""The console's Forms pages: the tenant's web forms (list, create, edit), the three ways to
embed each one as copyable snippets, and the quarantine queue of suspect submissions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from leadgate.console.auth import InTenant, Manager, check_csrf
from leadgate.console.forms import Form
from leadgate.console.rendering import (
    invalid_fields,
    page_error,
    page_errors,
    redirect,
    refuse,
    render,
)
from leadgate.console.service import member_actor
from leadgate.db import Session
from leadgate.errors import ApiError
from leadgate.forms import service as forms
from leadgate.forms.schemas import FormCreate, FormUpdate
from leadgate.models import WebForm
from leadgate.settings import Settings
from leadgate.web import get_settings

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])

# What a form made in the console asks for; its fields can be changed through the API.
DEFAULT_FIELDS = [
    {"name": "firstName", "label": "First name", "required": True},
    {"name": "lastName", "label": "Last name", "required": True},
    {"name": "email", "label": "E-mail", "required": True, "type": "email"},
    {"name": "phone", "label": "Phone", "type": "tel"},
    {"name": "company", "label": "Company"},
    {"name": "message", "label": "Message", "type": "textarea"},
]


class WebFormForm(Form):
    name: str = ""
    allowed_origins: str = ""
    redirect_url: str = ""
    success_message: str = ""
    source: str = ""
    enabled: str = ""
    honeypot: str = ""
    proof_of_work: str = ""
    min_fill_seconds: str = "3"
    consent_text: str = ""
    double_opt_in: str = ""

    @classmethod
    def of(cls, form: WebForm) -> WebFormForm:
        return cls(
            name=form.name,
            allowed_origins="\n".join(form.allowed_origins),
            redirect_url=form.redirect_url or "",
            success_message=form.success_message,
            source=str(form.hidden_fields.get("source", "")),
            enabled="on" if form.enabled else "",
            honeypot="on" if form.spam.get("honeypot", True) else "",
            proof_of_work="on" if forms.proof_of_work_on(form) else "",
            min_fill_seconds=str(form.spam.get("minFillSeconds", 0)),
            consent_text=form.consent_text,
            double_opt_in="on" if form.double_opt_in else "",
        )

    def body(self, hidden: dict[str, Any]) -> dict[str, Any]:
        source = self.source.strip()
        hidden = {k: v for k, v in hidden.items() if k != "source"}
        if source:
            hidden["source"] = source
        seconds = self.min_fill_seconds.strip()
        message = self.success_message.strip()
        body: dict[str, Any] = {"successMessage": message} if message else {}
        return body | {
            "name": self.name.strip(),
            "allowedOrigins": [o.strip() for o in self.allowed_origins.split() if o.strip()],
            "redirectUrl": self.redirect_url.strip() or None,
            "hiddenFields": hidden,
            "enabled": self.enabled == "on",
            "consentText": self.consent_text.strip(),
            "doubleOptIn": self.double_opt_in == "on",
            "spam": {
                "honeypot": self.honeypot == "on",
                "proofOfWork": self.proof_of_work == "on",
                "minFillSeconds": int(seconds) if seconds.isdigit() else seconds,
            },
        }


def snippets(settings: Settings, form: WebForm) -> dict[str, str]:
    """The three ways to put the form in a page, as the console shows them to copy."""
    base = settings.public_url.rstrip("/")
    url = f"{base}/f/{form.id}"
    inputs = "\n".join(
        f'  <label>{f["label"]} <input name="{f["name"]}"'
        f"{' required' if f.get('required') else ''}></label>"
        for f in form.fields
    )
    return {
        "iframe": f'<iframe src="{url}" title="{form.name}" width="100%" height="640" '
        'style="border:0"></iframe>',
        "script": f'<form data-leadgate-form="{form.id}">\n{inputs}\n'
        '  <button type="submit">Send</button>\n</form>\n'
        f'<script src="{base}/static/forms/leadgate-form.js" defer></script>',
        "html": f'<form method="post" action="{url}">\n{inputs}\n'
        '  <button type="submit">Send</button>\n</form>',
    }


@router.get("/forms", include_in_schema=False)
async def forms_page(request: Request, session: Session, current: InTenant) -> Response:
    listed = await forms.list_forms(session, current.tenant.id)
    held = await forms.list_quarantine(session, current.tenant.id, limit=1)
    context = {"forms": listed, "form": WebFormForm(), "quarantined": bool(held)}
    return render(request, "console/web_forms.html", context)


@router.post("/forms", include_in_schema=False)
async def create_form(request: Request, session: Session, current: Manager) -> Response:
    posted = WebFormForm.read(await request.form())
    try:
        body = posted.body({})
        body["fields"] = DEFAULT_FIELDS
        try:
            data = FormCreate.model_validate(body)
        except ValidationError as error:
            raise invalid_fields(error) from None
        form = await forms.create_form(
            session, get_settings(request), tenant_id=current.tenant.id, data=data,
            actor=member_actor(current.user, current.role),
        )  # fmt: skip
    except ApiError as error:
        listed = await forms.list_forms(session, current.tenant.id)
        context = {"forms": listed, "form": posted, "quarantined": False}
        raise refuse(request, error, "console/web_forms.html", context) from None
    return redirect(f"/console/forms/{form.id}")


async def _form_context(
    request: Request, session: Session, current: InTenant, form_id: str
) -> dict[str, Any]:
    form = await forms.get_form(session, current.tenant.id, form_id)
    return {
        "web_form": form,
        "form": WebFormForm.of(form),
        "snippets": snippets(get_settings(request), form),
        "hosted_url": f"{get_settings(request).public_url.rstrip('/')}/f/{form.id}",
    }


@router.get("/forms/quarantine", include_in_schema=False)
async def quarantine_page(request: Request, session: Session, current: InTenant) -> Response:
    held = await forms.list_quarantine(session, current.tenant.id)
    names = {f.id: f.name for f in await forms.list_forms(session, current.tenant.id)}
    return render(request, "console/web_forms_quarantine.html", {"held": held, "names": names})


@router.post("/forms/quarantine/{submission_id}/release", include_in_schema=False)
async def release(
    request: Request, submission_id: str, session: Session, current: Manager
) -> Response:
    with page_errors():
        await forms.release(
            session, tenant_id=current.tenant.id, submission_id=submission_id,
            actor=member_actor(current.user, current.role),
        )  # fmt: skip
    return redirect("/console/forms/quarantine")


@router.post("/forms/quarantine/{submission_id}/delete", include_in_schema=False)
async def delete_quarantined(
    request: Request, submission_id: str, session: Session, current: Manager
) -> Response:
    with page_errors():
        await forms.delete_quarantined(
            session, tenant_id=current.tenant.id, submission_id=submission_id,
            actor=member_actor(current.user, current.role),
        )  # fmt: skip
    return redirect("/console/forms/quarantine")


@router.get("/forms/{form_id}", include_in_schema=False)
async def form_page(
    request: Request, form_id: str, session: Session, current: InTenant
) -> Response:
    with page_errors():
        context = await _form_context(request, session, current, form_id)
    return render(request, "console/web_form.html", context)


@router.post("/forms/{form_id}", include_in_schema=False)
async def update_form(
    request: Request, form_id: str, session: Session, current: Manager
) -> Response:
    posted = WebFormForm.read(await request.form())
    try:
        existing = await forms.get_form(session, current.tenant.id, form_id)
        try:
            data = FormUpdate.model_validate(posted.body(dict(existing.hidden_fields)))
        except ValidationError as error:
            raise invalid_fields(error) from None
        await forms.update_form(
            session, get_settings(request), tenant_id=current.tenant.id, form_id=form_id,
            data=data, actor=member_actor(current.user, current.role),
        )  # fmt: skip
    except ApiError as error:
        if error.status_code == 404:
            raise page_error(error) from None
        context = {**await _form_context(request, session, current, form_id), "form": posted}
        raise refuse(request, error, "console/web_form.html", context) from None
    return redirect(f"/console/forms/{form_id}")
