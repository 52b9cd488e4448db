"""The rules of leads: teams, tags, the duplicate policy and the `lead.created` event."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.auth.principal import Principal
from leadgate.errors import DuplicateLead, Forbidden, InsufficientScope, InvalidRequest, NotFound
from leadgate.events.service import emit
from leadgate.ids import new_id
from leadgate.leads.normalize import email_key, name_key
from leadgate.leads.repository import LeadRepository
from leadgate.leads.schemas import CreatedBy, LeadCreate, LeadOut, TagOut
from leadgate.models import Lead, Tag, utcnow
from leadgate.tags.repository import TagRepository
from leadgate.tenants.repository import TeamRepository

# Fields copied as they are from a validated LeadCreate into the row.
CONTACT_FIELDS = (
    "first_name", "last_name", "email", "phone", "company", "website", "source",
    "address", "city", "state", "zipcode", "country", "status",
)  # fmt: skip


async def create_lead(
    session: AsyncSession,
    principal: Principal,
    data: LeadCreate,
    *,
    request_source: str,
) -> LeadOut:
    team_id = await _resolve_team(session, principal, data.team_id)
    tags = await _resolve_tags(session, principal, data)
    now = utcnow()
    values: dict[str, Any] = {name: getattr(data, name) for name in CONTACT_FIELDS}
    values.update(
        id=new_id("lead"),
        team_id=team_id,
        custom_fields=data.custom_fields or {},
        created_by=principal.actor,
        request_source=data.request_source or request_source,
        email_key=email_key(data.email),
        name_key=name_key(data.first_name, data.last_name),
        created_at=now,
        updated_at=now,
    )
    repository = LeadRepository(session, principal.tenant_id)
    await _insert_with_policy(repository, principal.duplicate_policy, values)
    await TagRepository(session, principal.tenant_id).link(values["id"], [t.id for t in tags])
    lead = lead_out(values, tags)
    await emit(session, principal.tenant_id, "lead.created", lead_event_data(lead))
    return lead


async def _insert_with_policy(
    repository: LeadRepository, policy: str, values: dict[str, Any]
) -> None:
    # Two tries: a claim holder can be deleted between our failed insert and the lookup.
    for _ in range(2):
        if await repository.insert_claiming({**values, "claims_duplicates": True}):
            return
        if policy == "allow":
            await repository.insert({**values, "claims_duplicates": False})
            return
        holder = await repository.find_claim_holder(values["email_key"], values["name_key"])
        if holder is not None:
            existing_id, matched_on = holder
            raise DuplicateLead(
                f"A lead with the same {matched_on} already exists.",
                details=[
                    {
                        "field": "email" if matched_on == "email" else "firstName",
                        "message": f"matches lead {existing_id}",
                        "type": "duplicate",
                    }
                ],
                extra={"existingLeadId": existing_id, "matchedOn": matched_on},
            )
    raise DuplicateLead("A lead with the same email or name was just created.")  # pragma: no cover


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
    if not principal.can_use_team(team_id):
        raise Forbidden(f"This API key has no access to team {team_id}.")
    if team_id not in await TeamRepository(session, principal.tenant_id).existing_ids([team_id]):
        raise InvalidRequest(
            "Unknown team.",
            details=[{"field": "teamId", "message": f"no team {team_id}", "type": "not_found"}],
        )
    return team_id


async def _resolve_tags(session: AsyncSession, principal: Principal, data: LeadCreate) -> list[Tag]:
    """Tags by id must exist; tags by name are found, or created with `tags:write`."""
    repository = TagRepository(session, principal.tenant_id)
    wanted_ids = data.wanted_tag_ids()
    by_id = await repository.by_ids(wanted_ids)
    missing = [tag_id for tag_id in wanted_ids if tag_id not in {t.id for t in by_id}]
    if missing:
        field = "tagId" if data.tag_id in missing else "tagIds"
        raise InvalidRequest(
            "Unknown tags.",
            details=[
                {"field": field, "message": f"no tag {t}", "type": "not_found"} for t in missing
            ],
        )
    names = {" ".join(n.split()).casefold(): " ".join(n.split()) for n in data.tags or []}
    by_name = await repository.by_name_keys(list(names))
    to_create = [key for key in names if key not in {t.name_key for t in by_name}]
    if to_create:
        if "tags:write" not in principal.scopes:
            raise InsufficientScope(
                "Creating tags needs the 'tags:write' scope; use existing tag names or ids.",
                extra={"requiredScope": "tags:write"},
            )
        await repository.insert_missing([(new_id("tag"), names[k], k) for k in to_create])
        by_name = await repository.by_name_keys(list(names))
    unique = {tag.id: tag for tag in [*by_id, *by_name]}
    return sorted(unique.values(), key=lambda tag: tag.name_key)


async def get_lead(session: AsyncSession, principal: Principal, lead_id: str) -> LeadOut:
    lead = await LeadRepository(session, principal.tenant_id).get(lead_id)
    # A lead outside the key's teams is reported as absent, not forbidden: no oracle.
    if lead is None or not principal.can_use_team(lead.team_id):
        raise NotFound(f"No lead {lead_id}.")
    tags = (await TagRepository(session, principal.tenant_id).tags_of([lead.id])).get(lead.id, [])
    return lead_out(_row_values(lead), tags)


def _row_values(lead: Lead) -> dict[str, Any]:
    return {column.key: getattr(lead, column.key) for column in Lead.__table__.columns}


def lead_out(values: dict[str, Any], tags: list[Tag]) -> LeadOut:
    return LeadOut(
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
        tags=[TagOut(id=t.id, name=t.name, color=t.color) for t in tags],
        custom_fields=values["custom_fields"] or {},
        team_id=values["team_id"],
        created_by=CreatedBy(**values["created_by"]),
        request_source=values["request_source"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
    )


def lead_event_data(lead: LeadOut) -> dict[str, Any]:
    return lead.model_dump(mode="json")
