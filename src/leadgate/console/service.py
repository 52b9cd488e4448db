"""The console's rules over API keys and the audit log: what a person may do, and how it looks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.api_keys.grantor import Grantor, member_grantor
from leadgate.api_keys.scopes import (
    ALL_SCOPES,
    ALL_TEAMS,
    EXPIRATION_DAYS,
    MAX_RATE_LIMIT_PER_MINUTE,
    SPECIFIC_TEAMS,
)
from leadgate.api_keys.service import (
    IssuedKey,
    KeyChanges,
    get_api_key,
    issue_api_key,
    key_status,
    list_api_keys,
    revoke_api_key,
    roll_api_key,
    update_api_key,
)
from leadgate.audit.repository import AuditRepository
from leadgate.auth.principal import Principal
from leadgate.console.forms import EditKeyForm, GenerateKeyForm, whole_number
from leadgate.errors import Forbidden, InvalidRequest
from leadgate.events.repository import EventRepository
from leadgate.models import ApiKey, AuditEvent, Team, User, utcnow
from leadgate.settings import Settings
from leadgate.tenants.repository import TeamRepository
from leadgate.users.service import MANAGER_ROLES, user_actor

THUMBPRINT_RE = re.compile(r"^[0-9a-f]{64}$")
# Roll: how long the old secret keeps working (minutes): none, an hour, a day, a week.
GRACE_PERIODS = (0, 60, 1440, 10080)
LEAD_HISTORY_TYPES = ("lead.created", "lead.updated", "lead.deleted")


@dataclass(frozen=True, slots=True)
class KeyRow:
    key: ApiKey
    status: str
    created_by: str


async def list_keys(session: AsyncSession, tenant_id: str) -> list[KeyRow]:
    now = utcnow()
    keys = await list_api_keys(session, tenant_id)
    return [
        KeyRow(key=k, status=key_status(k, now), created_by=str(k.created_by.get("name", "")))
        for k in keys
    ]


async def list_teams(session: AsyncSession, tenant_id: str) -> Sequence[Team]:
    return await TeamRepository(session, tenant_id).list()


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, details=[{"field": field, "message": message, "type": "form"}])


def _thumbprints(text: str) -> list[str]:
    prints = []
    for line in text.replace(",", "\n").splitlines():
        value = line.strip().lower().replace(":", "")
        if not value:
            continue
        if not THUMBPRINT_RE.match(value):
            raise _invalid(
                "thumbprints",
                "Each thumbprint is the certificate's SHA-256: 64 hexadecimal characters.",
            )
        prints.append(value)
    return prints


async def generate_key(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    user: User,
    role: str,
    form: GenerateKeyForm,
    ip: str | None,
) -> IssuedKey:
    name = form.name.strip()
    if not name or len(name) > 120:
        raise _invalid("name", "Give the key a name of 1 to 120 characters.")
    if not form.scopes:
        raise _invalid("scopes", "Choose at least one permission.")
    unknown = set(form.scopes) - set(ALL_SCOPES)
    if unknown:
        raise _invalid("scopes", f"Unknown permission: {', '.join(sorted(unknown))}.")
    expiration: int | None
    if form.expiration == "never":
        expiration = None
    else:
        expiration = whole_number(form.expiration, 1, max(EXPIRATION_DAYS))
        if expiration not in EXPIRATION_DAYS:
            raise _invalid("expiration", "Choose an expiration from the list.")
    rate_limit: int | None = None
    if form.rate_limit.strip():
        if role not in MANAGER_ROLES:
            raise Forbidden("Only owners and admins can set a key's rate limit.")
        rate_limit = _rate_limit(form.rate_limit)
    if form.team_access not in (ALL_TEAMS, SPECIFIC_TEAMS):
        raise _invalid("team_access", "Choose all teams or selected teams.")
    team_ids: list[str] = []
    if form.team_access == SPECIFIC_TEAMS:
        known = {team.id for team in await list_teams(session, tenant_id)}
        team_ids = [t for t in dict.fromkeys(form.team_ids) if t]
        if not team_ids or not set(team_ids) <= known:
            raise _invalid("team_ids", "Choose one or more of this workspace's teams.")
    enforce_mtls = form.enforce_mtls == "on"
    thumbprints = _thumbprints(form.thumbprints)
    if enforce_mtls and not thumbprints:
        raise _invalid("thumbprints", "Requiring mTLS needs at least one certificate thumbprint.")
    return await issue_api_key(
        session,
        settings,
        tenant_id=tenant_id,
        name=name,
        scopes=list(form.scopes),
        created_by=member_actor(user, role),
        expiration_in_days=expiration,
        rate_limit_per_minute=rate_limit,
        enforce_mtls=enforce_mtls,
        mtls_thumbprints=thumbprints,
        team_scope=form.team_access,
        team_ids=team_ids,
        ip=ip,
        grantor=_grantor(user, role),
    )


def member_actor(user: User, role: str) -> dict[str, Any]:
    """A console user as a key's `createdBy`: with the role, which decides later limit changes."""
    return {**user_actor(user), "role": role}


def _grantor(user: User, role: str) -> Grantor:
    # Console users act for the tenant on every team, granting what their role allows
    # (docs/api-keys.md, "Who may grant which scope").
    return member_grantor(member_actor(user, role), role)


async def revoke_key(
    session: AsyncSession, *, tenant_id: str, user: User, role: str, key_id: str, ip: str | None
) -> ApiKey:
    return await revoke_api_key(
        session, tenant_id=tenant_id, key_id=key_id, grantor=_grantor(user, role), ip=ip
    )


def _rate_limit(text: str) -> int | None:
    value = text.strip()
    if not value:
        return None
    rate_limit = whole_number(value, 1, MAX_RATE_LIMIT_PER_MINUTE)
    if rate_limit is None:
        raise _invalid("rate_limit", "The rate limit is a whole number of requests per minute.")
    return rate_limit


async def edit_key(
    session: AsyncSession,
    *,
    tenant_id: str,
    user: User,
    role: str,
    key_id: str,
    form: EditKeyForm,
    ip: str | None,
) -> ApiKey:
    """Name, permissions and (owners and admins) the rate limit, through the key service."""
    await get_api_key(session, tenant_id, key_id)
    name = form.name.strip()
    if not name or len(name) > 120:
        raise _invalid("name", "Give the key a name of 1 to 120 characters.")
    if not form.scopes:
        raise _invalid("scopes", "Choose at least one permission.")
    unknown = set(form.scopes) - set(ALL_SCOPES)
    if unknown:
        raise _invalid("scopes", f"Unknown permission: {', '.join(sorted(unknown))}.")
    fields = {"name", "scopes"}
    rate_limit = None
    if form.rate_limit is not None:
        # Sent only by an owner's or admin's form; the key service refuses it from anyone else.
        rate_limit = _rate_limit(form.rate_limit)
        fields.add("rate_limit_per_minute")
    changes = KeyChanges(
        name=name,
        scopes=list(form.scopes),
        rate_limit_per_minute=rate_limit,
        fields=frozenset(fields),
    )
    return await update_api_key(
        session,
        tenant_id=tenant_id,
        key_id=key_id,
        changes=changes,
        grantor=_grantor(user, role),
        ip=ip,
    )


async def roll_key(
    session: AsyncSession,
    settings: Settings,
    *,
    tenant_id: str,
    user: User,
    role: str,
    key_id: str,
    grace_period: str,
    ip: str | None,
) -> IssuedKey:
    await get_api_key(session, tenant_id, key_id)
    minutes = whole_number(grace_period, 0, max(GRACE_PERIODS))
    if minutes not in GRACE_PERIODS:
        raise _invalid("grace_period", "Choose a grace period from the list.")
    return await roll_api_key(
        session,
        settings,
        tenant_id=tenant_id,
        key_id=key_id,
        grace_period_minutes=minutes,
        grantor=_grantor(user, role),
        ip=ip,
    )


def member_principal(tenant_id: str, tenant_slug: str, user: User) -> Principal:
    """A console member working on leads and tags: every scope, every team, like the CLI."""
    return Principal(
        tenant_id=tenant_id,
        tenant_slug=tenant_slug,
        api_key_id=user.id,
        api_key_name=user.name,
        scopes=frozenset(ALL_SCOPES),
    )


async def lead_history(session: AsyncSession, tenant_id: str, lead_id: str) -> list[dict[str, Any]]:
    """A lead's events from the outbox, newest first, each with what changed."""
    events = await EventRepository(session, tenant_id).about(lead_id, LEAD_HISTORY_TYPES, 50)
    history = []
    for event in events:
        previous = event.data.get("previousAttributes") or {}
        changes = {
            name: (
                format_value(previous.get(name)),
                format_value(
                    [t.get("name") for t in event.data.get("tags", [])]
                    if name == "tags"
                    else event.data.get(name)
                ),
            )
            for name in event.data.get("changedFields") or []
        }
        history.append({"event": event, "changes": changes})
    return history


async def audit_log(session: AsyncSession, tenant_id: str, role: str) -> Sequence[AuditEvent]:
    if role not in MANAGER_ROLES:
        raise Forbidden("Only owners and admins can read the audit log.")
    return await AuditRepository(session, tenant_id).list(limit=200)


def describe_change(event: AuditEvent) -> dict[str, tuple[str | None, str | None]]:
    """The fields an audit event changed, old and new, as text for the log page."""
    before, after = event.before or {}, event.after or {}
    return {
        name: (
            format_value(before[name]) if name in before else None,
            format_value(after[name]) if name in after else None,
        )
        for name in dict.fromkeys([*before, *after])
        if before.get(name) != after.get(name)
    }


_ISO_RE = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)")


def format_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(format_value(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {format_value(v)}" for k, v in value.items()) or "none"
    text = str(value)
    match = _ISO_RE.match(text)
    return f"{match[1]} {match[2]} UTC" if match else text
