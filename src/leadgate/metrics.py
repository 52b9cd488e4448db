"""Prometheus metrics: every metric family leadgate exports, and `/metrics` that serves them.

One process (`leadgate serve`, one worker) keeps them in memory. Several processes behind one
port (`leadgate serve --workers N`, gunicorn) share them through prometheus_client's multiprocess
mode: `PROMETHEUS_MULTIPROC_DIR` names a directory each process writes its values to, and
`/metrics` in any process adds them all up. `serve --workers N` sets it up by itself.

The per-request cost is one call, `observe_request`, from the middleware where the access log
line is written: two dictionary lookups and two increments.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.responses import Response
from starlette.routing import Mount
from starlette.types import Scope

# No `*_created` series: a gauge per labelled child that dashboards never use.
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# 1 ms to 10 s: the intake path answers in a few ms, exports and slow databases take seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "unmatched"

HTTP_REQUESTS = Counter(
    "leadgate_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "leadgate_http_request_duration_seconds",
    "Time from receiving a request to its last response byte, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
RATELIMIT_DECISIONS = Counter(
    "leadgate_ratelimit_decisions_total",
    "Per-key rate-limit decisions: allowed, limited (per-minute limit) or quota (monthly).",
    ["outcome"],
)
KEY_CACHE_REQUESTS = Counter(
    "leadgate_key_cache_requests_total",
    "API-key verifications answered from the in-memory cache (hit) or the database (miss).",
    ["result"],
)
KEY_CACHE_HIT = KEY_CACHE_REQUESTS.labels("hit")
KEY_CACHE_MISS = KEY_CACHE_REQUESTS.labels("miss")
WEBHOOK_DELIVERIES = Counter(
    "leadgate_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: success (2xx), failure (another status) or error "
    "(no response: timeout, refused connection, TLS).",
    ["outcome"],
)
WEBHOOK_QUEUE_DEPTH = Gauge(
    "leadgate_webhook_queue_depth",
    "Webhook deliveries waiting to be sent (pending), as the worker last counted them.",
    multiprocess_mode="mostrecent",
)
USAGE_FLUSHES = Counter(
    "leadgate_usage_flushes_total",
    "Writes of buffered per-key usage counts to the database: ok, or failed (kept for the next).",
    ["outcome"],
)
RETENTION_PURGED = Counter(
    "leadgate_retention_purged_total",
    "Rows purged (or event payloads emptied) by retention, by kind: event_payloads, events, "
    "delivery_attempts, idempotency_records, usage_counts, audit_events, source_payloads, "
    "form_quarantine, form_confirmations.",
    ["kind"],
)

_requests: dict[tuple[str, str, int], Any] = {}
_durations: dict[tuple[str, str], Any] = {}
_decisions = {
    "allowed": RATELIMIT_DECISIONS.labels("allowed"),
    "limited": RATELIMIT_DECISIONS.labels("limited"),
    "quota": RATELIMIT_DECISIONS.labels("quota"),
}


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Counts one answered request under its route template (never the raw path, whose ids
    would make a series per lead), and the rate-limit decision made for it, if any."""
    template = route_template(scope)
    method = scope["method"]
    counter = _requests.get((method, template, status))
    if counter is None:
        counter = _requests[(method, template, status)] = HTTP_REQUESTS.labels(
            method, template, str(status)
        )
    counter.inc()
    histogram = _durations.get((method, template))
    if histogram is None:
        histogram = _durations[(method, template)] = HTTP_DURATION.labels(method, template)
    histogram.observe(seconds)
    decision = scope.get("state", {}).get("rate_limit")
    if decision is not None:
        if decision.quota_exceeded:
            _decisions["quota"].inc()
        elif decision.allowed:
            _decisions["allowed"].inc()
        else:
            _decisions["limited"].inc()


def route_template(scope: Scope) -> str:
    """The request's route template, worked out once and kept in its state (the usage counter
    and the request metrics both need it)."""
    state = scope.setdefault("state", {})
    template: str | None = state.get("route_template")
    if template is None:
        template = state["route_template"] = _route_template(scope)
    return template


def _route_template(scope: Scope) -> str:
    """`/api/v1/leads/{lead_id}` for a request to `/api/v1/leads/lead_…`; "unmatched" for 404s.

    FastAPI keeps an included router's own route in `scope["route"]` (path `/leads/{lead_id}`),
    so the prefix it was included under (`/api/v1` or `/api`) is taken from the request's path:
    everything before the route's own segments. Routes whose parameters span segments
    (`{x:path}`) keep their bare template, never a raw path.
    """
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not path:
        app_root = scope.get("app_root_path")
        if app_root is not None:  # inside a mount (static files): its path, not the file's
            return f"{scope.get('root_path', '')[len(app_root) :]}/{{path}}"
        return UNMATCHED
    if isinstance(route, Mount):
        return f"{path}/{{path}}"
    if ":path}" in path:
        return str(path)
    prefix = scope["path"].rsplit("/", path.count("/"))[0]
    return f"{prefix}{path}"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition() -> bytes:
    """The metrics of this process, or of every process sharing the multiprocess directory."""
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


async def metrics() -> Response:
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
