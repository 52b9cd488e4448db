"""Who is at the console: the visitor dependency, sign-in and workspace requirements, CSRF."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import Depends, Request

from leadgate.console.security import (
    ANON_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    csrf_token,
    is_foreign,
    new_anon_token,
)
from leadgate.context import set_tenant_id
from leadgate.db import Session
from leadgate.models import ConsoleSession, Tenant, User
from leadgate.users import service as users
from leadgate.web import get_settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ConsoleRedirect(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class ConsolePageError(Exception):
    """A failure shown as a console page (not the API's JSON)."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.title = title
        self.message = message


@dataclass(frozen=True)
class AccountView:
    id: str
    name: str
    email: str


@dataclass(frozen=True)
class TenantView:
    id: str
    slug: str
    name: str


@dataclass(frozen=True)
class MembershipView:
    role: str
    tenant: TenantView


@dataclass
class Visitor:
    """Who is at the console. Pages read the plain views, which outlive a rolled-back session."""

    csrf: str
    user: User | None = None
    account: AccountView | None = None
    console_session: ConsoleSession | None = None
    new_anon_token: str | None = None
    memberships: list[MembershipView] = field(default_factory=list)
    tenant: TenantView | None = None
    role: str | None = None

    @property
    def is_manager(self) -> bool:
        return self.role in users.MANAGER_ROLES


async def visitor(request: Request, session: Session) -> Visitor:
    settings = get_settings(request)
    token = request.cookies.get(SESSION_COOKIE)
    found = await users.resolve_session(session, token)
    if found is None or token is None:
        anon = request.cookies.get(ANON_COOKIE)
        fresh = None
        if not anon or len(anon) > 64:
            anon = fresh = new_anon_token()
        result = Visitor(csrf=csrf_token(settings, "anon:" + anon), new_anon_token=fresh)
    else:
        console_session, user = found
        memberships = await users.memberships_of(session, user)
        current = next(
            ((m, t) for m, t in memberships if t.id == console_session.tenant_id),
            memberships[0] if memberships else None,
        )
        if current is not None and console_session.tenant_id != current[1].id:
            console_session.tenant_id = current[1].id
        views = [MembershipView(m.role, _tenant_view(t)) for m, t in memberships]
        result = Visitor(
            csrf=csrf_token(settings, "session:" + token),
            user=user,
            account=AccountView(user.id, user.name, user.email),
            console_session=console_session,
            memberships=views,
            tenant=_tenant_view(current[1]) if current else None,
            role=current[0].role if current else None,
        )
    request.state.visitor = result
    if result.tenant is not None:
        request.scope["state"]["tenant_id"] = result.tenant.id
        set_tenant_id(result.tenant.id)
    return result


def _tenant_view(tenant: Tenant) -> TenantView:
    return TenantView(tenant.id, tenant.slug, tenant.name)


AnyVisitor = Annotated[Visitor, Depends(visitor)]


async def check_csrf(request: Request, current: AnyVisitor) -> None:
    """Every unsafe request to the console carries the form's synchronizer token, or is refused
    before its handler runs (so nothing is written)."""
    if request.method in SAFE_METHODS:
        return
    if is_foreign(request, get_settings(request)):
        raise ConsolePageError(
            403,
            "Refused",
            "This form was sent from another site. Open the console itself and try again.",
        )
    submitted = request.headers.get("x-csrf-token")
    if submitted is None:
        form = await request.form()
        submitted_value = form.get(CSRF_FIELD)
        submitted = submitted_value if isinstance(submitted_value, str) else None
    if submitted and hmac.compare_digest(submitted.encode(), current.csrf.encode()):
        return
    raise ConsolePageError(
        403,
        "Form expired",
        "This form was not sent from a current console page (its security token is missing or "
        "old). Go back, reload the page and try again.",
    )


@dataclass
class SignedInVisitor:
    visitor: Visitor
    user: User
    console_session: ConsoleSession


async def signed_in(request: Request, current: AnyVisitor) -> SignedInVisitor:
    if current.user is None or current.console_session is None:
        target = request.url.path
        # Back to the same page after sign-in, but never with a key in the redirect.
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "api_key"]
        if query:
            target += "?" + urlencode(query)
        raise ConsoleRedirect("/console/sign-in?next=" + quote(target, safe=""))
    return SignedInVisitor(current, current.user, current.console_session)


SignedIn = Annotated[SignedInVisitor, Depends(signed_in)]


@dataclass
class Member:
    """A signed-in user working in one tenant, with their role there."""

    visitor: Visitor
    user: User
    console_session: ConsoleSession
    tenant: TenantView
    role: str


async def member(current: SignedIn) -> Member:
    if current.visitor.tenant is None or current.visitor.role is None:
        raise ConsoleRedirect("/console/workspaces/new")
    return Member(
        current.visitor, current.user, current.console_session, current.visitor.tenant,
        current.visitor.role,
    )  # fmt: skip


InTenant = Annotated[Member, Depends(member)]


async def manager(current: InTenant) -> Member:
    if current.role not in users.MANAGER_ROLES:
        raise ConsolePageError(
            403, "Owners and admins only", "Only the workspace's owners and admins can do that."
        )
    return current


Manager = Annotated[Member, Depends(manager)]
