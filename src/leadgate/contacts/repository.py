"""Every query on contacts (and on who may own a record)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadgate.db import TenantScopedRepository
from leadgate.leads.repository import Position
from leadgate.models import Contact, Membership
from leadgate.sql import insert_ignoring_conflicts


@dataclass(frozen=True, slots=True)
class ContactFilters:
    team_id: str | None = None
    owner_id: str | None = None
    company: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    q: str | None = None
    team_ids: tuple[str, ...] | None = None


def like_pattern(text: str) -> str:
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ContactRepository(TenantScopedRepository):
    async def insert_claiming(self, values: dict[str, Any]) -> bool:
        """Inserts unless a live contact claims the email or name (the partial unique indexes
        decide, so concurrent identical requests create one contact)."""
        statement = (
            insert_ignoring_conflicts(Contact)
            .values(**values, tenant_id=self.tenant_id)
            .returning(Contact.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def insert(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(Contact).values(**values, tenant_id=self.tenant_id))

    async def find_claim_holder(
        self, email_key: str | None, name_key: str, *, excluding: str | None = None
    ) -> tuple[str, str] | None:
        match = Contact.name_key == name_key
        if email_key is not None:
            match = sa.or_(Contact.email_key == email_key, match)
        statement = (
            sa.select(Contact.id, Contact.email_key)
            .where(self._tenant_filter(Contact))
            .where(Contact.claims_duplicates.is_(True), Contact.deleted_at.is_(None))
            .where(match)
            .limit(2)
        )
        if excluding is not None:
            statement = statement.where(Contact.id != excluding)
        rows = (await self.session.execute(statement)).all()
        for contact_id, found_email_key in rows:
            if email_key is not None and found_email_key == email_key:
                return contact_id, "email"
        return (rows[0][0], "name") if rows else None

    async def get(self, contact_id: str) -> Contact | None:
        statement = (
            self._scoped(Contact)
            .where(Contact.id == contact_id)
            .where(Contact.deleted_at.is_(None))
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def of_lead(self, lead_id: str) -> Contact | None:
        """The contact a lead became, deleted or not (a lead converts once)."""
        statement = self._scoped(Contact).where(Contact.lead_id == lead_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def update(self, contact_id: str, values: dict[str, Any]) -> None:
        await self.session.execute(
            self._scoped_update(Contact).where(Contact.id == contact_id).values(**values)
        )

    async def page(
        self, filters: ContactFilters, *, after: Position | None, limit: int
    ) -> Sequence[Contact]:
        """Live contacts newest first, strictly after `after` (keyset paging)."""
        statement = self._scoped(Contact).where(Contact.deleted_at.is_(None))
        if filters.team_id is not None:
            statement = statement.where(Contact.team_id == filters.team_id)
        if filters.team_ids is not None:
            statement = statement.where(Contact.team_id.in_(filters.team_ids))
        if filters.owner_id is not None:
            statement = statement.where(Contact.owner_id == filters.owner_id)
        if filters.company is not None:
            statement = statement.where(Contact.company == filters.company)
        if filters.created_after is not None:
            statement = statement.where(Contact.created_at >= filters.created_after)
        if filters.created_before is not None:
            statement = statement.where(Contact.created_at < filters.created_before)
        if filters.q:
            pattern = like_pattern(filters.q)
            searched = (
                Contact.first_name + " " + Contact.last_name,
                Contact.email,
                Contact.company,
                Contact.phone,
            )
            statement = statement.where(
                sa.or_(*(sa.func.lower(c).like(pattern, escape="\\") for c in searched))
            )
        if after is not None:
            statement = statement.where(
                sa.tuple_(Contact.created_at, Contact.id)
                < sa.tuple_(
                    sa.literal(after.created_at, Contact.created_at.type), sa.literal(after.id)
                )
            )
        statement = statement.order_by(Contact.created_at.desc(), Contact.id.desc()).limit(limit)
        return (await self.session.execute(statement)).scalars().all()


class MemberRepository(TenantScopedRepository):
    async def is_member(self, user_id: str) -> bool:
        statement = (
            sa.select(Membership.id)
            .where(self._tenant_filter(Membership))
            .where(Membership.user_id == user_id)
        )
        return (await self.session.execute(statement)).first() is not None
