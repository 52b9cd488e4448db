"""API-key request and response bodies: the Snappy seed's `apiKeys` shapes, plus leadgate's."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    field_validator,
    model_validator,
)

from leadgate.api_keys.mtls import normalise_thumbprint
from leadgate.api_keys.scopes import ALL_TEAMS, MAX_MONTHLY_QUOTA, MAX_RATE_LIMIT_PER_MINUTE
from leadgate.schemas import RequestModel, ResponseModel, Timestamp

KeyName = Annotated[str, StringConstraints(min_length=1, max_length=120)]
AccountsScope = Literal["all-accounts", "specific-accounts"]
MAX_GRACE_MINUTES = 10_080  # 7 days
DEFAULT_PERMISSIONS = ("leads:write",)


class AccountsAccess(RequestModel):
    scope: AccountsScope = "all-accounts"
    ids: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=100
    )

    @model_validator(mode="after")
    def _ids_only_for_specific_teams(self) -> AccountsAccess:
        # Snappy's documented example sends ids with "all-accounts"; they mean nothing there.
        if self.scope == ALL_TEAMS:
            self.ids = []
        return self


def _thumbprints(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    cleaned = []
    for value in values:
        normalised = normalise_thumbprint(value)
        if normalised is None:
            raise ValueError("each thumbprint must be a SHA-256 in hex (64 digits, colons allowed)")
        cleaned.append(normalised)
    return sorted(set(cleaned))


class ApiKeyCreate(RequestModel):
    name: KeyName
    # Missing means the API default (90 days); an explicit null means the key never expires.
    expiration_in_days: int | None = 90
    enforce_mtls: bool = False
    # Left out: the least privilege that is still useful, pushing leads (docs/api-keys.md).
    permissions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PERMISSIONS), min_length=1, max_length=20
    )
    accounts_access: AccountsAccess | None = None
    rate_limit_per_minute: int | None = Field(None, ge=1, le=MAX_RATE_LIMIT_PER_MINUTE)
    monthly_quota: int | None = Field(None, ge=1, le=MAX_MONTHLY_QUOTA)
    mtls_thumbprints: list[str] | None = Field(None, max_length=10)

    _check_thumbprints = field_validator("mtls_thumbprints")(_thumbprints)


class ApiKeyUpdate(RequestModel):
    name: KeyName | None = None
    permissions: list[str] | None = Field(None, min_length=1, max_length=20)
    accounts_access: AccountsAccess | None = None
    rate_limit_per_minute: int | None = Field(None, ge=1, le=MAX_RATE_LIMIT_PER_MINUTE)
    monthly_quota: int | None = Field(None, ge=1, le=MAX_MONTHLY_QUOTA)
    enforce_mtls: bool | None = None
    mtls_thumbprints: list[str] | None = Field(None, max_length=10)

    _check_thumbprints = field_validator("mtls_thumbprints")(_thumbprints)


class ApiKeyRoll(RequestModel):
    grace_period_minutes: int = Field(0, ge=0, le=MAX_GRACE_MINUTES)


class AccountsAccessOut(ResponseModel):
    scope: str
    ids: list[str]


class ApiKeyOut(ResponseModel):
    id: str
    name: str
    hint: str
    status: Literal["active", "expired", "revoked"]
    permissions: list[str]
    accounts_access: AccountsAccessOut
    expiration_date: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp
    enforce_mtls: bool
    mtls_thumbprints: list[str]
    rate_limit_per_minute: int | None
    monthly_quota: int | None
    created_by: dict[str, Any]
    last_used_at: Timestamp | None
    last_used_ip: str | None
    revoked_at: Timestamp | None
    tenant_id: str
    company_id: str = Field(description="The tenant's id again, under Snappy's name for it.")
    prefix: str = Field(description="The prefix the key's secret starts with.")


class ApiKeyCreated(ApiKeyOut):
    api_key: str = Field(description="The secret, shown this once.")


class ApiKeyList(ResponseModel):
    data: list[ApiKeyOut]


class ApiKeySelf(ApiKeyOut):
    effective_rate_limit_per_minute: int
    key_source: str = Field(description="Where this request carried the key.")


# --- leaked keys ---
MAX_LEAKED_KEYS = 1000
LeakedToken = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class LeakedKeys(RequestModel):
    """Key values someone found exposed (GitHub's credential-revocation shape)."""

    keys: list[LeakedToken] = Field(min_length=1, max_length=MAX_LEAKED_KEYS)


class LeakedKeysReceived(ResponseModel):
    """The same answer whatever the keys were: how many values were received."""

    received: int


class GithubSecretMatch(BaseModel):
    """One match GitHub secret scanning reports (extra fields GitHub may add are ignored)."""

    model_config = ConfigDict(extra="ignore")

    token: LeakedToken
    type: Annotated[str, StringConstraints(max_length=200)] = ""
    url: Annotated[str, StringConstraints(max_length=2000)] = ""
    source: Annotated[str, StringConstraints(max_length=200)] = ""


class GithubSecretMatches(RootModel[list[GithubSecretMatch]]):
    """The body GitHub sends: a JSON array of matches."""

    root: list[GithubSecretMatch] = Field(max_length=MAX_LEAKED_KEYS)


class GithubSecretVerdict(BaseModel):
    """GitHub's documented answer for one match (snake_case, as GitHub reads it)."""

    token_hash: str = Field(description="SHA-256 of the token, hex.")
    token_type: str
    label: Literal["true_positive", "false_positive"]
