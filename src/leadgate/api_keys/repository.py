"""Every query on API keys and their secrets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.db import TenantScopedRepository
from leadgate.models import ApiKey, ApiKeyIp, ApiKeySecret, Tenant, UsageCount
from leadgate.sql import insert_ignoring_conflicts


@dataclass(frozen=True, slots=True)
class VerifiedKey:
    """A key as verification sees it, read in one indexed query and kept in the key cache: what
    the checks and the `Principal` need, never a secret. `quota_used` is the key's flushed count
    of admitted requests in `quota_month` (YYYYMM), where its monthly quota counter starts."""

    key_id: str
    tenant_id: str
    tenant_slug: str
    name: str
    scopes: frozenset[str]
    team_scope: str
    team_ids: tuple[str, ...]
    rate_limit_per_minute: int | None
    monthly_quota: int | None
    expires_at: datetime | None
    revoked_at: datetime | None
    secret_id: str
    secret_expires_at: datetime | None
    enforce_mtls: bool
    mtls_thumbprints: frozenset[str]
    phone_region: str | None
    duplicate_policy: str
    plan: str
    created_by: dict[str, Any]
    quota_month: str = ""
    quota_used: int = 0


def month_key(moment: datetime) -> str:
    return f"{moment.year}{moment.month:02d}"


class KeyLookupRepository:
    """The one lookup that is not tenant-scoped: finding a key by its secret's HMAC.

    The tenant is not known until the key is; the HMAC is unguessable, so this reveals nothing.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find_by_secret_hash(
        self, secret_hash: str, month_start: datetime | None = None
    ) -> VerifiedKey | None:
        return await self.find_by_secret_hashes([secret_hash], month_start)

    async def find_by_secret_hashes(
        self, secret_hashes: Sequence[str], month_start: datetime | None = None
    ) -> VerifiedKey | None:
        """The key one of these hashes (of one plaintext, under different secrets) names."""
        found = await self.records_by_secret_hash(secret_hashes, month_start)
        return next(iter(found.values()), None)

    async def records_by_secret_hash(
        self, secret_hashes: Sequence[str], month_start: datetime | None = None
    ) -> dict[str, VerifiedKey]:
        """Keys by their secrets' HMACs, in one indexed query (leak reports send many). With
        `month_start`, each key's admitted requests since then come in the same query (the
        seed of its quota counter), so a key's first request reads the database once."""
        if not secret_hashes:
            return {}
        used: sa.ColumnElement[Any] = sa.literal(0)
        if month_start is not None:
            used = (
                sa.select(sa.func.coalesce(sa.func.sum(UsageCount.count), 0))
                .where(
                    UsageCount.tenant_id == ApiKey.tenant_id,
                    UsageCount.api_key_id == ApiKey.id,
                    UsageCount.hour >= month_start,
                    UsageCount.status_class != "429",
                )
                .scalar_subquery()
            )
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
                used,
            )
            .join(ApiKeySecret, ApiKeySecret.api_key_id == ApiKey.id)
            .join(Tenant, Tenant.id == ApiKey.tenant_id)
            .where(ApiKeySecret.secret_hash.in_(list(secret_hashes)))
            .where(ApiKeySecret.tenant_id == ApiKey.tenant_id)
        )
        month = "" if month_start is None else month_key(month_start)
        found: dict[str, VerifiedKey] = {}
        for secret_hash, key, secret_id, secret_expires_at, slug, region, policy, plan, count in (
            await self.session.execute(statement)
        ).all():
            found[secret_hash] = VerifiedKey(
                key_id=key.id,
                tenant_id=key.tenant_id,
                tenant_slug=slug,
                name=key.name,
                scopes=frozenset(key.scopes),
                team_scope=key.team_scope,
                team_ids=tuple(key.team_ids),
                rate_limit_per_minute=key.rate_limit_per_minute,
                monthly_quota=key.monthly_quota,
                expires_at=key.expires_at,
                revoked_at=key.revoked_at,
                secret_id=secret_id,
                secret_expires_at=secret_expires_at,
                enforce_mtls=key.enforce_mtls,
                mtls_thumbprints=frozenset(t.lower() for t in key.mtls_thumbprints),
                phone_region=region,
                duplicate_policy=policy,
                plan=plan,
                created_by=dict(key.created_by),
                quota_month=month,
                quota_used=int(count or 0),
            )
        return found


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

    async def record_uses(self, uses: Sequence[tuple[str, datetime, str | None]]) -> None:
        """`(key id, used at, ip)`: each key's last use, in one executemany of bare UPDATEs that
        never load or dirty an ORM object; an older time never overwrites a newer one."""
        if not uses:
            return
        table = cast(sa.Table, ApiKey.__table__)
        used_at = sa.bindparam("used_at", type_=ApiKey.last_used_at.type)
        statement = (
            sa.update(table)
            .where(self._tenant_filter(ApiKey), ApiKey.id == sa.bindparam("key_id"))
            .where(sa.or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < used_at))
            # updated_at keeps its value: it tracks changes to the key, not its use.
            .values(
                last_used_at=used_at, last_used_ip=sa.bindparam("ip"), updated_at=table.c.updated_at
            )
        )
        await self.session.execute(
            statement, [{"key_id": k, "used_at": at, "ip": ip} for k, at, ip in uses]
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

    async def remember_ips(
        self, seen: Sequence[tuple[str, str, datetime]]
    ) -> Sequence[tuple[str, str]]:
        """Records `(key id, ip, first seen)`; returns the `(key id, ip)` pairs that were new,
        from one multi-row INSERT … ON CONFLICT DO NOTHING RETURNING."""
        if not seen:
            return []
        rows = self._with_tenant(
            [{"api_key_id": k, "ip": ip, "first_seen_at": at} for k, ip, at in seen]
        )
        statement = (
            insert_ignoring_conflicts(ApiKeyIp)
            .values(rows)
            .returning(ApiKeyIp.api_key_id, ApiKeyIp.ip)
        )
        return [(key_id, ip) for key_id, ip in (await self.session.execute(statement)).all()]

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
