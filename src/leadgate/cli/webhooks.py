"""`leadgate webhooks` and `leadgate worker`: webhook endpoints and their delivery."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from leadgate.cli.common import JsonFlag, TenantOption, emit, fail, run, settings, tenant_by_slug
from leadgate.db import Database
from leadgate.settings import Settings

app = typer.Typer(help="Webhook endpoints.")


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


@app.command("list")
def webhooks_list(
    tenant: TenantOption,
    as_json: JsonFlag = False,
) -> None:
    """List a tenant's webhook endpoints (never their secrets)."""
    from leadgate.webhooks.service import endpoint_out, list_endpoints

    async def work(session: AsyncSession, _config: Settings) -> list[dict[str, Any]]:
        found = await tenant_by_slug(session, tenant)
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


@app.command("test")
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
