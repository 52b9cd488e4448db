"""The rules of console accounts: sign-up, sign-in with throttling, sessions, passwords, teams.

Never commits. A failed sign-in is returned, not raised, so the request still commits the
`LoginFailure` row that the throttle counts.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import audit
from leadgate.db import is_unique_violation
from leadgate.errors import Conflict, Forbidden, InvalidRequest, NotFound
from leadgate.ids import new_id
from leadgate.models import (
    ConsoleSession,
    Invitation,
    LoginFailure,
    Membership,
    Tenant,
    User,
    utcnow,
)
from leadgate.settings import Settings
from leadgate.tenants.service import create_tenant
from leadgate.users.passwords import hash_password, needs_rehash, verify_password
from leadgate.users.repository import (
    ConsoleSessionRepository,
    InvitationLookupRepository,
    InvitationRepository,
    LoginFailureRepository,
    MemberRepository,
    MembershipLookupRepository,
    UserRepository,
)

ROLES = ("owner", "admin", "member")
MANAGER_ROLES = frozenset({"owner", "admin"})
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


def token_hash(token: str) -> str:
    """Session and invitation tokens carry 256 random bits, so a plain SHA-256 is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def slug_from(company: str) -> str:
    """A workspace slug made from a company name when the person gives none."""
    return re.sub(r"[^a-z0-9]+", "-", company.lower()).strip("-")[:40].strip("-")


def user_actor(user: User) -> dict[str, Any]:
    return {"type": "user", "id": user.id, "name": user.name}


def normalize_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise InvalidRequest(
            f"That e-mail address is not valid: {error}",
            details=[{"field": "email", "message": str(error), "type": "email"}],
        ) from None


def check_password(password: str, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"A password needs {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.",
            details=[{"field": field, "message": "wrong length", "type": "length"}],
        )
    return password


async def register_user(session: AsyncSession, *, name: str, email: str, password: str) -> User:
    if not name.strip():
        raise InvalidRequest(
            "Tell us your name.",
            details=[{"field": "name", "message": "must not be blank", "type": "missing"}],
        )
    email = normalize_email(email)
    check_password(password)
    repository = UserRepository(session)
    taken = Conflict(
        "An account with that e-mail already exists. Sign in instead.", code="email_taken"
    )
    if await repository.by_email(email) is not None:
        raise taken
    user = User(
        id=new_id("usr"),
        email=email,
        name=name.strip()[:120],
        password_hash=hash_password(password),
        created_at=utcnow(),
    )
    try:
        await repository.add(user)
    except sa.exc.IntegrityError as error:
        if is_unique_violation(error):
            raise taken from None
        raise  # pragma: no cover
    return user


@dataclass(frozen=True, slots=True)
class SignedUp:
    user: User
    tenant: Tenant


async def sign_up(
    session: AsyncSession,
    *,
    name: str,
    email: str,
    password: str,
    company: str,
    slug: str,
    ip: str | None,
) -> SignedUp:
    """A new user, a new tenant, and the user as its first owner."""
    user = await register_user(session, name=name, email=email, password=password)
    tenant = await create_workspace(session, user=user, company=company, slug=slug, ip=ip)
    return SignedUp(user=user, tenant=tenant)


@dataclass(frozen=True, slots=True)
class SignInResult:
    user: User | None
    failure: Literal["throttled_account", "throttled_ip", "wrong_credentials"] | None = None


async def sign_in(
    session: AsyncSession, settings: Settings, *, email: str, password: str, ip: str
) -> SignInResult:
    """The user, or why not. Throttled attempts are refused before the password is checked."""
    email = email.strip().lower()
    now = utcnow()
    since = now - timedelta(seconds=settings.console_login_window_seconds)
    failures = LoginFailureRepository(session)
    if await failures.count_for_ip(ip, since) >= settings.console_login_max_failures_per_ip:
        return SignInResult(user=None, failure="throttled_ip")
    if (
        await failures.count_for_email(email, since)
        >= settings.console_login_max_failures_per_account
    ):
        return SignInResult(user=None, failure="throttled_account")
    user = await UserRepository(session).by_email(email)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        await failures.prune(since)
        failures.add(LoginFailure(id=new_id("lf"), email=email[:254], ip=ip, created_at=now))
        return SignInResult(user=None, failure="wrong_credentials")
    await failures.clear_email(email)
    if needs_rehash(user.password_hash):  # pragma: no cover - only when argon2 defaults change
        user.password_hash = hash_password(password)
    return SignInResult(user=user)


async def start_session(
    session: AsyncSession,
    settings: Settings,
    *,
    user: User,
    tenant_id: str | None,
    ip: str | None,
    user_agent: str | None,
) -> str:
    """Stores a new session and returns its token (for the cookie; only its hash is kept)."""
    if tenant_id is None:
        memberships = await MembershipLookupRepository(session).of_user(user.id)
        tenant_id = memberships[0][1].id if memberships else None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    sessions = ConsoleSessionRepository(session)
    await sessions.delete_expired(user.id, now)  # a user's old sessions go when a new one starts
    sessions.add(
        ConsoleSession(
            id=new_id("ses"),
            token_hash=token_hash(token),
            user_id=user.id,
            tenant_id=tenant_id,
            ip=ip,
            user_agent=(user_agent or "")[:255] or None,
            created_at=now,
            expires_at=now + timedelta(days=settings.console_session_days),
        )
    )
    return token


async def resolve_session(
    session: AsyncSession, token: str | None
) -> tuple[ConsoleSession, User] | None:
    if not token or len(token) > 100:
        return None
    found = await ConsoleSessionRepository(session).by_token_hash(token_hash(token))
    if found is None or found[0].expires_at <= utcnow():
        return None
    return found


async def end_session(session: AsyncSession, console_session: ConsoleSession) -> None:
    await ConsoleSessionRepository(session).delete(console_session.id)


async def change_password(
    session: AsyncSession,
    *,
    user: User,
    console_session: ConsoleSession,
    current: str,
    new: str,
    confirm: str,
) -> None:
    """Changes the password and signs out every other session of the user."""
    if not verify_password(user.password_hash, current):
        raise InvalidRequest(
            "Your current password is not right.",
            details=[{"field": "current", "message": "does not match", "type": "mismatch"}],
        )
    check_password(new, "new")
    if new != confirm:
        raise InvalidRequest(
            "The new password and its confirmation differ.",
            details=[{"field": "confirm", "message": "does not match", "type": "mismatch"}],
        )
    user.password_hash = hash_password(new)
    await ConsoleSessionRepository(session).delete_others(user.id, console_session.id)


async def list_members(session: AsyncSession, tenant_id: str) -> list[tuple[Membership, User]]:
    """The tenant's members with their users (invitations are not members until accepted)."""
    return list(await MemberRepository(session, tenant_id).list())


async def memberships_of(session: AsyncSession, user: User) -> list[tuple[Membership, Tenant]]:
    return list(await MembershipLookupRepository(session).of_user(user.id))


def switch_tenant(console_session: ConsoleSession, member_of: list[str], tenant_id: str) -> None:
    """Points the session at another of the user's tenants (`member_of`: their tenant ids)."""
    if tenant_id not in member_of:
        raise Forbidden("You are not a member of that workspace.")
    console_session.tenant_id = tenant_id


# --- team ---------------------------------------------------------------------------------


def require_manager(role: str) -> None:
    if role not in MANAGER_ROLES:
        raise Forbidden("Only owners and admins can do that.")


async def create_invitation(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    inviter: User,
    inviter_role: str,
    role: str,
    ip: str | None,
) -> tuple[Invitation, str]:
    """A single-use link token (returned once) that makes its holder a member with `role`."""
    require_manager(inviter_role)
    _check_role_assignable(inviter_role, role)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    invitation = Invitation(
        id=new_id("inv"),
        tenant_id=tenant_id,
        token_hash=token_hash(token),
        role=role,
        created_by=inviter.id,
        created_at=now,
        expires_at=now + timedelta(days=settings.console_invitation_days),
    )
    InvitationRepository(session, tenant_id).add(invitation)
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="invitation.created",
        actor=user_actor(inviter),
        target_type="invitation",
        target_id=invitation.id,
        after={"role": role, "expiresAt": invitation.expires_at.isoformat()},
        ip=ip,
    )
    return invitation, token


async def cancel_invitation(
    session: AsyncSession,
    *,
    tenant_id: str,
    actor: User,
    actor_role: str,
    invitation_id: str,
    ip: str | None,
) -> None:
    require_manager(actor_role)
    repository = InvitationRepository(session, tenant_id)
    invitation = await repository.get(invitation_id)
    if invitation is None or invitation.accepted_at is not None:
        raise NotFound("No such pending invitation.")
    await repository.delete(invitation_id)
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="invitation.cancelled",
        actor=user_actor(actor),
        target_type="invitation",
        target_id=invitation_id,
        before={"role": invitation.role},
        ip=ip,
    )


async def find_invitation(session: AsyncSession, token: str) -> tuple[Invitation, Tenant]:
    found = await InvitationLookupRepository(session).by_token_hash(token_hash(token))
    if found is None or found[0].accepted_at is not None:
        raise NotFound("This invitation link is not valid or has already been used.")
    if found[0].expires_at <= utcnow():
        raise NotFound("This invitation link has expired. Ask for a new one.")
    return found


async def accept_invitation(
    session: AsyncSession, *, token: str, user: User, ip: str | None
) -> Tenant:
    invitation, tenant = await find_invitation(session, token)
    members = MemberRepository(session, tenant.id)
    if await members.of_user(user.id) is not None:
        raise Conflict(f"You are already a member of {tenant.name}.", code="already_member")
    # The claim, not the read above, decides: concurrent acceptances all pass the read.
    claimed = await InvitationRepository(session, tenant.id).claim(invitation.id, user.id, utcnow())
    if not claimed:
        raise NotFound("This invitation link is not valid or has already been used.")
    members.add(
        Membership(
            id=new_id("mem"),
            tenant_id=tenant.id,
            user_id=user.id,
            role=invitation.role,
            created_at=utcnow(),
        )
    )
    await audit.record(
        session,
        tenant_id=tenant.id,
        action="member.joined",
        actor=user_actor(user),
        target_type="user",
        target_id=user.id,
        after={"email": user.email, "role": invitation.role, "invitation": invitation.id},
        ip=ip,
    )
    return tenant


def _check_role_assignable(actor_role: str, role: str) -> None:
    if role not in ROLES:
        raise InvalidRequest(
            "Unknown role.",
            details=[{"field": "role", "message": "owner, admin or member", "type": "enum"}],
        )
    if role == "owner" and actor_role != "owner":
        raise Forbidden("Only owners can make someone an owner.")


async def change_role(
    session: AsyncSession,
    *,
    tenant_id: str,
    actor: User,
    actor_role: str,
    membership_id: str,
    role: str,
    ip: str | None,
) -> Membership:
    require_manager(actor_role)
    _check_role_assignable(actor_role, role)
    members = MemberRepository(session, tenant_id)
    membership = await members.get(membership_id)
    if membership is None:
        raise NotFound("No such member.")
    if membership.role == "owner" and actor_role != "owner":
        raise Forbidden("Only owners can change an owner's role.")
    if membership.role == "owner" and role != "owner" and await members.count_owners() <= 1:
        raise Conflict("A workspace needs at least one owner.", code="last_owner")
    before = {"role": membership.role}
    membership.role = role
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="member.role_changed",
        actor=user_actor(actor),
        target_type="user",
        target_id=membership.user_id,
        before=before,
        after={"role": role},
        ip=ip,
    )
    return membership


async def remove_member(
    session: AsyncSession,
    *,
    tenant_id: str,
    actor: User,
    actor_role: str,
    membership_id: str,
    ip: str | None,
) -> None:
    require_manager(actor_role)
    members = MemberRepository(session, tenant_id)
    membership = await members.get(membership_id)
    if membership is None:
        raise NotFound("No such member.")
    if membership.role == "owner" and actor_role != "owner":
        raise Forbidden("Only owners can remove an owner.")
    if membership.role == "owner" and await members.count_owners() <= 1:
        raise Conflict("A workspace needs at least one owner.", code="last_owner")
    await members.delete(membership.id)
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="member.removed",
        actor=user_actor(actor),
        target_type="user",
        target_id=membership.user_id,
        before={"role": membership.role},
        ip=ip,
    )


async def create_workspace(
    session: AsyncSession, *, user: User, company: str, slug: str, ip: str | None
) -> Tenant:
    """Another tenant, owned by a signed-in user (who then switches between them)."""
    tenant = await create_tenant(session, slug=slug.strip() or slug_from(company), name=company)
    MemberRepository(session, tenant.id).add(
        Membership(
            id=new_id("mem"),
            tenant_id=tenant.id,
            user_id=user.id,
            role="owner",
            created_at=utcnow(),
        )
    )
    await audit.record(
        session,
        tenant_id=tenant.id,
        action="tenant.created",
        actor=user_actor(user),
        target_type="tenant",
        target_id=tenant.id,
        after={"slug": tenant.slug, "name": tenant.name, "owner": user.email},
        ip=ip,
    )
    return tenant
