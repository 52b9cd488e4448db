"""Every query of privacy: retention purges, finding and scrubbing a person, the suppression list.

All of it is tenant-scoped. Purges work in bounded batches (ids first, then one statement on
those ids) so a transaction never holds a table's writer for long.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadgate.db import TenantScopedRepository
from leadgate.models import (
    Activity,
    AuditEvent,
    Contact,
    Deal,
    Event,
    IdempotencyRecord,
    Lead,
    LeadConsent,
    PendingConfirmation,
    QuarantinedSubmission,
    SourcePayload,
    Suppression,
    UsageCount,
    WebhookAttempt,
    WebhookDelivery,
)
from leadgate.sql import insert_ignoring_conflicts


class RetentionRepository(TenantScopedRepository):
    async def empty_event_payloads(self, before: datetime, now: datetime, limit: int) -> int:
        """Empties the payload of up to `limit` events made before `before`; their deliveries
        still pending are cancelled (they would carry nothing)."""
        statement = (
            sa.select(Event.id)
            .where(self._tenant_filter(Event))
            .where(Event.created_at < before, Event.payload_purged_at.is_(None))
            .order_by(Event.created_at)
            .limit(limit)
        )
        ids = list((await self.session.execute(statement)).scalars())
        await self.empty_payloads_of(ids, now)
        return len(ids)

    async def empty_payloads_of(self, event_ids: Sequence[str], now: datetime) -> None:
        if not event_ids:
            return
        await self.session.execute(
            self._scoped_update(Event)
            .where(Event.id.in_(event_ids))
            .values(data={}, payload_purged_at=now)
        )
        await self.session.execute(
            self._scoped_update(WebhookDelivery)
            .where(WebhookDelivery.event_id.in_(event_ids), WebhookDelivery.status == "pending")
            .values(status="cancelled", next_attempt_at=None)
        )

    async def delete_events(self, before: datetime, limit: int) -> int:
        """Events made before `before`, with their deliveries and attempts (by cascade)."""
        return await self._delete_batch(Event, Event.created_at < before, limit)

    async def delete_attempts(self, before: datetime, limit: int) -> int:
        return await self._delete_batch(WebhookAttempt, WebhookAttempt.attempted_at < before, limit)

    async def delete_idempotency_records(self, before: datetime, limit: int) -> int:
        condition = IdempotencyRecord.created_at < before
        return await self._delete_batch(IdempotencyRecord, condition, limit)

    async def delete_quarantined_submissions(self, before: datetime, limit: int) -> int:
        condition = QuarantinedSubmission.created_at < before
        return await self._delete_batch(QuarantinedSubmission, condition, limit)

    async def delete_expired_confirmations(self, now: datetime, limit: int) -> int:
        """Double opt-in leads whose link expired: they can no longer become leads."""
        condition = PendingConfirmation.expires_at < now
        return await self._delete_batch(PendingConfirmation, condition, limit)

    async def delete_source_payloads(self, before: datetime, limit: int) -> int:
        condition = SourcePayload.received_at < before
        return await self._delete_batch(SourcePayload, condition, limit)

    async def delete_audit_events(self, before: datetime, limit: int) -> int:
        return await self._delete_batch(AuditEvent, AuditEvent.created_at < before, limit)

    async def delete_usage_counts(self, before: datetime, limit: int) -> int:
        key = (
            UsageCount.api_key_id,
            UsageCount.hour,
            UsageCount.method,
            UsageCount.route,
            UsageCount.status_class,
        )
        statement = (
            sa.select(*key)
            .where(self._tenant_filter(UsageCount))
            .where(UsageCount.hour < before)
            .limit(limit)
        )
        rows = (await self.session.execute(statement)).all()
        if not rows:
            return 0
        await self.session.execute(
            self._scoped_delete(UsageCount).where(sa.tuple_(*key).in_([tuple(row) for row in rows]))
        )
        return len(rows)

    async def _delete_batch(
        self, model: type[Any], condition: sa.ColumnElement[bool], limit: int
    ) -> int:
        statement = (
            sa.select(model.id).where(self._tenant_filter(model)).where(condition).limit(limit)
        )
        ids = list((await self.session.execute(statement)).scalars())
        if ids:
            await self.session.execute(self._scoped_delete(model).where(model.id.in_(ids)))
        return len(ids)


def _contains_any(column: Any, needles: Sequence[str]) -> sa.ColumnElement[bool]:
    """The column, read as text, contains one of the needles (case-insensitively)."""
    text = sa.func.lower(sa.cast(column, sa.Text()))
    return sa.or_(*(text.contains(needle.lower(), autoescape=True) for needle in needles))


class PersonRepository(TenantScopedRepository):
    """Where a person (known by e-mail and/or phone) is held, and the scrubbing of each copy."""

    async def leads(self, email_key: str | None, phone: str | None) -> Sequence[Lead]:
        """Every lead that is them, deleted ones included (a soft delete still holds the data)."""
        conditions = []
        if email_key is not None:
            conditions.append(Lead.email_key == email_key)
        if phone is not None:
            conditions.append(Lead.phone == phone)
        statement = self._scoped(Lead).where(sa.or_(*conditions)).order_by(Lead.created_at)
        return (await self.session.execute(statement)).scalars().all()

    async def events(self, lead_ids: Sequence[str], needles: Sequence[str]) -> Sequence[Event]:
        """Events about their leads, or whose payload holds one of the needles anywhere (a lead
        id, an e-mail or phone in another payload)."""
        statement = (
            self._scoped(Event)
            .where(Event.payload_purged_at.is_(None))
            .where(
                sa.or_(
                    Event.data["id"].as_string().in_(list(lead_ids)),
                    _contains_any(Event.data, needles),
                )
            )
            .order_by(Event.created_at)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def deliveries_of(self, event_ids: Sequence[str]) -> Sequence[WebhookDelivery]:
        statement = self._scoped(WebhookDelivery).where(WebhookDelivery.event_id.in_(event_ids))
        return (
            (await self.session.execute(statement.order_by(WebhookDelivery.created_at)))
            .scalars()
            .all()
        )

    async def attempts(
        self, delivery_ids: Sequence[str], needles: Sequence[str]
    ) -> Sequence[WebhookAttempt]:
        """Attempts of those deliveries, or whose response snippet or error quotes a needle (a
        receiver may echo what it was sent)."""
        statement = self._scoped(WebhookAttempt).where(
            sa.or_(
                WebhookAttempt.delivery_id.in_(list(delivery_ids)),
                _contains_any(WebhookAttempt.response_body, needles),
                _contains_any(WebhookAttempt.error, needles),
            )
        )
        return (
            (await self.session.execute(statement.order_by(WebhookAttempt.attempted_at)))
            .scalars()
            .all()
        )

    async def idempotency_records(self, needles: Sequence[str]) -> Sequence[IdempotencyRecord]:
        """Records whose stored response quotes a needle (a created lead's body, its id)."""
        statement = self._scoped(IdempotencyRecord).where(
            _contains_any(IdempotencyRecord.response_body, needles)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def audit_events(self, needles: Sequence[str]) -> Sequence[AuditEvent]:
        statement = self._scoped(AuditEvent).where(
            sa.or_(
                AuditEvent.target_id.in_(list(needles)),
                _contains_any(AuditEvent.before, needles),
                _contains_any(AuditEvent.after, needles),
            )
        )
        return (
            (await self.session.execute(statement.order_by(AuditEvent.created_at))).scalars().all()
        )

    async def contacts(
        self, email_key: str | None, phone: str | None, lead_ids: Sequence[str]
    ) -> Sequence[Contact]:
        """Contacts that are them: by e-mail or phone, or converted from one of their leads
        (deleted ones included)."""
        conditions: list[sa.ColumnElement[bool]] = [Contact.lead_id.in_(list(lead_ids))]
        if email_key is not None:
            conditions.append(Contact.email_key == email_key)
        if phone is not None:
            conditions.append(Contact.phone == phone)
        statement = self._scoped(Contact).where(sa.or_(*conditions)).order_by(Contact.created_at)
        return (await self.session.execute(statement)).scalars().all()

    async def deals(self, contact_ids: Sequence[str], lead_ids: Sequence[str]) -> Sequence[Deal]:
        """Deals with their contacts or from their leads: the tenant's business, listed in an
        export; an erasure unlinks them (foreign keys set to NULL) and keeps them."""
        statement = self._scoped(Deal).where(
            sa.or_(Deal.contact_id.in_(list(contact_ids)), Deal.lead_id.in_(list(lead_ids)))
        )
        return (await self.session.execute(statement.order_by(Deal.created_at))).scalars().all()

    async def activities(
        self, record_ids: Sequence[str], needles: Sequence[str]
    ) -> Sequence[Activity]:
        """Notes, calls, meetings and tasks on their leads or contacts, or quoting them."""
        statement = self._scoped(Activity).where(
            sa.or_(
                sa.and_(
                    Activity.record_type.in_(("lead", "contact")),
                    Activity.record_id.in_(list(record_ids)),
                ),
                _contains_any(Activity.subject, needles),
                _contains_any(Activity.body, needles),
            )
        )
        return (await self.session.execute(statement.order_by(Activity.created_at))).scalars().all()

    async def delete_activities(self, activity_ids: Sequence[str]) -> None:
        await self.session.execute(
            self._scoped_delete(Activity).where(Activity.id.in_(activity_ids))
        )

    async def delete_contacts(self, contact_ids: Sequence[str]) -> None:
        """Hard delete: their deals stay, no longer linked to them."""
        await self.session.execute(self._scoped_delete(Contact).where(Contact.id.in_(contact_ids)))

    async def consents(self, lead_ids: Sequence[str]) -> Sequence[LeadConsent]:
        """What their leads agreed to with a form (deleted with the lead, by cascade)."""
        statement = self._scoped(LeadConsent).where(LeadConsent.lead_id.in_(list(lead_ids)))
        return (
            (await self.session.execute(statement.order_by(LeadConsent.given_at))).scalars().all()
        )

    async def quarantined_submissions(
        self, needles: Sequence[str]
    ) -> Sequence[QuarantinedSubmission]:
        """Form submissions held as suspected spam whose lead quotes them."""
        statement = self._scoped(QuarantinedSubmission).where(
            _contains_any(QuarantinedSubmission.lead, needles)
        )
        return (
            (await self.session.execute(statement.order_by(QuarantinedSubmission.created_at)))
            .scalars()
            .all()
        )

    async def pending_confirmations(self, needles: Sequence[str]) -> Sequence[PendingConfirmation]:
        """Form leads waiting for double opt-in, sent to their address or quoting them."""
        statement = self._scoped(PendingConfirmation).where(
            sa.or_(
                _contains_any(PendingConfirmation.email, needles),
                _contains_any(PendingConfirmation.lead, needles),
            )
        )
        return (
            (await self.session.execute(statement.order_by(PendingConfirmation.created_at)))
            .scalars()
            .all()
        )

    async def source_payloads(
        self, lead_ids: Sequence[str], needles: Sequence[str]
    ) -> Sequence[SourcePayload]:
        """Inbound payloads that made one of their leads or quote them (a failed or duplicate
        payload made no lead but holds what the provider sent)."""
        statement = self._scoped(SourcePayload).where(
            sa.or_(
                SourcePayload.lead_id.in_(list(lead_ids)),
                _contains_any(SourcePayload.body, needles),
                _contains_any(SourcePayload.error, needles),
            )
        )
        return (
            (await self.session.execute(statement.order_by(SourcePayload.received_at)))
            .scalars()
            .all()
        )

    async def delete_quarantined_submissions(self, submission_ids: Sequence[str]) -> None:
        await self.session.execute(
            self._scoped_delete(QuarantinedSubmission).where(
                QuarantinedSubmission.id.in_(submission_ids)
            )
        )

    async def delete_pending_confirmations(self, pending_ids: Sequence[str]) -> None:
        await self.session.execute(
            self._scoped_delete(PendingConfirmation).where(PendingConfirmation.id.in_(pending_ids))
        )

    async def scrub_source_payloads(self, payload_ids: Sequence[str]) -> None:
        """The delivery stays counted with its outcome and times; what the provider sent goes."""
        await self.session.execute(
            self._scoped_update(SourcePayload)
            .where(SourcePayload.id.in_(payload_ids))
            .values(body={}, error=None)
        )

    async def delete_leads(self, lead_ids: Sequence[str]) -> None:
        """Hard delete: their tag links go by cascade."""
        await self.session.execute(self._scoped_delete(Lead).where(Lead.id.in_(lead_ids)))

    async def scrub_attempts(self, attempt_ids: Sequence[str]) -> None:
        await self.session.execute(
            self._scoped_update(WebhookAttempt)
            .where(WebhookAttempt.id.in_(attempt_ids))
            .values(response_body=None, error=None)
        )

    async def delete_idempotency_records(self, record_ids: Sequence[str]) -> None:
        await self.session.execute(
            self._scoped_delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(record_ids))
        )

    async def scrub_audit_events(self, audit_ids: Sequence[str]) -> None:
        """The fact stays (action, actor, time, target id); the copied values go."""
        await self.session.execute(
            self._scoped_update(AuditEvent)
            .where(AuditEvent.id.in_(audit_ids))
            .values(before=None, after=None)
        )


class SuppressionRepository(TenantScopedRepository):
    async def add(self, suppression_id: str, email_hash: str, reason: str, at: datetime) -> bool:
        """False when the hash is already on the list (the first reason stays)."""
        row = {"id": suppression_id, "email_hash": email_hash, "reason": reason, "created_at": at}
        statement = (
            insert_ignoring_conflicts(Suppression)
            .values(self._with_tenant([row]))
            .returning(Suppression.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def find(self, email_hashes: Sequence[str]) -> Suppression | None:
        statement = self._scoped(Suppression).where(Suppression.email_hash.in_(email_hashes))
        return (await self.session.execute(statement.limit(1))).scalar_one_or_none()

    async def remove(self, email_hashes: Sequence[str]) -> int:
        result: Any = await self.session.execute(
            self._scoped_delete(Suppression).where(Suppression.email_hash.in_(email_hashes))
        )
        return int(result.rowcount or 0)

    async def count(self) -> int:
        statement = (
            sa.select(sa.func.count())
            .select_from(Suppression)
            .where(self._tenant_filter(Suppression))
        )
        return int((await self.session.execute(statement)).scalar_one())
