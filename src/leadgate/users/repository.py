"""Every query on users, console sessions, failed sign-ins, memberships and invitations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.db import TenantScopedRepository
from leadgate.models import ConsoleSession, Invitation, LoginFailure, Membership, Tenant, User


class UserRepository:
    """Users are people, not tenant data: one user may belong to several tenants."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, user: User) -> None:
        self.session.add(user)
        # Flushed so a taken e-mail fails here, before the tenant is created.
        await self.session.flush()

    async def by_email(self, email: str) -> User | None:
        result = await self.session.execute(sa.select(User).where(User.email == email))
        return result.scalar_one_or_none()

    async def by_id(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)


class ConsoleSessionRepository:
    """Sessions are found by their token's hash before any tenant is known."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, console_session: ConsoleSession) -> None:
        self.session.add(console_session)

    async def by_token_hash(self, token_hash: str) -> tuple[ConsoleSession, User] | None:
        statement = (
            sa.select(ConsoleSession, User)
            .join(User, User.id == ConsoleSession.user_id)
            .where(ConsoleSession.token_hash == token_hash)
        )
        row = (await self.session.execute(statement)).one_or_none()
        return None if row is None else (row[0], row[1])

    async def delete(self, session_id: str) -> None:
        await self.session.execute(sa.delete(ConsoleSession).where(ConsoleSession.id == session_id))

    async def delete_expired(self, user_id: str, now: datetime) -> None:
        await self.session.execute(
            sa.delete(ConsoleSession)
            .where(ConsoleSession.user_id == user_id)
            .where(ConsoleSession.expires_at <= now)
        )

    async def delete_others(self, user_id: str, keep_id: str) -> None:
        await self.session.execute(
            sa.delete(ConsoleSession)
            .where(ConsoleSession.user_id == user_id)
            .where(ConsoleSession.id != keep_id)
        )


class LoginFailureRepository:
    """Failed sign-ins are counted by e-mail and IP, before any user or tenant is known."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, failure: LoginFailure) -> None:
        self.session.add(failure)

    async def count_for_email(self, email: str, since: datetime) -> int:
        statement = sa.select(sa.func.count()).where(
            LoginFailure.email == email, LoginFailure.created_at > since
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def count_for_ip(self, ip: str, since: datetime) -> int:
        statement = sa.select(sa.func.count()).where(
            LoginFailure.ip == ip, LoginFailure.created_at > since
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def clear_email(self, email: str) -> None:
        await self.session.execute(sa.delete(LoginFailure).where(LoginFailure.email == email))

    async def prune(self, before: datetime) -> None:
        await self.session.execute(sa.delete(LoginFailure).where(LoginFailure.created_at <= before))


class MembershipLookupRepository:
    """The tenants a user belongs to, across tenants: what the tenant switcher lists."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_user(self, user_id: str) -> Sequence[tuple[Membership, Tenant]]:
        statement = (
            sa.select(Membership, Tenant)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(Membership.user_id == user_id)
            .order_by(Tenant.name, Tenant.id)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]


class InvitationLookupRepository:
    """An invitation is found by its token's hash before its tenant is known."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_token_hash(self, token_hash: str) -> tuple[Invitation, Tenant] | None:
        statement = (
            sa.select(Invitation, Tenant)
            .join(Tenant, Tenant.id == Invitation.tenant_id)
            .where(Invitation.token_hash == token_hash)
        )
        row = (await self.session.execute(statement)).one_or_none()
        return None if row is None else (row[0], row[1])


class MemberRepository(TenantScopedRepository):
    """Memberships of one tenant, with their users."""

    def add(self, membership: Membership) -> None:
        self.session.add(membership)

    async def list(self) -> Sequence[tuple[Membership, User]]:
        statement = (
            self._scoped(Membership)
            .add_columns(User)
            .join(User, User.id == Membership.user_id)
            .order_by(Membership.created_at, Membership.id)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def get(self, membership_id: str) -> Membership | None:
        statement = self._scoped(Membership).where(Membership.id == membership_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def of_user(self, user_id: str) -> Membership | None:
        statement = self._scoped(Membership).where(Membership.user_id == user_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def count_owners(self) -> int:
        statement = (
            sa.select(sa.func.count())
            .select_from(Membership)
            .where(self._tenant_filter(Membership), Membership.role == "owner")
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def delete(self, membership_id: str) -> None:
        await self.session.execute(
            self._scoped_delete(Membership).where(Membership.id == membership_id)
        )


class InvitationRepository(TenantScopedRepository):
    def add(self, invitation: Invitation) -> None:
        self.session.add(invitation)

    async def pending(self, now: datetime) -> Sequence[Invitation]:
        statement = (
            self._scoped(Invitation)
            .where(Invitation.accepted_at.is_(None), Invitation.expires_at > now)
            .order_by(Invitation.created_at.desc())
        )
        return (await self.session.execute(statement)).scalars().all()

    async def get(self, invitation_id: str) -> Invitation | None:
        statement = self._scoped(Invitation).where(Invitation.id == invitation_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def delete(self, invitation_id: str) -> None:
        await self.session.execute(
            self._scoped_delete(Invitation).where(Invitation.id == invitation_id)
        )

    async def claim(self, invitation_id: str, user_id: str, now: datetime) -> bool:
        """Marks a pending invitation accepted in one conditional write: of several concurrent
        acceptances exactly one matches a row (PostgreSQL re-checks the condition after waiting
        for the first writer's lock; SQLite serialises writers)."""
        result = await self.session.execute(
            self._scoped_update(Invitation)
            .where(
                Invitation.id == invitation_id,
                Invitation.accepted_at.is_(None),
                Invitation.expires_at > now,
            )
            .values(accepted_at=now, accepted_by=user_id)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)
