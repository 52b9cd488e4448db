"""Every authenticated API route, refused and allowed the same way (PRODUCT.md §2, §3).

`ROUTES` lists each route of the API with the scope it needs, a small valid body and the
resource its path names. One test body runs every route as each caller of `CASES`, on both
backends: a refused call answers its status and `error` code and writes nothing to the tenant;
the right scope answers 2xx (and a read writes nothing either). A route the app registers
without a row here, and not listed as public with its reason, fails
`test_the_table_lists_every_api_route`.

The tenant and its keys are made once per backend (module-scoped); each case snapshots the
tenant's rows before and after its one request.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import fastapi.routing
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate import crypto
from leadgate.api_keys.scopes import ALL_SCOPES
from leadgate.api_keys.sweep import sweep_once
from leadgate.app import create_app
from leadgate.models import ApiKey, AuditEvent, Base, utcnow
from tests.conftest import BASE_DOMAIN, Backend, make_settings
from tests.factories import (
    KeyInfo,
    TenantInfo,
    count_rows,
    create_api_key,
    create_tenant,
    fetch_rows,
    unique_lead,
    update_row,
)
from tests.receiver import Receiver, running_receiver, wait_until

# Far above what the module sends: no case meets a rate limit, a quota or a usage notice.
UNLIMITED: dict[str, Any] = {"rate_limit_per_minute": 1_000_000}


def uid() -> str:
    return uuid.uuid4().hex[:10]


@dataclass
class World:
    """One tenant with a key per situation and a resource of each kind; another tenant."""

    backend: Backend
    http: httpx.Client
    receiver: Receiver
    tenant: TenantInfo
    other: TenantInfo
    full: KeyInfo  # every scope
    other_key: KeyInfo  # every scope, of the other tenant
    revoked: KeyInfo  # every scope, revoked
    expired: KeyInfo  # every scope, expired
    only: dict[str, KeyInfo]  # exactly this scope
    all_but: dict[str, KeyInfo]  # every scope but this one
    ids: dict[str, str] = field(default_factory=dict)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body, headers=self.full.headers)
        assert response.is_success, response.text
        return dict(response.json())

    def new_lead(self) -> str:
        return str(self.post("/api/v1/leads", unique_lead())["id"])

    def new_tag(self) -> str:
        return str(self.post("/api/v1/tags", {"name": f"Tag {uid()}"})["id"])

    def new_endpoint(self) -> str:
        return str(self.post("/api/v1/webhook-endpoints", self.endpoint_body())["id"])

    def new_team(self) -> str:
        return str(self.post("/api/v1/teams", {"name": f"Team {uid()}"})["id"])

    def new_hook(self) -> str:
        return str(self.post("/api/v1/hooks", hook_body(self))["id"])

    def new_source(self) -> str:
        return str(self.post("/api/v1/sources", source_body(self))["id"])

    def new_failed_payload(self) -> str:
        """A payload kept as failed (the source's mapping names no fields): replaying it
        fails again, so every replay of it is a 200 that makes no lead."""
        source = self.post("/api/v1/sources", source_body(self))
        body = b'{"first": "Ada"}'
        signature = hmac.new(source["secret"].encode(), body, hashlib.sha256).hexdigest()
        answer = self.http.post(
            httpx.URL(source["url"]).path,
            content=body,
            headers={"Content-Type": "application/json", "X-Leadgate-Signature": signature},
        )
        assert answer.json()["outcome"] == "failed", answer.text
        self.ids["payload_source"] = source["id"]
        return str(answer.json()["payloadId"])

    def new_key(self) -> str:
        # Only keys:write: the key managing it (`only["keys:write"]`) is no narrower.
        return create_api_key(self.backend, self.tenant, ["keys:write"]).id

    def new_form(self) -> str:
        return str(self.post("/api/v1/forms", form_body(self))["id"])

    def new_held_submission(self) -> str:
        """A web form submission held in quarantine (its honeypot filled)."""
        body = {"firstName": "Held", "lastName": uid(), "_lg_hp": "bot"}
        posted = self.http.post(
            f"/f/{self.ids['form']}",
            json=body,
            headers={"Origin": str(self.http.base_url).rstrip("/")},
        )
        assert posted.is_success, posted.text
        held = self.http.get("/api/v1/form-quarantine", headers=self.full.headers).json()
        return str(held["data"][0]["id"])

    def new_contact(self) -> str:
        body = {"firstName": f"Contact{uid()}", "lastName": "Matrix"}
        return str(self.post("/api/v1/contacts", body)["id"])

    def new_deal(self) -> str:
        return str(self.post("/api/v1/deals", {"name": f"Deal {uid()}"})["id"])

    def new_activity(self) -> str:
        body = {"kind": "note", "recordType": "lead", "recordId": self.ids["lead"], "subject": "x"}
        return str(self.post("/api/v1/activities", body)["id"])

    def new_automation(self) -> str:
        # On deal.lost, which no case causes: the automation worker never acts during a case.
        body = {"name": f"Rule {uid()}", "eventType": "deal.lost", "actions": [{"type": "emit"}]}
        return str(self.post("/api/v1/automations", body)["id"])

    def new_pipeline(self) -> str:
        body = {"name": f"Pipeline {uid()}", "stages": [{"name": "Open"}]}
        return str(self.post("/api/v1/pipelines", body)["id"])

    def new_stage(self) -> str:
        stages = self.post(f"/api/v1/pipelines/{self.ids['pipeline']}/stages", {"name": "Spare"})
        return str(stages["stages"][-1]["id"])

    def endpoint_body(self) -> dict[str, Any]:
        # Subscribed to test events only: the other requests' events queue no deliveries.
        return {"url": self.receiver.url, "eventTypes": ["webhook.test"]}


def hook_body(world: World) -> dict[str, Any]:
    # An event no case causes: subscribing queues no deliveries during other cases.
    return {"hookUrl": world.receiver.url, "event": "usage.threshold_reached"}


def source_body(_world: World) -> dict[str, Any]:
    return {"name": f"Source {uid()}", "kind": "json", "mapping": {"rules": []}}


def no_body(_world: World) -> dict[str, Any] | None:
    return None


def no_target(_world: World) -> dict[str, str]:
    return {}


def someone(_world: World) -> dict[str, str]:
    """A person by e-mail, for the privacy routes (nobody the tenant holds)."""
    return {"email": f"someone.{uid()}@example.org"}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # the template the app registers
    scope: str | None  # None: any valid key
    body: Callable[[World], dict[str, Any] | None] = no_body
    target: Callable[[World], dict[str, str]] = no_target  # the path's parameters
    query: Callable[[World], dict[str, str]] = no_target  # the query string's parameters
    # What another tenant's key gets when the body (not the path) names this tenant's resource.
    foreign: tuple[int, str] | None = None

    @property
    def names_a_resource(self) -> bool:
        return "{" in self.path

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


# Path parameters: the tenant's resource of that kind, or a fresh one for routes that use it up.
def lead(world: World) -> dict[str, str]:
    return {"lead_id": world.ids["lead"]}


def fresh_lead(world: World) -> dict[str, str]:
    return {"lead_id": world.new_lead()}


def tag(world: World) -> dict[str, str]:
    return {"tag_id": world.ids["tag"]}


def fresh_tag(world: World) -> dict[str, str]:
    return {"tag_id": world.new_tag()}


def key(world: World) -> dict[str, str]:
    return {"key_id": world.ids["key"]}


def fresh_key(world: World) -> dict[str, str]:
    return {"key_id": world.new_key()}


def endpoint(world: World) -> dict[str, str]:
    return {"endpoint_id": world.ids["endpoint"]}


def fresh_endpoint(world: World) -> dict[str, str]:
    return {"endpoint_id": world.new_endpoint()}


def team(world: World) -> dict[str, str]:
    return {"team_id": world.ids["team"]}


def fresh_team(world: World) -> dict[str, str]:
    return {"team_id": world.new_team()}


def hook(world: World) -> dict[str, str]:
    return {"hook_id": world.new_hook()}


def source(world: World) -> dict[str, str]:
    return {"source_id": world.ids["source"]}


def fresh_source(world: World) -> dict[str, str]:
    return {"source_id": world.new_source()}


def payload(world: World) -> dict[str, str]:
    return {"source_id": world.ids["payload_source"], "payload_id": world.ids["payload"]}


def event(world: World) -> dict[str, str]:
    return {"event_id": world.ids["event"]}


def form_body(_world: World) -> dict[str, Any]:
    fields = [
        {"name": "firstName", "label": "First name", "required": True},
        {"name": "lastName", "label": "Last name", "required": True},
    ]
    return {"name": f"Form {uid()}", "fields": fields, "spam": {"minFillSeconds": 0}}


def web_form(world: World) -> dict[str, str]:
    return {"form_id": world.ids["form"]}


def fresh_form(world: World) -> dict[str, str]:
    return {"form_id": world.new_form()}


def held_submission(world: World) -> dict[str, str]:
    return {"submission_id": world.new_held_submission()}


def contact(world: World) -> dict[str, str]:
    return {"contact_id": world.ids["contact"]}


def deal(world: World) -> dict[str, str]:
    return {"deal_id": world.ids["deal"]}


def pipeline(world: World) -> dict[str, str]:
    return {"pipeline_id": world.ids["pipeline"]}


def stage(world: World) -> dict[str, str]:
    return {"pipeline_id": world.ids["pipeline"], "stage_id": world.ids["stage"]}


def activity(world: World) -> dict[str, str]:
    return {"activity_id": world.ids["activity"]}


def automation(world: World) -> dict[str, str]:
    return {"automation_id": world.ids["automation"]}


def lead_body(_world: World) -> dict[str, Any]:
    return unique_lead()


def named(prefix: str) -> Callable[[World], dict[str, Any]]:
    return lambda _world: {"name": f"{prefix} {uid()}"}


ROUTES: list[Route] = [
    # leads
    Route("POST", "/api/v1/leads", "leads:write", body=lead_body),
    Route("POST", "/api/v1/leads/intake", "leads:write", body=lead_body),
    Route("POST", "/api/v1/leads/batch", "leads:write", body=lambda w: {"leads": [unique_lead()]}),
    Route("GET", "/api/v1/leads", "leads:read"),
    Route("GET", "/api/v1/leads/export.csv", "leads:read"),
    Route("GET", "/api/v1/leads/{lead_id}", "leads:read", target=lead),
    Route(
        "PATCH",
        "/api/v1/leads/{lead_id}",
        "leads:write",
        body=lambda w: {"company": uid()},
        target=lead,
    ),
    Route("DELETE", "/api/v1/leads/{lead_id}", "leads:write", target=fresh_lead),
    # tags
    Route("GET", "/api/v1/tags", "tags:read"),
    Route("POST", "/api/v1/tags", "tags:write", body=named("Tag")),
    Route("GET", "/api/v1/tags/{tag_id}", "tags:read", target=tag),
    Route("PATCH", "/api/v1/tags/{tag_id}", "tags:write", body=named("Tag"), target=tag),
    Route("DELETE", "/api/v1/tags/{tag_id}", "tags:write", target=fresh_tag),
    # API keys and the audit log
    Route(
        "POST",
        "/api/v1/api-keys",
        "keys:write",
        body=lambda w: {"name": f"matrix {uid()}", "permissions": ["keys:write"]},
    ),
    Route("GET", "/api/v1/api-keys", "keys:read"),
    Route("GET", "/api/v1/api-keys/self", None),
    Route("GET", "/api/v1/api-keys/{key_id}", "keys:read", target=key),
    Route("PATCH", "/api/v1/api-keys/{key_id}", "keys:write", body=named("key"), target=key),
    Route("DELETE", "/api/v1/api-keys/{key_id}", "keys:write", target=fresh_key),
    Route(
        "POST",
        "/api/v1/api-keys/{key_id}/roll",
        "keys:write",
        body=lambda w: {"gracePeriodMinutes": 0},
        target=fresh_key,
    ),
    Route("GET", "/api/v1/audit-events", "keys:read"),
    # usage
    Route("GET", "/api/v1/usage", "usage:read"),
    Route("GET", "/api/v1/usage/notices", "usage:read"),
    # webhooks and events
    Route("POST", "/api/v1/webhook-endpoints", "webhooks:write", body=World.endpoint_body),
    Route("GET", "/api/v1/webhook-endpoints", "webhooks:read"),
    Route("GET", "/api/v1/webhook-endpoints/{endpoint_id}", "webhooks:read", target=endpoint),
    Route(
        "PATCH",
        "/api/v1/webhook-endpoints/{endpoint_id}",
        "webhooks:write",
        body=lambda w: {"description": uid()},
        target=endpoint,
    ),
    Route(
        "DELETE", "/api/v1/webhook-endpoints/{endpoint_id}", "webhooks:write", target=fresh_endpoint
    ),
    Route(
        "POST",
        "/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
        "webhooks:write",
        target=endpoint,
    ),
    Route(
        "POST", "/api/v1/webhook-endpoints/{endpoint_id}/test", "webhooks:write", target=endpoint
    ),
    Route(
        "GET",
        "/api/v1/webhook-endpoints/{endpoint_id}/deliveries",
        "webhooks:read",
        target=endpoint,
    ),
    Route("GET", "/api/v1/event-types", "webhooks:read"),
    # teams and the workspace's members
    Route("GET", "/api/v1/teams", "leads:read"),
    Route("POST", "/api/v1/teams", "keys:write", body=named("Team")),
    Route("GET", "/api/v1/teams/{team_id}", "leads:read", target=team),
    Route("PATCH", "/api/v1/teams/{team_id}", "keys:write", body=named("Team"), target=team),
    Route("DELETE", "/api/v1/teams/{team_id}", "keys:write", target=fresh_team),
    Route("GET", "/api/v1/users", "users:read"),
    Route("GET", "/api/v1/events", "webhooks:read"),
    Route(
        "POST",
        "/api/v1/events/{event_id}/replay",
        "webhooks:write",
        body=lambda w: {"endpointId": w.ids["endpoint"]},
        target=event,
    ),
    # web forms and their quarantine
    Route("POST", "/api/v1/forms", "forms:write", body=form_body),
    Route("GET", "/api/v1/forms", "forms:read"),
    Route("GET", "/api/v1/forms/{form_id}", "forms:read", target=web_form),
    Route("PATCH", "/api/v1/forms/{form_id}", "forms:write", body=named("Form"), target=web_form),
    Route("DELETE", "/api/v1/forms/{form_id}", "forms:write", target=fresh_form),
    Route("GET", "/api/v1/form-quarantine", "forms:read"),
    Route(
        "POST",
        "/api/v1/form-quarantine/{submission_id}/release",
        "forms:write",
        target=held_submission,
    ),
    Route(
        "DELETE", "/api/v1/form-quarantine/{submission_id}", "forms:write", target=held_submission
    ),
    # REST hooks (Zapier, Make, n8n) and find-or-create
    Route("POST", "/api/v1/hooks", "webhooks:write", body=hook_body),
    Route("DELETE", "/api/v1/hooks/{hook_id}", "webhooks:write", target=hook),
    Route("GET", "/api/v1/hooks/samples", "webhooks:read"),
    Route("POST", "/api/v1/leads/find-or-create", "leads:write", body=lead_body),
    # inbound sources
    Route("POST", "/api/v1/sources", "sources:write", body=source_body),
    Route("GET", "/api/v1/sources", "sources:read"),
    Route("GET", "/api/v1/sources/{source_id}", "sources:read", target=source),
    Route("PATCH", "/api/v1/sources/{source_id}", "sources:write", body=named("S"), target=source),
    Route("DELETE", "/api/v1/sources/{source_id}", "sources:write", target=fresh_source),
    Route("GET", "/api/v1/sources/{source_id}/payloads", "sources:read", target=source),
    Route(
        "GET",
        "/api/v1/sources/{source_id}/payloads/{payload_id}",
        "sources:read",
        target=payload,
    ),
    Route(
        "POST",
        "/api/v1/sources/{source_id}/payloads/{payload_id}/replay",
        "sources:write",
        target=payload,
    ),
    Route(
        "POST",
        "/api/v1/sources/{source_id}/preview",
        "sources:read",
        body=lambda _w: {},
        target=source,
    ),
    # privacy
    Route("POST", "/api/v1/privacy/erasures", "privacy:write", body=someone),
    Route("GET", "/api/v1/privacy/exports", "privacy:read", query=someone),
    Route("POST", "/api/v1/privacy/suppressions", "privacy:write", body=someone),
    Route("GET", "/api/v1/privacy/suppressions", "privacy:read", query=someone),
    Route("DELETE", "/api/v1/privacy/suppressions", "privacy:write", query=someone),
    Route("GET", "/api/v1/privacy/retention", "privacy:read"),
    Route("PUT", "/api/v1/privacy/retention", "privacy:write", body=lambda w: {"events": 60}),
    # contacts and lead conversion
    Route(
        "POST",
        "/api/v1/contacts",
        "contacts:write",
        body=lambda w: {"firstName": f"C{uid()}", "lastName": "New"},
    ),
    Route("GET", "/api/v1/contacts", "contacts:read"),
    Route("GET", "/api/v1/contacts/export.csv", "contacts:read"),
    Route("GET", "/api/v1/contacts/{contact_id}", "contacts:read", target=contact),
    Route(
        "PATCH",
        "/api/v1/contacts/{contact_id}",
        "contacts:write",
        body=lambda w: {"title": f"T {uid()}"},
        target=contact,
    ),
    Route(
        "DELETE",
        "/api/v1/contacts/{contact_id}",
        "contacts:write",
        target=lambda w: {"contact_id": w.new_contact()},
    ),
    Route(
        "POST",
        "/api/v1/leads/{lead_id}/convert",
        "contacts:write",
        body=lambda w: {},
        target=fresh_lead,
    ),
    Route(
        "GET",
        "/api/v1/leads/{lead_id}/conversion",
        "leads:read",
        target=lambda w: {"lead_id": w.ids["converted_lead"]},
    ),
    # pipelines, stages and deals
    Route("GET", "/api/v1/pipelines", "deals:read"),
    Route(
        "POST",
        "/api/v1/pipelines",
        "deals:write",
        body=lambda w: {"name": f"P {uid()}", "stages": [{"name": "S"}]},
    ),
    Route("GET", "/api/v1/pipelines/{pipeline_id}", "deals:read", target=pipeline),
    Route(
        "PATCH", "/api/v1/pipelines/{pipeline_id}", "deals:write", body=named("P"), target=pipeline
    ),
    Route(
        "DELETE",
        "/api/v1/pipelines/{pipeline_id}",
        "deals:write",
        target=lambda w: {"pipeline_id": w.new_pipeline()},
    ),
    Route(
        "POST",
        "/api/v1/pipelines/{pipeline_id}/stages",
        "deals:write",
        body=named("S"),
        target=pipeline,
    ),
    Route(
        "PATCH",
        "/api/v1/pipelines/{pipeline_id}/stages/{stage_id}",
        "deals:write",
        body=named("S"),
        target=stage,
    ),
    Route(
        "DELETE",
        "/api/v1/pipelines/{pipeline_id}/stages/{stage_id}",
        "deals:write",
        target=lambda w: {"pipeline_id": w.ids["pipeline"], "stage_id": w.new_stage()},
    ),
    Route("POST", "/api/v1/deals", "deals:write", body=named("D")),
    Route("GET", "/api/v1/deals", "deals:read"),
    Route("GET", "/api/v1/deals/export.csv", "deals:read"),
    Route("GET", "/api/v1/deals/{deal_id}", "deals:read", target=deal),
    Route("GET", "/api/v1/deals/{deal_id}/history", "deals:read", target=deal),
    Route(
        "PATCH",
        "/api/v1/deals/{deal_id}",
        "deals:write",
        body=lambda w: {"amount": int(uid(), 16) % 100_000},
        target=deal,
    ),
    Route(
        "DELETE",
        "/api/v1/deals/{deal_id}",
        "deals:write",
        target=lambda w: {"deal_id": w.new_deal()},
    ),
    # activities and timelines
    Route(
        "POST",
        "/api/v1/activities",
        "activities:write",
        body=lambda w: {
            "kind": "call",
            "recordType": "lead",
            "recordId": w.ids["lead"],
            "subject": uid(),
        },
        foreign=(400, "invalid_request"),  # the lead in the body is not the caller's
    ),
    Route("GET", "/api/v1/activities", "activities:read"),
    Route("GET", "/api/v1/activities/{activity_id}", "activities:read", target=activity),
    Route(
        "PATCH",
        "/api/v1/activities/{activity_id}",
        "activities:write",
        body=lambda w: {"subject": uid()},
        target=activity,
    ),
    Route(
        "DELETE",
        "/api/v1/activities/{activity_id}",
        "activities:write",
        target=lambda w: {"activity_id": w.new_activity()},
    ),
    Route(
        "GET",
        "/api/v1/timeline/{record_type}/{record_id}",
        "activities:read",
        target=lambda w: {"record_type": "lead", "record_id": w.ids["lead"]},
    ),
    # automations
    Route("GET", "/api/v1/automations", "automations:read"),
    Route(
        "POST",
        "/api/v1/automations",
        "automations:write",
        body=lambda w: {"name": uid(), "eventType": "deal.lost", "actions": [{"type": "emit"}]},
    ),
    Route("GET", "/api/v1/automations/{automation_id}", "automations:read", target=automation),
    Route(
        "PATCH",
        "/api/v1/automations/{automation_id}",
        "automations:write",
        body=named("Rule"),
        target=automation,
    ),
    Route(
        "DELETE",
        "/api/v1/automations/{automation_id}",
        "automations:write",
        target=lambda w: {"automation_id": w.new_automation()},
    ),
    Route("GET", "/api/v1/automations/{automation_id}/runs", "automations:read", target=automation),
    Route(
        "POST",
        "/api/v1/automations/{automation_id}/trigger",
        "automations:write",
        body=lambda w: {"recordType": "lead", "recordId": w.ids["lead"]},
        target=automation,
    ),
    # reports
    Route("GET", "/api/v1/reports/leads", "reports:read"),
    Route("GET", "/api/v1/reports/funnel", "reports:read"),
    Route("GET", "/api/v1/reports/pipeline", "reports:read"),
    Route("GET", "/api/v1/reports/revenue", "reports:read"),
    Route("GET", "/api/v1/reports/usage", "reports:read"),
]

# Routes under /api that take no API key, and why.
PUBLIC: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/api-keys/revoke-leaked"): "anyone may report a leaked key, like GitHub's "
    "credential revocation API (tests/test_leaked_keys.py)",
    ("POST", "/api/v1/secret-scanning/github"): "GitHub's signature authenticates it, not a key "
    "(tests/test_leaked_keys.py)",
}
# Everything else the app serves is not the API, and says how it is guarded.
NOT_API: dict[str, str] = {
    "/console": "the web console: a signed-in session and CSRF (tests/test_console*.py)",
    "/openapi.json": "the public API description",
    "/docs": "the public API explorer",
    "/static": "the console's and the explorer's static files",
    "/healthz": "liveness probe, public",
    "/readyz": "readiness probe, public",
    "/metrics": "Prometheus metrics, guarded by the network (docs/operations.md)",
    "/": "redirects to the console",
    "/f": "web forms' public pages and submit URL: no key, the form's own rules (docs/forms.md, "
    "tests/test_forms*.py)",
    "/inbound": "where lead sources post: the provider's signature authenticates each payload "
    "(tests/test_sources.py)",
}

# (caller, the answer refused callers get); "right_scope" and "other_tenants_key" are checked
# apart, since what they get depends on the route.
REFUSED: dict[str, tuple[int, str]] = {
    "no_key": (401, "invalid_api_key"),
    "unknown_key": (401, "invalid_api_key"),
    "revoked_key": (401, "invalid_api_key"),
    "expired_key": (401, "api_key_expired"),
    "other_tenants_host": (401, "invalid_api_key"),
    "missing_scope": (403, "insufficient_scope"),
}
CASES = [*REFUSED, "other_tenants_key", "right_scope"]

# Tenant tables that only background tasks write (request counts, attempts, addresses keys
# were used from), and columns they update: never a request's doing.
BACKGROUND_TABLES = {"usage_counts", "webhook_attempts", "api_key_ips", "automation_runs"}
BACKGROUND_COLUMNS = {
    "api_keys": {"last_used_at", "last_used_ip", "expiring_notified_at", "expired_recorded_at"},
    "events": {"dispatched_at", "automated_at"},
    "webhook_endpoints": {"failing_since"},
    "webhook_deliveries": {"status", "attempts", "next_attempt_at", "last_attempt_at"},
}


def tenant_rows(backend: Backend, tenant_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tenant in every table a request may write, as plain tuples."""
    tables = [
        table
        for table in Base.metadata.sorted_tables
        if "tenant_id" in table.c and table.name not in BACKGROUND_TABLES
    ]

    async def work(session: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
        rows: dict[str, list[tuple[Any, ...]]] = {}
        for table in tables:
            skip = BACKGROUND_COLUMNS.get(table.name, set())
            columns = [column for column in table.c if column.name not in skip]
            statement = (
                sa.select(*columns)
                .where(table.c.tenant_id == tenant_id)
                .order_by(*table.primary_key.columns)
            )
            rows[table.name] = [tuple(row) for row in await session.execute(statement)]
        return rows

    return backend.transaction(work)


@pytest.fixture(scope="module")
def world(backend: Backend) -> Iterator[World]:
    with (
        running_receiver() as receiver,
        httpx.Client(base_url=backend.url, timeout=30) as http,
    ):
        tenant, other = create_tenant(backend), create_tenant(backend)
        every = list(ALL_SCOPES)
        revoked = create_api_key(backend, tenant, every, **UNLIMITED)
        update_row(backend, ApiKey, revoked.id, revoked_at=utcnow())
        expired = create_api_key(backend, tenant, every, **UNLIMITED)
        update_row(backend, ApiKey, expired.id, expires_at=utcnow() - timedelta(minutes=1))
        world = World(
            backend=backend,
            http=http,
            receiver=receiver,
            tenant=tenant,
            other=other,
            full=create_api_key(backend, tenant, every, **UNLIMITED),
            other_key=create_api_key(backend, other, every, **UNLIMITED),
            revoked=revoked,
            expired=expired,
            only={s: create_api_key(backend, tenant, [s], **UNLIMITED) for s in every},
            all_but={
                s: create_api_key(backend, tenant, [o for o in every if o != s], **UNLIMITED)
                for s in every
            },
        )
        world.ids.update(
            lead=world.new_lead(),
            tag=world.new_tag(),
            key=world.new_key(),
            endpoint=world.new_endpoint(),
            team=world.new_team(),
            form=world.new_form(),
            source=world.new_source(),
        )
        world.ids["payload"] = world.new_failed_payload()
        pipelines = world.http.get("/api/v1/pipelines", headers=world.full.headers).json()
        world.ids.update(
            pipeline=pipelines["data"][0]["id"],
            stage=pipelines["data"][0]["stages"][0]["id"],
            contact=world.new_contact(),
            deal=world.new_deal(),
            activity=world.new_activity(),
            automation=world.new_automation(),
        )
        converted = world.new_lead()
        world.post(f"/api/v1/leads/{converted}/convert", {})
        world.ids["converted_lead"] = converted
        tested = world.post(f"/api/v1/webhook-endpoints/{world.ids['endpoint']}/test", {})
        assert tested["success"] is True, tested
        world.ids["event"] = tested["eventId"]
        settle(world)
        yield world


def settle(world: World) -> None:
    """Lets the background writes the setup caused happen now rather than during a case: the
    expiry sweep's record of the expired key, and each key's first use from this address."""
    backend = world.backend
    backend.run(sweep_once(backend.app.state.database))
    used = [world.full, *world.only.values(), *world.all_but.values()]
    for caller in used:
        assert world.http.get("/api/v1/api-keys/self", headers=caller.headers).is_success

    def recorded() -> bool:
        first_uses = count_rows(
            backend, AuditEvent, world.tenant.id, action="api_key.used_from_new_ip"
        )
        keys = fetch_rows(backend, ApiKey, world.tenant.id)
        recorded_expiry = [k.id for k in keys if k.expired_recorded_at is not None]
        return first_uses >= len(used) and recorded_expiry == [world.expired.id]

    wait_until(recorded)


def caller(world: World, route: Route, case: str) -> dict[str, str]:
    if case == "no_key":
        return {}
    if case == "unknown_key":
        return {"X-API-Key": crypto.generate_api_key("lg").plaintext}
    if case == "revoked_key":
        return world.revoked.headers
    if case == "expired_key":
        return world.expired.headers
    if case == "other_tenants_host":
        return {**world.full.headers, "Host": f"{world.other.slug}.{BASE_DOMAIN}"}
    if case == "other_tenants_key":
        return world.other_key.headers
    if case == "missing_scope":
        assert route.scope is not None
        return world.all_but[route.scope].headers
    assert case == "right_scope"
    # A route that needs no scope is called with a key holding an unrelated one.
    return world.only[route.scope or "usage:read"].headers


MATRIX = [
    pytest.param(route, case, id=f"{route}-{case}")
    for route in ROUTES
    for case in CASES
    if not (case == "missing_scope" and route.scope is None)
]


@pytest.mark.parametrize(("route", "case"), MATRIX)
def test_auth_matrix(world: World, route: Route, case: str) -> None:
    url = route.path.format(**route.target(world))
    body = route.body(world)
    headers = caller(world, route, case)
    before = tenant_rows(world.backend, world.tenant.id)

    response = world.http.request(
        route.method, url, json=body, headers=headers, params=route.query(world)
    )

    after = tenant_rows(world.backend, world.tenant.id)
    if case == "right_scope":
        assert response.is_success, response.text
        if route.method == "GET":
            assert after == before, "a read wrote to the tenant"
        return
    assert after == before, "a refused request wrote to the tenant"
    if case == "other_tenants_key":
        if route.foreign is not None:
            assert (response.status_code, response.json()["error"]) == route.foreign
        elif route.names_a_resource:
            assert response.status_code == 404, response.text
            assert response.json()["error"] == "not_found"
        else:
            # Another tenant's key works on its own tenant and sees nothing of this one.
            assert response.is_success, response.text
            for value in (world.tenant.id, world.full.id, *world.ids.values()):
                assert value not in response.text
        return
    status, error = REFUSED[case]
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["error"] == error
    assert answer["requestId"]
    if case == "revoked_key":
        assert "revoked" in answer["message"]
    if case == "missing_scope":
        assert answer["requiredScope"] == route.scope
        assert f"'{route.scope}'" in answer["message"]


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_unversioned_alias_needs_a_key_too(world: World, route: Route) -> None:
    """`/api/…` (the HREF seed's URLs) is the same API as `/api/v1/…`, guarded the same way."""
    url = route.path.replace("/api/v1/", "/api/", 1).format(**route.target(world))
    before = tenant_rows(world.backend, world.tenant.id)
    response = world.http.request(
        route.method, url, json=route.body(world), params=route.query(world)
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_api_key"
    assert tenant_rows(world.backend, world.tenant.id) == before


def registered_routes(app: fastapi.FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, its included routers flattened."""
    # FastAPI ≥ 0.150 keeps included routers as one entry each in `app.routes`.
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: list[Any] = list(flatten(app.routes)) if flatten else list(app.routes)
    found = set()
    for route in routes:
        for method in getattr(route, "methods", None) or {"*"}:
            if method != "HEAD":
                found.add((method, route.path))
    return found


def test_the_table_lists_every_api_route(tmp_path: Path) -> None:
    app = create_app(make_settings("sqlite", tmp_path))
    tabled = {(route.method, route.path) for route in ROUTES}
    assert len(tabled) == len(ROUTES), "a route is in the table twice"
    assert not tabled & PUBLIC.keys()

    registered = registered_routes(app)
    api = set()
    for method, path in registered:
        if path.startswith("/api/"):
            # `/api/…` without a version is the alias of `/api/v1/…`.
            api.add((method, path if path.startswith("/api/v1/") else "/api/v1/" + path[5:]))
        else:
            assert any(path == p or path.startswith(p + "/") for p in NOT_API), (
                f"{method} {path} is neither in the API table nor in NOT_API"
            )
    assert api - PUBLIC.keys() - tabled == set(), "API routes without a row in ROUTES"
    assert tabled | PUBLIC.keys() <= api, "rows of ROUTES or PUBLIC the app does not serve"

    # The published description agrees (and proves the walk above saw the routers' routes).
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert documented <= tabled | PUBLIC.keys()
    assert documented <= api
