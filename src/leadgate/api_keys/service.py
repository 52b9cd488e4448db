"""The rules of API keys: issuing, updating, rolling, revoking, and the key's public shape.
Never commits.

Who acts is a `Grantor` (`api_keys.grantor`); verifying a key is `api_keys.authenticator`, the
expiry sweep `api_keys.sweep`, the server-secret census `api_keys.secret_rotation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import audit, crypto
from leadgate.api_keys.cache import invalidate_on_commit
from leadgate.api_keys.grantor import OPERATOR, Grantor, check_within_creator
from leadgate.api_keys.repository import (
    ApiKeyRepository,
)
from leadgate.api_keys.schemas import AccountsAccessOut, ApiKeyOut
from leadgate.api_keys.scopes import ALL_SCOPES, ALL_TEAMS, EXPIRATION_DAYS
from leadgate.db import is_unique_violation
from leadgate.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
)
from leadgate.events.service import emit
from leadgate.ids import new_id
from leadgate.models import ApiKey, ApiKeySecret, utcnow
from leadgate.settings import Settings
from leadgate.tenants.repository import TeamRepository, TenantRepository

EXPIRY_WARNING = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    plaintext: str


async def issue_api_key(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    name: str,
    scopes: list[str],
    created_by: dict[str, Any],
    expiration_in_days: int | None = None,
    rate_limit_per_minute: int | None = None,
    monthly_quota: int | None = None,
    enforce_mtls: bool = False,
    mtls_thumbprints: list[str] | None = None,
    team_scope: str = ALL_TEAMS,
    team_ids: list[str] | None = None,
    ip: str | None = None,
    grantor: Grantor | None = None,
) -> IssuedKey:
    _check_known_scopes(scopes)
    if grantor is not None:
        grantor.check_scopes(scopes)
        grantor.check_teams(team_scope, team_ids or [])
        if (rate_limit_per_minute or monthly_quota) and not grantor.may_change_limits:
            raise Forbidden(_LIMITS_MESSAGE)
    check_within_creator(created_by, scopes)
    await _check_teams_exist(session, tenant_id, team_scope, team_ids or [])
    _check_mtls(enforce_mtls, mtls_thumbprints or [])
    if expiration_in_days is not None and expiration_in_days not in EXPIRATION_DAYS:
        raise InvalidRequest(
            "Invalid expiration.",
            details=[
                {
                    "field": "expirationInDays",
                    "message": f"must be one of {', '.join(map(str, EXPIRATION_DAYS))} or null",
                    "type": "enum",
                }
            ],
        )
    repository = ApiKeyRepository(session, tenant_id)
    if await repository.name_taken(name):
        raise Conflict(f"An API key named {name!r} already exists.", code="api_key_name_taken")
    now = utcnow()
    generated = crypto.generate_api_key(await key_prefix_for(session, settings, tenant_id))
    key = ApiKey(
        id=new_id("key"),
        tenant_id=tenant_id,
        name=name,
        hint=generated.hint,
        scopes=sorted(set(scopes), key=ALL_SCOPES.index),
        expires_at=now + timedelta(days=expiration_in_days) if expiration_in_days else None,
        expiration_days=expiration_in_days,
        rate_limit_per_minute=rate_limit_per_minute,
        monthly_quota=monthly_quota,
        enforce_mtls=enforce_mtls,
        mtls_thumbprints=mtls_thumbprints or [],
        team_scope=team_scope,
        team_ids=team_ids or [],
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    secret = ApiKeySecret(
        id=new_id("aks"),
        tenant_id=tenant_id,
        api_key_id=key.id,
        secret_hash=crypto.hash_api_key(generated.plaintext, settings.secret_bytes),
        server_key_id=settings.secret_key_id,
        hint=generated.hint,
        created_at=now,
    )
    try:
        await repository.add(key, secret)
    except sa.exc.IntegrityError as error:
        if is_unique_violation(error):
            raise Conflict(
                f"An API key named {name!r} already exists.", code="api_key_name_taken"
            ) from None
        raise  # pragma: no cover - any other integrity error is a bug, reported as 500
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="api_key.created",
        actor=created_by,
        target_type="api_key",
        target_id=key.id,
        after=key_snapshot(key),
        ip=ip,
    )
    await emit(session, tenant_id, "api_key.created", key_public(key))
    return IssuedKey(key=key, plaintext=generated.plaintext)


TENANT_PREFIX_SETTING = "keyPrefix"


async def key_prefix_for(session: AsyncSession, settings: Settings, tenant_id: str) -> str:
    """The prefix of keys issued now for a tenant: its own (`snap`, `hcrm`) if it has one, else
    the deployment's. Keys issued earlier keep theirs and keep working."""
    tenant = await TenantRepository(session).by_id(tenant_id)
    own = tenant.settings.get(TENANT_PREFIX_SETTING) if tenant is not None else None
    return own if isinstance(own, str) and own else settings.key_prefix


_LIMITS_MESSAGE = (
    "Only an owner or admin, or a key acting on their behalf, may set rate limits or quotas."
)


def _check_known_scopes(scopes: Sequence[str]) -> None:
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise InvalidRequest(
            "Unknown permissions.",
            details=[
                {"field": "permissions", "message": f"unknown: {s}", "type": "enum"}
                for s in unknown
            ],
        )


async def _check_teams_exist(
    session: AsyncSession, tenant_id: str, team_scope: str, team_ids: Sequence[str]
) -> None:
    if team_scope == ALL_TEAMS:
        if team_ids:
            raise InvalidRequest(
                "Team ids are given only with scope 'specific-accounts'.",
                details=[
                    {"field": "accountsAccess.ids", "message": "must be empty", "type": "value"}
                ],
            )
        return
    if not team_ids:
        raise InvalidRequest(
            "Name at least one team for 'specific-accounts'.",
            details=[{"field": "accountsAccess.ids", "message": "required", "type": "missing"}],
        )
    known = await TeamRepository(session, tenant_id).existing_ids(list(team_ids))
    unknown = [t for t in team_ids if t not in known]
    if unknown:
        raise InvalidRequest(
            "Unknown teams.",
            details=[
                {"field": "accountsAccess.ids", "message": f"no team {t}", "type": "not_found"}
                for t in unknown
            ],
        )


def _check_mtls(enforce: bool, thumbprints: Sequence[str]) -> None:
    if enforce and not thumbprints:
        raise InvalidRequest(
            "A key that enforces mTLS needs at least one pinned certificate thumbprint.",
            details=[{"field": "mtlsThumbprints", "message": "required", "type": "missing"}],
        )


async def revoke_api_key(
    session: AsyncSession,
    *,
    tenant_id: str,
    key_id: str,
    actor: dict[str, Any] | None = None,
    reason: str = "requested",
    ip: str | None = None,
    grantor: Grantor | None = None,
) -> ApiKey:
    """Revokes a key (idempotent). `reason` is `requested` (a person or key asked) or `leaked`
    (a leak report, see `api_keys.leaks`); it goes with the audit record and the event."""
    grantor = grantor or Grantor(actor=actor or OPERATOR.actor)
    actor = grantor.actor
    key = await _managed_key(session, tenant_id, key_id, grantor)
    if key.revoked_at is None:
        before = key_snapshot(key)
        key.revoked_at = utcnow()
        key.revoked_reason = reason
        await audit.record(
            session,
            tenant_id=tenant_id,
            action="api_key.revoked",
            actor=actor,
            target_type="api_key",
            target_id=key.id,
            before=before,
            after={**key_snapshot(key), "reason": reason},
            ip=ip,
        )
        await emit(session, tenant_id, "api_key.revoked", {**key_public(key), "reason": reason})
        invalidate_on_commit(session, key.id)
    return key


async def _managed_key(
    session: AsyncSession, tenant_id: str, key_id: str, grantor: Grantor
) -> ApiKey:
    key = await ApiKeyRepository(session, tenant_id).get(key_id)
    if key is None:
        raise NotFound(f"No API key {key_id}.")
    grantor.check_may_manage(key)
    return key


async def get_api_key(session: AsyncSession, tenant_id: str, key_id: str) -> ApiKey:
    key = await ApiKeyRepository(session, tenant_id).get(key_id)
    if key is None:
        raise NotFound(f"No API key {key_id}.")
    return key


async def list_api_keys(session: AsyncSession, tenant_id: str) -> Sequence[ApiKey]:
    return await ApiKeyRepository(session, tenant_id).list()


@dataclass(frozen=True, slots=True)
class KeyChanges:
    """A PATCH: only the fields given are changed."""

    name: str | None = None
    scopes: list[str] | None = None
    team_scope: str | None = None
    team_ids: list[str] | None = None
    rate_limit_per_minute: int | None = None
    monthly_quota: int | None = None
    enforce_mtls: bool | None = None
    mtls_thumbprints: list[str] | None = None
    fields: frozenset[str] = frozenset()


async def update_api_key(
    session: AsyncSession,
    *,
    tenant_id: str,
    key_id: str,
    changes: KeyChanges,
    grantor: Grantor,
    ip: str | None = None,
) -> ApiKey:
    key = await _managed_key(session, tenant_id, key_id, grantor)
    if key.revoked_at is not None:
        raise Conflict("A revoked key cannot be changed.", code="api_key_revoked")
    before = key_snapshot(key)
    limits = {"rate_limit_per_minute", "monthly_quota"} & changes.fields
    if limits and not grantor.may_change_limits:
        raise Forbidden(_LIMITS_MESSAGE)
    if changes.scopes is not None:
        _check_known_scopes(changes.scopes)
        grantor.check_scopes(changes.scopes)
        check_within_creator(key.created_by, changes.scopes)
        key.scopes = sorted(set(changes.scopes), key=ALL_SCOPES.index)
    if changes.team_scope is not None:
        team_ids = changes.team_ids or []
        grantor.check_teams(changes.team_scope, team_ids)
        await _check_teams_exist(session, tenant_id, changes.team_scope, team_ids)
        key.team_scope, key.team_ids = changes.team_scope, list(team_ids)
    if changes.name is not None and changes.name != key.name:
        repository = ApiKeyRepository(session, tenant_id)
        if await repository.name_taken(changes.name, except_id=key.id):
            raise Conflict(
                f"An API key named {changes.name!r} already exists.", code="api_key_name_taken"
            )
        key.name = changes.name
    for name in ("rate_limit_per_minute", "monthly_quota"):
        if name in changes.fields:
            setattr(key, name, getattr(changes, name))
    if changes.mtls_thumbprints is not None:
        key.mtls_thumbprints = list(changes.mtls_thumbprints)
    if changes.enforce_mtls is not None:
        key.enforce_mtls = changes.enforce_mtls
    _check_mtls(key.enforce_mtls, key.mtls_thumbprints)
    after = key_snapshot(key)
    if after == before:
        return key
    key.updated_at = utcnow()
    try:
        # Flushed here so a name taken by a concurrent request surfaces as 409, not a 500.
        await session.flush()
    except sa.exc.IntegrityError as error:
        if is_unique_violation(error):
            raise Conflict(
                f"An API key named {key.name!r} already exists.", code="api_key_name_taken"
            ) from None
        raise  # pragma: no cover
    await audit.record(
        session,
        tenant_id=tenant_id,
        action=_update_action(before, after),
        actor=grantor.actor,
        target_type="api_key",
        target_id=key.id,
        before=before,
        after=after,
        ip=ip,
    )
    invalidate_on_commit(session, key.id)
    return key


def _update_action(before: dict[str, Any], after: dict[str, Any]) -> str:
    changed = {name for name in after if after[name] != before.get(name)}
    if changed & {"scopes", "teamAccess"}:
        return "api_key.scopes_changed"
    if changed & {"rateLimitPerMinute", "monthlyQuota"}:
        return "api_key.limit_changed"
    return "api_key.updated"


async def roll_api_key(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    key_id: str,
    grace_period_minutes: int,
    grantor: Grantor,
    ip: str | None = None,
) -> IssuedKey:
    """A new secret for the same key; the old ones keep working for the grace period (0: none)."""
    key = await _managed_key(session, tenant_id, key_id, grantor)
    if key.revoked_at is not None:
        raise Conflict("A revoked key cannot be rolled.", code="api_key_revoked")
    # Rolling renews the key's powers: not past what its creator's role may grant.
    check_within_creator(key.created_by, key.scopes)
    repository = ApiKeyRepository(session, tenant_id)
    now = utcnow()
    before = key_snapshot(key)
    generated = crypto.generate_api_key(await key_prefix_for(session, settings, tenant_id))
    secret = ApiKeySecret(
        id=new_id("aks"),
        tenant_id=tenant_id,
        api_key_id=key.id,
        secret_hash=crypto.hash_api_key(generated.plaintext, settings.secret_bytes),
        server_key_id=settings.secret_key_id,
        hint=generated.hint,
        created_at=now,
    )
    await repository.add_secret(secret)
    await repository.expire_secrets(
        key.id, at=now + timedelta(minutes=grace_period_minutes), except_id=secret.id
    )
    key.hint = generated.hint
    key.updated_at = now
    if key.expires_at is not None and key.expires_at <= now:
        # An expired key rolled is renewed for the period it was issued for: the new secret
        # works; the old ones work only for the grace, if one was asked for.
        key.expires_at = now + timedelta(days=expiration_period(key))
        key.expiring_notified_at = None
        key.expired_recorded_at = None
    await audit.record(
        session,
        tenant_id=tenant_id,
        action="api_key.rolled",
        actor=grantor.actor,
        target_type="api_key",
        target_id=key.id,
        before=before,
        after={**key_snapshot(key), "gracePeriodMinutes": grace_period_minutes},
        ip=ip,
    )
    await emit(
        session,
        tenant_id,
        "api_key.rolled",
        {**key_public(key), "gracePeriodMinutes": grace_period_minutes},
    )
    invalidate_on_commit(session, key.id)
    return IssuedKey(key=key, plaintext=generated.plaintext)


def expiration_period(key: ApiKey) -> int:
    """Days a key was issued for; for keys issued before that was recorded, the issued period
    closest to `expires_at - created_at`."""
    if key.expiration_days:
        return key.expiration_days
    assert key.expires_at is not None
    days = (key.expires_at - key.created_at).total_seconds() / 86_400
    return min(EXPIRATION_DAYS, key=lambda option: abs(option - days))


def key_status(key: ApiKey, now: datetime | None = None) -> Literal["active", "expired", "revoked"]:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def key_public(key: ApiKey) -> dict[str, Any]:
    """The key's public JSON (as the API shows it; never a secret), for events and the CLI."""
    return key_out(key).model_dump(mode="json")


def key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        hint=key.hint,
        status=key_status(key),
        permissions=list(key.scopes),
        accounts_access=AccountsAccessOut(scope=key.team_scope, ids=list(key.team_ids)),
        expiration_date=key.expires_at,
        created_at=key.created_at,
        updated_at=key.updated_at,
        enforce_mtls=key.enforce_mtls,
        mtls_thumbprints=list(key.mtls_thumbprints),
        rate_limit_per_minute=key.rate_limit_per_minute,
        monthly_quota=key.monthly_quota,
        created_by=dict(key.created_by),
        last_used_at=key.last_used_at,
        last_used_ip=key.last_used_ip,
        revoked_at=key.revoked_at,
        tenant_id=key.tenant_id,
        company_id=key.tenant_id,
        prefix=key.hint.partition("_")[0],
    )


def key_snapshot(key: ApiKey) -> dict[str, Any]:
    """A key's state for the audit log's before/after (never a secret)."""
    return {
        "name": key.name,
        "scopes": list(key.scopes),
        "expiresAt": _iso(key.expires_at),
        "rateLimitPerMinute": key.rate_limit_per_minute,
        "monthlyQuota": key.monthly_quota,
        "enforceMtls": key.enforce_mtls,
        "mtlsThumbprints": list(key.mtls_thumbprints),
        "teamAccess": {"scope": key.team_scope, "ids": list(key.team_ids)},
        "revokedAt": _iso(key.revoked_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
