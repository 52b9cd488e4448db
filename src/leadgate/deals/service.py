"""The rules of pipelines, stages and deals: the default pipeline, stage order, moving a deal
(won and lost close it) and its history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic.alias_generators import to_camel
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import audit
from leadgate.auth.principal import Principal
from leadgate.contacts.common import actor_of, check_owner, check_team
from leadgate.contacts.repository import ContactRepository
from leadgate.deals.repository import DealFilters, DealRepository, PipelineRepository
from leadgate.deals.schemas import (
    DealCreate,
    DealOut,
    DealPage,
    DealUpdate,
    Deleted,
    PipelineCreate,
    PipelineList,
    PipelineOut,
    PipelineUpdate,
    StageChangeOut,
    StageCreate,
    StageOut,
    StageUpdate,
)
from leadgate.errors import Conflict, InvalidRequest, NotFound
from leadgate.events.service import emit
from leadgate.ids import new_id
from leadgate.leads.repository import Position
from leadgate.leads.service import decode_cursor, encode_cursor
from leadgate.models import Deal, Pipeline, Stage, utcnow
from leadgate.schemas import iso_utc

# Every tenant starts with this pipeline, created the first time it is needed.
DEFAULT_STAGES = (
    ("Qualification", "open", 10),
    ("Proposal", "open", 40),
    ("Negotiation", "open", 70),
    ("Won", "won", 100),
    ("Lost", "lost", 0),
)
DEFAULT_PROBABILITY = {"open": 50, "won": 100, "lost": 0}
DEAL_FIELDS = (
    "name", "amount", "currency", "pipeline_id", "stage_id", "contact_id", "team_id",
    "owner_id", "expected_close_date",
)  # fmt: skip


class PipelineInUse(Conflict):
    code = "pipeline_in_use"


# --- pipelines and stages --------------------------------------------------------------------


async def default_pipeline(session: AsyncSession, tenant_id: str) -> Pipeline:
    repository = PipelineRepository(session, tenant_id)
    found = await repository.default()
    if found is not None:
        return found
    pipeline_id = new_id("pipe")
    now = utcnow()
    stages = [
        {
            "id": new_id("stg"),
            "pipeline_id": pipeline_id,
            "name": name,
            "position": position,
            "kind": kind,
            "probability": probability,
            "created_at": now,
        }
        for position, (name, kind, probability) in enumerate(DEFAULT_STAGES)
    ]
    pipeline = {"id": pipeline_id, "name": "Sales", "default_key": "default", "created_at": now}
    await repository.insert_default(pipeline, stages)
    found = await repository.default()
    assert found is not None  # just created, by us or by a concurrent request
    return found


def _stage_out(stage: Stage) -> StageOut:
    return StageOut(
        id=stage.id,
        name=stage.name,
        position=stage.position,
        kind=stage.kind,
        probability=stage.probability,
    )


def _pipeline_out(pipeline: Pipeline, stages: list[Stage]) -> PipelineOut:
    return PipelineOut(
        id=pipeline.id,
        name=pipeline.name,
        is_default=pipeline.default_key == "default",
        stages=[_stage_out(s) for s in sorted(stages, key=lambda s: s.position)],
        created_at=pipeline.created_at,
    )


async def list_pipelines(session: AsyncSession, principal: Principal) -> PipelineList:
    await default_pipeline(session, principal.tenant_id)
    repository = PipelineRepository(session, principal.tenant_id)
    pipelines = await repository.list()
    stages = await repository.stages_of([p.id for p in pipelines])
    return PipelineList(
        data=[_pipeline_out(p, [s for s in stages if s.pipeline_id == p.id]) for p in pipelines]
    )


async def _pipeline(session: AsyncSession, principal: Principal, pipeline_id: str) -> Pipeline:
    pipeline = await PipelineRepository(session, principal.tenant_id).get(pipeline_id)
    if pipeline is None:
        raise NotFound(f"No pipeline {pipeline_id}.")
    return pipeline


async def get_pipeline(
    session: AsyncSession, principal: Principal, pipeline_id: str
) -> PipelineOut:
    pipeline = await _pipeline(session, principal, pipeline_id)
    stages = await PipelineRepository(session, principal.tenant_id).stages_of([pipeline.id])
    return _pipeline_out(pipeline, list(stages))


async def create_pipeline(
    session: AsyncSession, principal: Principal, data: PipelineCreate
) -> PipelineOut:
    repository = PipelineRepository(session, principal.tenant_id)
    if data.is_default:
        await default_pipeline(session, principal.tenant_id)
        await repository.clear_default()
    now = utcnow()
    pipeline_id = new_id("pipe")
    stages = [
        {
            "id": new_id("stg"),
            "pipeline_id": pipeline_id,
            "name": stage.name,
            "position": position,
            "kind": stage.kind,
            "probability": _probability(stage.kind, stage.probability),
            "created_at": now,
        }
        for position, stage in enumerate(data.stages)
    ]
    values = {
        "id": pipeline_id,
        "name": data.name,
        "default_key": "default" if data.is_default else None,
        "created_at": now,
    }
    await repository.add(values, stages)
    out = await get_pipeline(session, principal, pipeline_id)
    await _audit(session, principal, "pipeline.created", "pipeline", pipeline_id, None, out)
    return out


def _probability(kind: str, given: int | None) -> int:
    return DEFAULT_PROBABILITY[kind] if given is None else given


async def update_pipeline(
    session: AsyncSession, principal: Principal, pipeline_id: str, data: PipelineUpdate
) -> PipelineOut:
    before = await get_pipeline(session, principal, pipeline_id)
    repository = PipelineRepository(session, principal.tenant_id)
    changes: dict[str, Any] = {}
    if data.name is not None:
        changes["name"] = data.name
    if data.is_default and not before.is_default:
        await repository.clear_default()
        changes["default_key"] = "default"
    if changes:
        await repository.update(pipeline_id, changes)
    after = await get_pipeline(session, principal, pipeline_id)
    if changes:
        await _audit(session, principal, "pipeline.updated", "pipeline", pipeline_id, before, after)
    return after


async def delete_pipeline(session: AsyncSession, principal: Principal, pipeline_id: str) -> Deleted:
    before = await get_pipeline(session, principal, pipeline_id)
    repository = PipelineRepository(session, principal.tenant_id)
    if before.is_default:
        raise PipelineInUse("The default pipeline cannot be deleted; make another the default.")
    if await repository.deals_in(pipeline_id=pipeline_id):
        raise PipelineInUse("The pipeline still has deals; move or delete them first.")
    await repository.delete(pipeline_id)
    await _audit(session, principal, "pipeline.deleted", "pipeline", pipeline_id, before, None)
    return Deleted(id=pipeline_id)


async def add_stage(
    session: AsyncSession, principal: Principal, pipeline_id: str, data: StageCreate
) -> PipelineOut:
    before = await get_pipeline(session, principal, pipeline_id)
    repository = PipelineRepository(session, principal.tenant_id)
    stage_id = new_id("stg")
    position = (
        len(before.stages) if data.position is None else min(data.position, len(before.stages))
    )
    await repository.add_stage(
        {
            "id": stage_id,
            "pipeline_id": pipeline_id,
            "name": data.name,
            "position": len(before.stages),
            "kind": data.kind,
            "probability": _probability(data.kind, data.probability),
            "created_at": utcnow(),
        }
    )
    order = [s.id for s in before.stages]
    order.insert(position, stage_id)
    await _renumber(repository, order)
    after = await get_pipeline(session, principal, pipeline_id)
    await _audit(session, principal, "pipeline.updated", "pipeline", pipeline_id, before, after)
    return after


async def _renumber(repository: PipelineRepository, order: list[str]) -> None:
    for position, stage_id in enumerate(order):
        await repository.update_stage(stage_id, {"position": position})


async def _stage_of(
    session: AsyncSession, principal: Principal, pipeline_id: str, stage_id: str
) -> tuple[PipelineOut, StageOut]:
    pipeline = await get_pipeline(session, principal, pipeline_id)
    for stage in pipeline.stages:
        if stage.id == stage_id:
            return pipeline, stage
    raise NotFound(f"No stage {stage_id} in pipeline {pipeline_id}.")


async def update_stage(
    session: AsyncSession,
    principal: Principal,
    pipeline_id: str,
    stage_id: str,
    data: StageUpdate,
) -> PipelineOut:
    before, stage = await _stage_of(session, principal, pipeline_id, stage_id)
    repository = PipelineRepository(session, principal.tenant_id)
    changes = {
        name: getattr(data, name)
        for name in ("name", "kind", "probability")
        if getattr(data, name) is not None
    }
    if "kind" in changes and changes["kind"] != stage.kind:
        if await repository.deals_in(stage_id=stage_id):
            raise PipelineInUse("Deals are in this stage; move them before changing its kind.")
        changes.setdefault("probability", DEFAULT_PROBABILITY[changes["kind"]])
    if changes:
        await repository.update_stage(stage_id, changes)
    if data.position is not None and data.position != stage.position:
        order = [s.id for s in before.stages if s.id != stage_id]
        order.insert(min(data.position, len(order)), stage_id)
        await _renumber(repository, order)
    after = await get_pipeline(session, principal, pipeline_id)
    if after != before:
        await _audit(session, principal, "pipeline.updated", "pipeline", pipeline_id, before, after)
    return after


async def delete_stage(
    session: AsyncSession, principal: Principal, pipeline_id: str, stage_id: str
) -> PipelineOut:
    before, _ = await _stage_of(session, principal, pipeline_id, stage_id)
    repository = PipelineRepository(session, principal.tenant_id)
    if len(before.stages) == 1:
        raise PipelineInUse("A pipeline keeps at least one stage.")
    if await repository.deals_in(stage_id=stage_id):
        raise PipelineInUse("Deals are in this stage; move them first.")
    await repository.delete_stage(stage_id)
    await _renumber(repository, [s.id for s in before.stages if s.id != stage_id])
    after = await get_pipeline(session, principal, pipeline_id)
    await _audit(session, principal, "pipeline.updated", "pipeline", pipeline_id, before, after)
    return after


# --- deals -----------------------------------------------------------------------------------


async def _resolve_stage(
    session: AsyncSession, principal: Principal, pipeline_id: str | None, stage_id: str | None
) -> Stage:
    """The stage a deal goes to: the one named, or the first stage of the pipeline named (the
    default pipeline when none is)."""
    repository = PipelineRepository(session, principal.tenant_id)
    if stage_id is not None:
        stage = await repository.stage(stage_id)
        if stage is None or (pipeline_id is not None and stage.pipeline_id != pipeline_id):
            raise InvalidRequest(
                "Unknown stage.",
                details=[
                    {"field": "stageId", "message": f"no stage {stage_id}", "type": "not_found"}
                ],
            )
        return stage
    if pipeline_id is None:
        pipeline_id = (await default_pipeline(session, principal.tenant_id)).id
    elif await repository.get(pipeline_id) is None:
        raise InvalidRequest(
            "Unknown pipeline.",
            details=[
                {
                    "field": "pipelineId",
                    "message": f"no pipeline {pipeline_id}",
                    "type": "not_found",
                }
            ],
        )
    stages = await repository.stages_of([pipeline_id])
    return stages[0]


async def _check_contact(
    session: AsyncSession, principal: Principal, contact_id: str | None
) -> None:
    if contact_id is None:
        return
    contact = await ContactRepository(session, principal.tenant_id).get(contact_id)
    if contact is None or not principal.can_use_team(contact.team_id):
        raise InvalidRequest(
            "Unknown contact.",
            details=[
                {"field": "contactId", "message": f"no contact {contact_id}", "type": "not_found"}
            ],
        )


async def create_deal(
    session: AsyncSession,
    principal: Principal,
    data: DealCreate,
    *,
    lead_id: str | None = None,
    team_id: str | None = None,
) -> DealOut:
    """A new deal; `lead_id` and `team_id` come from a lead being converted."""
    stage = await _resolve_stage(session, principal, data.pipeline_id, data.stage_id)
    team = data.team_id if data.team_id is not None else team_id
    await check_team(session, principal, team)
    await _check_contact(session, principal, data.contact_id)
    await check_owner(session, principal, data.owner_id)
    now = utcnow()
    actor = actor_of(principal)
    values: dict[str, Any] = {
        "id": new_id("deal"),
        "name": data.name,
        "amount": data.amount,
        "currency": data.currency,
        "pipeline_id": stage.pipeline_id,
        "stage_id": stage.id,
        "status": stage.kind,
        "contact_id": data.contact_id,
        "lead_id": lead_id,
        "team_id": team,
        "owner_id": data.owner_id,
        "expected_close_date": data.expected_close_date,
        "closed_at": now if stage.kind != "open" else None,
        "created_by": actor,
        "created_at": now,
        "updated_at": now,
    }
    repository = DealRepository(session, principal.tenant_id)
    await repository.insert(values)
    await repository.add_stage_change(
        {
            "id": new_id("dsc"),
            "deal_id": values["id"],
            "from_stage_id": None,
            "to_stage_id": stage.id,
            "actor": actor,
            "changed_at": now,
        }
    )
    out = deal_out(values)
    await emit(session, principal.tenant_id, "deal.created", deal_event_data(out))
    if stage.kind != "open":
        await emit(session, principal.tenant_id, f"deal.{stage.kind}", deal_event_data(out))
    await _audit(session, principal, "deal.created", "deal", out.id, None, out)
    return out


async def _visible_deal(session: AsyncSession, principal: Principal, deal_id: str) -> Deal:
    deal = await DealRepository(session, principal.tenant_id).get(deal_id)
    if deal is None or not principal.can_use_team(deal.team_id):
        raise NotFound(f"No deal {deal_id}.")
    return deal


async def get_deal(session: AsyncSession, principal: Principal, deal_id: str) -> DealOut:
    return deal_out(_row(await _visible_deal(session, principal, deal_id)))


async def list_deals(
    session: AsyncSession,
    principal: Principal,
    filters: DealFilters,
    *,
    cursor: str | None,
    limit: int,
) -> DealPage:
    after = decode_cursor(cursor) if cursor else None
    if principal.team_scope != "all-accounts":
        filters = DealFilters(**{**_fields(filters), "team_ids": principal.team_ids})
    rows = await DealRepository(session, principal.tenant_id).page(
        filters, after=after, limit=limit + 1
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(Position(rows[-1].created_at, rows[-1].id)) if has_more else None
    return DealPage(
        data=[deal_out(_row(r)) for r in rows], has_more=has_more, next_cursor=next_cursor
    )


def _fields(filters: DealFilters) -> dict[str, Any]:
    return {name: getattr(filters, name) for name in DealFilters.__slots__}


async def update_deal(
    session: AsyncSession, principal: Principal, deal_id: str, data: DealUpdate
) -> DealOut:
    deal = await _visible_deal(session, principal, deal_id)
    given = data.model_fields_set
    changes: dict[str, Any] = {}
    for name in DEAL_FIELDS:
        if name in given and getattr(data, name) != getattr(deal, name):
            changes[name] = getattr(data, name)
    stage: Stage | None = None
    if "stage_id" in changes or "pipeline_id" in changes:
        stage = await _resolve_stage(
            session,
            principal,
            changes.get("pipeline_id", data.pipeline_id),
            changes.get("stage_id", data.stage_id if "stage_id" in given else None),
        )
        changes["pipeline_id"], changes["stage_id"] = stage.pipeline_id, stage.id
        if changes["pipeline_id"] == deal.pipeline_id:
            del changes["pipeline_id"]
        if changes["stage_id"] == deal.stage_id:
            del changes["stage_id"]
            stage = None
    if "team_id" in changes:
        await check_team(session, principal, changes["team_id"])
    if "contact_id" in changes:
        await _check_contact(session, principal, changes["contact_id"])
    if "owner_id" in changes:
        await check_owner(session, principal, changes["owner_id"])
    if not changes:
        return deal_out(_row(deal))
    now = utcnow()
    before = deal_out(_row(deal))
    previous = {to_camel(k): _jsonable(getattr(deal, k)) for k in changes}
    if stage is not None:
        changes["status"] = stage.kind
        changes["closed_at"] = now if stage.kind != "open" else None
    changes["updated_at"] = now
    repository = DealRepository(session, principal.tenant_id)
    from_stage_id = deal.stage_id  # the UPDATE below refreshes the loaded deal
    await repository.update(deal.id, changes)
    if stage is not None:
        await repository.add_stage_change(
            {
                "id": new_id("dsc"),
                "deal_id": deal.id,
                "from_stage_id": from_stage_id,
                "to_stage_id": stage.id,
                "actor": actor_of(principal),
                "changed_at": now,
            }
        )
    out = deal_out({**_row(deal), **changes})
    changed = [to_camel(k) for k in changes if k in DEAL_FIELDS]
    await emit(
        session,
        principal.tenant_id,
        "deal.updated",
        {**deal_event_data(out), "changedFields": changed, "previousAttributes": previous},
    )
    if stage is not None and stage.kind != "open" and stage.kind != before.status:
        await emit(
            session,
            principal.tenant_id,
            f"deal.{stage.kind}",
            {**deal_event_data(out), "previousStageId": before.stage_id},
        )
    await _audit(session, principal, "deal.updated", "deal", deal.id, before, out)
    return out


async def delete_deal(session: AsyncSession, principal: Principal, deal_id: str) -> Deleted:
    deal = await _visible_deal(session, principal, deal_id)
    out = deal_out(_row(deal))
    await DealRepository(session, principal.tenant_id).delete(deal.id)
    await emit(
        session,
        principal.tenant_id,
        "deal.deleted",
        {**deal_event_data(out), "deletedAt": iso_utc(utcnow())},
    )
    await _audit(session, principal, "deal.deleted", "deal", deal.id, out, None)
    return Deleted(id=deal.id)


async def deal_history(
    session: AsyncSession, principal: Principal, deal_id: str
) -> list[StageChangeOut]:
    deal = await _visible_deal(session, principal, deal_id)
    changes = await DealRepository(session, principal.tenant_id).history(deal.id)
    return [
        StageChangeOut(
            id=c.id,
            from_stage_id=c.from_stage_id,
            to_stage_id=c.to_stage_id,
            actor=c.actor,
            changed_at=c.changed_at,
        )
        for c in changes
    ]


async def deal_of_lead(session: AsyncSession, tenant_id: str, lead_id: str) -> Deal | None:
    return await DealRepository(session, tenant_id).of_lead(lead_id)


# --- shapes ----------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _row(deal: Deal) -> dict[str, Any]:
    return {column.key: getattr(deal, column.key) for column in Deal.__table__.columns}


def deal_out(values: dict[str, Any]) -> DealOut:
    return DealOut.model_validate(
        {name: values[name] for name in DealOut.model_fields if name in values}
    )


def deal_event_data(deal: DealOut) -> dict[str, Any]:
    return deal.model_dump(mode="json")


async def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    target_type: str,
    target_id: str,
    before: Any,
    after: Any,
) -> None:
    await audit.record(
        session,
        tenant_id=principal.tenant_id,
        action=action,
        actor=actor_of(principal),
        target_type=target_type,
        target_id=target_id,
        before=before.model_dump(mode="json") if before is not None else None,
        after=after.model_dump(mode="json") if after is not None else None,
    )
