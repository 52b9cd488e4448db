"""Every query on leads."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from leadgate.db import TenantScopedRepository
from leadgate.models import Lead
from leadgate.sql import insert_ignoring_conflicts


class LeadRepository(TenantScopedRepository):
    async def insert_claiming(self, values: dict[str, Any]) -> bool:
        """Inserts a lead unless a live lead already claims its email or name.

        The partial unique indexes decide, so concurrent identical submissions create one lead;
        False means a duplicate holds the claim.
        """
        statement = (
            insert_ignoring_conflicts(self.session, Lead)
            .values(**values, tenant_id=self.tenant_id)
            .returning(Lead.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def insert(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(Lead).values(**values, tenant_id=self.tenant_id))

    async def find_claim_holder(
        self, email_key: str | None, name_key: str
    ) -> tuple[str, str] | None:
        """The live lead holding this email or name, and which of the two matched."""
        match = Lead.name_key == name_key
        if email_key is not None:
            match = sa.or_(Lead.email_key == email_key, match)
        statement = (
            sa.select(Lead.id, Lead.email_key)
            .where(self._tenant_filter(Lead))
            .where(Lead.claims_duplicates.is_(True), Lead.deleted_at.is_(None))
            .where(match)
            .limit(2)
        )
        rows = (await self.session.execute(statement)).all()
        for lead_id, found_email_key in rows:
            if email_key is not None and found_email_key == email_key:
                return lead_id, "email"
        return (rows[0][0], "name") if rows else None

    async def get(self, lead_id: str) -> Lead | None:
        statement = self._scoped(Lead).where(Lead.id == lead_id).where(Lead.deleted_at.is_(None))
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def count(self) -> int:
        statement = sa.select(sa.func.count()).select_from(Lead).where(self._tenant_filter(Lead))
        return int((await self.session.execute(statement)).scalar_one())
