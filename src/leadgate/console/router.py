"""HTTP routes of the console: each handler reads its form, calls a service and renders a page."""

from __future__ import annotations

from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from leadgate.api_keys.scopes import ALL_SCOPES, EXPIRATION_DAYS
from leadgate.auth.dependencies import Session, client_ip, get_settings
from leadgate.console import service
from leadgate.console.auth import (
    AnyVisitor,
    ConsolePageError,
    ConsoleRedirect,
    InTenant,
    Manager,
    SignedIn,
    Visitor,
    check_csrf,
)
from leadgate.console.forms import (
    AcceptInvitationForm,
    GenerateKeyForm,
    InviteForm,
    PasswordForm,
    RoleForm,
    SignInForm,
    SignUpForm,
    SwitchTenantForm,
    WorkspaceForm,
)
from leadgate.console.security import (
    ANON_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    SecurityHeadersMiddleware,
    clear_cookie,
    set_cookie,
)
from leadgate.errors import ApiError
from leadgate.models import utcnow
from leadgate.settings import Settings
from leadgate.users import service as users
from leadgate.users.repository import InvitationRepository, MemberRepository

templates = Jinja2Templates(directory=str(files("leadgate") / "templates"))
router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])

SCOPE_LABELS = {
    "leads:read": "Read leads",
    "leads:write": "Create and update leads",
    "tags:read": "Read tags",
    "tags:write": "Manage tags",
    "keys:read": "Read API keys",
    "keys:write": "Manage API keys",
    "webhooks:read": "Read webhooks",
    "webhooks:write": "Manage webhooks",
    "usage:read": "Read usage",
    "users:read": "Read users",
}


class FormInvalid(Exception):
    """A form the service refused: the page is shown again and the transaction rolled back."""

    def __init__(self, response: Response) -> None:
        super().__init__("form invalid")
        self.response = response


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    settings = get_settings(request)
    visitor: Visitor | None = getattr(request.state, "visitor", None)
    values = {
        "visitor": visitor,
        "csrf_field": CSRF_FIELD,
        "csrf": visitor.csrf if visitor else "",
        "path": request.url.path,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, template, values, status_code=status)
    if visitor is not None and visitor.new_anon_token is not None:
        set_cookie(response, request, settings, ANON_COOKIE, visitor.new_anon_token, 86400)
    return response


def refuse(
    request: Request, error: ApiError, template: str, context: dict[str, Any]
) -> FormInvalid:
    fields = {d.get("field") for d in error.details if d.get("field")}
    return FormInvalid(
        render(
            request,
            template,
            {**context, "error": error.message, "error_fields": fields},
            status=error.status_code,
        )
    )


def page_error(error: ApiError) -> ConsolePageError:
    titles = {403: "Not allowed", 404: "Not found", 409: "Conflict"}
    title = titles.get(error.status_code, "Error")
    return ConsolePageError(error.status_code, title, error.message)


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def safe_next(target: str) -> str:
    """Only same-site console paths are followed after sign-in (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/console") or "\\" in target:
        return "/console"
    return target


def start_session_response(
    request: Request, settings: Settings, token: str, location: str
) -> RedirectResponse:
    response = redirect(location)
    max_age = settings.console_session_days * 86400
    set_cookie(response, request, settings, SESSION_COOKIE, token, max_age)
    clear_cookie(response, request, settings, ANON_COOKIE)
    return response


# --- accounts -------------------------------------------------------------------------------


@router.get("", include_in_schema=False)
async def home(current: AnyVisitor) -> RedirectResponse:
    return redirect("/console/settings/api-keys" if current.user else "/console/sign-in")


@router.get("/sign-up", include_in_schema=False)
async def sign_up_page(request: Request, current: AnyVisitor) -> Response:
    if current.user is not None:
        return redirect("/console")
    return render(request, "console/sign_up.html", {"form": SignUpForm()})


@router.post("/sign-up", include_in_schema=False)
async def sign_up(request: Request, session: Session, current: AnyVisitor) -> Response:
    settings = get_settings(request)
    form = SignUpForm.read(await request.form())
    try:
        result = await users.sign_up(
            session,
            name=form.name,
            email=form.email,
            password=form.password,
            company=form.company,
            slug=form.slug,
            ip=client_ip(request),
        )
    except ApiError as error:
        raise refuse(request, error, "console/sign_up.html", {"form": form}) from None
    token = await users.start_session(
        session,
        settings,
        user=result.user,
        tenant_id=result.tenant.id,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    return start_session_response(request, settings, token, "/console/settings/api-keys")


@router.get("/sign-in", include_in_schema=False)
async def sign_in_page(request: Request, current: AnyVisitor, next: str = "") -> Response:
    if current.user is not None:
        return redirect(safe_next(next))
    return render(request, "console/sign_in.html", {"form": SignInForm(next=next)})


SIGN_IN_FAILURES = {
    "wrong_credentials": (401, "The e-mail or password is not right."),
    "throttled_account": (
        429,
        "Too many failed sign-ins to this account. Wait {minutes} minutes, then try again.",
    ),
    "throttled_ip": (
        429,
        "Too many failed sign-ins from your network. Wait {minutes} minutes, then try again.",
    ),
}


@router.post("/sign-in", include_in_schema=False)
async def sign_in(request: Request, session: Session, current: AnyVisitor) -> Response:
    settings = get_settings(request)
    form = SignInForm.read(await request.form())
    result = await users.sign_in(
        session, settings, email=form.email, password=form.password, ip=client_ip(request) or "-"
    )
    if result.user is None:
        assert result.failure is not None
        status, message = SIGN_IN_FAILURES[result.failure]
        minutes = max(1, settings.console_login_window_seconds // 60)
        # Rendered, not raised: the failed attempt must be committed for the throttle to count it.
        return render(
            request,
            "console/sign_in.html",
            {"form": form, "error": message.format(minutes=minutes)},
            status=status,
        )
    token = await users.start_session(
        session,
        settings,
        user=result.user,
        tenant_id=None,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    return start_session_response(request, settings, token, safe_next(form.next))


@router.post("/sign-out", include_in_schema=False)
async def sign_out(request: Request, session: Session, current: SignedIn) -> Response:
    await users.end_session(session, current.console_session)
    response = redirect("/console/sign-in")
    clear_cookie(response, request, get_settings(request), SESSION_COOKIE)
    return response


@router.get("/account", include_in_schema=False)
async def account_page(request: Request, current: SignedIn) -> Response:
    return render(request, "console/account.html", {"form": PasswordForm()})


@router.post("/account/password", include_in_schema=False)
async def change_password(request: Request, session: Session, current: SignedIn) -> Response:
    form = PasswordForm.read(await request.form())
    try:
        await users.change_password(
            session,
            user=current.user,
            console_session=current.console_session,
            current=form.current,
            new=form.new,
            confirm=form.confirm,
        )
    except ApiError as error:
        raise refuse(request, error, "console/account.html", {"form": PasswordForm()}) from None
    return render(
        request,
        "console/account.html",
        {"form": PasswordForm(), "notice": "Password changed. Your other sessions are signed out."},
    )


@router.post("/switch-tenant", include_in_schema=False)
async def switch_tenant(request: Request, current: SignedIn) -> Response:
    form = SwitchTenantForm.read(await request.form())
    try:
        member_of = [m.tenant.id for m in current.visitor.memberships]
        users.switch_tenant(current.console_session, member_of, form.tenant_id)
    except ApiError as error:
        raise page_error(error) from None
    return redirect("/console/settings/api-keys")


@router.get("/workspaces/new", include_in_schema=False)
async def new_workspace_page(request: Request, current: SignedIn) -> Response:
    return render(request, "console/workspace_new.html", {"form": WorkspaceForm()})


@router.post("/workspaces", include_in_schema=False)
async def create_workspace(request: Request, session: Session, current: SignedIn) -> Response:
    form = WorkspaceForm.read(await request.form())
    try:
        tenant = await users.create_workspace(
            session,
            user=current.user,
            company=form.company,
            slug=form.slug,
            ip=client_ip(request),
        )
    except ApiError as error:
        raise refuse(request, error, "console/workspace_new.html", {"form": form}) from None
    current.console_session.tenant_id = tenant.id
    return redirect("/console/settings/api-keys")


# --- Settings → API Access ------------------------------------------------------------------


def key_form_context(form: GenerateKeyForm, teams: Any) -> dict[str, Any]:
    return {
        "form": form,
        "scopes": ALL_SCOPES,
        "scope_labels": SCOPE_LABELS,
        "expirations": [*EXPIRATION_DAYS, "never"],
        "teams": teams,
    }


@router.get("/settings/api-keys", include_in_schema=False)
async def api_keys_page(request: Request, session: Session, current: InTenant) -> Response:
    rows = await service.list_keys(session, current.tenant.id)
    return render(request, "console/api_keys.html", {"rows": rows})


@router.get("/settings/api-keys/new", include_in_schema=False)
async def new_api_key_page(request: Request, session: Session, current: InTenant) -> Response:
    teams = await service.list_teams(session, current.tenant.id)
    form = GenerateKeyForm(scopes=["leads:write"])
    return render(request, "console/api_key_new.html", key_form_context(form, teams))


@router.post("/settings/api-keys", include_in_schema=False)
async def generate_api_key(request: Request, session: Session, current: InTenant) -> Response:
    form = GenerateKeyForm.read(await request.form())
    try:
        issued = await service.generate_key(
            session,
            get_settings(request),
            tenant_id=current.tenant.id,
            user=current.user,
            role=current.role,
            form=form,
            ip=client_ip(request),
        )
    except ApiError as error:
        if error.status_code == 403:
            raise page_error(error) from None
        teams = await service.list_teams(session, current.tenant.id)
        context = key_form_context(form, teams)
        raise refuse(request, error, "console/api_key_new.html", context) from None
    return render(request, "console/api_key_created.html", {"issued": issued}, status=201)


@router.get("/settings/api-keys/{key_id}/revoke", include_in_schema=False)
async def revoke_page(
    request: Request, key_id: str, session: Session, current: InTenant
) -> Response:
    try:
        key = await service.get_key(session, current.tenant.id, key_id)
    except ApiError as error:
        raise page_error(error) from None
    return render(request, "console/api_key_revoke.html", {"key": key})


@router.post("/settings/api-keys/{key_id}/revoke", include_in_schema=False)
async def revoke(request: Request, key_id: str, session: Session, current: InTenant) -> Response:
    try:
        await service.revoke_key(
            session,
            tenant_id=current.tenant.id,
            user=current.user,
            role=current.role,
            key_id=key_id,
            ip=client_ip(request),
        )
    except ApiError as error:
        raise page_error(error) from None
    return redirect("/console/settings/api-keys")


# --- team and audit log ---------------------------------------------------------------------


async def team_context(session: Session, current: InTenant) -> dict[str, Any]:
    members = await MemberRepository(session, current.tenant.id).list()
    invitations = (
        await InvitationRepository(session, current.tenant.id).pending(utcnow())
        if current.role in users.MANAGER_ROLES
        else []
    )
    return {"members": members, "invitations": invitations, "roles": users.ROLES}


@router.get("/team", include_in_schema=False)
async def team_page(request: Request, session: Session, current: InTenant) -> Response:
    return render(request, "console/team.html", await team_context(session, current))


@router.post("/team/invitations", include_in_schema=False)
async def invite(request: Request, session: Session, current: Manager) -> Response:
    form = InviteForm.read(await request.form())
    try:
        invitation, token = await users.create_invitation(
            session,
            get_settings(request),
            tenant_id=current.tenant.id,
            inviter=current.user,
            inviter_role=current.role,
            role=form.role,
            ip=client_ip(request),
        )
    except ApiError as error:
        raise page_error(error) from None
    link = str(request.base_url).rstrip("/") + f"/console/invitations/{token}"
    context = await team_context(session, current)
    return render(
        request,
        "console/team.html",
        {**context, "invite_link": link, "invite_role": invitation.role},
        status=201,
    )


@router.post("/team/invitations/{invitation_id}/cancel", include_in_schema=False)
async def cancel_invitation(
    request: Request, invitation_id: str, session: Session, current: Manager
) -> Response:
    try:
        await users.cancel_invitation(
            session,
            tenant_id=current.tenant.id,
            actor=current.user,
            actor_role=current.role,
            invitation_id=invitation_id,
            ip=client_ip(request),
        )
    except ApiError as error:
        raise page_error(error) from None
    return redirect("/console/team")


@router.post("/team/members/{membership_id}/role", include_in_schema=False)
async def change_role(
    request: Request, membership_id: str, session: Session, current: Manager
) -> Response:
    form = RoleForm.read(await request.form())
    try:
        await users.change_role(
            session,
            tenant_id=current.tenant.id,
            actor=current.user,
            actor_role=current.role,
            membership_id=membership_id,
            role=form.role,
            ip=client_ip(request),
        )
    except ApiError as error:
        raise page_error(error) from None
    return redirect("/console/team")


@router.post("/team/members/{membership_id}/remove", include_in_schema=False)
async def remove_member(
    request: Request, membership_id: str, session: Session, current: Manager
) -> Response:
    try:
        await users.remove_member(
            session,
            tenant_id=current.tenant.id,
            actor=current.user,
            actor_role=current.role,
            membership_id=membership_id,
            ip=client_ip(request),
        )
    except ApiError as error:
        raise page_error(error) from None
    return redirect("/console/team")


@router.get("/invitations/{token}", include_in_schema=False)
async def invitation_page(
    request: Request, token: str, session: Session, current: AnyVisitor
) -> Response:
    try:
        invitation, tenant = await users.find_invitation(session, token)
    except ApiError as error:
        raise page_error(error) from None
    context = {"invitation": invitation, "tenant": tenant, "token": token}
    return render(request, "console/invitation.html", {**context, "form": AcceptInvitationForm()})


@router.post("/invitations/{token}", include_in_schema=False)
async def accept_invitation(
    request: Request, token: str, session: Session, current: AnyVisitor
) -> Response:
    settings = get_settings(request)
    form = AcceptInvitationForm.read(await request.form())
    try:
        invitation, tenant = await users.find_invitation(session, token)
    except ApiError as error:
        raise page_error(error) from None
    context = {"invitation": invitation, "tenant": tenant, "token": token, "form": form}
    try:
        user = current.user or await users.register_user(
            session, name=form.name, email=form.email, password=form.password
        )
        await users.accept_invitation(session, token=token, user=user, ip=client_ip(request))
    except ApiError as error:
        raise refuse(request, error, "console/invitation.html", context) from None
    if current.console_session is not None:
        current.console_session.tenant_id = tenant.id
        return redirect("/console/settings/api-keys")
    new_token = await users.start_session(
        session,
        settings,
        user=user,
        tenant_id=tenant.id,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    return start_session_response(request, settings, new_token, "/console/settings/api-keys")


@router.get("/audit", include_in_schema=False)
async def audit_page(request: Request, session: Session, current: InTenant) -> Response:
    try:
        events = await service.audit_log(session, current.tenant.id, current.role)
    except ApiError as error:
        raise page_error(error) from None
    rows = [(event, service.describe_change(event)) for event in events]
    return render(request, "console/audit.html", {"rows": rows})


# --- developers -----------------------------------------------------------------------------


@router.get("/developers", include_in_schema=False)
async def developers_page(request: Request, current: InTenant) -> Response:
    settings = get_settings(request)
    base = settings.public_url.rstrip("/")
    subdomain = None
    if settings.base_domain:
        scheme = urlsplit(base).scheme or "https"
        subdomain = f"{scheme}://{current.tenant.slug}.{settings.base_domain}"
    return render(
        request,
        "console/developers.html",
        {"base_url": base, "subdomain_url": subdomain, "key_prefix": settings.key_prefix},
    )


@router.get("/{unknown:path}", include_in_schema=False)
async def not_found(unknown: str, current: AnyVisitor) -> Response:
    raise ConsolePageError(404, "Not found", "There is no such console page.")


# --- wiring ---------------------------------------------------------------------------------


async def _redirect_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleRedirect)
    return redirect(exc.location)


async def _page_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsolePageError)
    return render(
        request,
        "console/error.html",
        {"title": exc.title, "message": exc.message},
        status=exc.status_code,
    )


async def _form_invalid_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FormInvalid)
    return exc.response


def install_console(app: FastAPI) -> None:
    """Mounts the console: its routes, its page-shaped errors and its security headers."""
    from leadgate.console.crm import crm_pages  # imports this module's helpers
    from leadgate.console.pages import pages

    app.include_router(pages)
    app.include_router(crm_pages)
    app.include_router(router)
    app.add_exception_handler(ConsoleRedirect, _redirect_handler)
    app.add_exception_handler(ConsolePageError, _page_error_handler)
    app.add_exception_handler(FormInvalid, _form_invalid_handler)
    app.add_middleware(SecurityHeadersMiddleware, settings=app.state.settings)
