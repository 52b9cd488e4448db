"""The rules of personal data: finding a person everywhere they were copied, erasing and
exporting them, the suppression list intake consults, and each tenant's retention periods."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic.alias_generators import to_camel
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import audit
from leadgate.db import DATABASE, Database, reading
from leadgate.errors import ApiError, InvalidRequest
from leadgate.events.service import emit
from leadgate.ids import new_id
from leadgate.leads.normalize import email_key, normalize_email, normalize_phone
from leadgate.models import (
    Activity,
    AuditEvent,
    Base,
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
    WebhookAttempt,
    WebhookDelivery,
    utcnow,
)
from leadgate.privacy.repository import (
    PersonRepository,
    RetentionRepository,
    SuppressionRepository,
)
from leadgate.privacy.retention import PERIODS, deployment_policy, policy_for, tenant_overrides
from leadgate.privacy.schemas import (
    ErasureCounts,
    ErasureOut,
    PersonExport,
    RetentionOut,
    RetentionPeriods,
    RetentionUpdate,
    SuppressionOut,
)
from leadgate.schemas import iso_utc
from leadgate.settings import Settings
from leadgate.tags.repository import TagRepository
from leadgate.tenants.repository import TenantRepository

# Lead columns that are bookkeeping, not what the person gave.
_LEAD_INTERNALS = {"tenant_id", "email_key", "name_key", "claims_duplicates"}


class EmailSuppressed(ApiError):
    """Intake of an address on the tenant's suppression list."""

    status_code = 422
    code = "email_suppressed"


@dataclass(frozen=True, slots=True)
class Person:
    """Who a request is about, normalised as leads store it."""

    email: str | None
    phone: str | None

    @property
    def email_key(self) -> str | None:
        return email_key(self.email)

    def as_subject(self) -> dict[str, str | None]:
        return {"email": self.email, "phone": self.phone}


def identify(email: str | None, phone: str | None, phone_region: str) -> Person:
    details = []
    normalised_email = normalised_phone = None
    if email:
        try:
            normalised_email = normalize_email(email)
        except ValueError as error:
            details.append({"field": "email", "message": str(error), "type": "value_error"})
    if phone:
        try:
            normalised_phone = normalize_phone(phone, phone_region)
        except ValueError as error:
            details.append({"field": "phone", "message": str(error), "type": "value_error"})
    if details:
        raise InvalidRequest("The person's e-mail or phone is not valid.", details=details)
    if normalised_email is None and normalised_phone is None:
        raise InvalidRequest("Give an email or a phone.")
    return Person(normalised_email, normalised_phone)


async def identify_in_tenant(
    session: AsyncSession, settings: Settings, tenant_id: str, email: str | None, phone: str | None
) -> Person:
    """`identify` with the tenant's phone region (for callers without an API key's)."""
    tenant = await TenantRepository(session).by_id(tenant_id)
    region = (tenant.phone_region if tenant else None) or settings.default_phone_region
    return identify(email, phone, region)


# --- finding a person --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holdings:
    """Every row of a tenant that is the person or holds a copy of their data."""

    leads: Sequence[Lead]
    events: Sequence[Event]
    deliveries: Sequence[WebhookDelivery]
    attempts: Sequence[WebhookAttempt]
    idempotency_records: Sequence[IdempotencyRecord]
    audit_events: Sequence[AuditEvent]
    consents: Sequence[LeadConsent] = ()
    quarantined_submissions: Sequence[QuarantinedSubmission] = ()
    pending_confirmations: Sequence[PendingConfirmation] = ()
    source_payloads: Sequence[SourcePayload] = ()
    contacts: Sequence[Contact] = ()
    deals: Sequence[Deal] = ()
    activities: Sequence[Activity] = ()


async def find_person(session: AsyncSession, tenant_id: str, person: Person) -> Holdings:
    repository = PersonRepository(session, tenant_id)
    leads = await repository.leads(person.email_key, person.phone)
    lead_ids = [lead.id for lead in leads]
    contacts = await repository.contacts(person.email_key, person.phone, lead_ids)
    contact_ids = [contact.id for contact in contacts]
    # What a copy may be recognised by: their leads' and contacts' ids, and every address and
    # number the person, their leads or contacts carry (a payload of another kind may quote them).
    found: set[str | None] = {*lead_ids, *contact_ids, person.email, person.phone}
    found |= {lead.email for lead in leads} | {lead.phone for lead in leads}
    found |= {contact.email for contact in contacts} | {contact.phone for contact in contacts}
    texts = sorted(needle for needle in found if needle)
    if not texts:
        return Holdings([], [], [], [], [], [])
    events = await repository.events(lead_ids, texts)
    deliveries = await repository.deliveries_of([event.id for event in events])
    attempts = await repository.attempts([delivery.id for delivery in deliveries], texts)
    records = await repository.idempotency_records(texts)
    audit_events = await repository.audit_events(texts)
    return Holdings(
        leads,
        events,
        deliveries,
        attempts,
        records,
        audit_events,
        consents=await repository.consents(lead_ids),
        quarantined_submissions=await repository.quarantined_submissions(texts),
        pending_confirmations=await repository.pending_confirmations(texts),
        source_payloads=await repository.source_payloads(lead_ids, texts),
        contacts=contacts,
        deals=await repository.deals(contact_ids, lead_ids),
        activities=await repository.activities([*lead_ids, *contact_ids], texts),
    )


# --- erasure -----------------------------------------------------------------------------------


async def erase_person(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    person: Person,
    suppress: bool,
    actor: dict[str, Any],
    ip: str | None = None,
) -> ErasureOut:
    """Deletes the person's leads and scrubs every copy, in the caller's transaction.

    Event payloads are emptied (the event stays listed, not replayable) and their pending
    deliveries cancelled, so nothing about the person is sent after this; attempt snippets and
    the audit log's copied values are cleared; idempotency records quoting them are deleted.
    The audit record and the `person.erased` event carry ids and counts only.
    """
    holdings = await find_person(session, tenant_id, person)
    now = utcnow()
    repository = PersonRepository(session, tenant_id)
    pending = [d for d in holdings.deliveries if d.status == "pending"]
    await RetentionRepository(session, tenant_id).empty_payloads_of(
        [event.id for event in holdings.events], now
    )
    if holdings.attempts:
        await repository.scrub_attempts([attempt.id for attempt in holdings.attempts])
    if holdings.idempotency_records:
        await repository.delete_idempotency_records([r.id for r in holdings.idempotency_records])
    if holdings.audit_events:
        await repository.scrub_audit_events([event.id for event in holdings.audit_events])
    if holdings.quarantined_submissions:
        await repository.delete_quarantined_submissions(
            [submission.id for submission in holdings.quarantined_submissions]
        )
    if holdings.pending_confirmations:
        await repository.delete_pending_confirmations(
            [pending.id for pending in holdings.pending_confirmations]
        )
    if holdings.source_payloads:
        await repository.scrub_source_payloads([p.id for p in holdings.source_payloads])
    if holdings.activities:
        await repository.delete_activities([activity.id for activity in holdings.activities])
    if holdings.contacts:
        await repository.delete_contacts([contact.id for contact in holdings.contacts])
    lead_ids = [lead.id for lead in holdings.leads]
    if lead_ids:
        # Their consent records go with them (foreign-key cascade).
        await repository.delete_leads(lead_ids)
    suppressed = False
    if suppress and person.email is not None:
        await add_suppression(session, settings, tenant_id, person.email, "erased")
        suppressed = True
    erasure = ErasureOut(
        id=new_id("era"),
        lead_ids=lead_ids,
        counts=ErasureCounts(
            leads=len(lead_ids),
            events=len(holdings.events),
            pending_deliveries=len(pending),
            delivery_attempts=len(holdings.attempts),
            idempotency_records=len(holdings.idempotency_records),
            audit_events=len(holdings.audit_events),
            consents=len(holdings.consents),
            quarantined_submissions=len(holdings.quarantined_submissions),
            pending_confirmations=len(holdings.pending_confirmations),
            source_payloads=len(holdings.source_payloads),
            contacts=len(holdings.contacts),
            activities=len(holdings.activities),
        ),
        suppressed=suppressed,
    )
    facts = erasure.model_dump(mode="json", by_alias=True, exclude={"id"})
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="person.erased",
        actor=actor,
        target_type="erasure",
        target_id=erasure.id,
        after=facts,
        ip=ip,
    )
    await emit(session, tenant_id, "person.erased", {"erasureId": erasure.id, **facts})
    return erasure


# --- export ------------------------------------------------------------------------------------


def _columns(row: Base, skip: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in row.__table__.columns:
        if column.key in skip:
            continue
        value = getattr(row, column.key)
        values[to_camel(column.key)] = iso_utc(value) if hasattr(value, "isoformat") else value
    return values


async def export_person(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    person: Person,
) -> PersonExport:
    """What the tenant holds about the person, record by record. A read: nothing is written."""
    holdings = await find_person(session, tenant_id, person)
    tags = await TagRepository(session, tenant_id).tags_of([lead.id for lead in holdings.leads])
    leads = [
        {**_columns(lead, _LEAD_INTERNALS), "tags": [t.name for t in tags.get(lead.id, [])]}
        for lead in holdings.leads
    ]
    suppression = None
    if person.email is not None:
        found = await find_suppression(session, settings, tenant_id, person.email)
        if found is not None:
            suppression = {"reason": found.reason, "createdAt": iso_utc(found.created_at)}
    skip = {"tenant_id"}
    export = PersonExport(
        subject=person.as_subject(),
        leads=leads,
        events=[_columns(event, skip) for event in holdings.events],
        webhook_deliveries=[_columns(delivery, skip) for delivery in holdings.deliveries],
        webhook_attempts=[_columns(attempt, skip) for attempt in holdings.attempts],
        idempotency_records=[
            _columns(record, skip | {"fingerprint"}) for record in holdings.idempotency_records
        ],
        audit_events=[_columns(event, skip) for event in holdings.audit_events],
        consents=[_columns(consent, skip) for consent in holdings.consents],
        quarantined_submissions=[
            _columns(submission, skip) for submission in holdings.quarantined_submissions
        ],
        pending_confirmations=[
            _columns(pending, skip | {"token_hash"}) for pending in holdings.pending_confirmations
        ],
        source_payloads=[_columns(payload, skip) for payload in holdings.source_payloads],
        contacts=[_columns(contact, _LEAD_INTERNALS) for contact in holdings.contacts],
        deals=[_columns(deal, skip) for deal in holdings.deals],
        activities=[_columns(activity, skip) for activity in holdings.activities],
        suppression=suppression,
    )
    return export


# --- the suppression list ----------------------------------------------------------------------


def suppression_hashes(settings: Settings, tenant_id: str, email: str) -> list[str]:
    """The address's keyed hash under the current server secret, then under each secret being
    rotated out (entries made before a rotation still match)."""
    message = f"suppression:{tenant_id}:{email_key(email)}".encode()
    return [
        hmac.new(secret, message, hashlib.sha256).hexdigest()
        for secret in [settings.secret_bytes, *settings.previous_secret_bytes]
    ]


async def add_suppression(
    session: AsyncSession, settings: Settings, tenant_id: str, email: str, reason: str
) -> bool:
    """False when the address was already on the list."""
    hashes = suppression_hashes(settings, tenant_id, email)
    repository = SuppressionRepository(session, tenant_id)
    if await repository.find(hashes) is not None:
        return False
    return await repository.add(new_id("sup"), hashes[0], reason, utcnow())


async def find_suppression(
    session: AsyncSession, settings: Settings, tenant_id: str, email: str
) -> Suppression | None:
    hashes = suppression_hashes(settings, tenant_id, email)
    return await SuppressionRepository(session, tenant_id).find(hashes)


async def remove_suppression(
    session: AsyncSession, settings: Settings, tenant_id: str, email: str
) -> bool:
    hashes = suppression_hashes(settings, tenant_id, email)
    return await SuppressionRepository(session, tenant_id).remove(hashes) > 0


def suppression_out(found: Suppression | None) -> SuppressionOut:
    if found is None:
        return SuppressionOut(suppressed=False)
    return SuppressionOut(
        suppressed=True,
        reason=found.reason,
        created_at=found.created_at,
    )


def suppression_screen(session: AsyncSession, tenant_id: str, email: str | None) -> list[str]:
    """The keyed hashes intake's write screens an e-mail with (`leads.repository.LeadWriter`
    inserts nothing when one is on the list): no query of its own on the common path."""
    if not email:
        return []
    database: Database = session.info[DATABASE]
    return suppression_hashes(database.settings, tenant_id, email)


async def check_not_suppressed(session: AsyncSession, tenant_id: str, email: str | None) -> None:
    """Intake's check: refuses an address on the tenant's suppression list, saying why.

    The settings (for the server secret) come from the `Database` every session is made by.
    """
    if not email:
        return
    database: Database = session.info[DATABASE]
    # A read before the request's first write: no transaction of its own on PostgreSQL.
    async with reading(session) as reader:
        found = await find_suppression(reader, database.settings, tenant_id, email)
    if found is not None:
        raise EmailSuppressed(
            f"This e-mail address is on the suppression list ({found.reason}): "
            "leads with it are not taken in.",
            details=[
                {"field": "email", "message": f"suppressed: {found.reason}", "type": "suppressed"}
            ],
            extra={"suppressionReason": found.reason},
        )


# --- retention periods -------------------------------------------------------------------------


async def retention_of(session: AsyncSession, settings: Settings, tenant_id: str) -> RetentionOut:
    tenant = await TenantRepository(session).by_id(tenant_id)
    assert tenant is not None  # the caller's principal names an existing tenant
    return RetentionOut(
        effective=_periods(policy_for(settings, tenant.settings).as_api()),
        tenant=tenant_overrides(tenant.settings),
        defaults=_periods(deployment_policy(settings).as_api()),
    )


def _periods(values: dict[str, float | None]) -> RetentionPeriods:
    return RetentionPeriods.model_validate(values)


async def set_retention(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    changes: RetentionUpdate,
    actor: dict[str, Any],
    ip: str | None = None,
) -> RetentionOut:
    """Sets the given periods (null: back to the deployment default). The audit log is kept
    longest: a change leaving it shorter than any other period is refused."""
    tenant = await TenantRepository(session).by_id(tenant_id)
    assert tenant is not None
    before = tenant_overrides(tenant.settings)
    given = changes.model_dump(by_alias=True, exclude_unset=True)
    after = {**before, **{k: float(v) for k, v in given.items() if v is not None}}
    for name, value in given.items():
        if value is None:
            after.pop(name, None)
    effective = policy_for(settings, {"retention": after}).as_api()
    longest_other = max(
        (v for name, v in effective.items() if name != "audit" and v is not None), default=0.0
    )
    if effective["audit"] is not None and effective["audit"] < longest_other:
        raise InvalidRequest(
            "The audit log must be kept at least as long as anything else.",
            details=[
                {
                    "field": "audit",
                    "message": f"must be at least {longest_other:g} days",
                    "type": "retention",
                }
            ],
        )
    tenant.settings = {**tenant.settings, "retention": {k: after[k] for k in PERIODS if k in after}}
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="retention.updated",
        actor=actor,
        target_type="tenant",
        target_id=tenant_id,
        before=before,
        after=after,
        ip=ip,
    )
    return await retention_of(session, settings, tenant_id)
