"""Console accounts: signing up and in, sessions, the password, workspaces, and joining a
workspace by an invitation link."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from leadgate.console.auth import AnyVisitor, SignedIn, check_csrf
from leadgate.console.forms import (
    AcceptInvitationForm,
    PasswordForm,
    SignInForm,
    SignUpForm,
    SwitchTenantForm,
    WorkspaceForm,
)
from leadgate.console.rendering import page_errors, redirect, refuse, render
from leadgate.console.security import ANON_COOKIE, SESSION_COOKIE, clear_cookie, set_cookie
from leadgate.db import Session
from leadgate.errors import ApiError
from leadgate.settings import Settings
from leadgate.users import service as users
from leadgate.web import client_ip, get_settings

router = APIRouter(prefix="/console", dependencies=[Depends(check_csrf)])


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
    with page_errors():
        member_of = [m.tenant.id for m in current.visitor.memberships]
        users.switch_tenant(current.console_session, member_of, form.tenant_id)
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


@router.get("/invitations/{token}", include_in_schema=False)
async def invitation_page(
    request: Request, token: str, session: Session, current: AnyVisitor
) -> Response:
    with page_errors():
        invitation, tenant = await users.find_invitation(session, token)
    context = {"invitation": invitation, "tenant": tenant, "token": token}
    return render(request, "console/invitation.html", {**context, "form": AcceptInvitationForm()})


@router.post("/invitations/{token}", include_in_schema=False)
async def accept_invitation(
    request: Request, token: str, session: Session, current: AnyVisitor
) -> Response:
    settings = get_settings(request)
    form = AcceptInvitationForm.read(await request.form())
    with page_errors():
        invitation, tenant = await users.find_invitation(session, token)
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
