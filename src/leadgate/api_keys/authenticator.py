"""The one authenticator: a request in, the `Principal` calling it out (or the error).

Every authenticated route, on every transport and Host, goes through `Authenticator.__call__`:

1. the failed-authentication throttle (an address with too many 401s gets 429 before any lookup);
2. the credential: `X-API-Key`, `Authorization: Bearer`, `?api_key=` or an `api_key` body field
   (different keys in two places → 400);
3. prefix and CRC32 checksum (no lookup for a malformed key), then the key cache by the key's
   HMAC; on a miss its loader, one indexed read outside any transaction that also brings the
   key's quota use this month;
4. rolled past its grace / revoked → 401, expired → 401 `api_key_expired`, a key of another
   tenant on a tenant's subdomain → 401 (an unknown subdomain is 404, looked up only on failure);
5. `enforceMtls`: the pinned client-certificate thumbprint;
6. the key's rate limit and monthly quota (429), the decision kept for the response headers;
7. last use noted in memory (written by the recorder's batched flush), expiry warning headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from fastapi import Request

from leadgate import crypto
from leadgate.api_keys.cache import KeyCache
from leadgate.api_keys.last_used import KeyUsageRecorder
from leadgate.api_keys.mtls import client_thumbprint
from leadgate.api_keys.repository import (
    ApiKeyRepository,
    KeyLookupRepository,
    VerifiedKey,
    month_key,
)
from leadgate.api_keys.service import EXPIRY_WARNING
from leadgate.auth.principal import Principal
from leadgate.context import set_tenant_id
from leadgate.db import Database
from leadgate.errors import (
    ApiError,
    ApiKeyExpired,
    InvalidApiKey,
    InvalidRequest,
    MtlsRequired,
    TenantNotFound,
)
from leadgate.middleware import KEY_EXPIRY_HEADERS
from leadgate.models import utcnow
from leadgate.payload import CREDENTIAL_FIELD, JSON_TYPES, is_form, media_type, read_body_api_key
from leadgate.ratelimit.service import RateLimiter
from leadgate.schemas import iso_utc
from leadgate.settings import Settings
from leadgate.tenants.repository import TenantRepository
from leadgate.usage.alerts import UsageAlerts
from leadgate.usage.schemas import month_start
from leadgate.usage.service import admitted_this_month
from leadgate.web import client_ip, host_tenant_slug

MISSING = "API key is missing or does not match."


@dataclass(frozen=True, slots=True)
class Credential:
    value: str
    source: str  # header | bearer | query | body


class Authenticator:
    """Built once per app (`app.state.authenticator`); see the module's docstring."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        cache: KeyCache,
        limiter: RateLimiter,
        recorder: KeyUsageRecorder,
        alerts: UsageAlerts,
    ) -> None:
        self.settings = settings
        self.database = database
        self.cache = cache
        self.limiter = limiter
        self.recorder = recorder
        self.alerts = alerts

    async def __call__(self, request: Request) -> Principal:
        settings = self.settings
        address = client_ip(request)
        self.limiter.check_address(address)
        slug = host_tenant_slug(request, settings)
        try:
            credential = await find_credential(request)
            if credential is None or not credential.value:
                raise InvalidApiKey(MISSING)
            key = await self.verify(credential.value)
            if slug is not None and key.tenant_slug != slug:
                raise InvalidApiKey(MISSING)
            if key.enforce_mtls:
                check_client_certificate(request, settings, key)
        except ApiError as error:
            # Checked only on failure: a key of the subdomain's tenant proves the tenant exists.
            if slug is not None and not await self._tenant_exists(slug):
                raise TenantNotFound(f"No tenant {slug!r} here.") from None
            if error.status_code == 401:
                await self.limiter.record_auth_failure(address)
            raise
        principal = principal_of(key, settings, credential.source)
        state = request.scope.setdefault("state", {})
        state.update(tenant_id=key.tenant_id, api_key_id=key.key_id, key_source=credential.source)
        set_tenant_id(key.tenant_id)
        await self._admit(state, principal, key)
        self.recorder.touch(key.tenant_id, key.key_id, address)
        if key.expires_at is not None:
            state[KEY_EXPIRY_HEADERS] = expiry_warning_headers(key)
        return principal

    async def verify(self, plaintext: str) -> VerifiedKey:
        """The key a plaintext names, from the cache when it can be, else from its loader.

        A malformed key or one whose checksum fails is refused before any storage lookup.
        """
        settings = self.settings
        if not crypto.is_well_formed(plaintext):  # any prefix: keys outlive a prefix change
            raise InvalidApiKey(MISSING)
        secret_hash = crypto.hash_api_key(plaintext, settings.secret_bytes)
        key = self.cache.get(secret_hash)
        if key is None:
            generation = self.cache.generation
            key = await self._load(plaintext, secret_hash)
            self.cache.put(secret_hash, key, generation)
        check_usable(key)
        return key

    async def _load(self, plaintext: str, secret_hash: str) -> VerifiedKey:
        """The cache's loader: one indexed read, in no transaction (`Database.reader`)."""
        since = month_start(utcnow())
        async with self.database.reader() as session:
            key = await KeyLookupRepository(session).find_by_secret_hash(secret_hash, since)
        if key is None and self.settings.previous_secret_keys:
            key = await self._load_under_previous_secret(plaintext, secret_hash, since)
        if key is None:
            raise InvalidApiKey(MISSING)
        return key

    async def _load_under_previous_secret(
        self, plaintext: str, secret_hash: str, since: datetime
    ) -> VerifiedKey | None:
        """A key hashed under a server secret being rotated out (`previous_secret_keys`): found
        with one more query, only after the current secret missed, and re-hashed under the
        current secret at once, so the next use is an ordinary lookup."""
        settings = self.settings
        old_hashes = [crypto.hash_api_key(plaintext, old) for old in settings.previous_secret_bytes]
        async with self.database.sessionmaker() as session, session.begin():
            key = await KeyLookupRepository(session).find_by_secret_hashes(old_hashes, since)
            if key is not None:
                await ApiKeyRepository(session, key.tenant_id).rehash_secret(
                    key.secret_id, secret_hash, settings.secret_key_id
                )
        return key

    async def _tenant_exists(self, slug: str) -> bool:
        async with self.database.reader() as session:
            return await TenantRepository(session).by_slug(slug) is not None

    async def _admit(
        self, state: dict[str, object], principal: Principal, key: VerifiedKey
    ) -> None:
        """The key's rate limit and monthly quota: admitted, or the 429 raised. The decision
        stays in the request's state, where the middleware turns it into headers."""

        async def quota_seed() -> int:
            now = utcnow()
            if key.quota_month == month_key(now):
                return key.quota_used
            async with self.database.reader() as session:
                return await admitted_this_month(session, key.tenant_id, key.key_id, now)

        decision = await self.limiter.admit(principal, quota_seed)
        if decision is None:
            return
        state["rate_limit"] = decision
        self.alerts.observe(principal, decision)
        self.limiter.refuse(decision)


async def find_credential(request: Request) -> Credential | None:
    """The key the request carries, by PRODUCT.md §2's order of places.

    Two places carrying different keys is ambiguous and refused, rather than guessing which
    one the client meant. A pure read: asking twice in one request gives the same answer.
    """
    found: list[Credential] = []
    header = request.headers.get("x-api-key")
    if header is not None:
        found.append(Credential(header.strip(), "header"))
    authorization = request.headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer":
            found.append(Credential(token.strip(), "bearer"))
    if CREDENTIAL_FIELD.encode() in request.scope.get("query_string", b""):
        query = request.query_params.get(CREDENTIAL_FIELD)
        if query is not None:
            found.append(Credential(query.strip(), "query"))
    if request.method in ("POST", "PUT", "PATCH") and _may_carry_key(request):
        value = await read_body_api_key(request)
        if value is not None:
            found.append(Credential(value.strip() if isinstance(value, str) else "", "body"))
    if not found:
        return None
    if len(found) > 1 and len({credential.value for credential in found}) > 1:
        raise InvalidRequest(
            "The request carries different API keys in different places; send exactly one.",
            details=[
                {"field": credential.source, "message": "API key given here", "type": "ambiguous"}
                for credential in found
            ],
        )
    return found[0]


def _may_carry_key(request: Request) -> bool:
    kind = media_type(request)
    return is_form(request) or kind in JSON_TYPES or kind.endswith("+json")


def check_usable(key: VerifiedKey) -> None:
    now = utcnow()
    if key.secret_expires_at is not None and key.secret_expires_at <= now:
        raise InvalidApiKey("API key has been rolled; use the new one.")
    if key.revoked_at is not None:
        raise InvalidApiKey("API key has been revoked.")
    if key.expires_at is not None and key.expires_at <= now:
        raise ApiKeyExpired(
            "API key has expired; roll it (it is renewed for its period) or create a new one."
        )


def check_client_certificate(request: Request, settings: Settings, key: VerifiedKey) -> None:
    """A key with `enforceMtls` needs a verified client certificate pinned on the key."""
    thumbprint = client_thumbprint(request, settings)
    if thumbprint is None:
        raise MtlsRequired("This API key requires a verified client certificate (mTLS).")
    if thumbprint not in key.mtls_thumbprints:
        raise MtlsRequired("The client certificate is not one pinned on this API key.")


def expiry_warning_headers(key: VerifiedKey, now: datetime | None = None) -> dict[str, str]:
    """`Deprecation` (RFC 9745), `Sunset` (RFC 8594) and a readable `Warning` within 7 days."""
    if key.expires_at is None:
        return {}
    now = now or utcnow()
    if key.expires_at - now > EXPIRY_WARNING:
        return {}
    deprecated_since = key.expires_at - EXPIRY_WARNING
    return {
        "Deprecation": f"@{int(deprecated_since.timestamp())}",
        "Sunset": format_datetime(key.expires_at, usegmt=True),
        "Warning": f'299 leadgate "API key {key.key_id} expires at {iso_utc(key.expires_at)}; '
        'roll it or create a new one"',
    }


def principal_of(key: VerifiedKey, settings: Settings, source: str) -> Principal:
    """The caller a verified key makes, with its plan's limits filled in."""
    return Principal(
        tenant_id=key.tenant_id,
        tenant_slug=key.tenant_slug,
        api_key_id=key.key_id,
        api_key_name=key.name,
        scopes=key.scopes,
        team_scope=key.team_scope,
        team_ids=key.team_ids,
        rate_limit_per_minute=key.rate_limit_per_minute or settings.rate_limit_for_plan(key.plan),
        monthly_quota=key.monthly_quota or settings.monthly_quota_for_plan(key.plan),
        expires_at=key.expires_at,
        key_source=source,
        phone_region=key.phone_region,
        duplicate_policy=key.duplicate_policy,
        plan=key.plan,
        extra={"created_by": key.created_by},
    )
