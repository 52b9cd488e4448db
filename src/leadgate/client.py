"""A typed Python client for the leadgate API.

```python
from leadgate.client import Client, DuplicateLeadError

with Client(api_key, "https://leads.example.com") as leadgate:
    lead = leadgate.create_lead(first_name="Jane", last_name="Smith", email="jane@example.com")
```

Every write carries an `Idempotency-Key` (generated unless given) that stays the same on each
retry, so a retried write never does its work twice. 429 and 503 answers (and 409
`idempotency_key_in_use`) are retried after the server's `Retry-After`, a bounded number of
times. Failures raise a `LeadgateError` subclass carrying the API's `error`, `message` and
`details`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import IO, Any

import httpx
from pydantic.alias_generators import to_camel

from leadgate.leads.schemas import (
    BatchResult,
    LeadDeleted,
    LeadDryRun,
    LeadMerged,
    LeadOut,
    LeadPage,
)
from leadgate.tags.schemas import TagDeleted, TagDetail, TagList

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETRY_STATUSES = frozenset({429, 503})


class LeadgateError(Exception):
    """An error answer of the API (§7 shape), or a request that never got one."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error: str = "",
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status_code} {error}: {message}" if status_code else message)
        self.status_code = status_code
        self.error = error
        self.message = message
        self.details = details or []
        self.request_id = request_id
        self.body: Mapping[str, Any] = body or {}


class InvalidRequestError(LeadgateError):
    """400 (or 422): `details` names the fields."""


class AuthenticationError(LeadgateError):
    """401: the key is missing, unknown, revoked or expired."""


class PermissionDeniedError(LeadgateError):
    """403: the key lacks a scope (`body["requiredScope"]`) or team access."""


class NotFoundError(LeadgateError):
    """404."""


class ConflictError(LeadgateError):
    """409."""


class DuplicateLeadError(ConflictError):
    """409 `duplicate_lead`: the lead that already holds the email or name."""

    @property
    def existing_lead_id(self) -> str | None:
        return self.body.get("existingLeadId")

    @property
    def matched_on(self) -> str | None:
        return self.body.get("matchedOn")


class IdempotencyError(LeadgateError):
    """422 `idempotency_key_reused`, or 409 `idempotency_key_in_use` after the last retry."""


class RateLimitedError(LeadgateError):
    """429 after the last retry."""


class ServerError(LeadgateError):
    """5xx after the last retry (503), or at once (other 5xx)."""


_BY_CODE: dict[str, type[LeadgateError]] = {
    "duplicate_lead": DuplicateLeadError,
    "idempotency_key_reused": IdempotencyError,
    "idempotency_key_in_use": IdempotencyError,
    "rate_limited": RateLimitedError,
}
_BY_STATUS: dict[int, type[LeadgateError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidRequestError,
    429: RateLimitedError,
}


def error_from(response: httpx.Response) -> LeadgateError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("error", ""))
    status = response.status_code
    kind = (
        _BY_CODE.get(code)
        or _BY_STATUS.get(status)
        or (ServerError if status >= 500 else LeadgateError)
    )
    return kind(
        str(body.get("message") or response.reason_phrase),
        status_code=status,
        error=code,
        details=list(body.get("details") or []),
        request_id=body.get("requestId") or response.headers.get("x-request-id"),
        body=body,
    )


def _camel(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {to_camel(name) if "_" in name else name: value for name, value in fields.items()}


def _params(**values: Any) -> dict[str, Any]:
    params = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        params[to_camel(name)] = value
    return params


class Client:
    """leadgate over HTTP. One instance per thread; close it (or use `with`)."""

    def __init__(
        self,
        api_key: str,
        base_url: str = "http://127.0.0.1:8000",
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"X-API-Key": api_key, "User-Agent": "leadgate-python"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------------------------

    def _retry_delay(self, response: httpx.Response | None, attempt: int) -> float:
        header = response.headers.get("retry-after") if response is not None else None
        delay: float = 0.5 * 2**attempt
        if header:
            try:
                delay = float(header)
            except ValueError:
                try:
                    when: datetime = parsedate_to_datetime(header)
                    delay = (when - datetime.now(UTC)).total_seconds()
                except (TypeError, ValueError):
                    pass
        return float(min(max(delay, 0.0), self.max_retry_wait))

    def _should_retry(self, response: httpx.Response) -> bool:
        if response.status_code in RETRY_STATUSES:
            return True
        if response.status_code == 409:
            try:
                return bool(response.json().get("error") == "idempotency_key_in_use")
            except ValueError:
                return False
        return False

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """One API call with retries; raises a `LeadgateError` for an error answer."""
        method = method.upper()
        headers = {}
        if method in WRITE_METHODS:
            # The same key on every attempt: the server does the work at most once.
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, path, json=json, params=params, headers=headers
                )
            except httpx.TransportError as error:
                if attempt >= self.max_retries:
                    raise LeadgateError(f"could not reach leadgate: {error}") from error
                self._sleep(self._retry_delay(None, attempt))
                attempt += 1
                continue
            if self._should_retry(response) and attempt < self.max_retries:
                self._sleep(self._retry_delay(response, attempt))
                attempt += 1
                continue
            if response.is_error:
                raise error_from(response)
            return response

    # --- leads --------------------------------------------------------------------------------

    def create_lead(
        self,
        lead: Mapping[str, Any] | None = None,
        *,
        on_duplicate: str | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> LeadOut:
        """Creates a lead (fields in camelCase in `lead`, or snake_case keywords). Under the
        `merge` policy the answer is the existing lead as a `LeadMerged` (see `merged_fields`)."""
        response = self.request(
            "POST",
            "/leads",
            json=_camel({**(lead or {}), **fields}),
            params=_params(on_duplicate=on_duplicate),
            idempotency_key=idempotency_key,
        )
        if response.status_code == 200:
            return LeadMerged.model_validate(response.json())
        return LeadOut.model_validate(response.json())

    def preview_lead(
        self,
        lead: Mapping[str, Any] | None = None,
        *,
        on_duplicate: str | None = None,
        **fields: Any,
    ) -> LeadDryRun:
        """`dryRun=true`: what creating this lead would do, with nothing written."""
        response = self.request(
            "POST",
            "/leads",
            json=_camel({**(lead or {}), **fields}),
            params=_params(dry_run=True, on_duplicate=on_duplicate),
        )
        return LeadDryRun.model_validate(response.json())

    def create_leads(
        self,
        leads: list[Mapping[str, Any]],
        *,
        atomic: bool = False,
        on_duplicate: str | None = None,
        idempotency_key: str | None = None,
    ) -> BatchResult:
        """Up to 100 leads in one call; per-lead results (or, `atomic`, all or nothing)."""
        response = self.request(
            "POST",
            "/leads/batch",
            json={"leads": [_camel(lead) for lead in leads]},
            params=_params(atomic=atomic or None, on_duplicate=on_duplicate),
            idempotency_key=idempotency_key,
        )
        return BatchResult.model_validate(response.json())

    def get_lead(self, lead_id: str) -> LeadOut:
        return LeadOut.model_validate(self.request("GET", f"/leads/{lead_id}").json())

    def list_leads(
        self,
        *,
        limit: int = 25,
        cursor: str | None = None,
        status: str | None = None,
        tag: str | None = None,
        team_id: str | None = None,
        source: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        q: str | None = None,
    ) -> LeadPage:
        params = _params(
            limit=limit,
            cursor=cursor,
            status=status,
            tag=tag,
            team_id=team_id,
            source=source,
            created_after=created_after,
            created_before=created_before,
            q=q,
        )
        return LeadPage.model_validate(self.request("GET", "/leads", params=params).json())

    def iter_leads(self, *, page_size: int = 100, **filters: Any) -> Iterator[LeadOut]:
        """Every matching lead, newest first, fetching pages as it goes."""
        cursor = None
        while True:
            page = self.list_leads(limit=page_size, cursor=cursor, **filters)
            yield from page.data
            if not page.has_more:
                return
            cursor = page.next_cursor

    def update_lead(
        self, lead_id: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> LeadOut:
        """Changes the given fields (`None` clears one); `tags`/`tag_ids` replace the tags."""
        response = self.request(
            "PATCH", f"/leads/{lead_id}", json=_camel(fields), idempotency_key=idempotency_key
        )
        return LeadOut.model_validate(response.json())

    def delete_lead(self, lead_id: str, *, idempotency_key: str | None = None) -> LeadDeleted:
        response = self.request("DELETE", f"/leads/{lead_id}", idempotency_key=idempotency_key)
        return LeadDeleted.model_validate(response.json())

    def export_leads(self, out: IO[bytes], **filters: Any) -> int:
        """Streams the CSV export into `out` (same filters as `list_leads`); returns its size."""
        written = 0
        with self._http.stream("GET", "/leads/export.csv", params=_params(**filters)) as response:
            if response.is_error:
                response.read()
                raise error_from(response)
            for chunk in response.iter_bytes():
                out.write(chunk)
                written += len(chunk)
        return written

    # --- tags ---------------------------------------------------------------------------------

    def list_tags(self) -> list[TagDetail]:
        return TagList.model_validate(self.request("GET", "/tags").json()).data

    def get_tag(self, tag_id: str) -> TagDetail:
        return TagDetail.model_validate(self.request("GET", f"/tags/{tag_id}").json())

    def create_tag(
        self, name: str, *, color: str | None = None, idempotency_key: str | None = None
    ) -> TagDetail:
        body: dict[str, Any] = {"name": name}
        if color is not None:
            body["color"] = color
        response = self.request("POST", "/tags", json=body, idempotency_key=idempotency_key)
        return TagDetail.model_validate(response.json())

    def update_tag(
        self, tag_id: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> TagDetail:
        """`name=` and/or `color=` (`None` clears the colour)."""
        response = self.request(
            "PATCH", f"/tags/{tag_id}", json=fields, idempotency_key=idempotency_key
        )
        return TagDetail.model_validate(response.json())

    def delete_tag(self, tag_id: str, *, idempotency_key: str | None = None) -> TagDeleted:
        response = self.request("DELETE", f"/tags/{tag_id}", idempotency_key=idempotency_key)
        return TagDeleted.model_validate(response.json())
