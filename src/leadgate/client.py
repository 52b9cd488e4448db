"""A typed Python client for the leadgate API, synchronous (`Client`) and asynchronous
(`AsyncClient`, on httpx's async client) with the same methods and the same retry rules.

```python
from leadgate.client import AsyncClient, Client, DuplicateLeadError

with Client(api_key, "https://leads.example.com") as leadgate:
    lead = leadgate.create_lead(first_name="Jane", last_name="Smith", email="jane@example.com")

async with AsyncClient(api_key, "https://leads.example.com") as leadgate:
    lead = await leadgate.create_lead(first_name="Jane", last_name="Smith")
```

Each API call is written once, as an `Op` (the request, and how its answer is read); the two
clients differ only in how they send it and how they wait. Retry decisions (`RetryPolicy`) and
error mapping (`error_from`) are shared too.

Every write carries an `Idempotency-Key` (generated unless given) that stays the same on each
retry. Only the lead and tag routes store answers under it, so how a call is retried depends on
what repeating it would do (see `Retry` and docs/client.md): a replayed or repeatable call is
retried on 429, 503 and lost connections after the server's `Retry-After`; a call that must run
at most once (it answers a secret, or queues work) only when it provably was not executed (the
connection was never made, or 429). Waits follow the server's `Retry-After`, else exponential
backoff with full jitter (a random wait up to the step's cap), so clients that failed together
do not retry together. Failures raise a `LeadgateError` subclass carrying the API's
`error`, `message` and `details`.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import IO, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

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
from leadgate.integrations.schemas import LeadFoundOrCreated
from leadgate.leads.schemas import (
    MAX_BATCH,
    BatchItem,
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


P = ParamSpec("P")
T = TypeVar("T")
BASE_DELAY = 0.5


@dataclass(frozen=True, slots=True)
class Op(Generic[T]):
    """One API call: the request, how it may be retried, and how its answer becomes a `T`."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    json: Any = None
    params: Mapping[str, Any] | None = None
    idempotency_key: str | None = None
    retry: Retry | None = None


@dataclass(slots=True)
class RetryPolicy:
    """When a call is sent again and how long to wait first: shared by both clients, free of
    I/O (the clients send, sleep and hand the outcome back)."""

    max_retries: int = 3
    max_retry_wait: float = 60.0
    random: Callable[[], float] = field(default=random.random)

    def delay(self, response: httpx.Response | None, attempt: int) -> float:
        """The server's `Retry-After` when it gave one; else full jitter: a uniformly random
        wait between 0 and 0.5 s * 2**attempt (capped by `max_retry_wait`)."""
        header = response.headers.get("retry-after") if response is not None else None
        if header:
            try:
                return self._bounded(float(header))
            except ValueError:
                try:
                    when: datetime = parsedate_to_datetime(header)
                    return self._bounded((when - datetime.now(UTC)).total_seconds())
                except (TypeError, ValueError):
                    pass
        return self._bounded(min(BASE_DELAY * 2**attempt, self.max_retry_wait) * self.random())

    def _bounded(self, delay: float) -> float:
        return float(min(max(delay, 0.0), self.max_retry_wait))

    def after_response(self, response: httpx.Response, retry: Retry, attempt: int) -> float | None:
        """The wait before sending again, or None: the answer is final (an error answer is then
        raised by `final`)."""
        if attempt >= self.max_retries or not _retryable(response, retry):
            return None
        return self.delay(response, attempt)

    def after_failure(self, error: httpx.TransportError, retry: Retry, attempt: int) -> float:
        """The wait before sending again after a connection failure; raises when it must not be
        repeated (it may have run, and running twice is not safe) or retries are used up."""
        unsent = isinstance(error, NOT_SENT_ERRORS)
        if attempt >= self.max_retries or (retry is Retry.ONCE and not unsent):
            if unsent:
                raise LeadgateError(f"could not reach leadgate: {error}") from error
            raise LeadgateError(
                f"lost the connection to leadgate; the request may have been executed: {error}"
            ) from error
        return self.delay(None, attempt)

    @staticmethod
    def final(response: httpx.Response) -> httpx.Response:
        if response.is_error:
            raise error_from(response)
        return response


def _retryable(response: httpx.Response, retry: Retry) -> bool:
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


def _prepared(op: Op[Any]) -> tuple[str, Retry, dict[str, str]]:
    method = op.method.upper()
    headers = {}
    if method in WRITE_METHODS:
        # The same key on every attempt: the server does the work at most once.
        headers["Idempotency-Key"] = op.idempotency_key or str(uuid.uuid4())
    return method, op.retry or default_retry(method, op.path), headers


class operation(Generic[P, T]):
    """An API method written once: on a `Client` it returns the result, on an `AsyncClient` a
    coroutine of it."""

    def __init__(self, build: Callable[Concatenate[Any, P], Op[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, client: None, owner: type) -> operation[P, T]: ...
    @overload
    def __get__(self, client: Client, owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, client: AsyncClient, owner: type) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, client: Any, owner: type) -> Any:
        if client is None:
            return self
        build = self.build
        if isinstance(client, AsyncClient):

            async def call_async(*args: P.args, **kwargs: P.kwargs) -> T:
                op = build(client, *args, **kwargs)
                return op.parse(await client.send(op))

            return functools.wraps(build)(call_async)

        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            op = build(client, *args, **kwargs)
            return op.parse(client.send(op))

        return functools.wraps(build)(call)


def _model(model: Any) -> Callable[[httpx.Response], Any]:
    return lambda response: model.model_validate(response.json())


def _lead_or_merged(response: httpx.Response) -> LeadOut:
    if response.status_code == 200:
        return LeadMerged.model_validate(response.json())
    return LeadOut.model_validate(response.json())


def _nothing(_response: httpx.Response) -> None:
    return None


def _headers(api_key: str) -> dict[str, str]:
    return {"X-API-Key": api_key, "User-Agent": "leadgate-python"}


def _api_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/api/v1"


@dataclass(frozen=True, slots=True)
class ImportedRow:
    """One CSV row's result: `line` in the file (the header is line 1) and what became of it
    (`item.status`: created, merged, duplicate or invalid)."""

    line: int
    item: BatchItem


@dataclass(slots=True)
class CsvImport:
    rows: list[ImportedRow] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.item.status == status)


def _csv_batches(
    data: bytes | str | IO[bytes],
    *,
    encoding: str | None,
    delimiter: str | None,
    mapping: Mapping[str, str] | None,
) -> list[list[tuple[int, dict[str, Any]]]]:
    """The file's rows as `POST /leads/batch` bodies of 100, each row with its line number."""
    from leadgate.leads.csv_format import payload_from_row, read_lead_rows

    if isinstance(data, str):
        raw = data.encode("utf-8")
    elif isinstance(data, bytes):
        raw = data
    else:
        raw = data.read()
    rows = read_lead_rows(raw, encoding=encoding, delimiter=delimiter, mapping=dict(mapping or {}))
    numbered = [(index + 2, payload_from_row(row)) for index, row in enumerate(rows)]
    return [numbered[i : i + MAX_BATCH] for i in range(0, len(numbered), MAX_BATCH)]


def _imported(batch: list[tuple[int, dict[str, Any]]], result: BatchResult) -> list[ImportedRow]:
    return [ImportedRow(batch[item.index][0], item) for item in result.results]


def verify_webhook(secret: str, body: bytes | str, headers: Mapping[str, str]) -> Any:
    """The payload of a delivery whose `webhook-*` headers (Standard Webhooks) it carries were
    made with the endpoint's `whsec_…` secret, recently; raises `LeadgateError` otherwise."""
    from standardwebhooks import Webhook
    from standardwebhooks.webhooks import WebhookVerificationError

    try:
        return Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
    except WebhookVerificationError as error:
        raise LeadgateError(f"webhook signature not verified: {error}") from error


class _Api:
    """Every API call, once; `Client` and `AsyncClient` send them."""

    # --- leads --------------------------------------------------------------------------------

    @operation
    def create_lead(
        self,
        /,
        lead: Mapping[str, Any] | None = None,
        *,
        on_duplicate: str | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Op[LeadOut]:
        """Creates a lead (fields in camelCase in `lead`, or snake_case keywords). Under the
        `merge` policy the answer is the existing lead as a `LeadMerged` (see `merged_fields`)."""
        return Op(
            "POST",
            "/leads",
            _lead_or_merged,
            json=_camel({**(lead or {}), **fields}),
            params=_params(on_duplicate=on_duplicate),
            idempotency_key=idempotency_key,
        )

    @operation
    def find_or_create_lead(
        self,
        /,
        lead: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Op[LeadFoundOrCreated]:
        """The lead with the same e-mail (or name) if there is one, else a new one; `created`
        says which. Never makes a second lead (docs/integrations.md)."""
        return Op(
            "POST",
            "/leads/find-or-create",
            _model(LeadFoundOrCreated),
            json=_camel({**(lead or {}), **fields}),
            idempotency_key=idempotency_key,
        )

    @operation
    def preview_lead(
        self,
        /,
        lead: Mapping[str, Any] | None = None,
        *,
        on_duplicate: str | None = None,
        **fields: Any,
    ) -> Op[LeadDryRun]:
        """`dryRun=true`: what creating this lead would do, with nothing written."""
        return Op(
            "POST",
            "/leads",
            _model(LeadDryRun),
            json=_camel({**(lead or {}), **fields}),
            params=_params(dry_run=True, on_duplicate=on_duplicate),
        )

    @operation
    def create_leads(
        self,
        leads: Sequence[Mapping[str, Any]],
        *,
        atomic: bool = False,
        on_duplicate: str | None = None,
        idempotency_key: str | None = None,
    ) -> Op[BatchResult]:
        """Up to 100 leads in one call; per-lead results (or, `atomic`, all or nothing)."""
        return Op(
            "POST",
            "/leads/batch",
            _model(BatchResult),
            json={"leads": [_camel(lead) for lead in leads]},
            params=_params(atomic=atomic or None, on_duplicate=on_duplicate),
            idempotency_key=idempotency_key,
        )

    @operation
    def get_lead(self, lead_id: str) -> Op[LeadOut]:
        return Op("GET", f"/leads/{lead_id}", _model(LeadOut))

    @operation
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
    ) -> Op[LeadPage]:
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
        return Op("GET", "/leads", _model(LeadPage), params=params)

    @operation
    def update_lead(
        self, /, lead_id: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> Op[LeadOut]:
        """Changes the given fields (`None` clears one); `tags`/`tag_ids` replace the tags."""
        return Op(
            "PATCH",
            f"/leads/{lead_id}",
            _model(LeadOut),
            json=_camel(fields),
            idempotency_key=idempotency_key,
        )

    @operation
    def delete_lead(self, lead_id: str, *, idempotency_key: str | None = None) -> Op[LeadDeleted]:
        return Op(
            "DELETE", f"/leads/{lead_id}", _model(LeadDeleted), idempotency_key=idempotency_key
        )

    # --- tags ---------------------------------------------------------------------------------

    @operation
    def list_tags(self) -> Op[list[TagDetail]]:
        return Op("GET", "/tags", lambda response: TagList.model_validate(response.json()).data)

    @operation
    def get_tag(self, tag_id: str) -> Op[TagDetail]:
        return Op("GET", f"/tags/{tag_id}", _model(TagDetail))

    @operation
    def create_tag(
        self, name: str, *, color: str | None = None, idempotency_key: str | None = None
    ) -> Op[TagDetail]:
        body: dict[str, Any] = {"name": name}
        if color is not None:
            body["color"] = color
        return Op("POST", "/tags", _model(TagDetail), json=body, idempotency_key=idempotency_key)

    @operation
    def update_tag(
        self, /, tag_id: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> Op[TagDetail]:
        """`name=` and/or `color=` (`None` clears the colour)."""
        return Op(
            "PATCH",
            f"/tags/{tag_id}",
            _model(TagDetail),
            json=fields,
            idempotency_key=idempotency_key,
        )

    @operation
    def delete_tag(self, tag_id: str, *, idempotency_key: str | None = None) -> Op[TagDeleted]:
        return Op("DELETE", f"/tags/{tag_id}", _model(TagDeleted), idempotency_key=idempotency_key)

    # --- contacts, deals, activities, automations, reports ------------------------------------

    @operation
    def create_contact(
        self,
        /,
        contact: Mapping[str, Any] | None = None,
        *,
        on_duplicate: str | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Op[ContactOut]:
        return Op(
            "POST",
            "/contacts",
            _model(ContactOut),
            json=_camel({**(contact or {}), **fields}),
            params=_params(on_duplicate=on_duplicate),
            idempotency_key=idempotency_key,
        )

    @operation
    def get_contact(self, contact_id: str) -> Op[ContactOut]:
        return Op("GET", f"/contacts/{contact_id}", _model(ContactOut))

    @operation
    def list_contacts(
        self, /, *, limit: int = 25, cursor: str | None = None, **filters: Any
    ) -> Op[ContactPage]:
        params = _params(limit=limit, cursor=cursor, **filters)
        return Op("GET", "/contacts", _model(ContactPage), params=params)

    @operation
    def update_contact(
        self, /, contact_id: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> Op[ContactOut]:
        return Op(
            "PATCH",
            f"/contacts/{contact_id}",
            _model(ContactOut),
            json=_camel(fields),
            idempotency_key=idempotency_key,
        )

    @operation
    def delete_contact(self, contact_id: str, *, idempotency_key: str | None = None) -> Op[None]:
        return Op("DELETE", f"/contacts/{contact_id}", _nothing, idempotency_key=idempotency_key)

    @operation
    def convert_lead(
        self,
        /,
        lead_id: str,
        *,
        deal: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Op[LeadConverted]:
        """The lead becomes a contact (and a deal, from `deal`'s fields) in one transaction."""
        body = _camel(fields)
        if deal is not None:
            body["deal"] = _camel(deal)
        return Op(
            "POST",
            f"/leads/{lead_id}/convert",
            _model(LeadConverted),
            json=body,
            idempotency_key=idempotency_key,
        )

    @operation
    def list_pipelines(self) -> Op[list[PipelineOut]]:
        return Op("GET", "/pipelines", lambda r: PipelineList.model_validate(r.json()).data)

    @operation
    def create_deal(
        self,
        /,
        deal: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Op[DealOut]:
        """`amount` in minor units (cents) of `currency`."""
        return Op(
            "POST",
            "/deals",
            _model(DealOut),
            json=_camel({**(deal or {}), **fields}),
            idempotency_key=idempotency_key,
        )

    @operation
    def get_deal(self, deal_id: str) -> Op[DealOut]:
        return Op("GET", f"/deals/{deal_id}", _model(DealOut))

    @operation
    def list_deals(
        self, /, *, limit: int = 25, cursor: str | None = None, **filters: Any
    ) -> Op[DealPage]:
        params = _params(limit=limit, cursor=cursor, **filters)
        return Op("GET", "/deals", _model(DealPage), params=params)

    @operation
    def update_deal(
        self, /, deal_id: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> Op[DealOut]:
        """`stage_id=` moves the deal (a won or lost stage closes it)."""
        return Op(
            "PATCH",
            f"/deals/{deal_id}",
            _model(DealOut),
            json=_camel(fields),
            idempotency_key=idempotency_key,
        )

    @operation
    def deal_history(self, deal_id: str) -> Op[list[StageChangeOut]]:
        return Op(
            "GET", f"/deals/{deal_id}/history", lambda r: DealHistory.model_validate(r.json()).data
        )

    @operation
    def create_activity(
        self, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Op[ActivityOut]:
        """`kind`, `record_type`, `record_id`, `subject`, and `body`, `due_at`, `done`."""
        return Op(
            "POST",
            "/activities",
            _model(ActivityOut),
            json=_camel(fields),
            idempotency_key=idempotency_key,
        )

    @operation
    def timeline(self, record_type: str, record_id: str) -> Op[Timeline]:
        return Op("GET", f"/timeline/{record_type}/{record_id}", _model(Timeline))

    @operation
    def create_automation(
        self, /, rule: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Op[AutomationOut]:
        """`rule` as the API takes it (camelCase): name, eventType, conditions, actions."""
        return Op(
            "POST",
            "/automations",
            _model(AutomationOut),
            json=dict(rule),
            idempotency_key=idempotency_key,
        )

    @operation
    def automation_runs(
        self, /, automation_id: str, *, limit: int = 25, cursor: str | None = None
    ) -> Op[RunPage]:
        params = _params(limit=limit, cursor=cursor)
        return Op("GET", f"/automations/{automation_id}/runs", _model(RunPage), params=params)

    @operation
    def trigger_automation(
        self, /, automation_id: str, record_type: str, record_id: str
    ) -> Op[RunOut]:
        return Op(
            "POST",
            f"/automations/{automation_id}/trigger",
            _model(RunOut),
            json={"recordType": record_type, "recordId": record_id},
        )

    @operation
    def report(self, /, name: str, **params: Any) -> Op[dict[str, Any]]:
        """A report as JSON: `leads`, `funnel`, `pipeline`, `revenue` or `usage` (docs/crm.md);
        `params` in snake_case (`group_by=`, `period=`, `pipeline_id=`)."""
        return Op("GET", f"/reports/{name}", lambda r: dict(r.json()), params=_params(**params))

    # --- API keys -----------------------------------------------------------------------------

    @operation
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
    ) -> Op[ApiKeyCreated]:
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
        return Op("POST", "/api-keys", _model(ApiKeyCreated), json=body)

    @operation
    def list_api_keys(self) -> Op[list[ApiKeyOut]]:
        """Every key of the tenant, newest first, revoked ones included."""
        return Op("GET", "/api-keys", lambda r: ApiKeyList.model_validate(r.json()).data)

    @operation
    def get_api_key(self, key_id: str) -> Op[ApiKeyOut]:
        return Op("GET", f"/api-keys/{key_id}", _model(ApiKeyOut))

    @operation
    def get_own_api_key(self) -> Op[ApiKeySelf]:
        """The calling key: its scopes, teams, limits and expiry (needs no scope)."""
        return Op("GET", "/api-keys/self", _model(ApiKeySelf))

    @operation
    def update_api_key(self, /, key_id: str, **fields: Any) -> Op[ApiKeyOut]:
        """`name`, `permissions`, `accounts_access`, `rate_limit_per_minute`, `monthly_quota`,
        `enforce_mtls`, `mtls_thumbprints`: the given ones change. Repeatable."""
        return Op(
            "PATCH",
            f"/api-keys/{key_id}",
            _model(ApiKeyOut),
            json=_camel(fields),
            retry=Retry.REPEATABLE,
        )

    @operation
    def revoke_api_key(self, key_id: str) -> Op[ApiKeyOut]:
        """Revokes the key (on every server within a second). Repeatable: revoking twice is
        harmless."""
        return Op("DELETE", f"/api-keys/{key_id}", _model(ApiKeyOut), retry=Retry.REPEATABLE)

    @operation
    def roll_api_key(self, key_id: str, *, grace_period_minutes: int = 0) -> Op[ApiKeyCreated]:
        """A new secret for the key (`api_key`, shown this once); the old one keeps working
        for `grace_period_minutes`. Run at most once (`Retry.ONCE`)."""
        return Op(
            "POST",
            f"/api-keys/{key_id}/roll",
            _model(ApiKeyCreated),
            json={"gracePeriodMinutes": grace_period_minutes},
        )

    @operation
    def list_audit_events(
        self, *, api_key_id: str | None = None, limit: int = 100
    ) -> Op[list[AuditEventOut]]:
        """The tenant's audit log (or one key's), newest first."""
        return Op(
            "GET",
            "/audit-events",
            lambda r: AuditEventList.model_validate(r.json()).data,
            params=_params(api_key_id=api_key_id, limit=limit),
        )

    # --- webhooks -----------------------------------------------------------------------------

    @operation
    def create_webhook_endpoint(
        self,
        url: str,
        *,
        description: str = "",
        event_types: list[str] | None = None,
        enabled: bool = True,
    ) -> Op[EndpointWithSecret]:
        """A new endpoint; `secret` on the answer (`whsec_…`) is shown this once.
        `event_types=None`: every type. Run at most once (`Retry.ONCE`)."""
        body = {
            "url": url,
            "description": description,
            "eventTypes": event_types,
            "enabled": enabled,
        }
        return Op("POST", "/webhook-endpoints", _model(EndpointWithSecret), json=body)

    @operation
    def list_webhook_endpoints(self) -> Op[list[EndpointOut]]:
        return Op("GET", "/webhook-endpoints", lambda r: EndpointList.model_validate(r.json()).data)

    @operation
    def get_webhook_endpoint(self, endpoint_id: str) -> Op[EndpointOut]:
        return Op("GET", f"/webhook-endpoints/{endpoint_id}", _model(EndpointOut))

    @operation
    def update_webhook_endpoint(self, /, endpoint_id: str, **fields: Any) -> Op[EndpointOut]:
        """`url`, `description`, `event_types`, `enabled` (True re-enables a disabled endpoint).
        Repeatable."""
        return Op(
            "PATCH",
            f"/webhook-endpoints/{endpoint_id}",
            _model(EndpointOut),
            json=_camel(fields),
            retry=Retry.REPEATABLE,
        )

    @operation
    def delete_webhook_endpoint(self, endpoint_id: str) -> Op[None]:
        """Run at most once (a repeat would answer 404)."""
        return Op("DELETE", f"/webhook-endpoints/{endpoint_id}", _nothing)

    @operation
    def rotate_webhook_secret(self, endpoint_id: str) -> Op[RotatedSecret]:
        """A new signing secret (shown this once); the old one keeps signing alongside it
        until `previous_secret_expires_at`. Run at most once (`Retry.ONCE`)."""
        return Op("POST", f"/webhook-endpoints/{endpoint_id}/rotate-secret", _model(RotatedSecret))

    @operation
    def test_webhook_endpoint(self, endpoint_id: str) -> Op[TesterResult]:
        """Sends a signed `webhook.test` event now; what was sent and what came back. Run at
        most once (`Retry.ONCE`)."""
        return Op("POST", f"/webhook-endpoints/{endpoint_id}/test", _model(TesterResult))

    @operation
    def list_webhook_deliveries(
        self, endpoint_id: str, *, limit: int = 50, before: str | None = None
    ) -> Op[DeliveryList]:
        """An endpoint's deliveries with their attempts, newest first (`before`: a delivery id
        to continue after)."""
        return Op(
            "GET",
            f"/webhook-endpoints/{endpoint_id}/deliveries",
            _model(DeliveryList),
            params=_params(limit=limit, before=before),
        )

    @operation
    def list_event_types(self) -> Op[list[EventTypeOut]]:
        return Op("GET", "/event-types", lambda r: EventTypeList.model_validate(r.json()).data)

    @operation
    def list_events(
        self, *, event_type: str | None = None, limit: int = 50, before: str | None = None
    ) -> Op[EventList]:
        """The tenant's events, newest first (`before`: an event id to continue after)."""
        params = _params(type=event_type, limit=limit, before=before)
        return Op("GET", "/events", _model(EventList), params=params)

    @operation
    def replay_event(self, event_id: str, *, endpoint_id: str | None = None) -> Op[ReplayOut]:
        """Queues the event again (same `webhook-id`) for every subscribed enabled endpoint,
        or only `endpoint_id`. Run at most once (`Retry.ONCE`)."""
        body = {"endpointId": endpoint_id} if endpoint_id else None
        return Op("POST", f"/events/{event_id}/replay", _model(ReplayOut), json=body)

    # --- usage --------------------------------------------------------------------------------

    @operation
    def get_usage(self, *, key_id: str | None = None) -> Op[UsageReport]:
        """The tenant's usage (or one key's): current hour and month, hourly, daily and the
        most-called endpoints."""
        return Op("GET", "/usage", _model(UsageReport), params=_params(key_id=key_id))

    @operation
    def list_usage_notices(self, *, key_id: str | None = None) -> Op[list[NoticeOut]]:
        """Keys that reached the alert threshold of their limit or quota, newest first."""
        return Op(
            "GET",
            "/usage/notices",
            lambda r: NoticeList.model_validate(r.json()).data,
            params=_params(key_id=key_id),
        )


class Client(_Api):
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
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.policy = RetryPolicy(max_retries, max_retry_wait, jitter)
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=_api_url(base_url), headers=_headers(api_key), timeout=timeout,
            transport=transport,
        )  # fmt: skip

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, op: Op[Any]) -> httpx.Response:
        """Sends the call, retrying as its `Retry` allows; raises a `LeadgateError` for an error
        answer."""
        method, retry, headers = _prepared(op)
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, op.path, json=op.json, params=op.params, headers=headers
                )
            except httpx.TransportError as error:
                self._sleep(self.policy.after_failure(error, retry, attempt))
                attempt += 1
                continue
            wait = self.policy.after_response(response, retry, attempt)
            if wait is None:
                return self.policy.final(response)
            self._sleep(wait)
            attempt += 1

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
        return self.send(Op(method, path, _identity, json, params, idempotency_key, retry))

    def iter_leads(self, *, page_size: int = 100, **filters: Any) -> Iterator[LeadOut]:
        """Every matching lead, newest first, fetching pages as it goes."""
        cursor = None
        while True:
            page = self.list_leads(limit=page_size, cursor=cursor, **filters)
            yield from page.data
            if not page.has_more:
                return
            cursor = page.next_cursor

    def import_leads_csv(
        self,
        data: bytes | str | IO[bytes],
        *,
        encoding: str | None = None,
        delimiter: str | None = None,
        mapping: Mapping[str, str] | None = None,
        on_duplicate: str | None = None,
    ) -> CsvImport:
        """Imports a spreadsheet's CSV (`,` `;` tab or `|`, sniffed; a BOM, UTF-8, UTF-16 or
        Windows-1252; Excel's quoting; headers in any order, `mapping` header → column) in
        batches of 100, with a result per row. Safe to run again: rows already imported come
        back as duplicates (or, `on_duplicate="merge"`, merges that change nothing)."""
        batches = _csv_batches(data, encoding=encoding, delimiter=delimiter, mapping=mapping)
        report = CsvImport()
        for batch in batches:
            leads = [payload for _line, payload in batch]
            result = self.create_leads(leads, on_duplicate=on_duplicate)
            report.rows.extend(_imported(batch, result))
        return report

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


class AsyncClient(_Api):
    """leadgate over HTTP from asyncio: the methods of `Client`, awaited. Close it (or use
    `async with`)."""

    def __init__(
        self,
        api_key: str,
        base_url: str = "http://127.0.0.1:8000",
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.policy = RetryPolicy(max_retries, max_retry_wait, jitter)
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=_api_url(base_url), headers=_headers(api_key), timeout=timeout,
            transport=transport,
        )  # fmt: skip

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def send(self, op: Op[Any]) -> httpx.Response:
        """`Client.send`, awaited: the same policy decides every retry and wait."""
        method, retry, headers = _prepared(op)
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, op.path, json=op.json, params=op.params, headers=headers
                )
            except httpx.TransportError as error:
                await self._sleep(self.policy.after_failure(error, retry, attempt))
                attempt += 1
                continue
            wait = self.policy.after_response(response, retry, attempt)
            if wait is None:
                return self.policy.final(response)
            await self._sleep(wait)
            attempt += 1

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        retry: Retry | None = None,
    ) -> httpx.Response:
        """`Client.request`, awaited."""
        return await self.send(Op(method, path, _identity, json, params, idempotency_key, retry))

    async def iter_leads(self, *, page_size: int = 100, **filters: Any) -> AsyncIterator[LeadOut]:
        """Every matching lead, newest first, fetching pages as it goes."""
        cursor = None
        while True:
            page = await self.list_leads(limit=page_size, cursor=cursor, **filters)
            for lead in page.data:
                yield lead
            if not page.has_more:
                return
            cursor = page.next_cursor

    async def import_leads_csv(
        self,
        data: bytes | str | IO[bytes],
        *,
        encoding: str | None = None,
        delimiter: str | None = None,
        mapping: Mapping[str, str] | None = None,
        on_duplicate: str | None = None,
    ) -> CsvImport:
        """`Client.import_leads_csv`, awaited."""
        batches = _csv_batches(data, encoding=encoding, delimiter=delimiter, mapping=mapping)
        report = CsvImport()
        for batch in batches:
            leads = [payload for _line, payload in batch]
            result = await self.create_leads(leads, on_duplicate=on_duplicate)
            report.rows.extend(_imported(batch, result))
        return report

    async def export_leads(self, out: IO[bytes], **filters: Any) -> int:
        """Streams the CSV export into `out`; returns its size."""
        written = 0
        stream = self._http.stream("GET", "/leads/export.csv", params=_params(**filters))
        async with stream as response:
            if response.is_error:
                await response.aread()
                raise error_from(response)
            async for chunk in response.aiter_bytes():
                out.write(chunk)
                written += len(chunk)
        return written


def _identity(response: httpx.Response) -> httpx.Response:
    return response
