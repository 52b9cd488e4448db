"""Test fixtures: leadgate served for real over HTTP, once per backend (SQLite; PostgreSQL + Redis).

Each backend gets a fresh database migrated to head by Alembic and a uvicorn server on a loopback
port, run in a thread of this process so coverage sees the server code. Tests isolate themselves
by creating their own tenant. Under `CI=true` a missing PostgreSQL or Redis fails the run instead
of skipping the backend.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
import hypothesis
import pytest
import sqlalchemy as sa
import structlog
import uvicorn
from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner, Result

from leadgate.app import create_app
from leadgate.auth.dependencies import authenticated
from leadgate.auth.principal import Principal
from leadgate.context import current_request_id
from leadgate.db import Session
from leadgate.errors import Conflict
from leadgate.events.service import emit
from leadgate.logging import configure_logging
from leadgate.migrate import upgrade
from leadgate.settings import Settings

T = TypeVar("T")

# Property tests: repeatable in CI, and no per-example deadline (the machine's two cores are shared
# with the servers under test). `HYPOTHESIS_PROFILE=long` explores far more examples.
hypothesis.settings.register_profile("leadgate", deadline=None, derandomize=True)
hypothesis.settings.register_profile("long", deadline=None, max_examples=5000)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "leadgate"))

PG_ADMIN_DSN = os.environ.get("LEADGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LEADGATE_TEST_REDIS", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_SECRET = "test-secret-" + "x" * 40
BASE_DOMAIN = "localtest.me"
BACKENDS = [b for b in os.environ.get("LEADGATE_TEST_BACKENDS", "sqlite,postgres").split(",") if b]
# Short webhook timings for every test server: retries in milliseconds, not hours.
WEBHOOK_TEST_SETTINGS: dict[str, Any] = {
    "webhooks_poll_seconds": 0.05,
    "webhooks_retry_schedule": [0.05] * 5,
    "webhooks_timeout_seconds": 2.0,
    "webhooks_lease_seconds": 3.0,
    "webhooks_retry_after_max_seconds": 1.5,
}


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, port: int) -> None:
    if reachable(url, port):
        return
    message = f"{name} at {url} is unreachable"
    if IN_CI:
        pytest.fail(f"{message}; CI requires it (see DEVELOPERS.md)", pytrace=False)
    pytest.skip(message)


class ServerThread:
    """uvicorn serving an app on a loopback port, in a thread with its own event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        # proxy_headers off, as `leadgate serve` runs it: uvicorn would otherwise rewrite the
        # client address from X-Forwarded-For itself (leadgate does that, for trusted proxies).
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, log_level="warning", access_log=False, lifespan="on", proxy_headers=False
            )
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="leadgate-server")

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            await self.server.serve(sockets=[self.sock])

        asyncio.run(main())

    def start(self) -> None:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return
            if not self.thread.is_alive():
                raise RuntimeError("server thread died")
            threading.Event().wait(0.01)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        """Asks uvicorn to shut down and waits for the lifespan's shutdown work (the final
        flushes) to finish: a loaded machine may take a while, but never forever."""
        self.server.should_exit = True
        self.thread.join(timeout=60)
        if self.thread.is_alive():
            raise RuntimeError("the test server did not stop within 60 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Backend:
    """One running leadgate and the database behind it."""

    name: str
    settings: Settings
    server: ServerThread
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def app(self) -> FastAPI:
        return self.server.app

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs a coroutine on the server's loop (where its engine lives) and returns its result."""
        assert self.server.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.server.loop).result(timeout=60)

    def transaction(self, work: Callable[[AsyncSession], Coroutine[Any, Any, T]]) -> T:
        """Runs `work` in a committed transaction on the server's database."""

        async def wrapper() -> T:
            async with self.app.state.database.sessionmaker() as session, session.begin():
                return await work(session)

        return self.run(wrapper())

    def env(self) -> dict[str, str]:
        """Environment for a CLI or subprocess that must share this backend."""
        env = {
            "LEADGATE_DATABASE_URL": self.settings.resolved_database_url,
            "LEADGATE_SECRET_KEY": TEST_SECRET,
            "LEADGATE_DATA_DIR": str(self.settings.data_dir),
            "LEADGATE_ENVIRONMENT": "test",
            "LEADGATE_BASE_DOMAIN": BASE_DOMAIN,
            "LEADGATE_WEBHOOKS_POLL_SECONDS": str(self.settings.webhooks_poll_seconds),
            "LEADGATE_WEBHOOKS_RETRY_SCHEDULE": json.dumps(self.settings.webhooks_retry_schedule),
            "LEADGATE_WEBHOOKS_TIMEOUT_SECONDS": str(self.settings.webhooks_timeout_seconds),
            "LEADGATE_WEBHOOKS_LEASE_SECONDS": str(self.settings.webhooks_lease_seconds),
            "LEADGATE_WEBHOOKS_RETRY_AFTER_MAX_SECONDS": str(
                self.settings.webhooks_retry_after_max_seconds
            ),
        }
        if self.settings.redis_url:
            env["LEADGATE_REDIS_URL"] = self.settings.redis_url
            env["LEADGATE_REDIS_PREFIX"] = self.settings.redis_prefix
        return env


async def pg_admin(sql: str) -> None:
    """Runs one statement on the PostgreSQL admin database (CREATE/DROP DATABASE)."""
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _drop_redis_prefix(prefix: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def pg_url(database: str) -> str:
    parts = urlsplit(PG_ADMIN_DSN)
    return f"postgresql+asyncpg://{parts.netloc}/{database}"


def add_test_routes(app: FastAPI) -> None:
    """Routes that exist only in tests, to exercise failure paths no real route should have."""

    async def boom() -> None:
        raise RuntimeError("secret internals: SELECT * FROM api_keys")

    app.add_api_route("/__test__/boom", boom, include_in_schema=False)

    async def bad_sql(session: Session) -> None:
        # A statement the database rejects: a bug (500), not the database being away (503).
        await session.execute(sa.text("SELECT no_such_column FROM no_such_table"))

    app.add_api_route("/__test__/bad-sql", bad_sql, include_in_schema=False)

    async def emit_then_fail(tenant_id: str, session: Session) -> None:
        # An event written, then an error: the request's rollback must take the event with it.
        await emit(session, tenant_id, "lead.created", {"id": "lead_rolled_back"})
        raise Conflict("failed after the event was written")

    app.add_api_route(
        "/__test__/emit-then-fail", emit_then_fail, methods=["POST"], include_in_schema=False
    )

    async def log_inside_request(_principal: Annotated[Principal, Depends(authenticated)]) -> None:
        # An application log line (not the access log) made while an authenticated request runs.
        structlog.get_logger("leadgate.tests").info("inside_request", marker="log-context")

    app.add_api_route("/__test__/log", log_inside_request, include_in_schema=False)

    async def db_error(request: Request, session: Session) -> None:
        # A failing statement with a bound value: its error is logged; the value must not be.
        value = request.headers.get("x-value", "")
        await session.execute(sa.text("SELECT * FROM no_such_table WHERE x = :v"), {"v": value})

    app.add_api_route("/__test__/db-error", db_error, include_in_schema=False)

    async def db_number_error(request: Request, session: Session) -> None:
        # A number its column cannot hold, refused by the driver, whose message quotes it.
        number = int(request.headers.get("x-number", "0"))
        await session.execute(sa.text("SELECT CAST(:v AS INTEGER)"), {"v": number})

    app.add_api_route("/__test__/db-number-error", db_number_error, include_in_schema=False)


def make_settings(name: str, data_dir: Any, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "data_dir": data_dir,
        "secret_key": TEST_SECRET,
        "base_domain": BASE_DOMAIN,
        "access_log": True,
        "last_used_flush_seconds": 0.2,
        # Every test calls from 127.0.0.1: only the throttle's own tests use a low limit.
        "auth_failure_limit": 100_000,
        "leak_report_limit_per_minute": 100_000,
        "body_timeout_seconds": 5.0,  # tests/test_hostile_input.py trickles a body
        "usage_flush_seconds": 0.2,
        **WEBHOOK_TEST_SETTINGS,
    }
    if name == "postgres":
        values["database_url"] = overrides.pop("database_url")
        values["redis_url"] = REDIS_URL
        values["redis_prefix"] = overrides.pop("redis_prefix")
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session", autouse=True)
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every log line the in-process servers write, in one file per test worker (never stdout,
    which the CLI tests capture)."""
    path = tmp_path_factory.mktemp("logs") / "leadgate.log"
    with path.open("a", buffering=1) as stream:
        configure_logging("INFO", stream=stream)
        yield path


@contextmanager
def app_server(backend: Backend, **overrides: Any) -> Iterator[ServerThread]:
    """Another leadgate app on the backend's database, its settings changed by `overrides`,
    served in a thread for the block."""
    from leadgate.app import create_app

    server = ServerThread(create_app(backend.settings.model_copy(update=overrides)))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def running_backend(name: str, data_dir: Any, **settings_overrides: Any) -> Iterator[Backend]:
    """A fresh, migrated database for `name` and a leadgate server on it."""
    cleanups: list[Coroutine[Any, Any, None]] = []
    overrides: dict[str, Any] = dict(settings_overrides)
    if name == "postgres":
        require_service("PostgreSQL", PG_ADMIN_DSN, 5432)
        require_service("Redis", REDIS_URL, 6379)
        database = f"lg_test_{uuid.uuid4().hex[:12]}"
        asyncio.run(pg_admin(f'CREATE DATABASE "{database}"'))
        prefix = f"lgtest:{uuid.uuid4().hex[:8]}:"
        overrides.update(database_url=pg_url(database), redis_prefix=prefix)
        cleanups = [
            pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'),
            _drop_redis_prefix(prefix),
        ]
    settings = make_settings(name, data_dir, **overrides)
    upgrade(settings)
    app = create_app(settings)
    add_test_routes(app)
    server = ServerThread(app)
    server.start()
    try:
        yield Backend(name=name, settings=settings, server=server)
    finally:
        server.stop()
        for cleanup in cleanups:
            asyncio.run(cleanup)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    name = request.param
    with running_backend(name, tmp_path_factory.mktemp(f"data-{name}")) as running:
        yield running


class QueryRecorder:
    """Counts the SQL statements the server's engine sends (warehouse's `query_recorder`)."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.recording = False

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Only statements made while handling a request: background tasks (the last-used
        # flush) have no request id in their context.
        if self.recording and current_request_id() is not None:
            self.statements.append(statement)

    def __enter__(self) -> QueryRecorder:
        self.statements.clear()
        self.recording = True
        return self

    def __exit__(self, *_exc: object) -> None:
        self.recording = False


@pytest.fixture
def query_recorder(backend: Backend) -> Iterator[QueryRecorder]:
    import sqlalchemy as sa

    recorder = QueryRecorder()
    engine = backend.app.state.database.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", recorder)
    # Statements run on the driver's connection (a lead's one-round-trip write): counted here.
    observers = backend.app.state.database.observers

    def observe(statement: str) -> None:
        recorder(None, None, statement)

    observers.append(observe)
    try:
        yield recorder
    finally:
        sa.event.remove(engine, "before_cursor_execute", recorder)
        observers.remove(observe)


@pytest.fixture
def client(backend: Backend) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=backend.url, timeout=30) as http:
        yield http


class Cli(Protocol):
    """Runs the `leadgate` CLI in-process with these arguments (the `cli` fixture)."""

    def __call__(self, *args: str) -> Result: ...


@pytest.fixture
def cli(backend: Backend) -> Cli:
    """Runs the `leadgate` CLI in-process against this backend's database."""
    from leadgate.cli import app

    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args), env=backend.env(), catch_exceptions=False)

    return invoke
