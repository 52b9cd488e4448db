"""The rules of idempotency keys: claiming a key, replaying, refusing reuse. Never commits."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.errors import ApiError, InvalidRequest
from leadgate.idempotency.repository import Completion, IdempotencyRepository
from leadgate.ids import new_id
from leadgate.models import utcnow

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
_VERSION_PREFIX = re.compile(r"^/api(?:/v1)?(?=/)")


class IdempotencyKeyReused(ApiError):
    status_code = 422
    code = "idempotency_key_reused"


class IdempotencyKeyInUse(ApiError):
    status_code = 409
    code = "idempotency_key_in_use"


@dataclass(frozen=True, slots=True)
class Claimed:
    """This request owns the key and does the work."""

    record_id: str


@dataclass(frozen=True, slots=True)
class Replay:
    """The key's first request finished: send its response again."""

    status: int
    body: str


def validate_key(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise InvalidRequest(
            f"The {HEADER} header must be 1-{MAX_KEY_LENGTH} printable ASCII characters.",
            details=[{"field": HEADER, "message": "invalid idempotency key", "type": "pattern"}],
        )
    return key


def request_target(path: str, query: str) -> str:
    """Path (without the version alias) and query (without a key), as the fingerprint sees it."""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "api_key"]
    return f"{_VERSION_PREFIX.sub('', path)}?{urlencode(sorted(pairs))}"


def fingerprint(api_key_id: str, method: str, target: str, body: bytes) -> str:
    """What makes two requests "the same": caller, method, path and query, and the exact body."""
    digest = hashlib.sha256()
    for part in (api_key_id, method.upper(), target):
        digest.update(part.encode())
        digest.update(b"\x00")
    digest.update(body)
    return digest.hexdigest()


async def claim_key(
    session: AsyncSession,
    tenant_id: str,
    *,
    key: str,
    fingerprint: str,
    method: str,
    path: str,
    ttl: timedelta,
    abandoned_after: timedelta,
) -> Claimed | Replay:
    """Claims `key` for this request, or says what the earlier request with it decided.

    The caller commits this in its own short transaction before doing the work, so that a
    concurrent request with the same key sees the claim and gets 409 instead of doing it twice.
    """
    repository = IdempotencyRepository(session, tenant_id)
    # Three tries: an expired record, or a claim released by a failed request, makes room.
    for _ in range(3):
        now = utcnow()
        record_id = new_id("idem")
        claimed = await repository.claim(
            {
                "id": record_id,
                "key": key,
                "fingerprint": fingerprint,
                "method": method,
                "path": path[:2048],
                "created_at": now,
                "expires_at": now + ttl,
            }
        )
        if claimed:
            return Claimed(record_id)
        record = await repository.by_key(key)
        if record is None:
            continue
        if record.expires_at <= now:
            await repository.delete_expired(now, record.id)
            continue
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                f"This {HEADER} was used for a different request; use a new key for new work.",
                details=[{"field": HEADER, "message": "used with another body", "type": "reused"}],
            )
        if record.completed_at is None or record.response_status is None:
            if record.created_at <= now - abandoned_after:
                # Its server died mid-request (a live one releases or completes the claim).
                await repository.take_over(record.id, record.created_at)
                continue
            raise IdempotencyKeyInUse(
                f"A request with this {HEADER} is still being processed; retry shortly.",
                headers={"Retry-After": "1"},
            )
        return Replay(record.response_status, record.response_body or "")
    raise IdempotencyKeyInUse(  # pragma: no cover - needs a claim to vanish three times
        f"A request with this {HEADER} is still being processed; retry shortly.",
        headers={"Retry-After": "1"},
    )


# session.info: the request's claimed key (tenant, record id), and whether its response was
# already recorded by the work's own statement.
OPEN_CLAIM = "leadgate.idempotency.claim"
RECORDED = "leadgate.idempotency.recorded"


def completion(session: AsyncSession, status: int, body: str) -> Completion | None:
    """The record to complete with this response, when the request claimed an
    `Idempotency-Key`: a repository that writes in one statement records it there."""
    claim: tuple[str, str] | None = session.info.get(OPEN_CLAIM)
    if claim is None:
        return None
    return Completion(claim[1], status, body, utcnow())


def completed(session: AsyncSession, done: Completion | None) -> None:
    """The work's statement recorded the response (IdempotentRoute need not)."""
    if done is not None:
        session.info[RECORDED] = True


async def complete(
    session: AsyncSession, tenant_id: str, record_id: str, status: int, body: str
) -> None:
    await IdempotencyRepository(session, tenant_id).complete(record_id, status, body, utcnow())


async def release(session: AsyncSession, tenant_id: str, record_id: str) -> None:
    await IdempotencyRepository(session, tenant_id).release(record_id)


async def purge_expired(session: AsyncSession, tenant_id: str) -> int:
    return await IdempotencyRepository(session, tenant_id).delete_expired(utcnow())
