"""Every query on API keys and their secrets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.db import TenantScopedRepository
from leadgate.models import ApiKey, ApiKeyIp, ApiKeySecret, Tenant
from leadgate.sql import insert_ignoring_conflicts


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What verifying a key needs, read in one query."""

    key: ApiKey
    secret_id: str
    secret_expires_at: datetime | None
    tenant_slug: str
    tenant_phone_region: str | None
    tenant_duplicate_policy: str
    tenant_plan: str
    tenant_duplicate_fields: list[str]


class KeyLookupRepository:
    """The one lookup that is not tenant-scoped: finding a key by its secret's HMAC.

    The tenant is not known until the key is; the HMAC is unguessable, so this reveals nothing.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find_by_secret_hash(self, secret_hash: str) -> KeyRecord | None:
        return await self.find_by_secret_hashes([secret_hash])

    async def find_by_secret_hashes(self, secret_hashes: Sequence[str]) -> KeyRecord | None:
        """The key one of these hashes (of one plaintext, under different secrets) names."""
        found = await self.records_by_secret_hash(secret_hashes)
        return next(iter(found.values()), None)

    async def records_by_secret_hash(self, secret_hashes: Sequence[str]) -> dict[str, KeyRecord]:
        """Keys by their secrets' HMACs, in one indexed query (leak reports send many)."""
        if not secret_hashes:
            return {}
        statement = (
            sa.select(
                ApiKeySecret.secret_hash,
                ApiKey,
                ApiKeySecret.id,
                ApiKeySecret.expires_at,
                Tenant.slug,
                Tenant.phone_region,
                Tenant.duplicate_policy,
                Tenant.plan,
                Tenant.duplicate_fields,
            )
            .join(ApiKeySecret, ApiKeySecret.api_key_id == ApiKey.id)
            .join(Tenant, Tenant.id == ApiKey.tenant_id)
            .where(ApiKeySecret.secret_hash.in_(list(secret_hashes)))
            .where(ApiKeySecret.tenant_id == ApiKey.tenant_id)
        )
        rows = (await self.session.execute(statement)).all()
        return {row[0]: KeyRecord(*row[1:]) for row in rows}


class ApiKeyRepository(TenantScopedRepository):
    async def add(self, key: ApiKey, secret: ApiKeySecret) -> None:
        self.session.add_all([key, secret])
        # Flushed here so a duplicate name surfaces as an IntegrityError inside the service.
        await self.session.flush()

    async def get(self, key_id: str) -> ApiKey | None:
        result = await self.session.execute(self._scoped(ApiKey).where(ApiKey.id == key_id))
        return result.scalar_one_or_none()

    async def list(self, *, include_revoked: bool = True) -> Sequence[ApiKey]:
        statement = self._scoped(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
        if not include_revoked:
            statement = statement.where(ApiKey.revoked_at.is_(None))
        return (await self.session.execute(statement)).scalars().all()

    async def name_taken(self, name: str, *, except_id: str | None = None) -> bool:
        statement = (
            self._scoped(ApiKey).where(ApiKey.name == name).where(ApiKey.revoked_at.is_(None))
        )
        if except_id is not None:
            statement = statement.where(ApiKey.id != except_id)
        return (await self.session.execute(statement.limit(1))).first() is not None

    async def record_use(self, key_id: str, used_at: datetime, ip: str | None) -> None:
        # A bare UPDATE: it never loads or dirties an ORM object and touches one row.
        await self.session.execute(
            self._scoped_update(ApiKey)
            .where(ApiKey.id == key_id)
            .where(sa.or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < used_at))
            # updated_at keeps its value: it tracks changes to the key, not its use.
            .values(last_used_at=used_at, last_used_ip=ip, updated_at=ApiKey.updated_at)
            .execution_options(synchronize_session=False)
        )

    async def add_secret(self, secret: ApiKeySecret) -> None:
        self.session.add(secret)

    async def rehash_secret(self, secret_id: str, secret_hash: str, server_key_id: str) -> None:
        """Stores a secret's hash under the current server secret (a rotation's re-hash)."""
        await self.session.execute(
            self._scoped_update(ApiKeySecret)
            .where(ApiKeySecret.id == secret_id)
            .values(secret_hash=secret_hash, server_key_id=server_key_id)
        )

    async def expire_secrets(self, key_id: str, *, at: datetime, except_id: str) -> None:
        """Ends the key's other secrets at `at` (a roll's grace period); an earlier end stays."""
        await self.session.execute(
            self._scoped_update(ApiKeySecret)
            .where(ApiKeySecret.api_key_id == key_id)
            .where(ApiKeySecret.id != except_id)
            .where(sa.or_(ApiKeySecret.expires_at.is_(None), ApiKeySecret.expires_at > at))
            .values(expires_at=at)
            .execution_options(synchronize_session=False)
        )

    async def remember_ip(self, key_id: str, ip: str, at: datetime) -> bool:
        """Records that the key was used from `ip`; True when that address is new for the key."""
        row = self._with_tenant([{"api_key_id": key_id, "ip": ip, "first_seen_at": at}])[0]
        # One row, not executemany: its rowcount says whether the address was new.
        result = await self.session.execute(insert_ignoring_conflicts(ApiKeyIp).values(**row))
        return bool(getattr(result, "rowcount", 0) == 1)

    async def claim_expiring_notice(self, key_id: str, at: datetime) -> bool:
        """Marks the key's expiry notice as sent; False if another process already did."""
        result = await self.session.execute(
            self._scoped_update(ApiKey)
            .where(ApiKey.id == key_id)
            .where(ApiKey.expiring_notified_at.is_(None))
            .values(expiring_notified_at=at)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def claim_expired_record(self, key_id: str, at: datetime) -> bool:
        result = await self.session.execute(
            self._scoped_update(ApiKey)
            .where(ApiKey.id == key_id)
            .where(ApiKey.expired_recorded_at.is_(None))
            .values(expired_recorded_at=at)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


class KeyExpiryScanRepository:
    """Keys of every tenant nearing or past expiry, for the background expiry sweep."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def needing_notice(self, now: datetime, before: datetime) -> Sequence[ApiKey]:
        """Live keys that expire in (now, before] and have not been announced yet."""
        statement = (
            sa.select(ApiKey)
            .where(ApiKey.revoked_at.is_(None))
            .where(ApiKey.expiring_notified_at.is_(None))
            .where(ApiKey.expires_at > now)
            .where(ApiKey.expires_at <= before)
            .order_by(ApiKey.expires_at)
            .limit(500)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def newly_expired(self, now: datetime) -> Sequence[ApiKey]:
        statement = (
            sa.select(ApiKey)
            .where(ApiKey.revoked_at.is_(None))
            .where(ApiKey.expired_recorded_at.is_(None))
            .where(ApiKey.expires_at <= now)
            .order_by(ApiKey.expires_at)
            .limit(500)
        )
        return (await self.session.execute(statement)).scalars().all()


class KeyOwnerRepository:
    """Which tenant a key id belongs to: for operators' CLI commands that name a key by id."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def tenant_of(self, key_id: str) -> str | None:
        result = await self.session.execute(sa.select(ApiKey.tenant_id).where(ApiKey.id == key_id))
        return result.scalar_one_or_none()


class KeySecretCensusRepository:
    """Live key secrets of every tenant counted by the server secret that hashed them, for an
    operator rotating the server secret."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def live_secrets_by_server_key(self, now: datetime) -> dict[str | None, int]:
        statement = (
            sa.select(ApiKeySecret.server_key_id, sa.func.count())
            .join(ApiKey, ApiKey.id == ApiKeySecret.api_key_id)
            .where(ApiKey.revoked_at.is_(None))
            .where(sa.or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))
            .where(sa.or_(ApiKeySecret.expires_at.is_(None), ApiKeySecret.expires_at > now))
            .group_by(ApiKeySecret.server_key_id)
        )
        return {row[0]: int(row[1]) for row in (await self.session.execute(statement)).all()}
