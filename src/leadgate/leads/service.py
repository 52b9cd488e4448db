"""The rules of leads: teams, tags, the duplicate policy, updates and their events."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.auth.principal import Principal
from leadgate.db import reading
from leadgate.errors import (
    ApiError,
    Conflict,
    DuplicateLead,
    Forbidden,
    InsufficientScope,
    InvalidRequest,
    NotFound,
    validation_details,
)
from leadgate.events.service import emit, new_event
from leadgate.idempotency import service as idempotency
from leadgate.ids import new_id
from leadgate.leads.matching import claim_keys
from leadgate.leads.repository import LeadFilters, LeadRepository, LeadWriter, Position
from leadgate.leads.schemas import (
    AttributionOut,
    BatchItem,
    BatchItemError,
    BatchResult,
    BatchSummary,
    CreatedBy,
    LeadCreate,
    LeadDeleted,
    LeadDryRun,
    LeadOut,
    LeadPage,
    LeadPreview,
    LeadTagsInput,
    LeadUpdate,
)
from leadgate.models import Lead, Tag, utcnow
from leadgate.privacy.service import check_not_suppressed, suppression_screen
from leadgate.schemas import iso_utc
from leadgate.tags.repository import TagRepository
from leadgate.tags.schemas import TagOut
from leadgate.tenants.repository import TeamRepository

# Fields copied as they are from a validated LeadCreate into the row.
CONTACT_FIELDS = (
    "first_name", "last_name", "email", "phone", "company", "website", "source",
    "address", "city", "state", "zipcode", "country", "status",
)  # fmt: skip
# What `merge` may fill on the existing lead: only where it has nothing.
MERGEABLE_FIELDS = (
    "email", "phone", "company", "website", "source", "address", "city", "state",
    "zipcode", "country", "team_id", "attribution",
)  # fmt: skip
# The pipeline moves forward (steps may be skipped); any open lead can be lost; a lost lead
# can be reopened; a converted lead is done.
STATUS_TRANSITIONS = {
    "new": {"contacted", "qualified", "converted", "lost"},
    "contacted": {"qualified", "converted", "lost"},
    "qualified": {"converted", "lost"},
    "converted": set(),
    "lost": {"new", "contacted", "qualified"},
}
Policy = Literal["reject", "allow", "merge"]


class InvalidStatusTransition(Conflict):
    code = "invalid_status_transition"


class BatchRejected(ApiError):
    status_code = 422
    code = "batch_rejected"


@dataclass(frozen=True, slots=True)
class WriteResult:
    outcome: Literal["created", "merged"]
    lead: LeadOut
    merged_fields: list[str] = field(default_factory=list)
    body: str = ""  # a created lead's response, as recorded with it (JSON)


# --- create ----------------------------------------------------------------------------------


async def create_lead(
    session: AsyncSession,
    principal: Principal,
    data: LeadCreate,
    *,
    request_source: str,
    policy: Policy | None = None,
    created_by: dict[str, Any] | None = None,
) -> WriteResult:
    """Creates the lead, or applies the duplicate policy. The common write (lead, `lead.created`
    event, tag links, and the response an `Idempotency-Key` records) is one round trip
    (`LeadWriter`); a duplicate, or an e-mail on the suppression list, is found by that same
    statement writing nothing."""
    screen = suppression_screen(session, principal.tenant_id, data.email)
    policy = policy or _tenant_policy(principal)
    team_id = await _resolve_team(session, principal, data.team_id)
    tags, _ = await _resolve_tags(session, principal, data, create=True)
    values = new_lead_values(principal, data, team_id, request_source, created_by)
    lead = lead_out(values, tags)
    body = lead.model_dump_json()
    completion = idempotency.completion(session, 201, body)
    writer = LeadWriter(session, principal.tenant_id)
    tag_ids = [tag.id for tag in tags]
    # Two tries: a claim holder can be deleted between our failed insert and the lookup.
    for _ in range(2):
        event = new_event("lead.created", body)
        claiming = {**values, "claims_duplicates": True}
        if await writer.create(claiming, event, tag_ids, completion, screen):
            idempotency.completed(session, completion)
            return WriteResult("created", lead, body=body)
        # Nothing was written: the address is suppressed (refused, saying why), or a lead
        # holds the e-mail, phone or name.
        await check_not_suppressed(session, principal.tenant_id, data.email)
        if policy == "allow":
            event = new_event("lead.created", body)
            await writer.create({**values, "claims_duplicates": False}, event, tag_ids, completion)
            idempotency.completed(session, completion)
            return WriteResult("created", lead, body=body)
        async with reading(session) as reader:
            repository = LeadRepository(reader, principal.tenant_id)
            holder = await repository.find_claim_holder(
                values["email_key"], values["name_key"], values["phone_key"]
            )
            if holder is not None and policy != "merge":
                raise await _duplicate_for(repository, principal, holder)
        if holder is not None:
            return await _merge_into(session, principal, holder, values, tags)
    raise DuplicateLead("A lead with the same email or name was just created.")  # pragma: no cover


def _tenant_policy(principal: Principal) -> Policy:
    policy = principal.duplicate_policy
    return policy if policy in ("allow", "merge") else "reject"  # type: ignore[return-value]


def new_lead_values(
    principal: Principal,
    data: LeadCreate,
    team_id: str | None,
    request_source: str,
    created_by: dict[str, Any] | None,
) -> dict[str, Any]:
    now = utcnow()
    values: dict[str, Any] = {name: getattr(data, name) for name in CONTACT_FIELDS}
    values.update(
        id=new_id("lead"),
        team_id=team_id,
        custom_fields=data.custom_fields or {},
        created_by=created_by or principal.actor,
        request_source=data.request_source or request_source,
        attribution=(
            data.attribution.model_dump(by_alias=True, exclude_none=True)
            if data.attribution
            else None
        ),
        **claim_keys(
            principal.duplicate_fields,
            email=data.email,
            phone=data.phone,
            first_name=data.first_name,
            last_name=data.last_name,
        ),
        created_at=now,
        updated_at=now,
    )
    return values


def duplicate_error(existing_id: str, matched_on: str, *, reveal: bool = True) -> DuplicateLead:
    """`reveal`: whether the caller may see the existing lead; if not, it learns only that a
    duplicate exists (another team's lead id is not for a team-limited key)."""
    return DuplicateLead(
        f"A lead with the same {matched_on} already exists.",
        details=[
            {
                "field": {"email": "email", "phone": "phone"}.get(matched_on, "firstName"),
                "message": f"matches lead {existing_id}" if reveal else "matches an existing lead",
                "type": "duplicate",
            }
        ],
        extra={"existingLeadId": existing_id, "matchedOn": matched_on}
        if reveal
        else {"matchedOn": matched_on},
    )


async def _may_see(repository: LeadRepository, principal: Principal, lead_id: str) -> bool:
    if principal.team_scope == "all-accounts":
        return True  # no read needed: the common case stays one query shorter
    lead = await repository.get(lead_id)
    return lead is not None and principal.can_use_team(lead.team_id)


async def _duplicate_for(
    repository: LeadRepository, principal: Principal, holder: tuple[str, str]
) -> DuplicateLead:
    existing_id, matched_on = holder
    reveal = await _may_see(repository, principal, existing_id)
    return duplicate_error(existing_id, matched_on, reveal=reveal)


def _fills(lead: Lead, values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: values[name]
        for name in MERGEABLE_FIELDS
        if values.get(name) not in (None, "") and getattr(lead, name) in (None, "")
    }


async def _merge_into(
    session: AsyncSession,
    principal: Principal,
    holder: tuple[str, str],
    values: dict[str, Any],
    tags: list[Tag],
) -> WriteResult:
    """Fills the existing lead's empty fields and adds the new tags (the `merge` policy)."""
    existing_id, matched_on = holder
    repository = LeadRepository(session, principal.tenant_id)
    tag_repository = TagRepository(session, principal.tenant_id)
    lead = await repository.get(existing_id)
    # A lead the key cannot see is not changed through it; the caller learns only the conflict.
    if lead is None or not principal.can_use_team(lead.team_id):
        raise duplicate_error(existing_id, matched_on, reveal=False)
    current_tags = (await tag_repository.tags_of([lead.id])).get(lead.id, [])
    new_tags = [t for t in tags if t.id not in {c.id for c in current_tags}]
    update = _fills(lead, values)
    for name in ("email", "phone"):
        if name in update:
            update[f"{name}_key"] = values[f"{name}_key"]
    new_custom = {k: v for k, v in values["custom_fields"].items() if k not in lead.custom_fields}
    if new_custom:
        update["custom_fields"] = {**lead.custom_fields, **new_custom}
    if update:
        update["updated_at"] = utcnow()
        try:
            async with session.begin_nested():
                await repository.update(lead.id, update)
        except sa.exc.IntegrityError:
            # The email or phone was claimed by another lead a moment ago: merge the rest.
            for name in ("email", "email_key", "phone", "phone_key"):
                update.pop(name, None)
            await repository.update(lead.id, update)
    elif new_tags:
        update["updated_at"] = utcnow()
        await repository.update(lead.id, update)
    await tag_repository.link(lead.id, [t.id for t in new_tags])
    changed = [to_camel(k) for k in MERGEABLE_FIELDS if k in update]
    changed += ["customFields"] if new_custom else []
    changed += ["tags"] if new_tags else []
    previous = {to_camel(k): getattr(lead, k) for k in update if k in MERGEABLE_FIELDS}
    after = {**_row_values(lead), **update}
    out = lead_out(after, sorted([*current_tags, *new_tags], key=lambda t: t.name_key))
    if changed:
        await emit(
            session,
            principal.tenant_id,
            "lead.updated",
            {**lead_event_data(out), "changedFields": changed, "previousAttributes": previous},
        )
    return WriteResult("merged", out, changed)


async def preview_lead(
    session: AsyncSession, principal: Principal, data: LeadCreate, *, policy: Policy | None = None
) -> LeadDryRun:
    """What `create_lead` would do, with every check and nothing written."""
    policy = policy or _tenant_policy(principal)
    team_id = await _resolve_team(session, principal, data.team_id)
    tags, new_tag_names = await _resolve_tags(session, principal, data, create=False)
    values = new_lead_values(principal, data, team_id, "api_native", None)
    preview = LeadPreview(
        **{name: values[name] for name in CONTACT_FIELDS},
        tags=sorted([t.name for t in tags] + new_tag_names, key=str.casefold),
        custom_fields=values["custom_fields"],
        team_id=team_id,
    )
    repository = LeadRepository(session, principal.tenant_id)
    holder = await repository.find_claim_holder(
        values["email_key"], values["name_key"], values["phone_key"]
    )
    if holder is None or policy == "allow":
        return LeadDryRun(outcome="created", lead=preview, new_tags=new_tag_names)
    existing_id, matched_on = holder
    lead = await repository.get(existing_id)
    visible = lead is not None and principal.can_use_team(lead.team_id)
    if policy == "reject" or lead is None or not visible:
        return LeadDryRun(
            outcome="duplicate",
            lead=preview,
            existing_lead_id=existing_id if visible else None,
            matched_on=matched_on,
            new_tags=new_tag_names,
        )
    current = {
        t.id
        for t in (await TagRepository(session, principal.tenant_id).tags_of([lead.id])).get(
            lead.id, []
        )
    }
    merged = [to_camel(k) for k in _fills(lead, values)]
    if any(k not in lead.custom_fields for k in values["custom_fields"]):
        merged.append("customFields")
    if new_tag_names or any(t.id not in current for t in tags):
        merged.append("tags")
    return LeadDryRun(
        outcome="merged",
        lead=preview,
        existing_lead_id=existing_id,
        matched_on=matched_on,
        merged_fields=merged,
        new_tags=new_tag_names,
    )


async def _resolve_team(
    session: AsyncSession, principal: Principal, team_id: str | None
) -> str | None:
    if team_id is None:
        if principal.team_scope == "all-accounts":
            return None
        if len(principal.team_ids) == 1:
            return principal.team_ids[0]
        raise InvalidRequest(
            "This API key serves several teams; name one.",
            details=[{"field": "teamId", "message": "required for this key", "type": "missing"}],
        )
    await _check_team(session, principal, team_id)
    return team_id


async def _check_team(session: AsyncSession, principal: Principal, team_id: str) -> None:
    if not principal.can_use_team(team_id):
        raise Forbidden(f"This API key has no access to team {team_id}.")
    async with reading(session) as reader:
        known = await TeamRepository(reader, principal.tenant_id).existing_ids([team_id])
    if team_id not in known:
        raise InvalidRequest(
            "Unknown team.",
            details=[{"field": "teamId", "message": f"no team {team_id}", "type": "not_found"}],
        )


async def _resolve_tags(
    session: AsyncSession, principal: Principal, data: LeadTagsInput, *, create: bool
) -> tuple[list[Tag], list[str]]:
    """Tags by id must exist; tags by name are found, or created with `tags:write`.

    Returns the tags, and the names that had to be (or, without `create`, would be) created.
    """
    wanted_ids = data.wanted_tag_ids()
    names = {" ".join(n.split()).casefold(): " ".join(n.split()) for n in data.tags or []}
    found: list[Tag] = []
    if wanted_ids or names:  # one read for both
        async with reading(session) as reader:
            found = await TagRepository(reader, principal.tenant_id).matching(
                wanted_ids, list(names)
            )
    by_id = [tag for tag in found if tag.id in wanted_ids]
    by_name = [tag for tag in found if tag.name_key in names]
    missing = [tag_id for tag_id in wanted_ids if tag_id not in {t.id for t in by_id}]
    if missing:
        field_name = "tagId" if data.tag_id in missing else "tagIds"
        raise InvalidRequest(
            "Unknown tags.",
            details=[
                {"field": field_name, "message": f"no tag {t}", "type": "not_found"}
                for t in missing
            ],
        )
    to_create = [key for key in names if key not in {t.name_key for t in by_name}]
    if to_create:
        if "tags:write" not in principal.scopes:
            raise InsufficientScope(
                "Creating tags needs the 'tags:write' scope; use existing tag names or ids.",
                extra={"requiredScope": "tags:write"},
            )
        if create:  # the unit of work: the new tags commit (or not) with the lead
            repository = TagRepository(session, principal.tenant_id)
            await repository.insert_missing([(new_id("tag"), names[k], k) for k in to_create])
            by_name = await repository.by_name_keys(list(names))
    unique = {tag.id: tag for tag in [*by_id, *by_name]}
    return sorted(unique.values(), key=lambda tag: tag.name_key), [names[k] for k in to_create]


# --- read ------------------------------------------------------------------------------------


async def get_lead(session: AsyncSession, principal: Principal, lead_id: str) -> LeadOut:
    lead = await _visible_lead(session, principal, lead_id)
    tags = (await TagRepository(session, principal.tenant_id).tags_of([lead.id])).get(lead.id, [])
    return lead_out(_row_values(lead), tags)


async def _visible_lead(session: AsyncSession, principal: Principal, lead_id: str) -> Lead:
    lead = await LeadRepository(session, principal.tenant_id).get(lead_id)
    # A lead outside the key's teams is reported as absent, not forbidden: no oracle.
    if lead is None or not principal.can_use_team(lead.team_id):
        raise NotFound(f"No lead {lead_id}.")
    return lead


def encode_cursor(position: Position) -> str:
    raw = f"{position.created_at.isoformat()}|{position.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, lead_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(stamp)
        if created_at.tzinfo is None or not lead_id:
            raise ValueError("incomplete cursor")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest(
            "Invalid cursor; pass the `nextCursor` of the previous page as it is.",
            details=[{"field": "cursor", "message": "not a cursor", "type": "invalid"}],
        ) from None
    return Position(created_at, lead_id)


async def lead_filters(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None = None,
    tag: str | None = None,
    team_id: str | None = None,
    source: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    q: str | None = None,
    utm_source: str | None = None,
    utm_medium: str | None = None,
    utm_campaign: str | None = None,
) -> LeadFilters | None:
    """The filters of a list or export; None when they can match nothing (an unknown tag)."""
    tag_id = None
    if tag:
        repository = TagRepository(session, principal.tenant_id)
        found = await repository.by_ids([tag]) or await repository.by_name_keys(
            [" ".join(tag.split()).casefold()]
        )
        if not found:
            return None
        tag_id = found[0].id
    return LeadFilters(
        status=status,
        tag_id=tag_id,
        team_id=team_id,
        source=source,
        created_after=created_after,
        created_before=created_before,
        q=q.strip() if q and q.strip() else None,
        utm_source=utm_source,
        utm_medium=utm_medium,
        utm_campaign=utm_campaign,
        team_ids=None if principal.team_scope == "all-accounts" else principal.team_ids,
    )


async def list_leads(
    session: AsyncSession,
    principal: Principal,
    filters: LeadFilters | None,
    *,
    cursor: str | None,
    limit: int,
) -> LeadPage:
    after = decode_cursor(cursor) if cursor else None
    if filters is None:
        return LeadPage(data=[], has_more=False, next_cursor=None)
    leads = await page_of_leads(session, principal.tenant_id, filters, after, limit + 1)
    has_more = len(leads) > limit
    leads = leads[:limit]
    last = leads[-1] if has_more else None
    next_cursor = encode_cursor(Position(last.created_at, last.id)) if last else None
    return LeadPage(data=leads, has_more=has_more, next_cursor=next_cursor)


async def page_of_leads(
    session: AsyncSession,
    tenant_id: str,
    filters: LeadFilters,
    after: Position | None,
    limit: int,
) -> list[LeadOut]:
    rows = await LeadRepository(session, tenant_id).page(filters, after=after, limit=limit)
    tags = await TagRepository(session, tenant_id).tags_of([row["id"] for row in rows])
    return [lead_out(row, tags.get(row["id"], [])) for row in rows]


# --- change ----------------------------------------------------------------------------------


async def update_lead(
    session: AsyncSession, principal: Principal, lead_id: str, data: LeadUpdate
) -> LeadOut:
    lead = await _visible_lead(session, principal, lead_id)
    repository = LeadRepository(session, principal.tenant_id)
    tag_repository = TagRepository(session, principal.tenant_id)
    given = data.model_fields_set
    changes: dict[str, Any] = {}
    for name in (*CONTACT_FIELDS, "custom_fields", "team_id"):
        if name not in given:
            continue
        value = getattr(data, name)
        if name == "custom_fields":
            value = value or {}
        if value != getattr(lead, name):
            changes[name] = value
    if "team_id" in changes:
        if changes["team_id"] is None and principal.team_scope != "all-accounts":
            raise Forbidden("This API key may not take a lead out of its teams.")
        if changes["team_id"] is not None:
            await _check_team(session, principal, changes["team_id"])
    if "status" in changes and changes["status"] not in STATUS_TRANSITIONS[lead.status]:
        raise InvalidStatusTransition(
            f"A {lead.status} lead cannot become {changes['status']}.",
            details=[
                {
                    "field": "status",
                    "message": "allowed: "
                    + (", ".join(sorted(STATUS_TRANSITIONS[lead.status])) or "none"),
                    "type": "transition",
                }
            ],
        )
    current_tags = (await tag_repository.tags_of([lead.id])).get(lead.id, [])
    tags = current_tags
    if data.names_tags:
        tags, _ = await _resolve_tags(session, principal, data, create=True)
    added = [t.id for t in tags if t.id not in {c.id for c in current_tags}]
    removed = [c.id for c in current_tags if c.id not in {t.id for t in tags}]
    if not changes and not added and not removed:
        return lead_out(_row_values(lead), current_tags)
    previous = {to_camel(k): _jsonable(getattr(lead, k)) for k in changes}
    if {"email", "phone", "first_name", "last_name"} & set(changes):
        keys = claim_keys(
            principal.duplicate_fields,
            email=changes.get("email", lead.email),
            phone=changes.get("phone", lead.phone),
            first_name=changes.get("first_name", lead.first_name),
            last_name=changes.get("last_name", lead.last_name),
        )
        changes.update({k: v for k, v in keys.items() if v != getattr(lead, k)})
    changes["updated_at"] = utcnow()
    await _update_checking_duplicates(repository, principal, lead, changes)
    await tag_repository.unlink(lead.id, removed)
    await tag_repository.link(lead.id, added)
    out = lead_out({**_row_values(lead), **changes}, tags)
    bookkeeping = ("email_key", "name_key", "phone_key", "updated_at")
    changed = [to_camel(k) for k in changes if k not in bookkeeping]
    if added or removed:
        changed.append("tags")
        previous["tags"] = [t.name for t in current_tags]
    await emit(
        session,
        principal.tenant_id,
        "lead.updated",
        {**lead_event_data(out), "changedFields": changed, "previousAttributes": previous},
    )
    return out


async def _update_checking_duplicates(
    repository: LeadRepository, principal: Principal, lead: Lead, changes: dict[str, Any]
) -> None:
    """Writes the change; a new email, phone or name another live lead holds is 409
    `duplicate_lead`."""
    rekeyed = bool({"email_key", "name_key", "phone_key"} & set(changes))
    if not (rekeyed and lead.claims_duplicates):
        await repository.update(lead.id, changes)
        return
    new_keys = [changes.get(k, getattr(lead, k)) for k in ("email_key", "name_key", "phone_key")]
    holder = await repository.find_claim_holder(*new_keys, excluding=lead.id)
    if holder is not None:
        raise await _duplicate_for(repository, principal, holder)
    # The index has the last word: a savepoint keeps a lost race from aborting the transaction.
    try:
        async with repository.session.begin_nested():
            await repository.update(lead.id, changes)
    except sa.exc.IntegrityError:
        holder = await repository.find_claim_holder(*new_keys, excluding=lead.id)
        if holder is None:  # pragma: no cover - the racing lead was deleted in between
            raise DuplicateLead("Another lead just took this email, phone or name.") from None
        raise await _duplicate_for(repository, principal, holder) from None


async def delete_lead(session: AsyncSession, principal: Principal, lead_id: str) -> LeadDeleted:
    """Soft delete: the lead leaves every list and frees its email and name at once; the row is
    purged after the retention period."""
    lead = await _visible_lead(session, principal, lead_id)
    tags = (await TagRepository(session, principal.tenant_id).tags_of([lead.id])).get(lead.id, [])
    now = utcnow()
    await LeadRepository(session, principal.tenant_id).update(lead.id, {"deleted_at": now})
    data = lead_event_data(lead_out(_row_values(lead), tags))
    await emit(session, principal.tenant_id, "lead.deleted", {**data, "deletedAt": _jsonable(now)})
    return LeadDeleted(id=lead.id)


async def purge_deleted(session: AsyncSession, tenant_id: str, before: datetime) -> int:
    return await LeadRepository(session, tenant_id).purge_deleted(before)


# --- batch -----------------------------------------------------------------------------------


async def create_batch(
    session: AsyncSession,
    principal: Principal,
    items: list[dict[str, Any]],
    *,
    atomic: bool,
    policy: Policy | None,
    request_source: str,
    phone_region: str,
) -> BatchResult:
    """Creates each lead in a savepoint of its own, so one bad lead never undoes the others.

    With `atomic`, any lead that is not created or merged rejects the whole batch (422).
    """
    results: list[BatchItem] = []
    for index, item in enumerate(items):
        results.append(
            await _batch_item(session, principal, index, item, policy, request_source, phone_region)
        )
    summary = BatchSummary()
    for result in results:
        setattr(summary, result.status, getattr(summary, result.status) + 1)
    batch = BatchResult(atomic=atomic, summary=summary, results=results)
    if atomic and (summary.invalid or summary.duplicate):
        raise BatchRejected(
            "At least one lead failed, so no lead of this atomic batch was written.",
            details=[
                {"field": f"leads.{r.index}", "message": r.error.message, "type": r.error.error}
                for r in results
                if r.error is not None
            ],
            extra=batch.model_dump(mode="json", by_alias=True, include={"summary", "results"}),
        )
    return batch


async def _batch_item(
    session: AsyncSession,
    principal: Principal,
    index: int,
    item: dict[str, Any],
    policy: Policy | None,
    request_source: str,
    phone_region: str,
) -> BatchItem:
    try:
        data = LeadCreate.model_validate(item, context={"phone_region": phone_region})
    except ValidationError as error:
        return BatchItem(
            index=index,
            status="invalid",
            error=BatchItemError(
                error="invalid_request",
                message="The lead did not pass validation.",
                details=validation_details(error.errors()),
            ),
        )
    try:
        async with session.begin_nested():
            result = await create_lead(
                session, principal, data, request_source=request_source, policy=policy
            )
    except DuplicateLead as error:
        return BatchItem(
            index=index,
            status="duplicate",
            existing_lead_id=error.extra.get("existingLeadId"),
            matched_on=error.extra.get("matchedOn"),
            error=BatchItemError(error=error.code, message=error.message, details=error.details),
        )
    except ApiError as error:
        return BatchItem(
            index=index,
            status="invalid",
            error=BatchItemError(error=error.code, message=error.message, details=error.details),
        )
    if result.outcome == "merged":
        return BatchItem(
            index=index, status="merged", lead=result.lead, merged_fields=result.merged_fields
        )
    return BatchItem(index=index, status="created", lead=result.lead)


# --- shapes ----------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    return iso_utc(value) if isinstance(value, datetime) else value


def _row_values(lead: Lead) -> dict[str, Any]:
    return {column.key: getattr(lead, column.key) for column in Lead.__table__.columns}


def lead_out(values: dict[str, Any], tags: list[Tag]) -> LeadOut:
    """The API's view of a lead row. Built without validation (`model_construct`): every value
    comes from a row, or from a `LeadCreate` on its way to one, already checked; validating it
    again cost a tenth of a list page's CPU."""
    return LeadOut.model_construct(
        id=values["id"],
        first_name=values["first_name"],
        last_name=values["last_name"],
        email=values["email"],
        phone=values["phone"],
        company=values["company"],
        website=values["website"],
        source=values["source"],
        address=values["address"],
        city=values["city"],
        state=values["state"],
        zipcode=values["zipcode"],
        country=values["country"],
        status=values["status"],
        tags=[TagOut.model_construct(id=t.id, name=t.name, color=t.color) for t in tags],
        custom_fields=values["custom_fields"] or {},
        team_id=values["team_id"],
        created_by=CreatedBy.model_construct(**values["created_by"]),
        request_source=values["request_source"],
        attribution=_attribution_out(values.get("attribution")),
        created_at=values["created_at"],
        updated_at=values["updated_at"],
    )


def _attribution_out(stored: dict[str, Any] | None) -> AttributionOut | None:
    # Validated (not constructed): its touches are nested models; most leads have none.
    return AttributionOut.model_validate(stored) if stored else None


def lead_event_data(lead: LeadOut) -> dict[str, Any]:
    return lead.model_dump(mode="json")
