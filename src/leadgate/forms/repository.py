"""Every query on forms and their quarantine, and the public lookup of a form by its id."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.db import TenantScopedRepository
from leadgate.models import (
    LeadConsent,
    PendingConfirmation,
    QuarantinedSubmission,
    Tenant,
    WebForm,
)


class FormRepository(TenantScopedRepository):
    def add(self, form: WebForm) -> None:
        self.session.add(form)

    async def get(self, form_id: str) -> WebForm | None:
        statement = self._scoped(WebForm).where(WebForm.id == form_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list(self) -> Sequence[WebForm]:
        statement = self._scoped(WebForm).order_by(WebForm.id)
        return (await self.session.execute(statement)).scalars().all()

    async def delete(self, form_id: str) -> None:
        await self.session.execute(self._scoped_delete(WebForm).where(WebForm.id == form_id))


class QuarantineRepository(TenantScopedRepository):
    def add(self, submission: QuarantinedSubmission) -> None:
        self.session.add(submission)

    async def get(self, submission_id: str) -> QuarantinedSubmission | None:
        statement = self._scoped(QuarantinedSubmission).where(
            QuarantinedSubmission.id == submission_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list(
        self, *, form_id: str | None = None, limit: int = 100
    ) -> Sequence[QuarantinedSubmission]:
        statement = self._scoped(QuarantinedSubmission)
        if form_id is not None:
            statement = statement.where(QuarantinedSubmission.form_id == form_id)
        statement = statement.order_by(QuarantinedSubmission.id.desc()).limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def delete(self, submission_id: str) -> bool:
        result = await self.session.execute(
            self._scoped_delete(QuarantinedSubmission).where(
                QuarantinedSubmission.id == submission_id
            )
        )
        return bool(getattr(result, "rowcount", 0))


class PublicFormRepository:
    """Finds a form by its public id before the tenant is known (a visitor's post carries
    nothing else), with the tenant whose rules the lead follows."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, form_id: str) -> tuple[WebForm, Tenant] | None:
        statement = (
            sa.select(WebForm, Tenant)
            .join(Tenant, Tenant.id == WebForm.tenant_id)
            .where(WebForm.id == form_id)
        )
        row = (await self.session.execute(statement)).one_or_none()
        return None if row is None else (row[0], row[1])


class ConsentRepository(TenantScopedRepository):
    def add(self, consent: LeadConsent) -> None:
        self.session.add(consent)

    async def of_lead(self, lead_id: str) -> Sequence[LeadConsent]:
        statement = (
            self._scoped(LeadConsent).where(LeadConsent.lead_id == lead_id).order_by(LeadConsent.id)
        )
        return (await self.session.execute(statement)).scalars().all()


class ConfirmationRepository(TenantScopedRepository):
    def add(self, pending: PendingConfirmation) -> None:
        self.session.add(pending)

    async def delete(self, pending_id: str) -> bool:
        result = await self.session.execute(
            self._scoped_delete(PendingConfirmation).where(PendingConfirmation.id == pending_id)
        )
        return bool(getattr(result, "rowcount", 0))


class ConfirmationLookupRepository:
    """Finds a pending confirmation by its link token's hash: the link names nothing else."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_token_hash(self, token_hash: str) -> PendingConfirmation | None:
        statement = sa.select(PendingConfirmation).where(
            PendingConfirmation.token_hash == token_hash
        )
        return (await self.session.execute(statement)).scalar_one_or_none()
