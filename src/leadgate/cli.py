"""The `leadgate` command: serve, migrate, provision tenants and manage keys from a terminal."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.api_keys.repository import ApiKeyRepository
from leadgate.api_keys.scopes import ALL_SCOPES
from leadgate.api_keys.service import issue_api_key, revoke_api_key
from leadgate.auth.principal import Principal
from leadgate.db import Database
from leadgate.errors import ApiError
from leadgate.models import ApiKey, Tenant
from leadgate.schemas import iso_utc
from leadgate.settings import Settings
from leadgate.tenants.repository import TenantRepository
from leadgate.tenants.service import provision_tenant
from leadgate.urls import command_path

T = TypeVar("T")
CLI_ACTOR = {"type": "system", "id": "cli", "name": "leadgate CLI"}

app = typer.Typer(help="leadgate: lead intake for CRMs, with a complete API-key lifecycle.")
db_app = typer.Typer(help="Database migrations.")
tenant_app = typer.Typer(help="Tenants (companies / workspaces).")
keys_app = typer.Typer(help="API keys.")
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.add_typer(keys_app, name="keys")
webhooks_app = typer.Typer(help="Webhook endpoints.")  # issue 5
app.add_typer(webhooks_app, name="webhooks")
secrets_app = typer.Typer(help="Server-secret rotation (docs/operations.md).")  # issue 10
app.add_typer(secrets_app, name="secrets")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return Settings()
    except ValueError as error:
        fail(f"invalid settings: {error}")


@asynccontextmanager
async def unit_of_work(config: Settings) -> AsyncIterator[AsyncSession]:
    """The CLI's transaction edge: commit when the command's work succeeds, then tell running
    servers which cached keys the commit changed (the CLI has no key cache of its own)."""
    from leadgate.api_keys.cache import notify_other_processes, pending_invalidations

    database = Database(config)
    try:
        async with database.sessionmaker() as session:
            async with session.begin():
                yield session
                changed = pending_invalidations(session)
            await notify_other_processes(config, changed)
    finally:
        await database.dispose()


def run(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    config = settings()

    async def main() -> T:
        async with unit_of_work(config) as session:
            return await work(session, config)

    try:
        return asyncio.run(main())
    except ApiError as error:
        fail(
            error.message
            + "".join(f"\n  {d.get('field')}: {d.get('message')}" for d in error.details)
        )


def emit(data: Any, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, indent=2) if as_json else text)


# --- serving -------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
    graceful_timeout: Annotated[
        int | None,
        typer.Option(
            "--graceful-timeout",
            help="Seconds requests in flight get to finish after SIGTERM "
            "(default: LEADGATE_GRACEFUL_TIMEOUT_SECONDS).",
        ),
    ] = None,
    ssl_certfile: Annotated[
        str | None, typer.Option("--ssl-certfile", help="Serve HTTPS with this certificate (PEM).")
    ] = None,
    ssl_keyfile: Annotated[
        str | None, typer.Option("--ssl-keyfile", help="The certificate's private key (PEM).")
    ] = None,
    ssl_ca_certs: Annotated[
        str | None,
        typer.Option(
            "--ssl-ca-certs", help="CA bundle for client certificates (mTLS keys); asks for one."
        ),
    ] = None,
) -> None:
    """Serve the API (and the background workers) with uvicorn."""
    import uvicorn

    from leadgate.api_keys.mtls import uvicorn_tls_options

    if (ssl_keyfile or ssl_ca_certs) and not ssl_certfile:
        fail("--ssl-keyfile and --ssl-ca-certs need --ssl-certfile")
    scheme = "https" if ssl_certfile else "http"

    from leadgate.urls import serve_banner, serve_public_url

    if not os.environ.get("LEADGATE_PUBLIC_URL"):
        # Links and printed URLs name the address and port this server really answers on
        # (the uvicorn processes read it from the environment they inherit).
        os.environ["LEADGATE_PUBLIC_URL"] = serve_public_url(scheme, host, port)
    config = settings()
    from leadgate.logging import configure_logging

    configure_logging(config.log_level, json=config.log_format == "json")
    if workers > 1:
        _share_metrics_between_processes()
    typer.echo("\n".join(serve_banner(config)))
    sys.stdout.flush()
    uvicorn.run(
        "leadgate.asgi:app",
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        proxy_headers=False,
        log_level="warning",
        # SIGTERM: stop accepting, let requests in flight finish (bounded), then the lifespan's
        # shutdown flushes usage counters; undelivered webhooks stay queued in the database.
        timeout_graceful_shutdown=(
            graceful_timeout if graceful_timeout is not None else config.graceful_timeout_seconds
        ),
        **uvicorn_tls_options(ssl_certfile, ssl_keyfile, ssl_ca_certs),
    )


def _share_metrics_between_processes() -> None:
    """Several worker processes answer on one port, so `/metrics` must add up all of them:
    prometheus_client's multiprocess mode, in PROMETHEUS_MULTIPROC_DIR (a fresh temporary
    directory unless the operator named one; its files from an earlier run are removed)."""
    import os
    import tempfile

    from leadgate.metrics import MULTIPROC_ENV

    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        for stale in Path(directory).glob("*.db"):
            stale.unlink()
    else:
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="leadgate-metrics-")


@app.command("config-docs")
def config_docs() -> None:
    """Print the configuration reference (Markdown) generated from the settings class."""
    from leadgate.settings_doc import render

    typer.echo(render(), nl=False)


# --- server-secret rotation ----------------------------------------------------------------


@secrets_app.command("status")
def secrets_status(as_json: JsonFlag = False) -> None:
    """How many live API keys and webhook signing secrets are still on an older server secret.

    Remove a secret from LEADGATE_PREVIOUS_SECRET_KEYS only when nothing is left on it: an API
    key not used meanwhile stops working (its plaintext is needed to re-hash it).
    """
    from leadgate.api_keys.service import secret_rotation_status
    from leadgate.webhooks.service import sealed_secrets_status

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        keys = await secret_rotation_status(session, config)
        sealed = await sealed_secrets_status(session, config)
        return {
            "apiKeys": {
                "current": keys.current,
                "previous": keys.previous,
                "unrecorded": keys.unrecorded,
                "unknown": keys.unknown,
                "notCurrent": keys.not_current,
            },
            "webhookSecrets": {
                "current": sealed.current,
                "previous": sealed.previous,
                "unreadable": sealed.unreadable,
            },
        }

    result = run(work)
    keys, sealed = result["apiKeys"], result["webhookSecrets"]
    previous = ", ".join(str(n) for n in keys["previous"]) or "none configured"
    emit(
        result,
        as_json,
        f"API-key secrets under the current server secret: {keys['current']}\n"
        f"  under each previous secret: {previous}\n"
        f"  hashed before the server secret was recorded: {keys['unrecorded']}\n"
        f"  under a secret neither current nor previous: {keys['unknown']}\n"
        f"Webhook signing secrets readable with the current server secret: {sealed['current']}\n"
        f"  only with a previous one (`leadgate secrets rotate-webhooks`): {sealed['previous']}\n"
        f"  unreadable: {sealed['unreadable']}",
    )


@secrets_app.command("rotate-webhooks")
def secrets_rotate_webhooks() -> None:
    """Re-encrypt every webhook signing secret under the current server secret."""
    from leadgate.webhooks.service import reseal_all_secrets

    result = run(reseal_all_secrets)
    typer.echo(
        f"re-encrypted {result.previous} webhook signing secrets "
        f"({result.current} already current, {result.unreadable} unreadable)"
    )
    if result.unreadable:
        fail(
            f"{result.unreadable} signing secrets are readable with neither the current nor a "
            "previous server secret: add the secret they were sealed with to "
            "LEADGATE_PREVIOUS_SECRET_KEYS, or rotate those endpoints' secrets"
        )


# --- db ------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from leadgate.migrate import upgrade

    upgrade(settings(), revision)
    typer.echo(f"database at {revision}")


# `-1` is a revision, not an unknown option.
@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target, e.g. -1 or base.")]) -> None:
    """Revert migrations down to REVISION."""
    from leadgate.migrate import downgrade

    downgrade(settings(), revision)
    typer.echo(f"database at {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and whether it is the newest."""
    from leadgate.migrate import current_revision_of, head_revision

    config = settings()
    current = current_revision_of(config)
    marker = " (head)" if current == head_revision(config) else ""
    typer.echo(f"{current or 'empty'}{marker}")


# --- tenants -------------------------------------------------------------------------------


def tenant_json(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "slug": tenant.slug,
        "name": tenant.name,
        "plan": tenant.plan,
        "createdAt": iso_utc(tenant.created_at),
    }


@tenant_app.command("create")
def tenant_create(
    slug: Annotated[str, typer.Argument(help="Subdomain-safe id: a-z, 0-9, '-'.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    plan: Annotated[str, typer.Option(help="Plan name.")] = "free",
    key_prefix: Annotated[
        str | None,
        typer.Option("--key-prefix", help="The tenant's own key prefix (snap, hcrm, …)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a tenant and its first key (every scope). The key is printed this once."""

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        provisioned = await provision_tenant(
            session, config, slug=slug, name=name, plan=plan, key_prefix=key_prefix
        )
        return {
            "tenant": tenant_json(provisioned.tenant),
            "apiKey": {"id": provisioned.first_key.key.id, "key": provisioned.first_key.plaintext},
        }

    result = run(work)
    emit(
        result,
        as_json,
        f"Created tenant {result['tenant']['slug']} ({result['tenant']['id']}).\n"
        f"API key ({result['apiKey']['id']}), shown only this once:\n\n"
        f"    {result['apiKey']['key']}\n",
    )


@tenant_app.command("list")
def tenant_list(as_json: JsonFlag = False) -> None:
    """List tenants."""

    async def work(session: AsyncSession, _config: Settings) -> list[dict[str, Any]]:
        return [tenant_json(t) for t in await TenantRepository(session).list()]

    tenants = run(work)
    lines = [f"{t['slug']:<24} {t['id']}  {t['name']}" for t in tenants] or ["(no tenants)"]
    emit(tenants, as_json, "\n".join(lines))


@tenant_app.command("demo")
def tenant_demo(slug: Annotated[str, typer.Option(help="Demo tenant slug.")] = "demo") -> None:
    """Provision a demo tenant on first run and print its key; later runs say it exists."""

    async def work(session: AsyncSession, config: Settings) -> str | None:
        if await TenantRepository(session).by_slug(slug) is not None:
            return None
        provisioned = await provision_tenant(session, config, slug=slug, name="Demo Company")
        return provisioned.first_key.plaintext

    key = run(work)
    if key is None:
        typer.echo(
            f"Tenant '{slug}' exists; its first key was printed when it was created. "
            f"New key: {command_path()} keys create --tenant {slug} --name NAME --scope leads:write"
        )
    else:
        typer.echo(f"Created tenant '{slug}'. Its API key, shown only this once:\n\n    {key}\n")


async def _tenant_by_slug(session: AsyncSession, slug: str) -> Tenant:
    tenant = await TenantRepository(session).by_slug(slug)
    if tenant is None:
        fail(f"no tenant {slug!r}")
    return tenant


# --- keys ----------------------------------------------------------------------------------


def key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "hint": key.hint,
        "permissions": list(key.scopes),
        "expirationDate": iso_utc(key.expires_at) if key.expires_at else None,
        "createdAt": iso_utc(key.created_at),
        "lastUsedAt": iso_utc(key.last_used_at) if key.last_used_at else None,
        "lastUsedIp": key.last_used_ip,
        "revokedAt": iso_utc(key.revoked_at) if key.revoked_at else None,
        "tenantId": key.tenant_id,
    }


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    name: Annotated[str, typer.Option("--name", help="Unique name in the tenant.")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help=f"Repeat; one of {', '.join(ALL_SCOPES)}.")
    ] = None,
    expires_in_days: Annotated[
        int | None, typer.Option("--expires-in-days", help="30, 60, 90, 180 or 365.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an API key; the key is printed this once."""
    if not scope:
        fail("give at least one --scope")

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        found = await _tenant_by_slug(session, tenant)
        issued = await issue_api_key(
            session,
            config,
            tenant_id=found.id,
            name=name,
            scopes=list(scope),
            expiration_in_days=expires_in_days,
            created_by=CLI_ACTOR,
        )
        return {**key_json(issued.key), "apiKey": issued.plaintext}

    result = run(work)
    emit(
        result,
        as_json,
        f"Created key {result['id']} ({result['name']}), shown only this once:\n\n"
        f"    {result['apiKey']}\n",
    )


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    as_json: JsonFlag = False,
) -> None:
    """List a tenant's keys (never their secrets)."""

    async def work(session: AsyncSession, _config: Settings) -> list[dict[str, Any]]:
        found = await _tenant_by_slug(session, tenant)
        return [key_json(k) for k in await ApiKeyRepository(session, found.id).list()]

    keys = run(work)
    lines = [
        f"{k['id']}  {k['hint']}…  {k['name']:<24} "
        f"{'revoked' if k['revokedAt'] else 'active':<8} {' '.join(k['permissions'])}"
        for k in keys
    ]
    emit(keys, as_json, "\n".join(lines) or "(no keys)")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_…).")]) -> None:
    """Revoke a key at once."""

    async def work(session: AsyncSession, _config: Settings) -> ApiKey:
        tenant_id = await _key_tenant(session, key_id)
        return await revoke_api_key(session, tenant_id=tenant_id, key_id=key_id, actor=CLI_ACTOR)

    key = run(work)
    typer.echo(f"Revoked {key.id} ({key.name}).")


# --- issue 3: keys roll / show / update ----------------------------------------------------


async def _key_tenant(session: AsyncSession, key_id: str) -> str:
    from leadgate.api_keys.repository import KeyOwnerRepository

    tenant_id = await KeyOwnerRepository(session).tenant_of(key_id)
    if tenant_id is None:
        fail(f"no API key {key_id}")
    return tenant_id


def _key_text(data: dict[str, Any]) -> str:
    access = data["accountsAccess"]
    teams = "all teams" if access["scope"] == "all-accounts" else ", ".join(access["ids"])
    lines = [
        f"{data['id']}  {data['name']}  ({data['status']})",
        f"  hint:        {data['hint']}…",
        f"  permissions: {' '.join(data['permissions'])}",
        f"  teams:       {teams}",
        f"  expires:     {data['expirationDate'] or 'never'}",
        f"  rate limit:  {data['rateLimitPerMinute'] or 'default'}/min"
        f", monthly quota: {data['monthlyQuota'] or 'none'}",
        f"  mTLS:        {'enforced' if data['enforceMtls'] else 'off'}",
        f"  last used:   {data['lastUsedAt'] or 'never'} from {data['lastUsedIp'] or '-'}",
        f"  created by:  {data['createdBy'].get('name') or data['createdBy'].get('id')}",
    ]
    return "\n".join(lines)


@keys_app.command("show")
def keys_show(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…).")],
    as_json: JsonFlag = False,
) -> None:
    """Show a key (never its secret)."""
    from leadgate.api_keys.service import get_api_key, key_public

    async def work(session: AsyncSession, _config: Settings) -> dict[str, Any]:
        tenant_id = await _key_tenant(session, key_id)
        return key_public(await get_api_key(session, tenant_id, key_id))

    data = run(work)
    emit(data, as_json, _key_text(data))


@keys_app.command("roll")
def keys_roll(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…).")],
    grace_minutes: Annotated[
        int,
        typer.Option(
            "--grace-minutes", min=0, max=10080, help="How long the old secret keeps working."
        ),
    ] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Give a key a new secret (printed this once); the old one works for the grace period."""
    from leadgate.api_keys.service import OPERATOR, key_public, roll_api_key

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        tenant_id = await _key_tenant(session, key_id)
        issued = await roll_api_key(
            session,
            config,
            tenant_id=tenant_id,
            key_id=key_id,
            grace_period_minutes=grace_minutes,
            grantor=OPERATOR,
        )
        return {**key_public(issued.key), "apiKey": issued.plaintext}

    result = run(work)
    ends = "at once" if grace_minutes == 0 else f"in {grace_minutes} minutes"
    emit(
        result,
        as_json,
        f"Rolled {result['id']} ({result['name']}). The old secret stops working {ends}.\n"
        f"New key, shown only this once:\n\n    {result['apiKey']}\n",
    )


@keys_app.command("update")
def keys_update(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…).")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="Repeat; replaces the key's permissions."),
    ] = None,
    rate_limit: Annotated[
        int | None, typer.Option("--rate-limit", min=1, help="Requests per minute.")
    ] = None,
    monthly_quota: Annotated[
        int | None, typer.Option("--monthly-quota", min=1, help="Requests per month.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="New name.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a key's permissions, rate limit, quota or name; effective without reissuing."""
    from leadgate.api_keys.service import OPERATOR, KeyChanges, key_public, update_api_key

    fields = {"rate_limit_per_minute"} if rate_limit is not None else set()
    if monthly_quota is not None:
        fields.add("monthly_quota")
    if not (scope or fields or name):
        fail("give --scope, --rate-limit, --monthly-quota or --name")

    async def work(session: AsyncSession, _config: Settings) -> dict[str, Any]:
        tenant_id = await _key_tenant(session, key_id)
        changes = KeyChanges(
            name=name,
            scopes=list(scope) if scope else None,
            rate_limit_per_minute=rate_limit,
            monthly_quota=monthly_quota,
            fields=frozenset(fields),
        )
        key = await update_api_key(
            session, tenant_id=tenant_id, key_id=key_id, changes=changes, grantor=OPERATOR
        )
        return key_public(key)

    data = run(work)
    emit(data, as_json, "Updated.\n" + _key_text(data))


# --- issue 4: usage ------------------------------------------------------------------------


@app.command("usage")
def usage(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    key: Annotated[str | None, typer.Option("--key", help="Only this key (key_…).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a tenant's (or one key's) usage: this hour, this month, the most-called endpoints."""
    from leadgate.usage.service import usage_report

    async def work(session: AsyncSession, _config: Settings) -> dict[str, Any]:
        found = await _tenant_by_slug(session, tenant)
        report = await usage_report(session, found.id, key_id=key)
        return report.model_dump(mode="json", by_alias=True)

    report = run(work)
    hour, month = report["currentHour"], report["currentMonth"]

    def line(label: str, counts: dict[str, Any]) -> str:
        return (
            f"{label:<14} {counts['total']:>8} requests  {counts['success']:>8} ok  "
            f"{counts['clientErrors']:>6} 4xx  {counts['rateLimited']:>6} 429  "
            f"{counts['serverErrors']:>6} 5xx"
        )

    lines = [
        f"Usage of {tenant}" + (f", key {key}" if key else "") + " (UTC):",
        line("this hour", hour),
        line("this month", month),
        "",
        "Most-called endpoints (90 days):",
    ]
    lines += [line(f"  {e['method']} {e['route']}", e) for e in report["topEndpoints"]] or [
        "  (none)"
    ]
    emit(report, as_json, "\n".join(lines))


# --- issue 5: webhooks ---------------------------------------------------------------------


@app.command()
def worker(
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", help="Serve this worker's Prometheus metrics on this port."),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option("--metrics-host", help="Address of the metrics port.")
    ] = "127.0.0.1",
) -> None:
    """Deliver webhooks until SIGTERM/SIGINT (attempts in flight are finished first).

    Run any number of these next to `leadgate serve` with LEADGATE_WEBHOOKS_WORKER_ENABLED=false.
    """
    import signal

    from leadgate.logging import configure_logging
    from leadgate.webhooks.worker import WebhookWorker

    config = settings()
    configure_logging(config.log_level, json=config.log_format == "json")
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host)

    async def main() -> None:
        database = Database(config)
        webhook_worker = WebhookWorker(database, config)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, webhook_worker.stop)
        typer.echo("leadgate webhook worker started", err=True)
        try:
            await webhook_worker.run()
        finally:
            await database.dispose()
        typer.echo("leadgate webhook worker stopped", err=True)

    asyncio.run(main())


@webhooks_app.command("list")
def webhooks_list(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    as_json: JsonFlag = False,
) -> None:
    """List a tenant's webhook endpoints (never their secrets)."""
    from leadgate.webhooks.service import endpoint_out, list_endpoints

    async def work(session: AsyncSession, _config: Settings) -> list[dict[str, Any]]:
        found = await _tenant_by_slug(session, tenant)
        return [
            endpoint_out(e).model_dump(mode="json", by_alias=True)
            for e in await list_endpoints(session, found.id)
        ]

    endpoints = run(work)
    lines = [
        f"{e['id']}  {'enabled ' if e['enabled'] else 'disabled'}  {e['url']}  "
        f"{' '.join(e['eventTypes'] or ['(all events)'])}"
        for e in endpoints
    ]
    emit(endpoints, as_json, "\n".join(lines) or "(no webhook endpoints)")


@webhooks_app.command("test")
def webhooks_test(
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint's id (whep_…).")],
    as_json: JsonFlag = False,
) -> None:
    """Send a signed `webhook.test` event to an endpoint now and show the result."""
    from leadgate.webhooks.delivery import new_client
    from leadgate.webhooks.repository import WebhookQueueRepository
    from leadgate.webhooks.service import send_test

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        tenant_id = await WebhookQueueRepository(session).tenant_of_endpoint(endpoint_id)
        if tenant_id is None:
            fail(f"no webhook endpoint {endpoint_id}")
        async with new_client(config) as client:
            result = await send_test(
                session, config, client, tenant_id=tenant_id, endpoint_id=endpoint_id
            )
        return result.model_dump(mode="json", by_alias=True)

    result = run(work)
    response = result["response"]
    status = response["statusCode"] if response["statusCode"] is not None else result["error"]
    emit(
        result,
        as_json,
        f"{'delivered' if result['success'] else 'FAILED'}: {status} in {response['latencyMs']} ms"
        f" (event {result['eventId']})\n{response['body'] or ''}",
    )
    if not result["success"]:
        raise typer.Exit(1)


# --- issue 6: tenant settings; leads export, import and purge -------------------------------

leads_app = typer.Typer(help="Leads: CSV export and import, purging deleted leads.")
app.add_typer(leads_app, name="leads")
TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant slug.")]


@tenant_app.command("update")
def tenant_update(
    slug: Annotated[str, typer.Argument(help="The tenant's slug.")],
    duplicate_policy: Annotated[
        str | None,
        typer.Option("--duplicate-policy", help="reject (409), allow, or merge duplicates."),
    ] = None,
    phone_region: Annotated[
        str | None, typer.Option("--phone-region", help="Default phone region, e.g. GB.")
    ] = None,
    key_prefix: Annotated[
        str | None,
        typer.Option(
            "--key-prefix",
            help="Prefix of keys issued from now on (snap, hcrm; '' for the deployment's). "
            "Keys issued earlier keep theirs and keep working.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a tenant's settings."""
    from leadgate.tenants.service import key_prefix_of, update_tenant

    async def work(session: AsyncSession, config: Settings) -> dict[str, Any]:
        tenant = await update_tenant(
            session,
            slug,
            duplicate_policy=duplicate_policy,
            phone_region=phone_region,
            key_prefix=key_prefix,
        )
        return {
            **tenant_json(tenant),
            "duplicatePolicy": tenant.duplicate_policy,
            "phoneRegion": tenant.phone_region,
            "keyPrefix": key_prefix_of(tenant) or config.key_prefix,
        }

    result = run(work)
    emit(
        result,
        as_json,
        f"{result['slug']}: duplicate policy {result['duplicatePolicy']}, "
        f"phone region {result['phoneRegion'] or '(deployment default)'}, "
        f"key prefix {result['keyPrefix']}",
    )


def cli_principal(tenant: Tenant) -> Principal:
    """The CLI acts in a tenant with every scope and no team limit."""
    return Principal(
        tenant_id=tenant.id,
        tenant_slug=tenant.slug,
        api_key_id="cli",
        api_key_name="leadgate CLI",
        scopes=frozenset(ALL_SCOPES),
        phone_region=tenant.phone_region,
        duplicate_policy=tenant.duplicate_policy,
    )


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@leads_app.command("export")
def leads_export(
    tenant: TenantOption,
    status: Annotated[str | None, typer.Option(help="Only leads with this status.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only leads with this tag (id or name).")] = None,
    team_id: Annotated[str | None, typer.Option("--team-id", help="Only this team.")] = None,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    q: Annotated[str | None, typer.Option("--q", help="Text in name/email/company/phone.")] = None,
    created_after: Annotated[
        datetime | None, typer.Option("--created-after", help="Inclusive; UTC if no offset.")
    ] = None,
    created_before: Annotated[
        datetime | None, typer.Option("--created-before", help="Exclusive; UTC if no offset.")
    ] = None,
) -> None:
    """Write the tenant's leads as CSV to stdout (`> leads.csv`), newest first."""
    from leadgate.leads.csv_format import stream_csv
    from leadgate.leads.service import lead_filters

    config = settings()

    async def main() -> None:
        database = Database(config)
        try:
            async with database.sessionmaker() as session:
                found = await _tenant_by_slug(session, tenant)
                filters = await lead_filters(
                    session,
                    cli_principal(found),
                    status=status,
                    tag=tag,
                    team_id=team_id,
                    source=source,
                    q=q,
                    created_after=_utc(created_after),
                    created_before=_utc(created_before),
                )
            async for chunk in stream_csv(database, found.id, filters, config.export_batch_size):
                sys.stdout.write(chunk)
        finally:
            await database.dispose()

    asyncio.run(main())
    sys.stdout.flush()


@leads_app.command("import")
def leads_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with a header row (the export's columns).", exists=True, dir_okay=False
        ),
    ],
    tenant: TenantOption,
    on_duplicate: Annotated[
        str | None,
        typer.Option(
            "--on-duplicate",
            help="reject or merge; default: the tenant's policy (allow imports as reject, so "
            "a re-run never doubles a lead).",
        ),
    ] = None,
) -> None:
    """Import leads from CSV through the API's validation and duplicate rules."""
    import csv

    from leadgate.leads.csv_format import COLUMNS, import_rows

    if on_duplicate not in (None, "reject", "merge"):
        fail("--on-duplicate must be reject or merge")
    # utf-8-sig: spreadsheets often start a CSV with a byte-order mark.
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    unknown = sorted(set(reader.fieldnames or ()) - set(COLUMNS))
    if unknown or not {"firstName", "lastName"} <= set(reader.fieldnames or ()):
        fail(
            "the header must name firstName and lastName"
            + (f"; unknown columns: {', '.join(unknown)}" if unknown else "")
            + f"\n  columns: {', '.join(COLUMNS)}"
        )
    config = settings()

    async def main(progress: Any) -> Any:
        database = Database(config)
        try:
            async with database.sessionmaker() as session:
                found = await _tenant_by_slug(session, tenant)
            policy = on_duplicate or ("merge" if found.duplicate_policy == "merge" else "reject")
            return await import_rows(
                database,
                cli_principal(found),
                rows,
                policy=policy,  # type: ignore[arg-type]
                created_by=CLI_ACTOR,
                default_region=config.default_phone_region,
                on_progress=progress,
            )
        finally:
            await database.dispose()

    with typer.progressbar(length=len(rows), label="Importing", file=sys.stderr) as bar:
        report = asyncio.run(main(bar.update))
    for line, message in report.errors:
        typer.echo(f"row {line}: {message}", err=True)
    typer.echo(
        f"{len(rows)} rows: {report.created} created, {report.merged} merged, "
        f"{report.duplicate} duplicates, {report.invalid} invalid"
    )
    if report.invalid:
        raise typer.Exit(1)


@leads_app.command("purge")
def leads_purge(
    older_than_days: Annotated[
        float | None,
        typer.Option("--older-than-days", help="Default: LEADGATE_LEAD_RETENTION_DAYS."),
    ] = None,
) -> None:
    """Delete for good the leads deleted longer ago than the retention period, and expired
    idempotency records (the server also does this every LEADGATE_HOUSEKEEPING_INTERVAL_SECONDS)."""
    from leadgate.housekeeping import purge_once

    config = settings()

    async def main() -> Any:
        database = Database(config)
        try:
            return await purge_once(database, config, retention_days=older_than_days)
        finally:
            await database.dispose()

    purged = asyncio.run(main())
    typer.echo(
        f"Purged {purged.leads} deleted leads and {purged.idempotency_records} expired "
        "idempotency records."
    )


# --- teams ---------------------------------------------------------------------------------

teams_app = typer.Typer(help="Teams: sub-accounts of a tenant (leads and keys limited to them).")
app.add_typer(teams_app, name="teams")
TenantSlug = Annotated[str, typer.Option("--tenant", help="Tenant slug.")]


def _team_line(team: dict[str, Any]) -> str:
    return f"{team['id']}  {team['name']:<30} leads {team['leadCount']:<6} keys {team['keyCount']}"


@teams_app.command("list")
def teams_list(tenant: TenantSlug, as_json: JsonFlag = False) -> None:
    """List a tenant's teams, with their live leads and keys."""
    from leadgate.teams.service import list_teams

    async def work(session: AsyncSession, _config: Settings) -> list[dict[str, Any]]:
        found = await _tenant_by_slug(session, tenant)
        listed = await list_teams(session, found.id)
        return [t.model_dump(mode="json", by_alias=True) for t in listed.data]

    teams = run(work)
    emit(teams, as_json, "\n".join(_team_line(t) for t in teams) or "(no teams)")


@teams_app.command("create")
def teams_create(
    name: Annotated[str, typer.Argument(help="Unique in the tenant.")],
    tenant: TenantSlug,
    as_json: JsonFlag = False,
) -> None:
    """Create a team."""
    from leadgate.teams.service import create_team, team_public

    async def work(session: AsyncSession, _config: Settings) -> dict[str, Any]:
        found = await _tenant_by_slug(session, tenant)
        team = await create_team(session, tenant_id=found.id, name=name, actor=CLI_ACTOR)
        return team_public(team)

    team = run(work)
    emit(team, as_json, f"Created team {team['name']} ({team['id']}).")


@teams_app.command("rename")
def teams_rename(
    team_id: Annotated[str, typer.Argument(help="team_…")],
    name: Annotated[str, typer.Argument(help="The new name.")],
    tenant: TenantSlug,
    as_json: JsonFlag = False,
) -> None:
    """Rename a team."""
    from leadgate.teams.service import rename_team

    async def work(session: AsyncSession, _config: Settings) -> dict[str, Any]:
        found = await _tenant_by_slug(session, tenant)
        team = await rename_team(
            session, tenant_id=found.id, team_id=team_id, name=name, actor=CLI_ACTOR
        )
        return team.model_dump(mode="json", by_alias=True)

    team = run(work)
    emit(team, as_json, f"Renamed {team['id']} to {team['name']}.")


@teams_app.command("delete")
def teams_delete(
    team_id: Annotated[str, typer.Argument(help="team_…")],
    tenant: TenantSlug,
    move_to: Annotated[
        str | None,
        typer.Option(
            "--move-to", help="Team that takes over its leads and keys (required if any)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Delete a team; one with leads or keys needs --move-to."""
    from leadgate.teams.service import delete_team

    async def work(session: AsyncSession, _config: Settings) -> dict[str, Any]:
        found = await _tenant_by_slug(session, tenant)
        deleted = await delete_team(
            session, tenant_id=found.id, team_id=team_id, move_to=move_to, actor=CLI_ACTOR
        )
        return deleted.model_dump(mode="json", by_alias=True)

    result = run(work)
    moved = f"; {result['leadsMoved']} leads moved to {result['movedTo']}" if move_to else ""
    emit(result, as_json, f"Deleted team {result['id']}{moved}.")
