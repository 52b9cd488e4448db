"""What visitors reach without any key: a form's hosted page, its submit URL (with CORS for the
form's origins) and the thank-you page. HTTP only; the rules are in `forms.service`."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from leadgate.db import Session
from leadgate.errors import ApiError, InvalidRequest
from leadgate.forms import captcha, service
from leadgate.forms.schemas import default_type
from leadgate.models import WebForm
from leadgate.payload import JSON_TYPES, MAX_FORM_FIELDS, find_nul, media_type, read_payload
from leadgate.ratelimit.service import RateLimiter
from leadgate.responses import JsonResponse
from leadgate.web import client_ip, get_settings

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(files("leadgate") / "templates"))

MULTIPART = "multipart/form-data"
PREFLIGHT_MAX_AGE = "600"


def _visitor(request: Request) -> service.Visitor:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        origin = service.origin_of(request.headers.get("referer")) if origin is None else None
    else:
        origin = service.origin_of(origin)
    return service.Visitor(
        address=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        origin=origin,
        referer=request.headers.get("referer"),
    )


def _own_origins(request: Request) -> set[str]:
    host = request.headers.get("host", "")
    return service.own_origins(get_settings(request), f"{request.url.scheme}://{host}".lower())


def _wants_json(request: Request) -> bool:
    kind = media_type(request)
    return kind in JSON_TYPES or "application/json" in request.headers.get("accept", "")


def _cors(form: WebForm, visitor: service.Visitor) -> dict[str, str]:
    allowed = service.cors_origin(form, visitor.origin)
    if allowed is None:
        return {"Vary": "Origin"}
    return {"Access-Control-Allow-Origin": allowed, "Vary": "Origin"}


def page_policy(form: WebForm | None) -> str:
    """The hosted pages' CSP: leadgate's own files only; framed only by the form's origins."""
    ancestors = " ".join(["'self'", *(form.allowed_origins if form else [])])
    # A plain post's 303 to the redirect URL is a form action too, for the browser.
    redirect = service.origin_of(form.redirect_url) if form else None
    actions = " ".join(["'self'", *([redirect] if redirect else [])])
    provider = captcha.PROVIDERS.get(str(form.spam.get("captcha"))) if form else None
    third = " ".join(provider.origins) if provider else ""
    policy = (
        f"default-src 'none'; script-src 'self' {third}; style-src 'self'; "
        f"img-src 'self' data:; connect-src 'self' {third}; form-action {actions}; "
        f"base-uri 'none'; frame-ancestors {ancestors}"
    )
    if provider:
        policy += f"; frame-src {third}"
    return policy.replace("  ", " ").replace(" ;", ";")


def _fields(form: WebForm) -> list[dict[str, Any]]:
    return [
        {**f, "type": f.get("type") or default_type(f["name"]), "required": bool(f.get("required"))}
        for f in form.fields
    ]


def _page(
    request: Request,
    form: WebForm,
    *,
    status_code: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
) -> HTMLResponse:
    settings = get_settings(request)
    response = templates.TemplateResponse(
        request,
        "forms/page.html",
        {
            "form": form,
            "fields": _fields(form),
            "values": values or {},
            "errors": errors or {},
            "message": message,
            "token": service.fill_token(settings, form.id),
            "honeypot": form.spam.get("honeypot", True),
            "honeypot_field": service.HONEYPOT_FIELD,
            "token_field": service.TOKEN_FIELD,
            "proof_of_work": service.proof_of_work_on(form),
            # Where the visitor landed and came from, posted back with the form.
            "landing": (values or {}).get(service.LANDING_FIELD, str(request.url)),
            "referrer": (values or {}).get(
                service.REFERRER_FIELD, request.headers.get("referer", "")
            ),
            "landing_field": service.LANDING_FIELD,
            "referrer_field": service.REFERRER_FIELD,
            "captcha": captcha.PROVIDERS.get(str(form.spam.get("captcha"))),
            "captcha_site_key": form.spam.get("captchaSiteKey"),
        },
        status_code=status_code,
    )
    _page_headers(response, form)
    return response


def _message_page(
    request: Request, form: WebForm | None, title: str, text: str, status_code: int
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        "forms/message.html",
        {"title": title, "text": text, "form": form},
        status_code=status_code,
    )
    _page_headers(response, form)
    return response


def _page_headers(response: Response, form: WebForm | None) -> None:
    response.headers["Content-Security-Policy"] = page_policy(form)
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers["Cache-Control"] = "no-store"


@router.get("/f/confirm", response_class=HTMLResponse)
async def confirm(request: Request, session: Session, token: str = "") -> HTMLResponse:
    """A double opt-in link (its token is redacted from the access log like any `token`)."""
    try:
        form, confirmed = await service.confirm(session, token)
    except ApiError as error:
        return _message_page(request, None, "Link not valid", error.message, error.status_code)
    if not confirmed:
        text = "This link has expired. Please send the form again."
        return _message_page(request, form, "Link expired", text, 410)
    return _message_page(request, form, "E-mail address confirmed", form.success_message, 200)


@router.get("/f/{form_id}", response_class=HTMLResponse)
async def hosted_page(request: Request, form_id: str, session: Session) -> HTMLResponse:
    try:
        public = await service.public_form(session, form_id)
    except ApiError as error:
        return _message_page(request, None, "Form not found", error.message, error.status_code)
    return _page(request, public.form)


@router.get("/f/{form_id}/thanks", response_class=HTMLResponse)
async def thanks(request: Request, form_id: str, session: Session) -> HTMLResponse:
    try:
        public = await service.public_form(session, form_id)
    except ApiError as error:
        return _message_page(request, None, "Form not found", error.message, error.status_code)
    return _message_page(request, public.form, "Thank you", public.form.success_message, 200)


@router.get("/f/{form_id}/token")
async def fill_token(request: Request, form_id: str, session: Session) -> JsonResponse:
    """A signed timestamp for the embed script: when the visitor started on the form."""
    public = await service.public_form(session, form_id)
    visitor = _visitor(request)
    headers = {**_cors(public.form, visitor), "Cache-Control": "no-store"}
    token = service.fill_token(get_settings(request), public.form.id)
    proof = service.proof_of_work_on(public.form)
    return JsonResponse({"token": token, "proofOfWork": proof}, headers=headers)


@router.get("/f/{form_id}/challenge")
async def proof_of_work_challenge(request: Request, form_id: str, session: Session) -> JsonResponse:
    """An ALTCHA proof-of-work challenge for this form (the widget fetches it)."""
    public = await service.public_form(session, form_id)
    headers = {**_cors(public.form, _visitor(request)), "Cache-Control": "no-store"}
    challenge = service.proof_of_work_challenge(get_settings(request), public.form.id)
    return JsonResponse(challenge, headers=headers)


@router.options("/f/{form_id}")
@router.options("/f/{form_id}/token")
@router.options("/f/{form_id}/challenge")
async def preflight(request: Request, form_id: str, session: Session) -> Response:
    """CORS preflight: answered only for the form's allowed origins."""
    public = await service.public_form(session, form_id)
    visitor = _visitor(request)
    allowed = service.cors_origin(public.form, visitor.origin)
    if allowed is None:
        raise service.OriginNotAllowed(
            f"This form does not accept posts from {visitor.origin or 'an unknown origin'}."
        )
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": allowed,
            "Access-Control-Allow-Methods": "POST, GET",
            "Access-Control-Allow-Headers": "Content-Type, Accept",
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            "Vary": "Origin",
        },
    )


async def _submission(request: Request) -> dict[str, Any]:
    """The body as a flat dict: JSON, an urlencoded form, or a multipart form without files."""
    if media_type(request) != MULTIPART:
        return dict(await read_payload(request))
    try:
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    except HTTPException:
        raise InvalidRequest(
            "A form may not carry files, and at most 1000 fields.",
            details=[{"field": None, "message": "files are not accepted", "type": "multipart"}],
        ) from None
    data: dict[str, Any] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):  # pragma: no cover - refused by max_files=0
            raise InvalidRequest("A form may not carry files.")
        data.setdefault(name, value)
    nul_at = find_nul(data)
    if nul_at is not None:
        raise InvalidRequest(
            "Text may not contain NUL characters.",
            details=[{"field": nul_at, "message": "contains U+0000", "type": "nul"}],
        )
    return data


async def _discard(session: Session) -> None:
    session.expunge_all()
    await session.rollback()


@router.post("/f/{form_id}")
async def submit(request: Request, form_id: str, session: Session) -> Response:
    """A visitor's submission. `fetch` (JSON body, or `Accept: application/json`) gets JSON;
    a plain HTML post gets a 303 to the redirect URL or the thank-you page, and its errors
    on the hosted page."""
    settings = get_settings(request)
    limiter: RateLimiter = request.app.state.rate_limiter
    visitor = _visitor(request)
    wants_json = _wants_json(request)
    public: service.PublicForm | None = None
    payload: dict[str, Any] = {}
    try:
        await limiter.admit_address(
            "formaddr", visitor.address, settings.forms_address_rate_limit_per_minute
        )
        public = await service.public_form(session, form_id)
        service.check_origin(public.form, visitor, _own_origins(request))
        await limiter.admit_address("form", public.form.id, settings.forms_rate_limit_per_minute)
        payload = await _submission(request)

        async def first_use(proof: str) -> bool:
            return await limiter.first_use("formpow", proof, settings.forms_proof_of_work_seconds)

        received = await service.submit(session, settings, public, payload, visitor, first_use)
    except ApiError as error:
        if public is not None:
            error.headers.update(_cors(public.form, visitor))
        if wants_json:
            raise
        if public is not None and isinstance(error, InvalidRequest) and error.details:
            # A plain post is answered on the hosted page, each message next to its field.
            # Nothing of the submission may be written; the loaded form and tenant are kept
            # out of the rollback (which would expire them) to render the page.
            await _discard(session)
            errors = {str(d["field"]): str(d["message"]) for d in error.details if d["field"]}
            return _page(
                request,
                public.form,
                status_code=400,
                values=payload,
                errors=errors,
                message=error.message,
            )
        await _discard(session)
        response = _message_page(
            request,
            public.form if public else None,
            "The form could not be sent",
            error.message,
            error.status_code,
        )
        response.headers.update(error.headers)
        return response
    if wants_json:
        return JsonResponse(
            received.model_dump(mode="json", by_alias=True), headers=_cors(public.form, visitor)
        )
    target = public.form.redirect_url or f"/f/{public.form.id}/thanks"
    return RedirectResponse(target, status_code=303)
