"""The rules of contacts: the duplicate rule (as for leads), updates and their events, and
converting a lead into a contact (and a deal) in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic.alias_generators import to_camel
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import audit
from leadgate.auth.principal import Principal
from leadgate.contacts.common import actor_of, check_owner, check_team
from leadgate.contacts.repository import ContactFilters, ContactRepository
from leadgate.contacts.schemas import (
    ContactCreate,
    ContactDeleted,
    ContactDuplicatePolicy,
    ContactOut,
    ContactPage,
    ContactUpdate,
    LeadConversion,
    LeadConvert,
    LeadConverted,
)
from leadgate.deals import service as deals
from leadgate.errors import (
    ApiError,
    Conflict,
    InsufficientScope,
    NotFound,
)
from leadgate.events.service import emit
from leadgate.ids import new_id
from leadgate.leads import service as leads
from leadgate.leads.normalize import email_key, name_key
from leadgate.leads.repository import Position
from leadgate.leads.schemas import LeadUpdate
from leadgate.models import Contact, utcnow
from leadgate.schemas import iso_utc

FIELDS = (
    "first_name", "last_name", "email", "phone", "company", "title", "custom_fields",
    "team_id", "owner_id",
)  # fmt: skip
# A lead in these states can still become a contact.
CONVERTIBLE = ("new", "contacted", "qualified")


class DuplicateContact(ApiError):
    status_code = 409
    code = "duplicate_contact"


class LeadAlreadyConverted(Conflict):
    code = "lead_already_converted"


class LeadNotConvertible(Conflict):
    code = "invalid_status_transition"


def duplicate_error(existing_id: str, matched_on: str) -> DuplicateContact:
    return DuplicateContact(
        f"A contact with the same {matched_on} already exists.",
        details=[
            {
                "field": "email" if matched_on == "email" else "firstName",
                "message": f"matches contact {existing_id}",
                "type": "duplicate",
            }
        ],
        extra={"existingContactId": existing_id, "matchedOn": matched_on},
    )


def _policy(principal: Principal, given: ContactDuplicatePolicy | None) -> str:
    # The tenant's `merge` policy is for leads; a contact is never merged silently.
    return given or ("allow" if principal.duplicate_policy == "allow" else "reject")


async def _insert(
    session: AsyncSession, principal: Principal, values: dict[str, Any], policy: str
) -> None:
    repository = ContactRepository(session, principal.tenant_id)
    # Two tries: the holder may be deleted between our failed insert and the lookup.
    for _ in range(2):
        if await repository.insert_claiming({**values, "claims_duplicates": True}):
            return
        if policy == "allow":
            await repository.insert({**values, "claims_duplicates": False})
            return
        holder = await repository.find_claim_holder(values["email_key"], values["name_key"])
        if holder is not None:
            raise duplicate_error(*holder)
    raise DuplicateContact(
        "A contact with the same email or name was just created."
    )  # pragma: no cover


async def create_contact(
    session: AsyncSession,
    principal: Principal,
    data: ContactCreate,
    *,
    policy: ContactDuplicatePolicy | None = None,
    lead_id: str | None = None,
) -> ContactOut:
    team_id = data.team_id
    if team_id is None and principal.team_scope != "all-accounts" and len(principal.team_ids) == 1:
        team_id = principal.team_ids[0]
    await check_team(session, principal, team_id)
    await check_owner(session, principal, data.owner_id)
    now = utcnow()
    values: dict[str, Any] = {name: getattr(data, name) for name in FIELDS}
    values.update(
        id=new_id("cont"),
        lead_id=lead_id,
        team_id=team_id,
        custom_fields=data.custom_fields or {},
        created_by=actor_of(principal),
        email_key=email_key(data.email),
        name_key=name_key(data.first_name, data.last_name),
        created_at=now,
        updated_at=now,
    )
    await _insert(session, principal, values, _policy(principal, policy))
    out = contact_out(values)
    await emit(session, principal.tenant_id, "contact.created", contact_event_data(out))
    await _audit(session, principal, "contact.created", out.id, None, out)
    return out


async def _visible(session: AsyncSession, principal: Principal, contact_id: str) -> Contact:
    contact = await ContactRepository(session, principal.tenant_id).get(contact_id)
    if contact is None or not principal.can_use_team(contact.team_id):
        raise NotFound(f"No contact {contact_id}.")
    return contact


async def get_contact(session: AsyncSession, principal: Principal, contact_id: str) -> ContactOut:
    return contact_out(_row(await _visible(session, principal, contact_id)))


async def list_contacts(
    session: AsyncSession,
    principal: Principal,
    filters: ContactFilters,
    *,
    cursor: str | None,
    limit: int,
) -> ContactPage:
    after = leads.decode_cursor(cursor) if cursor else None
    rows = await ContactRepository(session, principal.tenant_id).page(
        filters, after=after, limit=limit + 1
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        leads.encode_cursor(Position(rows[-1].created_at, rows[-1].id)) if has_more else None
    )
    return ContactPage(
        data=[contact_out(_row(r)) for r in rows], has_more=has_more, next_cursor=next_cursor
    )


def contact_filters(principal: Principal, **given: Any) -> ContactFilters:
    q = given.pop("q", None)
    return ContactFilters(
        **given,
        q=q.strip() if q and q.strip() else None,
        team_ids=None if principal.team_scope == "all-accounts" else principal.team_ids,
    )


async def update_contact(
    session: AsyncSession, principal: Principal, contact_id: str, data: ContactUpdate
) -> ContactOut:
    contact = await _visible(session, principal, contact_id)
    changes: dict[str, Any] = {}
    for name in FIELDS:
        if name not in data.model_fields_set:
            continue
        value = getattr(data, name)
        if name == "custom_fields":
            value = value or {}
        if value != getattr(contact, name):
            changes[name] = value
    if "team_id" in changes:
        await check_team(session, principal, changes["team_id"])
    if "owner_id" in changes:
        await check_owner(session, principal, changes["owner_id"])
    if not changes:
        return contact_out(_row(contact))
    before = contact_out(_row(contact))
    previous = {to_camel(k): _jsonable(getattr(contact, k)) for k in changes}
    if "email" in changes:
        changes["email_key"] = email_key(changes["email"])
    if "first_name" in changes or "last_name" in changes:
        changes["name_key"] = name_key(
            changes.get("first_name", contact.first_name),
            changes.get("last_name", contact.last_name),
        )
    changes["updated_at"] = utcnow()
    await _update_checking_duplicates(session, principal, contact, changes)
    out = contact_out({**_row(contact), **changes})
    changed = [to_camel(k) for k in changes if k in FIELDS]
    await emit(
        session,
        principal.tenant_id,
        "contact.updated",
        {**contact_event_data(out), "changedFields": changed, "previousAttributes": previous},
    )
    await _audit(session, principal, "contact.updated", out.id, before, out)
    return out


async def _update_checking_duplicates(
    session: AsyncSession, principal: Principal, contact: Contact, changes: dict[str, Any]
) -> None:
    repository = ContactRepository(session, principal.tenant_id)
    rekeyed = "email_key" in changes or "name_key" in changes
    if not (rekeyed and contact.claims_duplicates):
        await repository.update(contact.id, changes)
        return
    keys = (changes.get("email_key", contact.email_key), changes.get("name_key", contact.name_key))
    holder = await repository.find_claim_holder(*keys, excluding=contact.id)
    if holder is not None:
        raise duplicate_error(*holder)
    try:
        async with session.begin_nested():
            await repository.update(contact.id, changes)
    except sa.exc.IntegrityError:
        holder = await repository.find_claim_holder(*keys, excluding=contact.id)
        if holder is None:  # pragma: no cover - the racing contact was deleted in between
            raise DuplicateContact("Another contact just took this email or name.") from None
        raise duplicate_error(*holder) from None


async def delete_contact(
    session: AsyncSession, principal: Principal, contact_id: str
) -> ContactDeleted:
    """Soft delete: the contact leaves every list and frees its email and name; deals keep it."""
    contact = await _visible(session, principal, contact_id)
    out = contact_out(_row(contact))
    now = utcnow()
    await ContactRepository(session, principal.tenant_id).update(contact.id, {"deleted_at": now})
    await emit(
        session,
        principal.tenant_id,
        "contact.deleted",
        {**contact_event_data(out), "deletedAt": iso_utc(now)},
    )
    await _audit(session, principal, "contact.deleted", out.id, out, None)
    return ContactDeleted(id=contact.id)


# --- converting a lead -----------------------------------------------------------------------


async def convert_lead(
    session: AsyncSession,
    principal: Principal,
    lead_id: str,
    data: LeadConvert,
    *,
    policy: ContactDuplicatePolicy | None = None,
) -> LeadConverted:
    """The lead becomes a contact (its fields, team and custom fields), and a deal for that
    contact when `deal` is given; the lead's status becomes `converted`. All or nothing."""
    if data.deal is not None and "deals:write" not in principal.scopes:
        raise InsufficientScope(
            "Converting a lead with a deal needs the 'deals:write' scope.",
            extra={"requiredScope": "deals:write"},
        )
    lead = await leads.get_lead(session, principal, lead_id)
    if await ContactRepository(session, principal.tenant_id).of_lead(lead.id) is not None:
        raise LeadAlreadyConverted(f"Lead {lead.id} was already converted.")
    if lead.status not in CONVERTIBLE:
        raise LeadNotConvertible(
            f"A {lead.status} lead cannot be converted.",
            details=[
                {
                    "field": "status",
                    "message": "allowed: " + ", ".join(CONVERTIBLE),
                    "type": "transition",
                }
            ],
        )
    contact = await create_contact(
        session,
        principal,
        ContactCreate.model_validate(
            {
                "firstName": lead.first_name,
                "lastName": lead.last_name,
                "email": lead.email,
                "phone": lead.phone,
                "company": lead.company,
                "title": data.title,
                "customFields": lead.custom_fields,
                "teamId": lead.team_id,
                "ownerId": data.owner_id,
            }
        ),
        policy=policy,
        lead_id=lead.id,
    )
    deal = None
    if data.deal is not None:
        deal_data = data.deal.model_copy(update={"contact_id": contact.id})
        deal = await deals.create_deal(
            session, principal, deal_data, lead_id=lead.id, team_id=lead.team_id
        )
    converted = await leads.update_lead(
        session, principal, lead.id, LeadUpdate.model_validate({"status": "converted"})
    )
    await emit(
        session,
        principal.tenant_id,
        "lead.converted",
        {
            "leadId": lead.id,
            "contactId": contact.id,
            "dealId": deal.id if deal else None,
            "lead": converted.model_dump(mode="json"),
            "contact": contact_event_data(contact),
            "deal": deal.model_dump(mode="json") if deal else None,
        },
    )
    await audit.record(
        session,
        tenant_id=principal.tenant_id,
        action="lead.converted",
        actor=actor_of(principal),
        target_type="lead",
        target_id=lead.id,
        after={"contactId": contact.id, "dealId": deal.id if deal else None},
    )
    return LeadConverted(lead=converted, contact=contact, deal=deal)


async def conversion_of(
    session: AsyncSession, principal: Principal, lead_id: str
) -> LeadConversion:
    lead = await leads.get_lead(session, principal, lead_id)
    contact = await ContactRepository(session, principal.tenant_id).of_lead(lead.id)
    if contact is None:
        raise NotFound(f"Lead {lead.id} has not been converted.")
    deal = await deals.deal_of_lead(session, principal.tenant_id, lead.id)
    return LeadConversion(lead_id=lead.id, contact_id=contact.id, deal_id=deal.id if deal else None)


# --- shapes ----------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    return iso_utc(value) if isinstance(value, datetime) else value


def _row(contact: Contact) -> dict[str, Any]:
    return {column.key: getattr(contact, column.key) for column in Contact.__table__.columns}


def contact_out(values: dict[str, Any]) -> ContactOut:
    return ContactOut.model_validate(
        {name: values[name] for name in ContactOut.model_fields if name in values}
    )


def contact_event_data(contact: ContactOut) -> dict[str, Any]:
    return contact.model_dump(mode="json")


async def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    contact_id: str,
    before: ContactOut | None,
    after: ContactOut | None,
) -> None:
    await audit.record(
        session,
        tenant_id=principal.tenant_id,
        action=action,
        actor=actor_of(principal),
        target_type="contact",
        target_id=contact_id,
        before=before.model_dump(mode="json") if before else None,
        after=after.model_dump(mode="json") if after else None,
    )
