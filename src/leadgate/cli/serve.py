"""Running leadgate: the API server and the configuration reference."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from leadgate.cli.common import fail, settings


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
        timeout_keep_alive=config.keep_alive_seconds,
        # SIGTERM: stop accepting, let requests in flight finish (bounded), then the lifespan's
        # shutdown flushes usage counters; undelivered webhooks stay queued in the database.
        timeout_graceful_shutdown=(
            graceful_timeout if graceful_timeout is not None else config.graceful_timeout_seconds
        ),
        **{
            # Served directly (no nginx in front): idle and slow connections are closed, as
            # nginx's keepalive_timeout and client_header_timeout would (docs/operations.md).
            # Terminating TLS itself, leadgate runs the TLS protocol, which reads the client
            # certificate; it has the keep-alive timeout but no deadline for a request's head.
            "http": "leadgate.http_protocol:HeaderTimeoutProtocol",
            **uvicorn_tls_options(ssl_certfile, ssl_keyfile, ssl_ca_certs),
        },
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


def config_docs() -> None:
    """Print the configuration reference (Markdown) generated from the settings class."""
    from leadgate.settings_doc import render

    typer.echo(render(), nl=False)
