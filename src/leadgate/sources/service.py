"""The rules of inbound sources: creating them, verifying what a provider sends, keeping every
verified payload with its outcome, mapping it into a lead through `leads.service`, previews
and replays. Never commits."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import audit
from leadgate.auth.principal import Principal
from leadgate.errors import (
    ApiError,
    Conflict,
    DuplicateLead,
    InvalidRequest,
    InvalidSignature,
    NotFound,
    validation_details,
)
from leadgate.ids import new_id
from leadgate.leads import service as leads
from leadgate.leads.schemas import LeadCreate
from leadgate.models import InboundSource, SourcePayload, utcnow
from leadgate.settings import Settings
from leadgate.sources import providers
from leadgate.sources.mapping import lead_body
from leadgate.sources.repository import (
    SourceLookupRepository,
    SourcePayloadRepository,
    SourceRepository,
)
from leadgate.sources.schemas import (
    MappingPreview,
    MappingRuleOut,
    PayloadError,
    PayloadOut,
    ReceiveResult,
    SourceCreate,
    SourceMapping,
    SourceMappingOut,
    SourceOut,
    SourceUpdate,
)
from leadgate.tenants.repository import TenantRepository
from leadgate.webhooks.signing import seal, unseal

SOURCE_TARGET = "inbound_source"
REQUEST_SOURCE = "inbound_source"
RECEIVE_PATH = "/inbound/sources/{source_id}"


class SourceNotReplayable(Conflict):
    code = "payload_not_replayable"


def receive_url(settings: Settings, source_id: str) -> str:
    return settings.public_url.rstrip("/") + RECEIVE_PATH.format(source_id=source_id)


def mapping_of(source: InboundSource) -> SourceMapping:
    return SourceMapping.model_validate(source.mapping)


def _mapping_json(mapping: SourceMapping) -> dict[str, Any]:
    return mapping.model_dump(mode="json", by_alias=True)


def source_out(settings: Settings, source: InboundSource) -> SourceOut:
    mapping = mapping_of(source)
    return SourceOut(
        id=source.id,
        name=source.name,
        kind=source.kind,
        verification=source.verification,
        url=receive_url(settings, source.id),
        mapping=SourceMappingOut(
            rules=[MappingRuleOut(from_=r.from_, to=r.to, value=r.value) for r in mapping.rules],
            tags=list(mapping.tags),
            team_id=mapping.team_id,
        ),
        enabled=source.enabled,
        last_received_at=source.last_received_at,
        created_at=source.created_at,
        updated_at=source.updated_at,
    )


def payload_out(payload: SourcePayload) -> PayloadOut:
    return PayloadOut(
        id=payload.id,
        source_id=payload.source_id,
        outcome=payload.outcome,
        lead_id=payload.lead_id,
        error=PayloadError.model_validate(payload.error) if payload.error else None,
        attempts=payload.attempts,
        received_at=payload.received_at,
        processed_at=payload.processed_at,
        body=payload.body,
    )


def _snapshot(settings: Settings, source: InboundSource) -> dict[str, Any]:
    """A source's state for the audit log (never its secret)."""
    return source_out(settings, source).model_dump(mode="json", by_alias=True)


def _new_secret(kind: str) -> str:
    # Google Ads takes the key in a form field of limited length; others take any string.
    return secrets.token_urlsafe(24 if kind == "google_ads" else 32)


# --- the sources -------------------------------------------------------------------------------


async def create_source(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    data: SourceCreate,
    actor: dict[str, Any],
) -> tuple[InboundSource, str]:
    """The new source and its secret, in the clear this once."""
    now = utcnow()
    secret = data.secret or _new_secret(data.kind)
    mapping = data.mapping or SourceMapping.model_validate(providers.DEFAULT_MAPPINGS[data.kind])
    source = InboundSource(
        id=new_id("src"),
        tenant_id=tenant_id,
        name=data.name,
        kind=data.kind,
        verification=data.verification if data.kind == "json" else "hmac",
        secret=seal(secret, settings.secret_bytes),
        mapping=_mapping_json(mapping),
        enabled=data.enabled,
        created_at=now,
        updated_at=now,
    )
    SourceRepository(session, tenant_id).add(source)
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="inbound_source.created",
        actor=actor,
        target_type=SOURCE_TARGET,
        target_id=source.id,
        after=_snapshot(settings, source),
    )
    return source, secret


async def get_source(session: AsyncSession, tenant_id: str, source_id: str) -> InboundSource:
    source = await SourceRepository(session, tenant_id).get(source_id)
    if source is None:
        raise NotFound(f"No inbound source {source_id}.")
    return source


async def list_sources(session: AsyncSession, tenant_id: str) -> Sequence[InboundSource]:
    return await SourceRepository(session, tenant_id).list()


async def update_source(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    source_id: str,
    data: SourceUpdate,
    actor: dict[str, Any],
) -> InboundSource:
    source = await get_source(session, tenant_id, source_id)
    before = _snapshot(settings, source)
    if data.name is not None:
        source.name = data.name
    if data.secret is not None:
        source.secret = seal(data.secret, settings.secret_bytes)
    if data.mapping is not None:
        source.mapping = _mapping_json(data.mapping)
    if data.enabled is not None:
        source.enabled = data.enabled
    source.updated_at = utcnow()
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="inbound_source.updated",
        actor=actor,
        target_type=SOURCE_TARGET,
        target_id=source.id,
        before=before,
        after=_snapshot(settings, source),
    )
    return source


async def delete_source(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    source_id: str,
    actor: dict[str, Any],
) -> None:
    source = await get_source(session, tenant_id, source_id)
    before = _snapshot(settings, source)
    await SourceRepository(session, tenant_id).delete(source_id)
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="inbound_source.deleted",
        actor=actor,
        target_type=SOURCE_TARGET,
        target_id=source_id,
        before=before,
    )


# --- receiving ---------------------------------------------------------------------------------


def _parse(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidRequest("The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("The body is not a JSON object.")
    return payload


async def _acting_principal(session: AsyncSession, source: InboundSource) -> Principal:
    """The caller a source's leads are created as: the tenant's rules (duplicate policy, phone
    region), every team, and tags by name created as the mapping names them."""
    tenant = await TenantRepository(session).by_id(source.tenant_id)
    if tenant is None:  # pragma: no cover - the source's row cascades with its tenant
        raise NotFound("No such inbound source.")
    return Principal(
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        api_key_id=source.id,
        api_key_name=source.name,
        scopes=frozenset({"leads:write", "tags:write"}),
        phone_region=tenant.phone_region,
        duplicate_policy=tenant.duplicate_policy,
        duplicate_fields=tuple(tenant.duplicate_fields),
        plan=tenant.plan,
    )


def _created_by(source: InboundSource) -> dict[str, Any]:
    return {"type": "source", "id": source.id, "name": source.name}


def _error_json(error: ApiError) -> dict[str, Any]:
    return {"error": error.code, "message": error.message, "details": error.details}


async def _make_lead(
    session: AsyncSession,
    principal: Principal,
    source: InboundSource,
    body: dict[str, Any],
    mapping: SourceMapping,
    region: str,
) -> dict[str, Any]:
    """Maps the payload and creates the lead in a savepoint of its own; the outcome's columns.
    A payload that cannot become a lead leaves nothing behind but its outcome."""
    fields = providers.provider_fields(source.kind, body)
    try:
        data = LeadCreate.model_validate(
            lead_body(mapping, fields), context={"phone_region": region}
        )
    except ValidationError as error:
        failure = InvalidRequest(
            "The mapped lead did not pass validation.",
            details=validation_details(error.errors()),
        )
        return {"outcome": "failed", "lead_id": None, "error": _error_json(failure)}
    try:
        async with session.begin_nested():
            result = await leads.create_lead(
                session,
                principal,
                data,
                request_source=REQUEST_SOURCE,
                created_by=_created_by(source),
            )
    except DuplicateLead as error:
        found = {**_error_json(error), "existingLeadId": error.extra.get("existingLeadId")}
        return {"outcome": "duplicate", "lead_id": None, "error": found}
    except ApiError as error:
        return {"outcome": "failed", "lead_id": None, "error": _error_json(error)}
    return {"outcome": result.outcome, "lead_id": result.lead.id, "error": None}


async def receive(
    session: AsyncSession,
    settings: Settings,
    *,
    source_id: str,
    headers: Mapping[str, str],
    body: bytes,
) -> ReceiveResult:
    """A provider's delivery: verified (401, nothing kept, when forged), kept, then mapped.

    A verified payload is answered 200 whatever became of it: it is kept, so a mapping fixed
    later can replay it, and a provider that saw an error would only retry the same payload."""
    source = await SourceLookupRepository(session).get(source_id)
    if source is None or not source.enabled:
        raise NotFound("No such inbound source.")
    payload = _parse(body)
    secret = unseal(source.secret, settings.secret_bytes, settings.previous_secret_bytes)
    if not providers.verify(source.kind, source.verification, secret, headers, body, payload):
        raise InvalidSignature("The request's signature does not match this source's secret.")
    tenant_id = source.tenant_id
    now = utcnow()
    # The key is a credential, not data: the kept copy leaves it out.
    kept = {k: v for k, v in payload.items() if k != "google_key"}
    row = SourcePayload(
        id=new_id("srcp"),
        tenant_id=tenant_id,
        source_id=source.id,
        body=kept,
        outcome="test",
        attempts=1,
        received_at=now,
        processed_at=now,
    )
    repository = SourcePayloadRepository(session, tenant_id)
    if not providers.is_test(source.kind, payload):
        principal = await _acting_principal(session, source)
        region = principal.phone_region or settings.default_phone_region
        outcome = await _make_lead(session, principal, source, kept, mapping_of(source), region)
        row.outcome, row.lead_id, row.error = (
            outcome["outcome"],
            outcome["lead_id"],
            outcome["error"],
        )
    repository.add(row)
    await SourceRepository(session, tenant_id).touch_received(source.id, now)
    # Flushed so the pruning below counts this payload among the newest.
    await session.flush()
    await repository.prune(
        source.id,
        received_before=now - timedelta(days=settings.sources_payload_retention_days),
        keep=settings.sources_payloads_kept,
    )
    return ReceiveResult(payload_id=row.id, outcome=row.outcome, lead_id=row.lead_id)


# --- payloads, replay, preview -----------------------------------------------------------------


async def list_payloads(
    session: AsyncSession,
    tenant_id: str,
    source_id: str,
    *,
    outcome: str | None,
    before: str | None,
    limit: int,
) -> tuple[list[PayloadOut], bool]:
    await get_source(session, tenant_id, source_id)
    rows = await SourcePayloadRepository(session, tenant_id).page(
        source_id, outcome=outcome, before=before, limit=limit + 1
    )
    return [payload_out(r) for r in rows[:limit]], len(rows) > limit


async def get_payload(
    session: AsyncSession, tenant_id: str, source_id: str, payload_id: str
) -> SourcePayload:
    payload = await SourcePayloadRepository(session, tenant_id).get(source_id, payload_id)
    if payload is None:
        raise NotFound(f"No payload {payload_id} from source {source_id}.")
    return payload


async def replay(
    session: AsyncSession, settings: Settings, *, tenant_id: str, source_id: str, payload_id: str
) -> PayloadOut:
    """Maps a kept payload again with the source's current mapping. Only a payload that made no
    lead (failed, or duplicate) can be replayed; 409 otherwise, so it makes at most one lead."""
    source = await get_source(session, tenant_id, source_id)
    payload = await get_payload(session, tenant_id, source_id, payload_id)
    repository = SourcePayloadRepository(session, tenant_id)
    if not await repository.claim_for_replay(source_id, payload_id):
        raise SourceNotReplayable(
            "Only a payload that made no lead (failed or duplicate) can be replayed."
        )
    principal = await _acting_principal(session, source)
    region = principal.phone_region or settings.default_phone_region
    outcome = await _make_lead(session, principal, source, payload.body, mapping_of(source), region)
    now = utcnow()
    await repository.record_outcome(payload_id, {**outcome, "processed_at": now})
    await session.refresh(payload)
    return payload_out(payload)


async def preview(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    source_id: str,
    mapping: SourceMapping | None,
    payload_id: str | None,
) -> MappingPreview:
    """What a mapping makes of a kept payload (the last one by default), with every check
    `POST /leads?dryRun=true` makes and nothing written."""
    source = await get_source(session, tenant_id, source_id)
    repository = SourcePayloadRepository(session, tenant_id)
    if payload_id is not None:
        payload: SourcePayload | None = await get_payload(session, tenant_id, source_id, payload_id)
    else:
        payload = await repository.latest(source_id)
    if payload is None:
        return MappingPreview(payload_id=None, fields={}, attribution={}, outcome="empty")
    fields = providers.provider_fields(source.kind, payload.body)
    shown = MappingPreview(
        payload_id=payload.id,
        fields=fields,
        attribution=providers.click_ids(fields),
        outcome="test",
    )
    principal = await _acting_principal(session, source)
    region = principal.phone_region or settings.default_phone_region
    try:
        data = LeadCreate.model_validate(
            lead_body(mapping or mapping_of(source), fields), context={"phone_region": region}
        )
        dry_run = await leads.preview_lead(session, principal, data)
    except ValidationError as error:
        failure = InvalidRequest(
            "The mapped lead did not pass validation.",
            details=validation_details(error.errors()),
        )
        return shown.model_copy(
            update={"outcome": "failed", "error": PayloadError(**_error_json(failure))}
        )
    except ApiError as error:
        return shown.model_copy(
            update={"outcome": "failed", "error": PayloadError(**_error_json(error))}
        )
    return shown.model_copy(
        update={
            "outcome": dry_run.outcome,
            "lead": dry_run.lead,
            "existing_lead_id": dry_run.existing_lead_id,
        }
    )
