"""One delivery attempt: the signed request, sent with httpx, and what came back."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from cryptography.fernet import InvalidToken

from leadgate import __version__
from leadgate.models import utcnow
from leadgate.schemas import iso_utc
from leadgate.settings import Settings
from leadgate.webhooks.repository import Job

__all__ = ["AttemptResult", "Job", "attempt", "message_body", "new_client"]
from leadgate.webhooks.signing import signed_headers, unseal
from leadgate.webhooks.transport import public_only_transport
from leadgate.webhooks.urls import UnsafeUrl, check_target

SNIPPET_BYTES = 2048
USER_AGENT = f"leadgate-webhooks/{__version__}"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    response_body: str | None
    error: str | None
    retry_after: float | None
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def message_body(job: Job) -> str:
    """The Standard Webhooks payload: `{"type", "timestamp", "data"}`, compact JSON."""
    payload = {"type": job.event_type, "timestamp": iso_utc(job.event_created_at), "data": job.data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def new_client(settings: Settings) -> httpx.AsyncClient:
    # Redirects are not followed: a 3xx is a failed attempt, and following one could lead
    # past the URL check to an internal address.
    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(settings.webhooks_timeout_seconds),
        trust_env=False,
        transport=None if settings.webhooks_private_allowed else public_only_transport(),
    )


async def attempt(client: httpx.AsyncClient, settings: Settings, job: Job) -> AttemptResult:
    body = message_body(job)
    now = utcnow()
    signing = readable_secrets(job, settings)
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    if signing:
        headers.update(signed_headers(signing, job.event_id, now, body))
    started = time.monotonic()

    def result(
        status: int | None = None,
        snippet: str | None = None,
        error: str | None = None,
        retry_after: float | None = None,
    ) -> AttemptResult:
        return AttemptResult(
            attempted_at=now,
            status_code=status,
            latency_ms=round((time.monotonic() - started) * 1000),
            response_body=snippet,
            error=error,
            retry_after=retry_after,
            request_headers=headers,
            request_body=body,
        )

    if not signing:
        return result(error="the signing secret cannot be read (was LEADGATE_SECRET_KEY changed?)")
    try:
        # Checked before every attempt, not just at creation: DNS can change (rebinding).
        await check_target(job.url, allow_private=settings.webhooks_private_allowed)
    except UnsafeUrl as error:
        return result(error=f"refused URL: {error}")
    try:
        async with asyncio.timeout(settings.webhooks_timeout_seconds):
            async with client.stream("POST", job.url, content=body, headers=headers) as response:
                snippet = await _read_snippet(response)
                return result(
                    response.status_code, snippet, retry_after=_retry_after(response, now)
                )
    except TimeoutError:
        return result(error=f"timed out after {settings.webhooks_timeout_seconds:g} s")
    except httpx.TimeoutException:
        return result(error=f"timed out after {settings.webhooks_timeout_seconds:g} s")
    except httpx.HTTPError as error:
        return result(error=f"{type(error).__name__}: {error}"[:500])


def readable_secrets(job: Job, settings: Settings) -> list[str]:
    """The endpoint's secrets in the clear; none if the current one cannot be read (the server
    secret changed). A previous secret that cannot be read is left out."""
    readable: list[str] = []
    for position, sealed in enumerate(job.secrets):
        try:
            readable.append(unseal(sealed, settings.secret_bytes, settings.previous_secret_bytes))
        except InvalidToken:
            if position == 0:
                return []
    return readable


async def _read_snippet(response: httpx.Response) -> str:
    collected = b""
    async for chunk in response.aiter_bytes():
        collected += chunk
        if len(collected) >= SNIPPET_BYTES:
            break
    return collected[:SNIPPET_BYTES].decode("utf-8", errors="replace")


def _retry_after(response: httpx.Response, now: datetime) -> float | None:
    """Seconds the receiver asks us to wait (429 and 503 only)."""
    if response.status_code not in (429, 503):
        return None
    return parse_retry_after(response.headers.get("retry-after", ""), now)


_DELAY_SECONDS = re.compile(r"[0-9]+", re.ASCII)
# More digits than this is longer than any cap; kept as this many seconds (int() of thousands
# of digits raises, and a float of them is infinite).
_MAX_DELAY_DIGITS = 12


def parse_retry_after(value: str, now: datetime) -> float | None:
    """RFC 9110 10.2.3: delay-seconds (ASCII digits only) or an HTTP-date; anything else a
    receiver sends is ignored (None), never an error: the attempt must still be recorded."""
    value = value.strip(" \t")
    if _DELAY_SECONDS.fullmatch(value):
        if len(value.lstrip("0")) > _MAX_DELAY_DIGITS:
            return float(10**_MAX_DELAY_DIGITS)
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are GMT; a date without a zone is read as such (the asctime form).
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
