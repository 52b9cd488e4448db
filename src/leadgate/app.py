"""Builds the leadgate ASGI application: routers, error handling, middleware, background tasks."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from leadgate import __version__, housekeeping
from leadgate.aliases import CANONICAL, PathAliases
from leadgate.api_keys.authenticator import Authenticator
from leadgate.api_keys.cache import KeyCache
from leadgate.api_keys.last_used import KeyUsageRecorder
from leadgate.api_keys.router import router as api_keys_router
from leadgate.api_keys.sweep import run_expiry_sweep
from leadgate.audit.router import router as audit_router
from leadgate.automations.worker import AutomationWorker
from leadgate.console.router import install_console
from leadgate.context import current_request_id
from leadgate.crm import routers as crm_routers
from leadgate.db import Database, database_unavailable
from leadgate.errors import database_unavailable_error, error_body, install_error_handlers
from leadgate.forms.public import router as forms_public_router
from leadgate.forms.router import router as forms_router
from leadgate.integrations.router import router as integrations_router
from leadgate.leads.router import router as leads_router
from leadgate.metrics import metrics
from leadgate.middleware import RequestContextMiddleware, limit_headers_and_usage
from leadgate.openapi import install_openapi
from leadgate.privacy.router import router as privacy_router
from leadgate.ratelimit.service import RateLimiter
from leadgate.readiness import healthz, readyz
from leadgate.redaction import redact_path
from leadgate.redis import create_redis
from leadgate.responses import JsonResponse
from leadgate.settings import Settings
from leadgate.sources.router import inbound_router
from leadgate.sources.router import router as sources_router
from leadgate.tags.router import router as tags_router
from leadgate.teams.router import router as teams_router
from leadgate.usage.alerts import UsageAlerts
from leadgate.usage.recorder import UsageRecorder
from leadgate.usage.router import router as usage_router
from leadgate.users.router import router as users_router
from leadgate.webhooks.router import router as webhooks_router
from leadgate.webhooks.worker import WebhookWorker

log = structlog.get_logger("leadgate.app")

API_DESCRIPTION = """
Push leads into a tenant's CRM and manage the API keys that guard it.

Authenticate with an API key in the `X-API-Key` header (recommended), as
`Authorization: Bearer <key>`, as the `api_key` query parameter or as an `api_key` body field.
Every error is JSON: `{"error", "message", "details", "requestId"}`.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    tune_garbage_collector()
    database: Database = app.state.database
    recorder: KeyUsageRecorder = app.state.key_usage
    flusher = asyncio.create_task(recorder.run(database, settings.last_used_flush_seconds))
    # Key-cache invalidation from other processes, and the expiry sweep.
    key_tasks = [asyncio.create_task(run_expiry_sweep(database, settings.key_expiry_sweep_seconds))]
    if app.state.redis is not None:
        key_tasks.append(asyncio.create_task(app.state.key_cache.listen()))
    # Usage counts are flushed periodically and once more on shutdown.
    usage: UsageRecorder = app.state.usage
    usage_flusher = asyncio.create_task(usage.run(database, settings.usage_flush_seconds))
    # The webhook delivery worker (off when `leadgate worker` processes deliver).
    webhooks = WebhookWorker(database, settings)
    webhook_task = asyncio.create_task(webhooks.run()) if settings.webhooks_worker_enabled else None
    # The automation worker: rules run on committed events (off when `leadgate worker` runs them).
    automations = AutomationWorker(database, settings)
    automation_task = (
        asyncio.create_task(automations.run()) if settings.automations_worker_enabled else None
    )
    # Purge of soft-deleted leads and expired idempotency records.
    housekeeper = housekeeping.Housekeeper(database, settings)
    housekeeper.start()
    try:
        yield
    finally:
        await housekeeper.stop()
        if webhook_task is not None:
            await webhooks.shutdown(webhook_task)
        if automation_task is not None:
            await automations.shutdown(automation_task)
        for task in key_tasks:
            task.cancel()
        await asyncio.gather(*key_tasks, return_exceptions=True)
        await recorder.stop(flusher, database)
        await app.state.usage_alerts.drain()
        await usage.stop(usage_flusher, database)
        await database.dispose()
        if app.state.redis is not None:
            await app.state.redis.aclose()


def operation_id(route: APIRoute) -> str:
    """An operation's id in the OpenAPI document: its handler's name (`create_lead`), which
    generated clients use as the method's name. tests/test_docs.py keeps them unique."""
    return route.name


def tune_garbage_collector() -> None:
    """What is alive once the app has started (modules, models, compiled statements) lives as
    long as the process: `gc.freeze` takes it out of every later collection, and collections
    run after 50,000 allocations rather than 700. Measured under intake load (bench/README.md):
    p99 from about 140 ms to about 50 ms, since full collections had walked all of it, and about
    10% less CPU per request. Cycles are still collected; reference counting frees the rest."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="leadgate",
        version=__version__,
        description=API_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        # leadgate exports its own Prometheus metrics; FastAPI's OpenTelemetry hooks otherwise
        # look up the tracer provider (environment reads) on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.database = Database(settings)
    app.state.key_usage = KeyUsageRecorder()
    app.state.redis = create_redis(settings)
    app.state.key_cache = KeyCache(settings, app.state.database.engine.sync_engine, app.state.redis)
    app.state.rate_limiter = RateLimiter(settings, app.state.redis)
    app.state.usage = UsageRecorder()
    app.state.usage_alerts = UsageAlerts(app.state.database, settings.usage_alert_threshold)
    app.state.authenticator = Authenticator(
        settings,
        app.state.database,
        app.state.key_cache,
        app.state.rate_limiter,
        app.state.key_usage,
        app.state.usage_alerts,
    )

    install_error_handlers(app)
    app.add_exception_handler(Exception, _unhandled)
    install_openapi(app)
    app.add_middleware(PathAliases)  # inside the request context: rewrites an alias before routing
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
        body_timeout_seconds=settings.body_timeout_seconds,
        access_log_enabled=settings.access_log,
    )

    # Every route once, under /api/v1; the seeds' other paths (/api/…, /v1/…, Snappy's
    # /public-api/v2/authentication/apiKeys, trailing slashes) are aliases (leadgate/aliases.py).
    for router in (
        # Before the leads router: `/leads/find-or-create` is not a lead id.
        integrations_router,
        leads_router,
        api_keys_router,
        audit_router,
        usage_router,
        webhooks_router,
        tags_router,
        teams_router,
        users_router,
        forms_router,
        sources_router,
        privacy_router,
        *crm_routers,
    ):
        app.include_router(router, prefix=CANONICAL)
    # Providers post here: authenticated by their signatures, not by an API key.
    app.include_router(inbound_router)
    app.router.redirect_slashes = False  # PathAliases serves trailing slashes; no redirect
    install_console(app)
    app.include_router(forms_public_router)

    static_dir = files("leadgate") / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
    app.add_api_route("/docs", _docs, include_in_schema=False, response_class=HTMLResponse)
    app.add_api_route("/healthz", healthz, include_in_schema=False)
    app.add_api_route("/readyz", readyz, include_in_schema=False)
    app.add_api_route("/metrics", metrics, include_in_schema=False)
    app.add_api_route("/", _root, include_in_schema=False)
    return app


async def _unhandled(request: Request, exc: Exception) -> JsonResponse:
    """A 500 that tells the client nothing but the request id; the details go to the log.
    A database that cannot be reached is a 503 `service_unavailable` instead."""
    request_id = current_request_id() or ""
    headers = {"X-Request-Id": request_id}
    if database_unavailable(exc):
        # Raised outside the routes' exception handling (e.g. by a middleware): still a 503.
        log.warning(
            "database_unavailable", path=redact_path(request.url.path), error=type(exc).__name__
        )
        error = database_unavailable_error(request.app.state.settings.db_retry_after_seconds)
        status, body = error.status_code, error_body(error.code, error.message)
        headers.update(error.headers)
    else:
        log.error("unhandled_exception", path=redact_path(request.url.path), exc_info=exc)
        status = 500
        body = error_body("internal_error", "Something went wrong on our side. Retry safely.")
    # A 500 leaves through Starlette's outermost middleware, not RequestContextMiddleware.
    headers.update(
        (k.decode(), v.decode()) for k, v in limit_headers_and_usage(request.scope, status)
    )
    return JsonResponse(body, status_code=status, headers=headers)


async def _root() -> RedirectResponse:
    return RedirectResponse("/console")


async def _docs() -> HTMLResponse:
    return HTMLResponse(DOCS_HTML)


DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>leadgate API explorer</title>
  <link rel="icon" href="/static/swagger/favicon-32x32.png">
  <link rel="stylesheet" href="/static/swagger/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/static/swagger/swagger-ui-bundle.js"></script>
  <script src="/static/swagger/init.js"></script>
</body>
</html>
"""
