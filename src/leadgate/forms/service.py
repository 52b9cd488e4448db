"""The rules of web forms: their settings and audit trail, and what a visitor's submission may
do — which origins may post it, how it becomes a lead (through `leads.service`, as the API
does), which submissions are held in quarantine, and what the browser is told."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import altcha
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import audit
from leadgate.auth.principal import Principal
from leadgate.errors import ApiError, DuplicateLead, InvalidRequest, NotFound, validation_details
from leadgate.forms import captcha, mail
from leadgate.forms.repository import (
    ConfirmationLookupRepository,
    ConfirmationRepository,
    ConsentRepository,
    FormRepository,
    PublicFormRepository,
    QuarantineRepository,
)
from leadgate.forms.schemas import (
    DEFAULT_MESSAGE,
    LEAD_FIELDS,
    FormCreate,
    FormField,
    FormFieldOut,
    FormOut,
    FormSpam,
    FormSpamOut,
    FormUpdate,
    FormUrls,
    QuarantinedOut,
    Released,
    SubmissionReceived,
    check_asks_for_email,
    check_names_a_lead,
    default_type,
)
from leadgate.ids import new_id
from leadgate.leads import service as leads
from leadgate.leads.schemas import Attribution, LeadCreate
from leadgate.models import (
    LeadConsent,
    PendingConfirmation,
    QuarantinedSubmission,
    Tenant,
    WebForm,
    utcnow,
)
from leadgate.settings import Settings
from leadgate.tenants.repository import TeamRepository, TenantRepository

FORM_TARGET = "form"
HONEYPOT_FIELD = "_lg_hp"
PROOF_FIELD = "altcha"  # the ALTCHA widget's field name
TOKEN_FIELD = "_lg_ts"  # noqa: S105 - a field name, not a secret


class OriginNotAllowed(ApiError):
    status_code = 403
    code = "origin_not_allowed"


class FormNotFound(NotFound):
    code = "form_not_found"


# --- the form's settings ---------------------------------------------------------------------


def form_out(form: WebForm, settings: Settings) -> FormOut:
    base = settings.public_url.rstrip("/")
    return FormOut(
        id=form.id,
        name=form.name,
        fields=[
            FormFieldOut(
                name=f["name"],
                label=f["label"],
                required=bool(f.get("required")),
                type=f.get("type") or default_type(f["name"]),
            )
            for f in form.fields
        ],
        hidden_fields=form.hidden_fields,
        tags=form.tags,
        team_id=form.team_id,
        allowed_origins=form.allowed_origins,
        redirect_url=form.redirect_url,
        success_message=form.success_message,
        spam=FormSpamOut(
            honeypot=bool(form.spam.get("honeypot", True)),
            min_fill_seconds=int(form.spam.get("minFillSeconds", 0)),
            proof_of_work=proof_of_work_on(form),
            captcha=form.spam.get("captcha"),
            captcha_site_key=form.spam.get("captchaSiteKey"),
        ),
        enabled=form.enabled,
        consent_text=form.consent_text,
        consent_version=form.consent_version,
        double_opt_in=form.double_opt_in,
        urls=FormUrls(
            submit=f"{base}/f/{form.id}",
            hosted=f"{base}/f/{form.id}",
            script=f"{base}/static/forms/leadgate-form.js",
        ),
        created_at=form.created_at,
        updated_at=form.updated_at,
    )


def _snapshot(form: WebForm) -> dict[str, Any]:
    return {
        "name": form.name,
        "fields": form.fields,
        "hiddenFields": form.hidden_fields,
        "tags": form.tags,
        "teamId": form.team_id,
        "allowedOrigins": form.allowed_origins,
        "redirectUrl": form.redirect_url,
        "successMessage": form.success_message,
        "spam": form.spam,
        "enabled": form.enabled,
        "consentText": form.consent_text,
        "consentVersion": form.consent_version,
        "doubleOptIn": form.double_opt_in,
    }


async def _check_team(session: AsyncSession, tenant_id: str, team_id: str | None) -> None:
    if team_id is not None and not await TeamRepository(session, tenant_id).existing_ids([team_id]):
        raise InvalidRequest(
            "Unknown team.",
            details=[{"field": "teamId", "message": f"no team {team_id}", "type": "not_found"}],
        )


def _check_mail(settings: Settings, double_opt_in: bool | None) -> None:
    if double_opt_in and not mail.configured(settings):
        raise InvalidRequest(
            "Double opt-in needs this server to send e-mail (LEADGATE_SMTP_HOST).",
            details=[{"field": "doubleOptIn", "message": "no SMTP server", "type": "unavailable"}],
        )


def _check_captcha(settings: Settings, spam: FormSpam | None) -> None:
    if (
        spam is not None
        and spam.captcha is not None
        and not captcha.configured(settings, spam.captcha)
    ):
        raise InvalidRequest(
            f"This server has no {spam.captcha} secret configured.",
            details=[
                {"field": "spam.captcha", "message": "not configured here", "type": "unavailable"}
            ],
        )


async def create_form(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    data: FormCreate,
    actor: dict[str, Any],
) -> WebForm:
    _check_captcha(settings, data.spam)
    _check_mail(settings, data.double_opt_in)
    await _check_team(session, tenant_id, data.team_id)
    now = utcnow()
    spam: dict[str, Any] = (data.spam or FormSpam()).model_dump(by_alias=True)
    form = WebForm(
        id=new_id("form"),
        tenant_id=tenant_id,
        name=data.name,
        fields=[f.model_dump(by_alias=True, exclude_none=True) for f in data.fields],
        hidden_fields=data.hidden_fields or {},
        tags=data.tags or [],
        team_id=data.team_id,
        allowed_origins=data.allowed_origins or [],
        redirect_url=data.redirect_url,
        success_message=data.success_message or DEFAULT_MESSAGE,
        spam=spam,
        enabled=True if data.enabled is None else data.enabled,
        consent_text=data.consent_text or "",
        consent_version=1 if data.consent_text else 0,
        double_opt_in=bool(data.double_opt_in),
        created_at=now,
        updated_at=now,
    )
    FormRepository(session, tenant_id).add(form)
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="form.created",
        actor=actor,
        target_type=FORM_TARGET,
        target_id=form.id,
        after=_snapshot(form),
    )
    return form


async def get_form(session: AsyncSession, tenant_id: str, form_id: str) -> WebForm:
    form = await FormRepository(session, tenant_id).get(form_id)
    if form is None:
        raise NotFound(f"No form {form_id}.")
    return form


async def list_forms(session: AsyncSession, tenant_id: str) -> Sequence[WebForm]:
    return await FormRepository(session, tenant_id).list()


async def update_form(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    form_id: str,
    data: FormUpdate,
    actor: dict[str, Any],
) -> WebForm:
    form = await get_form(session, tenant_id, form_id)
    _check_captcha(settings, data.spam)
    _check_mail(settings, data.double_opt_in)
    before = _snapshot(form)
    given = data.model_fields_set
    for name in ("name", "success_message", "enabled"):
        if name in given and getattr(data, name) is None:
            raise InvalidRequest(
                f"{name} cannot be null.",
                details=[{"field": name, "message": "may not be null", "type": "null"}],
            )
    if "team_id" in given:
        await _check_team(session, tenant_id, data.team_id)
        form.team_id = data.team_id
    if data.name is not None:
        form.name = data.name
    if data.fields is not None:
        form.fields = [f.model_dump(by_alias=True, exclude_none=True) for f in data.fields]
    if "hidden_fields" in given:
        form.hidden_fields = data.hidden_fields or {}
    if "tags" in given:
        form.tags = data.tags or []
    if "allowed_origins" in given:
        form.allowed_origins = data.allowed_origins or []
    if "redirect_url" in given:
        form.redirect_url = data.redirect_url
    if data.success_message is not None:
        form.success_message = data.success_message
    if data.spam is not None:
        form.spam = data.spam.model_dump(by_alias=True)
    if data.enabled is not None:
        form.enabled = data.enabled
    if data.consent_text is not None and data.consent_text != form.consent_text:
        form.consent_text = data.consent_text
        form.consent_version += 1
    if data.double_opt_in is not None:
        form.double_opt_in = data.double_opt_in
    try:
        fields = [FormField.model_validate(f) for f in form.fields]
        check_names_a_lead(fields, form.hidden_fields)
        if form.double_opt_in:
            check_asks_for_email(fields)
    except ValueError as error:
        raise InvalidRequest(
            str(error), details=[{"field": "fields", "message": str(error), "type": "value_error"}]
        ) from None
    after = _snapshot(form)
    if after != before:
        form.updated_at = utcnow()
        await audit.record(
            session,
            tenant_id=tenant_id,
            action="form.updated",
            actor=actor,
            target_type=FORM_TARGET,
            target_id=form.id,
            before=before,
            after=after,
        )
    return form


async def delete_form(
    session: AsyncSession, *, tenant_id: str, form_id: str, actor: dict[str, Any]
) -> None:
    form = await get_form(session, tenant_id, form_id)
    before = _snapshot(form)
    await FormRepository(session, tenant_id).delete(form_id)
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="form.deleted",
        actor=actor,
        target_type=FORM_TARGET,
        target_id=form_id,
        before=before,
    )


# --- a visitor's submission ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublicForm:
    form: WebForm
    tenant: Tenant


@dataclass(frozen=True, slots=True)
class Visitor:
    """What the request says about who posted, from where."""

    address: str | None
    user_agent: str | None
    origin: str | None  # the Origin header, or the Referer's origin
    referer: str | None = None


async def public_form(session: AsyncSession, form_id: str) -> PublicForm:
    """An enabled form by its public id; a disabled or unknown one is the same 404."""
    found = (
        await PublicFormRepository(session).find(form_id) if form_id.startswith("form_") else None
    )
    if found is None or not found[0].enabled:
        raise FormNotFound("No such form.")
    return PublicForm(*found)


def origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def own_origins(settings: Settings, request_origin: str) -> set[str]:
    """leadgate's own origins: where the hosted page is served from."""
    return {o for o in (origin_of(settings.public_url), request_origin) if o}


def check_origin(form: WebForm, visitor: Visitor, own: set[str]) -> None:
    """A post must come from one of the form's origins, or from the hosted page. A post that
    names no origin at all (no `Origin`, no `Referer`) is refused too: browsers send one."""
    if visitor.origin is None:
        raise OriginNotAllowed("This form accepts posts only from its own pages (no Origin).")
    if visitor.origin not in own and visitor.origin not in form.allowed_origins:
        raise OriginNotAllowed(f"This form does not accept posts from {visitor.origin}.")


def cors_origin(form: WebForm, origin: str | None) -> str | None:
    """The origin to name in `Access-Control-Allow-Origin`, if the form allows it."""
    return origin if origin is not None and origin in form.allowed_origins else None


def fill_token(settings: Settings, form_id: str, issued_at: int | None = None) -> str:
    """`<unix time>.<HMAC>`: when the form was handed out, signed so a bot cannot backdate it."""
    issued = int(time.time()) if issued_at is None else issued_at
    return f"{issued}.{_token_mac(settings, form_id, issued)}"


def _token_mac(settings: Settings, form_id: str, issued: int) -> str:
    message = f"form-fill:{form_id}:{issued}".encode()
    return hmac.new(settings.secret_bytes, message, hashlib.sha256).hexdigest()[:32]


def fill_seconds(settings: Settings, form_id: str, token: Any) -> float | None:
    """Seconds since the token was issued; None when it is missing, forged or from the future."""
    if not isinstance(token, str) or "." not in token:
        return None
    issued_text, mac = token.split(".", 1)
    if not issued_text.isdigit() or len(issued_text) > 12:
        return None
    issued = int(issued_text)
    if not hmac.compare_digest(mac, _token_mac(settings, form_id, issued)):
        return None
    age = time.time() - issued
    return age if age >= 0 else None


def proof_of_work_on(form: WebForm) -> bool:
    return bool(form.spam.get("proofOfWork", True))


def _pow_secret(settings: Settings) -> bytes:
    return hmac.new(settings.secret_bytes, b"leadgate-form-proof-of-work", "sha256").digest()


def proof_of_work_challenge(settings: Settings, form_id: str) -> dict[str, Any]:
    """An ALTCHA challenge bound to this form, signed with a key derived from the server secret."""
    challenge = altcha.create_challenge(
        algorithm="SHA-256",
        cost=settings.forms_proof_of_work_cost,
        key_prefix="00",
        expires_at=int(time.time()) + settings.forms_proof_of_work_seconds,
        data={"formId": form_id},
        hmac_secret=_pow_secret(settings),
    )
    result: dict[str, Any] = challenge.to_dict()
    return result


FirstUse = Callable[[str], Awaitable[bool]]


async def proof_of_work_done(
    settings: Settings, form_id: str, payload: Any, first_use: FirstUse
) -> bool:
    """Whether `payload` solves an unexpired challenge issued for this form, presented for the
    first time (a bot may not solve once and post the solution again)."""
    if not isinstance(payload, str) or not payload or len(payload) > 4000:
        return False
    try:
        verified = altcha.verify_solution(payload, _pow_secret(settings)).verified
        parsed = altcha.Payload.from_base64(payload).to_dict()
    except (ValueError, TypeError, KeyError, AttributeError):
        return False
    challenge = parsed.get("challenge", {})
    data = challenge.get("parameters", {}).get("data") or {}
    if not verified or data.get("formId") != form_id:
        return False
    return await first_use(str(challenge.get("signature", "")))


async def spam_reasons(
    settings: Settings,
    form: WebForm,
    payload: dict[str, Any],
    visitor: Visitor,
    first_use: FirstUse,
) -> list[str]:
    """Why a submission looks like a bot's (empty: it does not)."""
    reasons = []
    spam = form.spam
    if spam.get("honeypot", True) and payload.get(HONEYPOT_FIELD):
        reasons.append("honeypot")
    minimum = int(spam.get("minFillSeconds", 0))
    if minimum:
        age = fill_seconds(settings, form.id, payload.get(TOKEN_FIELD))
        if age is None:
            reasons.append("no_fill_token")
        elif age < minimum:
            reasons.append("too_fast")
    if proof_of_work_on(form) and not await proof_of_work_done(
        settings, form.id, payload.get(PROOF_FIELD), first_use
    ):
        reasons.append("no_proof_of_work")
    provider = spam.get("captcha")
    if provider and not await captcha.verify(
        settings, provider, payload.get(captcha.PROVIDERS[provider].field), visitor.address
    ):
        reasons.append("captcha_failed")
    return reasons


# Query parameters a touch records, and their names in the lead's attribution.
TOUCH_PARAMS = {
    "utm_source": "utmSource", "utm_medium": "utmMedium", "utm_campaign": "utmCampaign",
    "utm_term": "utmTerm", "utm_content": "utmContent", "gclid": "gclid", "fbclid": "fbclid",
    "msclkid": "msclkid",
}  # fmt: skip
LANDING_FIELD = "_lg_landing"
CONSENT_FIELD = "consent"
AGREED = ("on", "true", "1", "yes")
REFERRER_FIELD = "_lg_referrer"


def touch_of(url: str, referrer: str | None = None) -> dict[str, str]:
    """A visit to `url`: its campaign parameters and click ids, the page itself and where the
    visitor came from (cut to the lengths a lead stores)."""
    touch = {
        TOUCH_PARAMS[name]: value[:255]
        for name, value in parse_qsl(urlsplit(url).query)
        if name in TOUCH_PARAMS and value
    }
    touch["landingPage"] = url[:2048]
    if referrer:
        touch["referrer"] = referrer[:2048]
    return touch


def attribution_of(payload: dict[str, Any], referer: str | None) -> dict[str, Any] | None:
    """Where the visitor came from: the embed script's first and last touch; the hosted page's
    own URL and referrer (hidden fields it was served with); or, for a plain form on a client's
    page, that page (the post's `Referer`). Anything unusable is left out, never an error."""
    given = payload.get("attribution")
    candidate: Any = None
    if isinstance(given, dict):
        candidate = given
    else:
        landing = payload.get(LANDING_FIELD)
        referrer = payload.get(REFERRER_FIELD)
        touch = None
        if isinstance(landing, str) and origin_of(landing):
            touch = touch_of(landing, referrer if isinstance(referrer, str) else None)
        elif referer and origin_of(referer):
            touch = touch_of(referer)
        if touch is not None:
            candidate = {"firstTouch": touch, "lastTouch": touch}
    if candidate is None:
        return None
    try:
        checked = Attribution.model_validate(candidate)
    except ValidationError:
        return None
    dumped: dict[str, Any] = checked.model_dump(by_alias=True, exclude_none=True)
    return dumped or None


def lead_input(
    form: WebForm, payload: dict[str, Any], referer: str | None = None
) -> dict[str, Any]:
    """The lead as `POST /leads` would receive it: the form's own fields from the payload,
    then its hidden fields and tags (which a visitor cannot override), and where the visitor
    came from."""
    errors: list[dict[str, Any]] = []
    body: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for field in form.fields:
        name = field["name"]
        raw = payload.get(name)
        if isinstance(raw, list):
            raw = raw[0] if raw else None
        value = raw.strip() if isinstance(raw, str) else raw
        if value in (None, ""):
            if field.get("required"):
                errors.append(
                    {"field": name, "message": f"{field['label']} is required.", "type": "missing"}
                )
            continue
        if not isinstance(value, str):
            errors.append({"field": name, "message": "Must be text.", "type": "string_type"})
            continue
        if name in LEAD_FIELDS:
            body[name] = value
        else:
            custom[name] = value
    if form.consent_text and str(payload.get(CONSENT_FIELD, "")).lower() not in AGREED:
        errors.append(
            {"field": CONSENT_FIELD, "message": "Please agree to continue.", "type": "missing"}
        )
    if errors:
        raise InvalidRequest("Some fields need attention.", details=errors)
    for name, value in form.hidden_fields.items():
        if name in LEAD_FIELDS:
            body[name] = value
        else:
            custom[name] = value
    if custom:
        body["customFields"] = custom
    if form.tags:
        body["tags"] = list(form.tags)
    if form.team_id:
        body["teamId"] = form.team_id
    body["requestSource"] = "web_form"
    attribution = attribution_of(payload, referer)
    if attribution:
        body["attribution"] = attribution
    return body


def validated_lead(form: WebForm, tenant: Tenant, body: dict[str, Any]) -> LeadCreate:
    """`LeadCreate` from the form's body; errors name the form's own fields."""
    labels = {f["name"]: f["label"] for f in form.fields}
    try:
        return LeadCreate.model_validate(body, context={"phone_region": _region(tenant)})
    except ValidationError as error:
        details = validation_details(error.errors())
        for detail in details:
            name = str(detail["field"] or "")
            name = name.removeprefix("customFields.")
            detail["field"] = name or None
            if name in labels:
                detail["message"] = f"{labels[name]}: {detail['message']}"
        raise InvalidRequest("Some fields need attention.", details=details) from None


def _region(tenant: Tenant) -> str:
    return tenant.phone_region or "US"


def form_principal(form: WebForm, tenant: Tenant) -> Principal:
    """The caller a form is: it may create leads (and the tags it names) in its tenant."""
    return Principal(
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        api_key_id=form.id,
        api_key_name=form.name,
        scopes=frozenset({"leads:write", "tags:write"}),
        phone_region=tenant.phone_region,
        duplicate_policy=tenant.duplicate_policy,
        plan=tenant.plan,
    )


def form_actor(form: WebForm) -> dict[str, Any]:
    return {"type": "form", "id": form.id, "name": form.name}


async def submit(
    session: AsyncSession,
    settings: Settings,
    public: PublicForm,
    payload: dict[str, Any],
    visitor: Visitor,
    first_use: FirstUse,
) -> SubmissionReceived:
    """Creates the lead, or holds a suspect submission in quarantine. The answer is the same
    either way, and for a duplicate too."""
    form, tenant = public.form, public.tenant
    data = validated_lead(form, tenant, lead_input(form, payload, visitor.referer))
    received = SubmissionReceived(message=form.success_message, redirect_url=form.redirect_url)
    reasons = await spam_reasons(settings, form, payload, visitor, first_use)
    consent = consent_given(form, payload, visitor)
    if reasons:
        QuarantineRepository(session, tenant.id).add(
            QuarantinedSubmission(
                id=new_id("fsub"),
                tenant_id=tenant.id,
                form_id=form.id,
                lead=body_of(data),
                consent=consent,
                reasons=reasons,
                client_address=visitor.address,
                user_agent=(visitor.user_agent or "")[:500] or None,
                created_at=utcnow(),
            )
        )
        return received
    if form.double_opt_in and data.email:
        await _ask_to_confirm(session, settings, form, tenant, data, consent)
        return received
    created = await _create(session, form, tenant, data)
    await _record_consent(session, tenant.id, created.lead_id, form.id, consent)
    return received


def consent_given(
    form: WebForm, payload: dict[str, Any], visitor: Visitor
) -> dict[str, Any] | None:
    """The consent record of a submission (its agreement was checked with the fields)."""
    if not form.consent_text:
        return None
    page = payload.get(LANDING_FIELD) if isinstance(payload.get(LANDING_FIELD), str) else None
    return {
        "version": form.consent_version,
        "text": form.consent_text,
        "givenAt": utcnow().isoformat(),
        "address": visitor.address,
        "userAgent": (visitor.user_agent or "")[:500] or None,
        "pageUrl": (visitor.referer or page or "")[:2048] or None,
    }


async def _record_consent(
    session: AsyncSession,
    tenant_id: str,
    lead_id: str | None,
    form_id: str,
    consent: dict[str, Any] | None,
    confirmed_at: datetime | None = None,
) -> None:
    if consent is None or lead_id is None:
        return
    ConsentRepository(session, tenant_id).add(
        LeadConsent(
            id=new_id("cons"),
            tenant_id=tenant_id,
            lead_id=lead_id,
            form_id=form_id,
            version=int(consent["version"]),
            text=str(consent["text"]),
            given_at=datetime.fromisoformat(consent["givenAt"]),
            client_address=consent.get("address"),
            user_agent=consent.get("userAgent"),
            page_url=consent.get("pageUrl"),
            confirmed_at=confirmed_at,
        )
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _ask_to_confirm(
    session: AsyncSession,
    settings: Settings,
    form: WebForm,
    tenant: Tenant,
    data: LeadCreate,
    consent: dict[str, Any] | None,
) -> None:
    """Holds the lead and e-mails the visitor a link that creates it. The mail goes out before
    the request commits: when it cannot be sent, nothing is kept (503)."""
    assert data.email is not None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    ConfirmationRepository(session, tenant.id).add(
        PendingConfirmation(
            id=new_id("fcnf"),
            tenant_id=tenant.id,
            form_id=form.id,
            token_hash=_token_hash(token),
            email=data.email,
            lead=body_of(data),
            consent=consent,
            expires_at=now + timedelta(hours=settings.forms_confirmation_hours),
            created_at=now,
        )
    )
    link = f"{settings.public_url.rstrip('/')}/f/confirm?token={token}"
    message = mail.confirmation_message(
        settings,
        to=data.email,
        form_name=form.name,
        link=link,
        hours=settings.forms_confirmation_hours,
    )
    await mail.send(settings, message)


async def confirm(session: AsyncSession, token: str) -> tuple[WebForm, bool]:
    """Opens a double opt-in link: the held lead is created now (`lead.created` fires) with its
    consent, marked confirmed (True). An expired link removes what it held (False)."""
    pending = None
    if 20 <= len(token) <= 100:
        pending = await ConfirmationLookupRepository(session).by_token_hash(_token_hash(token))
    if pending is None:
        raise NotFound("This confirmation link is not valid, or was used already.")
    tenant = await TenantRepository(session).by_id(pending.tenant_id)
    form = await FormRepository(session, pending.tenant_id).get(pending.form_id)
    if tenant is None or form is None:  # pragma: no cover - both cascade to the row
        raise NotFound("This confirmation link is not valid, or was used already.")
    await ConfirmationRepository(session, tenant.id).delete(pending.id)
    if pending.expires_at <= utcnow():
        return form, False
    data = LeadCreate.model_validate(pending.lead, context={"phone_region": _region(tenant)})
    created = await _create(session, form, tenant, data)
    await _record_consent(
        session, tenant.id, created.lead_id, form.id, pending.consent, confirmed_at=utcnow()
    )
    return form, True


def body_of(data: LeadCreate) -> dict[str, Any]:
    return data.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)


async def _create(
    session: AsyncSession, form: WebForm, tenant: Tenant, data: LeadCreate
) -> Released:
    """The lead through `leads.service.create_lead`; a duplicate under the tenant's `reject`
    policy is recorded on the existing lead's history instead of being reported."""
    try:
        result = await leads.create_lead(
            session,
            form_principal(form, tenant),
            data,
            request_source="web_form",
            created_by=form_actor(form),
        )
    except DuplicateLead as duplicate:
        existing = (duplicate.extra or {}).get("existingLeadId")
        await audit.record(
            session,
            tenant_id=tenant.id,
            action="lead.form_resubmitted",
            actor=form_actor(form),
            target_type="lead",
            target_id=existing,
            after={"formId": form.id, "submitted": body_of(data)},
        )
        return Released(id=form.id, lead_id=existing, outcome="duplicate")
    return Released(id=form.id, lead_id=result.lead.id, outcome=result.outcome)


# --- the quarantine --------------------------------------------------------------------------


def quarantined_out(submission: QuarantinedSubmission) -> QuarantinedOut:
    return QuarantinedOut.model_validate(submission)


async def list_quarantine(
    session: AsyncSession, tenant_id: str, *, form_id: str | None = None, limit: int = 100
) -> Sequence[QuarantinedSubmission]:
    return await QuarantineRepository(session, tenant_id).list(form_id=form_id, limit=limit)


async def _quarantined(
    session: AsyncSession, tenant_id: str, submission_id: str
) -> QuarantinedSubmission:
    submission = await QuarantineRepository(session, tenant_id).get(submission_id)
    if submission is None:
        raise NotFound(f"No quarantined submission {submission_id}.")
    return submission


async def release(
    session: AsyncSession, *, tenant_id: str, submission_id: str, actor: dict[str, Any]
) -> Released:
    """Creates the held lead now (its `lead.created` event fires) and drops the submission."""
    tenant = await TenantRepository(session).by_id(tenant_id)
    if tenant is None:
        raise NotFound(f"No tenant {tenant_id}.")
    submission = await _quarantined(session, tenant.id, submission_id)
    form = await get_form(session, tenant.id, submission.form_id)
    data = LeadCreate.model_validate(submission.lead, context={"phone_region": _region(tenant)})
    created = await _create(session, form, tenant, data)
    await _record_consent(session, tenant.id, created.lead_id, form.id, submission.consent)
    await QuarantineRepository(session, tenant.id).delete(submission.id)
    await audit.record(
        session,
        tenant_id=tenant.id,
        action="form_submission.released",
        actor=actor,
        target_type="form_submission",
        target_id=submission.id,
        after={"formId": form.id, "leadId": created.lead_id, "outcome": created.outcome},
    )
    return Released(id=submission.id, lead_id=created.lead_id, outcome=created.outcome)


async def delete_quarantined(
    session: AsyncSession, *, tenant_id: str, submission_id: str, actor: dict[str, Any]
) -> None:
    submission = await _quarantined(session, tenant_id, submission_id)
    await QuarantineRepository(session, tenant_id).delete(submission.id)
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="form_submission.deleted",
        actor=actor,
        target_type="form_submission",
        target_id=submission.id,
        before={"formId": submission.form_id, "reasons": submission.reasons},
    )
