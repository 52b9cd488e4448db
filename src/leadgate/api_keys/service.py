"""The rules of API keys: issuing, verifying and revoking. Never commits."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import audit, crypto
from leadgate.api_keys.repository import ApiKeyRepository, KeyLookupRepository, KeyRecord
from leadgate.api_keys.scopes import ALL_SCOPES, EXPIRATION_DAYS
from leadgate.db import is_unique_violation
from leadgate.errors import ApiKeyExpired, Conflict, InvalidApiKey, InvalidRequest, NotFound
from leadgate.ids import new_id
from leadgate.models import ApiKey, ApiKeySecret, utcnow
from leadgate.settings import Settings


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
    team_scope: str = "all-accounts",
    team_ids: list[str] | None = None,
    ip: str | None = None,
) -> IssuedKey:
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise InvalidRequest(
            "Unknown permissions.",
            details=[
                {"field": "permissions", "message": f"unknown: {s}", "type": "enum"}
                for s in unknown
            ],
        )
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
    generated = crypto.generate_api_key(settings.key_prefix)
    key = ApiKey(
        id=new_id("key"),
        tenant_id=tenant_id,
        name=name,
        hint=generated.hint,
        scopes=sorted(set(scopes), key=ALL_SCOPES.index),
        expires_at=now + timedelta(days=expiration_in_days) if expiration_in_days else None,
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
    return IssuedKey(key=key, plaintext=generated.plaintext)


async def find_key_record(session: AsyncSession, settings: Settings, plaintext: str) -> KeyRecord:
    """The key a plaintext names, or the 401 that says why it cannot be used.

    A malformed key or one whose checksum fails is refused before any storage lookup.
    """
    if not crypto.is_well_formed(plaintext, settings.key_prefix):
        raise InvalidApiKey("API key is missing or does not match.")
    secret_hash = crypto.hash_api_key(plaintext, settings.secret_bytes)
    record = await KeyLookupRepository(session).find_by_secret_hash(secret_hash)
    now = utcnow()
    if record is None or (record.secret_expires_at is not None and record.secret_expires_at <= now):
        raise InvalidApiKey("API key is missing or does not match.")
    if record.key.revoked_at is not None:
        raise InvalidApiKey("API key has been revoked.")
    if record.key.expires_at is not None and record.key.expires_at <= now:
        raise ApiKeyExpired("API key has expired; create a new one or roll this one.")
    return record


def secrets_match(expected_hash: str, plaintext: str, secret: bytes) -> bool:
    return hmac.compare_digest(expected_hash, crypto.hash_api_key(plaintext, secret))


async def revoke_api_key(
    session: AsyncSession,
    *,
    tenant_id: str,
    key_id: str,
    actor: dict[str, Any],
    reason: str = "revoked",
    ip: str | None = None,
) -> ApiKey:
    repository = ApiKeyRepository(session, tenant_id)
    key = await repository.get(key_id)
    if key is None:
        raise NotFound(f"No API key {key_id}.")
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
            after=key_snapshot(key),
            ip=ip,
        )
    return key


def key_snapshot(key: ApiKey) -> dict[str, Any]:
    """A key's state for the audit log's before/after (never a secret)."""
    return {
        "name": key.name,
        "scopes": list(key.scopes),
        "expiresAt": _iso(key.expires_at),
        "rateLimitPerMinute": key.rate_limit_per_minute,
        "monthlyQuota": key.monthly_quota,
        "enforceMtls": key.enforce_mtls,
        "teamAccess": {"scope": key.team_scope, "ids": list(key.team_ids)},
        "revokedAt": _iso(key.revoked_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
