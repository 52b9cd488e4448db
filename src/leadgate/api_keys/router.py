"""HTTP routes of API keys: create, list, get, update, roll, revoke, and a key's own view."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from leadgate.api_keys import leaks, service
from leadgate.api_keys.auth import AnyKey, KeysRead, KeysWrite
from leadgate.api_keys.grantor import Grantor, key_grantor
from leadgate.api_keys.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    ApiKeyRoll,
    ApiKeySelf,
    ApiKeyUpdate,
    GithubSecretMatches,
    GithubSecretVerdict,
    LeakedKeys,
    LeakedKeysReceived,
)
from leadgate.api_keys.scopes import ALL_TEAMS
from leadgate.auth.principal import Principal
from leadgate.db import Session
from leadgate.errors import InvalidSignature, NotFound
from leadgate.models import ApiKey
from leadgate.openapi import request_body
from leadgate.payload import parse_json, read_body
from leadgate.ratelimit.service import RateLimiter
from leadgate.responses import CONFLICT_RESPONSE, ERROR_RESPONSES
from leadgate.web import client_ip, get_settings

router = APIRouter(tags=["api keys"], responses=ERROR_RESPONSES)


def grantor_of(principal: Principal) -> Grantor:
    """A calling key grants at most its own scopes and teams (see docs/api-keys.md)."""
    return key_grantor(principal)


@router.post(
    "/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="Create an API key",
    responses=CONFLICT_RESPONSE,
    openapi_extra=request_body(ApiKeyCreate),
)
async def create_api_key(request: Request, principal: KeysWrite, session: Session) -> ApiKeyCreated:
    """Creates a key; `apiKey` in the response is the secret, shown this once. A key cannot
    grant scopes or teams it lacks itself."""
    body = await read_body(request, ApiKeyCreate)
    access = body.accounts_access
    if access is None and principal.team_scope != ALL_TEAMS:
        # A team-limited caller's new key inherits its teams unless it names a subset.
        team_scope, team_ids = principal.team_scope, list(principal.team_ids)
    else:
        team_scope = access.scope if access else ALL_TEAMS
        team_ids = list(access.ids) if access else []
    issued = await service.issue_api_key(
        session,
        get_settings(request),
        tenant_id=principal.tenant_id,
        name=body.name,
        scopes=body.permissions,
        created_by=principal.actor,
        expiration_in_days=body.expiration_in_days,
        rate_limit_per_minute=body.rate_limit_per_minute,
        monthly_quota=body.monthly_quota,
        enforce_mtls=body.enforce_mtls,
        mtls_thumbprints=body.mtls_thumbprints,
        team_scope=team_scope,
        team_ids=team_ids,
        ip=client_ip(request),
        grantor=grantor_of(principal),
    )
    out = service.key_out(issued.key)
    return ApiKeyCreated(**out.model_dump(), api_key=issued.plaintext)


@router.get("/api-keys", response_model=ApiKeyList, summary="List API keys")
async def list_api_keys(principal: KeysRead, session: Session) -> ApiKeyList:
    """Every key of the tenant, newest first, revoked ones included. Never a secret."""
    keys = await service.list_api_keys(session, principal.tenant_id)
    return ApiKeyList(data=[service.key_out(key) for key in keys if _visible(principal, key)])


@router.get("/api-keys/self", response_model=ApiKeySelf, summary="The calling key")
async def get_own_key(principal: AnyKey, session: Session) -> ApiKeySelf:
    """What the calling key may do: its scopes, teams, limits and expiry. Needs no scope."""
    key = await service.get_api_key(session, principal.tenant_id, principal.api_key_id)
    return ApiKeySelf(
        **service.key_out(key).model_dump(),
        effective_rate_limit_per_minute=principal.rate_limit_per_minute or 0,
        key_source=principal.key_source,
    )


@router.get("/api-keys/{key_id}", response_model=ApiKeyOut, summary="Get an API key")
async def get_api_key(key_id: str, principal: KeysRead, session: Session) -> ApiKeyOut:
    key = await service.get_api_key(session, principal.tenant_id, key_id)
    if not _visible(principal, key):
        raise NotFound(f"No API key {key_id}.")
    return service.key_out(key)


def _visible(principal: Principal, key: ApiKey) -> bool:
    """A key limited to teams sees itself and the keys limited to its teams, no others."""
    if principal.team_scope == ALL_TEAMS or key.id == principal.api_key_id:
        return True
    return key.team_scope != ALL_TEAMS and set(key.team_ids) <= set(principal.team_ids)


@router.patch(
    "/api-keys/{key_id}",
    response_model=ApiKeyOut,
    summary="Update an API key",
    responses=CONFLICT_RESPONSE,
    openapi_extra=request_body(ApiKeyUpdate),
)
async def update_api_key(
    request: Request, key_id: str, principal: KeysWrite, session: Session
) -> ApiKeyOut:
    """Changes name, permissions, team access, mTLS pins or limits. Rate limits and quotas only
    by a key acting on an owner's behalf (see docs/api-keys.md)."""
    body = await read_body(request, ApiKeyUpdate)
    given = body.model_fields_set
    access = body.accounts_access
    changes = service.KeyChanges(
        name=body.name,
        scopes=body.permissions,
        team_scope=access.scope if access else None,
        team_ids=list(access.ids) if access else None,
        rate_limit_per_minute=body.rate_limit_per_minute,
        monthly_quota=body.monthly_quota,
        enforce_mtls=body.enforce_mtls,
        mtls_thumbprints=body.mtls_thumbprints,
        fields=frozenset(given),
    )
    key = await service.update_api_key(
        session,
        tenant_id=principal.tenant_id,
        key_id=key_id,
        changes=changes,
        grantor=grantor_of(principal),
        ip=client_ip(request),
    )
    return service.key_out(key)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut, summary="Revoke an API key")
async def revoke_api_key(
    request: Request, key_id: str, principal: KeysWrite, session: Session
) -> ApiKeyOut:
    """Revokes the key on every server process within a second. Revoking twice is harmless."""
    key = await service.revoke_api_key(
        session,
        tenant_id=principal.tenant_id,
        key_id=key_id,
        grantor=grantor_of(principal),
        ip=client_ip(request),
    )
    return service.key_out(key)


@router.post(
    "/api-keys/{key_id}/roll",
    response_model=ApiKeyCreated,
    summary="Roll an API key",
    responses=CONFLICT_RESPONSE,
    openapi_extra=request_body(ApiKeyRoll, required=False),
)
async def roll_api_key(
    request: Request, key_id: str, principal: KeysWrite, session: Session
) -> ApiKeyCreated:
    """A new secret for the same key (shown this once); the old one keeps working for
    `gracePeriodMinutes` (0 to 10080; 0 ends it at once). The body may be omitted."""
    body = await read_body(request, ApiKeyRoll)
    issued = await service.roll_api_key(
        session,
        get_settings(request),
        tenant_id=principal.tenant_id,
        key_id=key_id,
        grace_period_minutes=body.grace_period_minutes,
        grantor=grantor_of(principal),
        ip=client_ip(request),
    )
    return ApiKeyCreated(**service.key_out(issued.key).model_dump(), api_key=issued.plaintext)


# --- leaked keys ---


@router.post(
    "/api-keys/revoke-leaked",
    status_code=202,
    response_model=LeakedKeysReceived,
    summary="Report leaked API keys",
    tags=["secret scanning"],
    openapi_extra={**request_body(LeakedKeys), "security": []},
)
async def revoke_leaked_keys(request: Request, session: Session) -> LeakedKeysReceived:
    """Revokes every working key among `keys` (reason `leaked`; the owning tenant is told through
    its audit log, an `api_key.revoked` event and a console notice). Needs no authentication,
    like GitHub's credential revocation API, and answers the same whatever the keys were.
    Limited per client address (`LEADGATE_LEAK_REPORT_LIMIT_PER_MINUTE`)."""
    settings = get_settings(request)
    limiter: RateLimiter = request.app.state.rate_limiter
    await limiter.admit_address(
        "leakreport", client_ip(request), settings.leak_report_limit_per_minute
    )
    body = await read_body(request, LeakedKeys)
    await leaks.revoke_leaked_keys(
        session, settings, body.keys, actor=leaks.LEAK_REPORT_ACTOR, ip=client_ip(request)
    )
    return LeakedKeysReceived(received=len(body.keys))


@router.post(
    "/secret-scanning/github",
    response_model=list[GithubSecretVerdict],
    summary="GitHub secret-scanning reports",
    tags=["secret scanning"],
    openapi_extra={**request_body(GithubSecretMatches), "security": []},
)
async def github_secret_scanning(
    request: Request,
    session: Session,
    key_identifier: Annotated[str | None, Header(alias="Github-Public-Key-Identifier")] = None,
    key_signature: Annotated[str | None, Header(alias="Github-Public-Key-Signature")] = None,
) -> list[GithubSecretVerdict]:
    """GitHub's secret-scanning partner endpoint: a signed list of tokens GitHub found in public
    code. Revokes the working keys among them (as `revoke-leaked`) and labels each token
    `true_positive` (a working key until now) or `false_positive`. The signature is checked
    against `LEADGATE_GITHUB_SECRET_SCANNING_KEYS`; a bad one is 401 `invalid_signature`."""
    settings = get_settings(request)
    limiter: RateLimiter = request.app.state.rate_limiter
    address = client_ip(request)
    limiter.check_address(address)
    body = await request.body()
    try:
        leaks.verify_github_signature(settings, key_identifier, key_signature, body)
    except InvalidSignature:
        await limiter.record_auth_failure(address)
        raise
    matches = GithubSecretMatches.model_validate(parse_json(body)).root
    working = await leaks.revoke_leaked_keys(
        session,
        settings,
        [match.token for match in matches],
        actor=leaks.GITHUB_ACTOR,
        ip=address,
        where={match.token: match.url for match in matches if match.url},
    )
    return [
        GithubSecretVerdict(
            token_hash=leaks.token_hash(match.token),
            token_type=match.type,
            label="true_positive" if match.token in working else "false_positive",
        )
        for match in matches
    ]
