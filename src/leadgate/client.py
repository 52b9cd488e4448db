"""A typed Python client for the leadgate API.

```python
from leadgate.client import Client, DuplicateLeadError

with Client(api_key, "https://leads.example.com") as leadgate:
    lead = leadgate.create_lead(first_name="Jane", last_name="Smith", email="jane@example.com")
```

Every write carries an `Idempotency-Key` (generated unless given) that stays the same on each
retry. Only the lead and tag routes store answers under it, so how a call is retried depends on
what repeating it would do (see `Retry` and docs/client.md): a replayed or repeatable call is
retried on 429, 503 and lost connections after the server's `Retry-After`; a call that must run
at most once (it answers a secret, or queues work) only when it provably was not executed (the
connection was never made, or 429). Failures raise a `LeadgateError` subclass carrying the API's
`error`, `message` and `details`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import IO, Any

import httpx
from pydantic.alias_generators import to_camel

from leadgate.activities.schemas import ActivityOut, Timeline
from leadgate.api_keys.schemas import ApiKeyCreated, ApiKeyList, ApiKeyOut, ApiKeySelf
from leadgate.audit.schemas import AuditEventList, AuditEventOut
from leadgate.automations.schemas import AutomationOut, RunOut, RunPage
from leadgate.contacts.schemas import ContactOut, ContactPage, LeadConverted
from leadgate.deals.schemas import (
    DealHistory,
    DealOut,
    DealPage,
    PipelineList,
    PipelineOut,
    StageChangeOut,
)
from leadgate.leads.schemas import (
    BatchResult,
    LeadDeleted,
    LeadDryRun,
    LeadMerged,
    LeadOut,
    LeadPage,
)
from leadgate.tags.schemas import TagDeleted, TagDetail, TagList
from leadgate.usage.schemas import NoticeList, NoticeOut, UsageReport
from leadgate.webhooks.schemas import (
    DeliveryList,
    EndpointList,
    EndpointOut,
    EndpointWithSecret,
    EventList,
    EventTypeList,
    EventTypeOut,
    ReplayOut,
    RotatedSecret,
    TesterResult,
)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETRY_STATUSES = frozenset({429, 503})
# The routes whose writes the server keeps under their Idempotency-Key and replays.
REPLAYED_PREFIXES = (
    "/leads", "/tags", "/contacts", "/pipelines", "/deals", "/activities", "/automations",
)  # fmt: skip
# Errors raised before a connection existed: the request never reached the server.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout)


class Retry(StrEnum):
    """What repeating a call would do, and therefore when the client may repeat it."""

    REPLAYED = "replayed"
    """The server keeps the answer under the Idempotency-Key (lead and tag writes): a repeat
    returns the stored answer. Retried on 429, 503, 409 `idempotency_key_in_use` and any
    connection failure."""
    REPEATABLE = "repeatable"
    """Doing it twice is the same as once (reads, PATCHes, revoking a key). Retried on 429, 503
    and any connection failure."""
    ONCE = "once"
    """Must run at most once and is not replayed (the answer carries a secret, or the call
    queues or sends something). Retried only when it provably did not run: 429 (refused before
    any work) or a connection that was never made."""


def default_retry(method: str, path: str) -> Retry:
    """Reads are repeatable; writes are replayed on the lead and tag routes, else run once."""
    if method.upper() not in WRITE_METHODS:
        return Retry.REPEATABLE
    if path.startswith(REPLAYED_PREFIXES):
        return Retry.REPLAYED
    return Retry.ONCE


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

    def _should_retry(self, response: httpx.Response, retry: Retry) -> bool:
        status = response.status_code
        if status not in RETRY_STATUSES and status != 409:
            return False
        try:
            body = response.json()
            code = body.get("error") if isinstance(body, dict) else None
        except ValueError:
            code = None
        if code == "quota_exceeded":
            return False  # the monthly quota resets next month: waiting here cannot help
        if retry is Retry.ONCE:
            return status == 429
        if status in RETRY_STATUSES:
            return True
        return retry is Retry.REPLAYED and code == "idempotency_key_in_use"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        retry: Retry | None = None,
    ) -> httpx.Response:
        """One API call with retries; raises a `LeadgateError` for an error answer. `retry`
        defaults to `default_retry(method, path)`."""
        method = method.upper()
        retry = retry or default_retry(method, path)
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
                unsent = isinstance(error, NOT_SENT_ERRORS)
                if attempt >= self.max_retries or (retry is Retry.ONCE and not unsent):
                    if unsent:
                        raise LeadgateError(f"could not reach leadgate: {error}") from error
                    raise LeadgateError(
                        f"lost the connection to leadgate; the request may have been executed: "
                        f"{error}"
                    ) from error
                self._sleep(self._retry_delay(None, attempt))
                attempt += 1
                continue
            if self._should_retry(response, retry) and attempt < self.max_retries:
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

    # --- contacts, deals, activities, automations, reports ------------------------------------

    def create_contact(
        self,
        contact: Mapping[str, Any] | None = None,
        *,
        on_duplicate: str | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> ContactOut:
        response = self.request(
            "POST",
            "/contacts",
            json=_camel({**(contact or {}), **fields}),
            params=_params(on_duplicate=on_duplicate),
            idempotency_key=idempotency_key,
        )
        return ContactOut.model_validate(response.json())

    def get_contact(self, contact_id: str) -> ContactOut:
        return ContactOut.model_validate(self.request("GET", f"/contacts/{contact_id}").json())

    def list_contacts(
        self, *, limit: int = 25, cursor: str | None = None, **filters: Any
    ) -> ContactPage:
        params = _params(limit=limit, cursor=cursor, **filters)
        return ContactPage.model_validate(self.request("GET", "/contacts", params=params).json())

    def update_contact(
        self, contact_id: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> ContactOut:
        response = self.request(
            "PATCH", f"/contacts/{contact_id}", json=_camel(fields), idempotency_key=idempotency_key
        )
        return ContactOut.model_validate(response.json())

    def delete_contact(self, contact_id: str, *, idempotency_key: str | None = None) -> None:
        self.request("DELETE", f"/contacts/{contact_id}", idempotency_key=idempotency_key)

    def convert_lead(
        self,
        lead_id: str,
        *,
        deal: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> LeadConverted:
        """The lead becomes a contact (and a deal, from `deal`'s fields) in one transaction."""
        body = _camel(fields)
        if deal is not None:
            body["deal"] = _camel(deal)
        response = self.request(
            "POST", f"/leads/{lead_id}/convert", json=body, idempotency_key=idempotency_key
        )
        return LeadConverted.model_validate(response.json())

    def list_pipelines(self) -> list[PipelineOut]:
        return PipelineList.model_validate(self.request("GET", "/pipelines").json()).data

    def create_deal(
        self,
        deal: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> DealOut:
        """`amount` in minor units (cents) of `currency`."""
        response = self.request(
            "POST", "/deals", json=_camel({**(deal or {}), **fields}),
            idempotency_key=idempotency_key,
        )  # fmt: skip
        return DealOut.model_validate(response.json())

    def get_deal(self, deal_id: str) -> DealOut:
        return DealOut.model_validate(self.request("GET", f"/deals/{deal_id}").json())

    def list_deals(self, *, limit: int = 25, cursor: str | None = None, **filters: Any) -> DealPage:
        params = _params(limit=limit, cursor=cursor, **filters)
        return DealPage.model_validate(self.request("GET", "/deals", params=params).json())

    def update_deal(
        self, deal_id: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> DealOut:
        """`stage_id=` moves the deal (a won or lost stage closes it)."""
        response = self.request(
            "PATCH", f"/deals/{deal_id}", json=_camel(fields), idempotency_key=idempotency_key
        )
        return DealOut.model_validate(response.json())

    def deal_history(self, deal_id: str) -> list[StageChangeOut]:
        response = self.request("GET", f"/deals/{deal_id}/history")
        return DealHistory.model_validate(response.json()).data

    def create_activity(self, *, idempotency_key: str | None = None, **fields: Any) -> ActivityOut:
        """`kind`, `record_type`, `record_id`, `subject`, and `body`, `due_at`, `done`."""
        response = self.request(
            "POST", "/activities", json=_camel(fields), idempotency_key=idempotency_key
        )
        return ActivityOut.model_validate(response.json())

    def timeline(self, record_type: str, record_id: str) -> Timeline:
        response = self.request("GET", f"/timeline/{record_type}/{record_id}")
        return Timeline.model_validate(response.json())

    def create_automation(
        self, rule: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> AutomationOut:
        """`rule` as the API takes it (camelCase): name, eventType, conditions, actions."""
        response = self.request(
            "POST", "/automations", json=dict(rule), idempotency_key=idempotency_key
        )
        return AutomationOut.model_validate(response.json())

    def automation_runs(
        self, automation_id: str, *, limit: int = 25, cursor: str | None = None
    ) -> RunPage:
        params = _params(limit=limit, cursor=cursor)
        response = self.request("GET", f"/automations/{automation_id}/runs", params=params)
        return RunPage.model_validate(response.json())

    def trigger_automation(self, automation_id: str, record_type: str, record_id: str) -> RunOut:
        response = self.request(
            "POST",
            f"/automations/{automation_id}/trigger",
            json={"recordType": record_type, "recordId": record_id},
        )
        return RunOut.model_validate(response.json())

    def report(self, name: str, **params: Any) -> dict[str, Any]:
        """A report as JSON: `leads`, `funnel`, `pipeline`, `revenue` or `usage` (docs/crm.md);
        `params` in snake_case (`group_by=`, `period=`, `pipeline_id=`)."""
        response = self.request("GET", f"/reports/{name}", params=_params(**params))
        return dict(response.json())

    # --- API keys -----------------------------------------------------------------------------

    def create_api_key(
        self,
        name: str,
        permissions: list[str],
        *,
        expiration_in_days: int | None = 90,
        team_ids: list[str] | None = None,
        rate_limit_per_minute: int | None = None,
        monthly_quota: int | None = None,
        enforce_mtls: bool = False,
        mtls_thumbprints: list[str] | None = None,
    ) -> ApiKeyCreated:
        """A new key; `api_key` on the answer is its secret, shown this once.
        `expiration_in_days=None`: never expires. `team_ids`: limited to those teams.
        Run at most once (`Retry.ONCE`): the answer is not replayable."""
        body: dict[str, Any] = {
            "name": name,
            "permissions": permissions,
            "expirationInDays": expiration_in_days,
            "enforceMtls": enforce_mtls,
        }
        if team_ids is not None:
            body["accountsAccess"] = {"scope": "specific-accounts", "ids": team_ids}
        optional = {
            "rateLimitPerMinute": rate_limit_per_minute,
            "monthlyQuota": monthly_quota,
            "mtlsThumbprints": mtls_thumbprints,
        }
        body.update({field: value for field, value in optional.items() if value is not None})
        response = self.request("POST", "/api-keys", json=body)
        return ApiKeyCreated.model_validate(response.json())

    def list_api_keys(self) -> list[ApiKeyOut]:
        """Every key of the tenant, newest first, revoked ones included."""
        return ApiKeyList.model_validate(self.request("GET", "/api-keys").json()).data

    def get_api_key(self, key_id: str) -> ApiKeyOut:
        return ApiKeyOut.model_validate(self.request("GET", f"/api-keys/{key_id}").json())

    def get_own_api_key(self) -> ApiKeySelf:
        """The calling key: its scopes, teams, limits and expiry (needs no scope)."""
        return ApiKeySelf.model_validate(self.request("GET", "/api-keys/self").json())

    def update_api_key(self, key_id: str, **fields: Any) -> ApiKeyOut:
        """`name`, `permissions`, `accounts_access`, `rate_limit_per_minute`, `monthly_quota`,
        `enforce_mtls`, `mtls_thumbprints`: the given ones change. Repeatable."""
        response = self.request(
            "PATCH", f"/api-keys/{key_id}", json=_camel(fields), retry=Retry.REPEATABLE
        )
        return ApiKeyOut.model_validate(response.json())

    def revoke_api_key(self, key_id: str) -> ApiKeyOut:
        """Revokes the key (on every server within a second). Repeatable: revoking twice is
        harmless."""
        response = self.request("DELETE", f"/api-keys/{key_id}", retry=Retry.REPEATABLE)
        return ApiKeyOut.model_validate(response.json())

    def roll_api_key(self, key_id: str, *, grace_period_minutes: int = 0) -> ApiKeyCreated:
        """A new secret for the key (`api_key`, shown this once); the old one keeps working
        for `grace_period_minutes`. Run at most once (`Retry.ONCE`)."""
        response = self.request(
            "POST",
            f"/api-keys/{key_id}/roll",
            json={"gracePeriodMinutes": grace_period_minutes},
        )
        return ApiKeyCreated.model_validate(response.json())

    def list_audit_events(
        self, *, api_key_id: str | None = None, limit: int = 100
    ) -> list[AuditEventOut]:
        """The tenant's audit log (or one key's), newest first."""
        params = _params(api_key_id=api_key_id, limit=limit)
        return AuditEventList.model_validate(
            self.request("GET", "/audit-events", params=params).json()
        ).data

    # --- webhooks -----------------------------------------------------------------------------

    def create_webhook_endpoint(
        self,
        url: str,
        *,
        description: str = "",
        event_types: list[str] | None = None,
        enabled: bool = True,
    ) -> EndpointWithSecret:
        """A new endpoint; `secret` on the answer (`whsec_…`) is shown this once.
        `event_types=None`: every type. Run at most once (`Retry.ONCE`)."""
        body = {
            "url": url,
            "description": description,
            "eventTypes": event_types,
            "enabled": enabled,
        }
        response = self.request("POST", "/webhook-endpoints", json=body)
        return EndpointWithSecret.model_validate(response.json())

    def list_webhook_endpoints(self) -> list[EndpointOut]:
        return EndpointList.model_validate(self.request("GET", "/webhook-endpoints").json()).data

    def get_webhook_endpoint(self, endpoint_id: str) -> EndpointOut:
        response = self.request("GET", f"/webhook-endpoints/{endpoint_id}")
        return EndpointOut.model_validate(response.json())

    def update_webhook_endpoint(self, endpoint_id: str, **fields: Any) -> EndpointOut:
        """`url`, `description`, `event_types`, `enabled` (True re-enables a disabled endpoint).
        Repeatable."""
        response = self.request(
            "PATCH",
            f"/webhook-endpoints/{endpoint_id}",
            json=_camel(fields),
            retry=Retry.REPEATABLE,
        )
        return EndpointOut.model_validate(response.json())

    def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        """Run at most once (a repeat would answer 404)."""
        self.request("DELETE", f"/webhook-endpoints/{endpoint_id}")

    def rotate_webhook_secret(self, endpoint_id: str) -> RotatedSecret:
        """A new signing secret (shown this once); the old one keeps signing alongside it
        until `previous_secret_expires_at`. Run at most once (`Retry.ONCE`)."""
        response = self.request("POST", f"/webhook-endpoints/{endpoint_id}/rotate-secret")
        return RotatedSecret.model_validate(response.json())

    def test_webhook_endpoint(self, endpoint_id: str) -> TesterResult:
        """Sends a signed `webhook.test` event now; what was sent and what came back. Run at
        most once (`Retry.ONCE`)."""
        response = self.request("POST", f"/webhook-endpoints/{endpoint_id}/test")
        return TesterResult.model_validate(response.json())

    def list_webhook_deliveries(
        self, endpoint_id: str, *, limit: int = 50, before: str | None = None
    ) -> DeliveryList:
        """An endpoint's deliveries with their attempts, newest first (`before`: a delivery id
        to continue after)."""
        response = self.request(
            "GET",
            f"/webhook-endpoints/{endpoint_id}/deliveries",
            params=_params(limit=limit, before=before),
        )
        return DeliveryList.model_validate(response.json())

    def list_event_types(self) -> list[EventTypeOut]:
        return EventTypeList.model_validate(self.request("GET", "/event-types").json()).data

    def list_events(
        self, *, event_type: str | None = None, limit: int = 50, before: str | None = None
    ) -> EventList:
        """The tenant's events, newest first (`before`: an event id to continue after)."""
        params = _params(type=event_type, limit=limit, before=before)
        return EventList.model_validate(self.request("GET", "/events", params=params).json())

    def replay_event(self, event_id: str, *, endpoint_id: str | None = None) -> ReplayOut:
        """Queues the event again (same `webhook-id`) for every subscribed enabled endpoint,
        or only `endpoint_id`. Run at most once (`Retry.ONCE`)."""
        body = {"endpointId": endpoint_id} if endpoint_id else None
        response = self.request("POST", f"/events/{event_id}/replay", json=body)
        return ReplayOut.model_validate(response.json())

    # --- usage --------------------------------------------------------------------------------

    def get_usage(self, *, key_id: str | None = None) -> UsageReport:
        """The tenant's usage (or one key's): current hour and month, hourly, daily and the
        most-called endpoints."""
        response = self.request("GET", "/usage", params=_params(key_id=key_id))
        return UsageReport.model_validate(response.json())

    def list_usage_notices(self, *, key_id: str | None = None) -> list[NoticeOut]:
        """Keys that reached the alert threshold of their limit or quota, newest first."""
        response = self.request("GET", "/usage/notices", params=_params(key_id=key_id))
        return NoticeList.model_validate(response.json()).data
