"""The rules of automations: defining them, running one on a record (by the worker for an
event, or by hand), and the run history. A run's actions and its history row share one
savepoint, so an action that fails undoes the others and is recorded as the run's error."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import audit
from leadgate.activities import service as activities
from leadgate.activities.schemas import ActivityCreate
from leadgate.api_keys.scopes import ALL_SCOPES
from leadgate.auth.principal import Principal
from leadgate.automations.repository import AutomationRepository
from leadgate.automations.rules import matches, record_of
from leadgate.automations.schemas import (
    AutomationCreate,
    AutomationDeleted,
    AutomationList,
    AutomationOut,
    AutomationUpdate,
    RunOut,
    RunPage,
    TriggerRequest,
)
from leadgate.contacts import service as contacts
from leadgate.contacts.common import actor_of
from leadgate.contacts.schemas import ContactUpdate
from leadgate.deals import service as deals
from leadgate.deals.schemas import DealUpdate
from leadgate.errors import ApiError, NotFound
from leadgate.events.service import collecting, emit
from leadgate.ids import new_id
from leadgate.leads import service as leads
from leadgate.leads.repository import Position
from leadgate.leads.schemas import LeadUpdate
from leadgate.models import Automation, AutomationRun, Event, utcnow


class ActionNotApplicable(ApiError):
    code = "action_not_applicable"


# --- definitions -----------------------------------------------------------------------------


def automation_out(rule: Automation) -> AutomationOut:
    return AutomationOut(
        id=rule.id,
        name=rule.name,
        event_type=rule.event_type,
        conditions=rule.conditions,
        actions=rule.actions,
        enabled=rule.enabled,
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def _dump(items: list[Any]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in items]


async def create_automation(
    session: AsyncSession, principal: Principal, data: AutomationCreate
) -> AutomationOut:
    now = utcnow()
    rule = Automation(
        id=new_id("auto"),
        tenant_id=principal.tenant_id,
        name=data.name,
        event_type=data.event_type,
        conditions=_dump(data.conditions),
        actions=_dump(data.actions),
        enabled=data.enabled,
        created_at=now,
        updated_at=now,
    )
    await AutomationRepository(session, principal.tenant_id).insert(
        {c.key: getattr(rule, c.key) for c in Automation.__table__.columns if c.key != "tenant_id"}
    )
    out = automation_out(rule)
    await _audit(session, principal, "automation.created", out.id, None, out)
    return out


async def _rule(session: AsyncSession, principal: Principal, automation_id: str) -> Automation:
    rule = await AutomationRepository(session, principal.tenant_id).get(automation_id)
    if rule is None:
        raise NotFound(f"No automation {automation_id}.")
    return rule


async def list_automations(session: AsyncSession, principal: Principal) -> AutomationList:
    rules = await AutomationRepository(session, principal.tenant_id).list()
    return AutomationList(data=[automation_out(r) for r in rules])


async def get_automation(
    session: AsyncSession, principal: Principal, automation_id: str
) -> AutomationOut:
    return automation_out(await _rule(session, principal, automation_id))


async def update_automation(
    session: AsyncSession, principal: Principal, automation_id: str, data: AutomationUpdate
) -> AutomationOut:
    rule = await _rule(session, principal, automation_id)
    before = automation_out(rule)
    changes: dict[str, Any] = {}
    if data.name is not None:
        changes["name"] = data.name
    if data.conditions is not None:
        changes["conditions"] = _dump(data.conditions)
    if data.actions is not None:
        changes["actions"] = _dump(data.actions)
    if data.enabled is not None:
        changes["enabled"] = data.enabled
    if not changes:
        return before
    changes["updated_at"] = utcnow()
    await AutomationRepository(session, principal.tenant_id).update(rule.id, changes)
    after = before.model_copy(update=changes)
    await _audit(session, principal, "automation.updated", rule.id, before, after)
    return after


async def delete_automation(
    session: AsyncSession, principal: Principal, automation_id: str
) -> AutomationDeleted:
    rule = await _rule(session, principal, automation_id)
    await AutomationRepository(session, principal.tenant_id).delete(rule.id)
    await _audit(session, principal, "automation.deleted", rule.id, automation_out(rule), None)
    return AutomationDeleted(id=rule.id)


async def list_runs(
    session: AsyncSession,
    principal: Principal,
    automation_id: str,
    *,
    cursor: str | None,
    limit: int,
) -> RunPage:
    rule = await _rule(session, principal, automation_id)
    after = leads.decode_cursor(cursor) if cursor else None
    rows = await AutomationRepository(session, principal.tenant_id).runs(
        rule.id, after=after, limit=limit + 1
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = (
        leads.encode_cursor(Position(rows[-1].created_at, rows[-1].id)) if has_more else None
    )
    return RunPage(data=[_run_out(r) for r in rows], has_more=has_more, next_cursor=next_cursor)


def _run_out(run: AutomationRun) -> RunOut:
    return RunOut(
        id=run.id,
        automation_id=run.automation_id,
        event_id=run.event_id,
        record_type=run.record_type,
        record_id=run.record_id,
        matched=run.matched,
        actions_taken=run.actions_taken,
        error=run.error,
        created_at=run.created_at,
    )


# --- running ---------------------------------------------------------------------------------


def rule_principal(rule: Automation) -> Principal:
    """Who a rule acts as: the tenant, every scope, every team, recorded as the automation."""
    return Principal(
        tenant_id=rule.tenant_id,
        tenant_slug="",
        api_key_id="",
        api_key_name="",
        scopes=frozenset(ALL_SCOPES),
        extra={"actor": {"type": "automation", "id": rule.id, "name": rule.name}},
    )


async def _current_record(
    session: AsyncSession, principal: Principal, record_type: str, record_id: str
) -> dict[str, Any]:
    if record_type == "lead":
        return (await leads.get_lead(session, principal, record_id)).model_dump(mode="json")
    if record_type == "contact":
        return (await contacts.get_contact(session, principal, record_id)).model_dump(mode="json")
    return (await deals.get_deal(session, principal, record_id)).model_dump(mode="json")


def _not_for(action: str, record_type: str) -> ActionNotApplicable:
    return ActionNotApplicable(f"The {action} action does not apply to a {record_type}.")


async def _apply(
    session: AsyncSession,
    principal: Principal,
    rule: Automation,
    action: dict[str, Any],
    record_type: str,
    record_id: str,
    event_id: str | None,
) -> None:
    kind = action["type"]
    if kind == "set_status":
        if record_type != "lead":
            raise _not_for(kind, record_type)
        update = LeadUpdate.model_validate({"status": action["status"]})
        await leads.update_lead(session, principal, record_id, update)
    elif kind == "set_stage":
        if record_type != "deal":
            raise _not_for(kind, record_type)
        await deals.update_deal(
            session, principal, record_id, DealUpdate.model_validate({"stageId": action["stageId"]})
        )
    elif kind in ("add_tags", "remove_tags"):
        if record_type != "lead":
            raise _not_for(kind, record_type)
        lead = await leads.get_lead(session, principal, record_id)
        names = [t.name for t in lead.tags]
        folded = {n.casefold() for n in action["tags"]}
        if kind == "add_tags":
            names += [
                n for n in action["tags"] if n.casefold() not in {m.casefold() for m in names}
            ]
        else:
            names = [n for n in names if n.casefold() not in folded]
        await leads.update_lead(
            session, principal, record_id, LeadUpdate.model_validate({"tags": names})
        )
    elif kind in ("assign_team", "assign_owner"):
        field = "teamId" if kind == "assign_team" else "ownerId"
        value = action[field]
        if record_type == "lead":
            if kind == "assign_owner":
                raise _not_for(kind, record_type)
            await leads.update_lead(
                session, principal, record_id, LeadUpdate.model_validate({field: value})
            )
        elif record_type == "contact":
            await contacts.update_contact(
                session, principal, record_id, ContactUpdate.model_validate({field: value})
            )
        else:
            await deals.update_deal(
                session, principal, record_id, DealUpdate.model_validate({field: value})
            )
    elif kind == "create_task":
        days = action.get("dueInDays")
        await activities.create_activity(
            session,
            principal,
            ActivityCreate.model_validate(
                {
                    "kind": "task",
                    "recordType": record_type,
                    "recordId": record_id,
                    "subject": action["subject"],
                    **({"dueAt": utcnow() + timedelta(days=days)} if days is not None else {}),
                }
            ),
        )
    elif kind == "emit":
        await emit(
            session,
            rule.tenant_id,
            "automation.triggered",
            {
                "automationId": rule.id,
                "automationName": rule.name,
                "runId": principal.extra["run_id"],
                "eventId": event_id,
                "eventType": rule.event_type,
                "recordType": record_type,
                "recordId": record_id,
                "actionsTaken": [a for a in rule.actions if a["type"] != "emit"],
            },
        )


async def run_rule(
    session: AsyncSession,
    rule: Automation,
    record_type: str,
    record_id: str,
    record: dict[str, Any],
    event_id: str | None,
) -> RunOut:
    """Evaluates the rule on the record and, when it matches, takes its actions; records the run.
    The events the actions cause are marked evaluated, so they trigger no rule (depth 1)."""
    run_id = new_id("arun")
    principal = rule_principal(rule)
    principal.extra["run_id"] = run_id
    repository = AutomationRepository(session, rule.tenant_id)
    matched = matches(record, rule.conditions)
    taken: list[dict[str, Any]] = []
    error: str | None = None
    if matched:
        with collecting() as caused:
            try:
                async with session.begin_nested():
                    for action in rule.actions:
                        await _apply(
                            session, principal, rule, action, record_type, record_id, event_id
                        )
                        taken.append(action)
            except ApiError as failure:
                error, taken = f"{failure.code}: {failure.message}", []
        await repository.mark_events(caused, utcnow())
    values = {
        "id": run_id,
        "automation_id": rule.id,
        "event_id": event_id,
        "record_type": record_type,
        "record_id": record_id,
        "matched": matched,
        "actions_taken": taken,
        "error": error,
        "created_at": utcnow(),
    }
    await repository.add_run(values)
    return _run_out(AutomationRun(**values, tenant_id=rule.tenant_id))


async def process_event(session: AsyncSession, event: Event) -> int:
    """Runs the tenant's enabled rules for this event type, each once per event (a rule that
    already ran on it, in an earlier delivery of the event, is skipped). Returns the runs."""
    repository = AutomationRepository(session, event.tenant_id)
    rules = await repository.enabled_for(event.type)
    if not rules:
        return 0
    record_type, record_id, record = record_of(event.type, event.data)
    runs = 0
    for rule in rules:
        if await repository.has_run(rule.id, event.id):
            continue
        await run_rule(session, rule, record_type, record_id, record, event.id)
        runs += 1
    return runs


async def trigger(
    session: AsyncSession, principal: Principal, automation_id: str, data: TriggerRequest
) -> RunOut:
    """Runs the rule on a record's current fields now (by hand; no event)."""
    rule = await _rule(session, principal, automation_id)
    record = await _current_record(session, principal, data.record_type, data.record_id)
    run = await run_rule(session, rule, data.record_type, data.record_id, record, None)
    await audit.record(
        session,
        tenant_id=principal.tenant_id,
        action="automation.triggered",
        actor=actor_of(principal),
        target_type="automation",
        target_id=rule.id,
        after=run.model_dump(mode="json"),
    )
    return run


async def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    automation_id: str,
    before: AutomationOut | None,
    after: AutomationOut | None,
) -> None:
    await audit.record(
        session,
        tenant_id=principal.tenant_id,
        action=action,
        actor=actor_of(principal),
        target_type="automation",
        target_id=automation_id,
        before=before.model_dump(mode="json") if before else None,
        after=after.model_dump(mode="json") if after else None,
    )
