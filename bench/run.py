"""Intake benchmark: the reference floor vs leadgate, on PostgreSQL + Redis and on SQLite.

One server process pinned to CPU 0, wrk pinned to CPU 1 (32 connections, a warm-up, then a
measured run). Prints a table and writes it as JSON to bench/results/. See bench/README.md.

    .venv/bin/python bench/run.py                 # everything (about 8 minutes)
    .venv/bin/python bench/run.py --duration 5    # a quicker look
    .venv/bin/python bench/run.py --no-big        # without 10,000 keys and 1,000,000 leads
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
CLK_TCK = os.sysconf("SC_CLK_TCK")
HAS_TASKSET = shutil.which("taskset") is not None


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    server_cpu_pct: float
    requests: int
    cpu_us_per_request: float = 0.0
    ratio_to_reference: float | None = None
    ratio_to_best_intake: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cpu: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if HAS_TASKSET else command


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def pg_execute(sql: str, database: str | None = None) -> None:
    import asyncpg

    dsn = PG_ADMIN if database is None else PG_ADMIN.rsplit("/", 1)[0] + "/" + database
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


class Server:
    def __init__(
        self, command: list[str], env: dict[str, str], port: int, log: Path, cpu: int | None = 0
    ) -> None:
        """`command` pinned to `cpu` (None: not pinned), up when this returns."""
        self.port = port
        self.log = log.open("w")
        self.process = subprocess.Popen(
            pinned(cpu, command) if cpu is not None else command,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
                return
            except httpx.TransportError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited; see {log}") from None
                time.sleep(0.2)
        raise RuntimeError(f"server did not start; see {log}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def wrk(
    port: int,
    script: str,
    seconds: int,
    env: dict[str, str],
    connections: int = 32,
    cpu: int | None = 1,
) -> dict[str, Any]:
    """One wrk run (one thread, `connections` connections, pinned to `cpu` unless None)."""
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(BENCH / script),
        f"http://127.0.0.1:{port}",
    ]
    command = pinned(cpu, command) if cpu is not None else command
    output = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"BENCH_JSON (\{.*\})", output)
    if match is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    return dict(json.loads(match.group(1)))


def measure(
    name: str, server: Server, script: str, env: dict[str, str], args: argparse.Namespace
) -> Result:
    wrk(server.port, script, args.warmup, env)
    before = cpu_seconds(server.process.pid)
    started = time.monotonic()
    summary = wrk(server.port, script, args.duration, env)
    elapsed = time.monotonic() - started
    cpu = (cpu_seconds(server.process.pid) - before) / elapsed * 100
    seconds = summary["duration_us"] / 1e6
    socket_errors = sum(
        summary[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_timeout")
    )
    result = Result(
        name=name,
        requests_per_s=round(summary["requests"] / seconds, 1),
        p50_ms=summary["p50_ms"],
        p90_ms=summary["p90_ms"],
        p99_ms=summary["p99_ms"],
        non_2xx=summary["errors_status"],
        socket_errors=socket_errors,
        server_cpu_pct=round(cpu, 1),
        requests=summary["requests"],
        cpu_us_per_request=round(cpu / 100 * elapsed / max(summary["requests"], 1) * 1e6, 1),
    )
    print(
        f"  {name}: {result.requests_per_s} req/s, p99 {result.p99_ms:.1f} ms, "
        f"non-2xx {result.non_2xx}, cpu {result.server_cpu_pct}%",
        flush=True,
    )
    return result


def leadgate_env(database_url: str, data_dir: Path, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADGATE_")}
    env.update(
        LEADGATE_DATABASE_URL=database_url,
        LEADGATE_DATA_DIR=str(data_dir),
        LEADGATE_SECRET_KEY="bench-secret-" + "b" * 40,
        LEADGATE_ENVIRONMENT="production",
        LEADGATE_DEFAULT_RATE_LIMIT_PER_MINUTE="100000000",
        # One form and one client address take every form submission of the form run.
        LEADGATE_FORMS_RATE_LIMIT_PER_MINUTE="100000000",
        LEADGATE_FORMS_ADDRESS_RATE_LIMIT_PER_MINUTE="100000000",
        LEADGATE_BASE_DOMAIN="localtest.me",
    )
    if redis_url:
        env["LEADGATE_REDIS_URL"] = redis_url
        env["LEADGATE_REDIS_PREFIX"] = f"lgbench:{uuid.uuid4().hex[:6]}:"
    return env


def provision(env: dict[str, str]) -> str:
    return provision_tenant(env)[0]


def provision_tenant(env: dict[str, str]) -> tuple[str, str, str]:
    """Migrates, creates a tenant; returns its first key, its id and its slug."""
    subprocess.run(
        [str(BIN / "leadgate"), "db", "upgrade"], env=env, check=True, capture_output=True
    )
    created = subprocess.run(
        [
            str(BIN / "leadgate"),
            "tenant",
            "create",
            f"bench-{uuid.uuid4().hex[:6]}",
            "--name",
            "Bench",
            "--json",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    document = json.loads(created.stdout)
    tenant = document["tenant"]
    return str(document["apiKey"]["key"]), str(tenant["id"]), str(tenant["slug"])


def seed_keys(env: dict[str, str], tenant_id: str, count: int, path: Path) -> None:
    """`count` more keys for the tenant (through the key service, as the API issues them);
    their plaintexts one per line in `path`, for wrk to use in turn."""
    from leadgate.api_keys.service import issue_api_key
    from leadgate.db import Database
    from leadgate.settings import Settings

    settings = Settings(
        database_url=env["LEADGATE_DATABASE_URL"],
        secret_key=env["LEADGATE_SECRET_KEY"],
        data_dir=Path(env["LEADGATE_DATA_DIR"]),
        environment="production",
    )

    async def work() -> list[str]:
        database = Database(settings)
        keys = []
        try:
            for start in range(0, count, 1000):
                async with database.sessionmaker() as session, session.begin():
                    for index in range(start, min(count, start + 1000)):
                        issued = await issue_api_key(
                            session,
                            settings,
                            tenant_id=tenant_id,
                            name=f"bench-{index}",
                            scopes=["leads:write"],
                            created_by={"type": "operator", "id": "bench", "name": "bench"},
                            rate_limit_per_minute=100_000_000,
                        )
                        keys.append(issued.plaintext)
        finally:
            await database.dispose()
        return keys

    path.write_text("\n".join(asyncio.run(work())) + "\n")


async def seed_leads(database: str, tenant_id: str, count: int) -> None:
    """`count` leads for the tenant, by INSERT … SELECT generate_series in 100,000-row steps."""
    for start in range(0, count, 100_000):
        await pg_execute(
            f"""
            INSERT INTO leads (id, tenant_id, first_name, last_name, email, status, custom_fields,
                created_by, request_source, email_key, name_key, claims_duplicates, created_at,
                updated_at)
            SELECT 'lead_seed' || lpad(g::text, 14, '0'), '{tenant_id}', 'Seed' || g, 'Lead',
                'seed.' || g || '@example.com', 'new', '{{}}'::jsonb, '{{}}'::jsonb, 'api_native',
                'seed.' || g || '@example.com', 'seed' || g || ' lead', true,
                now() - make_interval(secs => g), now()
            FROM generate_series({start + 1}, {min(count, start + 100_000)}) AS g
            """,
            database,
        )
    # Vacuumed and analysed now, so autovacuum does not start on a million new rows during the
    # measurement that follows.
    await pg_execute("VACUUM ANALYZE leads", database)


def run_leadgate(
    label: str,
    env: dict[str, str],
    args: argparse.Namespace,
    logs: Path,
    big: Callable[[Server, str, str], list[Result]] | None = None,
) -> list[Result]:
    key, tenant_id, slug = provision_tenant(env)
    port = free_port()
    server = Server(
        [str(BIN / "leadgate"), "serve", "--port", str(port)], env, port, logs / f"{label}.log"
    )
    results = []
    try:
        for name in ("Hot", "Webinar"):  # the tags the tagged scenario names
            httpx.post(
                f"http://127.0.0.1:{port}/api/v1/tags",
                json={"name": name},
                headers={"X-API-Key": key},
            ).raise_for_status()
        base = {"BENCH_KEY": key, "BENCH_PATH": "/api/v1/leads"}
        intake = []
        for scenario, extra in intake_scenarios(slug):
            intake.append(
                measure(f"leadgate {label}: {scenario}", server, "intake.lua", base | extra, args)
            )
        best = max(r.requests_per_s for r in intake)
        for result in intake:
            result.ratio_to_best_intake = round(result.requests_per_s / best, 2)
        results += intake
        form_id = create_bench_form(port, key)
        results.append(
            measure(
                f"leadgate {label}: web form POST /f/{{id}}, JSON",
                server,
                "intake.lua",
                {
                    "BENCH_TRANSPORT": "formpost",
                    "BENCH_PATH": f"/f/{form_id}",
                    "BENCH_ORIGIN": BENCH_ORIGIN,
                },
                args,
            )
        )
        results[-1].ratio_to_best_intake = round(results[-1].requests_per_s / best, 2)
        database_url = env["LEADGATE_DATABASE_URL"]
        if database_url.startswith("postgresql"):
            # The table went from empty to tens of thousands of rows in the runs above; the
            # reads are measured with its statistics current (as autovacuum would make them).
            asyncio.run(pg_execute("ANALYZE leads", database_url.rsplit("/", 1)[1]))
        for _read, path in READS:
            results.append(
                measure(
                    f"leadgate {label}: GET {path}",
                    server,
                    "intake.lua",
                    {"BENCH_KEY": key, "BENCH_MODE": "get", "BENCH_PATH": path},
                    args,
                )
            )
            results[-1].ratio_to_best_intake = round(results[-1].requests_per_s / best, 2)
        if big is not None:
            for result in big(server, key, tenant_id):
                result.ratio_to_best_intake = round(result.requests_per_s / best, 2)
                results.append(result)
    finally:
        server.stop()
    return results


BENCH_ORIGIN = "https://shop.example"


def create_bench_form(port: int, key: str) -> str:
    """A form a load generator passes legitimately: it posts from an allowed origin, leaves the
    honeypot empty, and the form asks for no minimum fill time and no proof of work."""
    response = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/forms",
        json={
            "name": "Bench form",
            "fields": [
                {"name": "firstName", "label": "First name", "required": True},
                {"name": "lastName", "label": "Last name", "required": True},
                {"name": "email", "label": "E-mail", "required": True},
                {"name": "phone", "label": "Phone"},
                {"name": "company", "label": "Company"},
            ],
            "hiddenFields": {"source": "website"},
            "allowedOrigins": [BENCH_ORIGIN],
            "spam": {"honeypot": True, "minFillSeconds": 0, "proofOfWork": False},
        },
        headers={"X-API-Key": key},
    )
    response.raise_for_status()
    return str(response.json()["id"])


READS = (("list", "/api/v1/leads?limit=20"), ("self", "/api/v1/api-keys/self"))
# Reports over the million-lead table (docs/crm.md).
REPORTS = (
    "/api/v1/reports/leads?groupBy=source&period=month",
    "/api/v1/reports/funnel",
    "/api/v1/reports/pipeline",
)


def intake_scenarios(slug: str) -> list[tuple[str, dict[str, str]]]:
    """Every way a lead arrives, on the one request path."""
    return [
        ("X-API-Key, JSON", {}),
        ("Authorization: Bearer, JSON", {"BENCH_TRANSPORT": "bearer"}),
        ("?api_key=, JSON", {"BENCH_TRANSPORT": "query"}),
        ("api_key in the JSON body", {"BENCH_TRANSPORT": "body"}),
        ("HTML form post", {"BENCH_TRANSPORT": "form"}),
        (
            "tenant subdomain /api/leads/intake",
            {"BENCH_HOST": f"{slug}.localtest.me", "BENCH_PATH": "/api/leads/intake"},
        ),
        ("with two tags", {"BENCH_TAGS": "1"}),
        ("with an Idempotency-Key", {"BENCH_IDEMPOTENCY": "1"}),
    ]


def big_runs(
    env: dict[str, str], database: str, args: argparse.Namespace, logs: Path
) -> Callable[[Server, str, str], list[Result]]:
    """The 10,000-key tenant and the 1,000,000-lead table, on the server already running."""

    def run(server: Server, key: str, tenant_id: str) -> list[Result]:
        results = []
        # The large table first, so nothing the many-keys run leaves behind (10,000 keys'
        # first-use writes) runs under its measurement.
        started = time.monotonic()
        asyncio.run(seed_leads(database, tenant_id, 1_000_000))
        print(f"  seeded 1,000,000 leads in {time.monotonic() - started:.0f} s")
        results.append(
            measure(
                "leadgate PostgreSQL+Redis, 1,000,000 leads in the table",
                server,
                "intake.lua",
                {"BENCH_KEY": key, "BENCH_PATH": "/api/v1/leads"},
                args,
            )
        )
        for path in REPORTS:
            results.append(
                measure(
                    f"leadgate PostgreSQL+Redis, 1,000,000 leads: GET {path}",
                    server,
                    "intake.lua",
                    {"BENCH_KEY": key, "BENCH_MODE": "get", "BENCH_PATH": path},
                    args,
                )
            )
        keys_file = logs / "keys.txt"
        started = time.monotonic()
        seed_keys(env, tenant_id, 10_000, keys_file)
        print(f"  seeded 10,000 keys in {time.monotonic() - started:.0f} s")
        results.append(
            measure(
                "leadgate PostgreSQL+Redis, 10,000 keys in turn",
                server,
                "intake.lua",
                {"BENCH_KEYS_FILE": str(keys_file), "BENCH_PATH": "/api/v1/leads"},
                args,
            )
        )
        return results

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="measured seconds per run")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per run")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--no-big",
        dest="big",
        action="store_false",
        help="skip the 10,000-key tenant and the 1,000,000-lead table (about 3 minutes)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk (make bench installs it)")
    RESULTS.mkdir(exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="leadgate-bench-"))
    results: list[Result] = []
    database = f"lg_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(pg_execute(f'CREATE DATABASE "{database}"'))
    try:
        print("reference floor (FastAPI + SHA-256 key + 1 Redis script + 1 raw asyncpg INSERT)")
        port = free_port()
        ref_env = {
            **os.environ,
            "REFERENCE_DSN": PG_ADMIN.rsplit("/", 1)[0] + "/" + database,
            "REFERENCE_REDIS": REDIS,
            "REFERENCE_API_KEY": "ref_benchmark_key",
        }
        server = Server(
            [
                str(BIN / "uvicorn"),
                "bench.reference_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            {**ref_env, "PYTHONPATH": str(ROOT)},
            port,
            logs / "reference.log",
        )
        try:
            reference = measure(
                "reference floor",
                server,
                "intake.lua",
                {"BENCH_KEY": "ref_benchmark_key", "BENCH_PATH": "/leads"},
                args,
            )
        finally:
            server.stop()
        results.append(reference)

        print("leadgate on PostgreSQL + Redis (leadgate serve, one process)")
        pg_url = (
            "postgresql+asyncpg://" + PG_ADMIN.split("://", 1)[1].rsplit("/", 1)[0] + "/" + database
        )
        pg_env = leadgate_env(pg_url, logs, REDIS)
        big = big_runs(pg_env, database, args, logs) if args.big else None
        results += run_leadgate("PostgreSQL+Redis", pg_env, args, logs, big)
        if not args.skip_sqlite:
            print("leadgate on the embedded SQLite default")
            sqlite_dir = Path(tempfile.mkdtemp(prefix="leadgate-bench-sqlite-"))
            sqlite_url = f"sqlite+aiosqlite:///{sqlite_dir / 'leadgate.db'}"
            results += run_leadgate(
                "SQLite", leadgate_env(sqlite_url, sqlite_dir, None), args, logs
            )
    finally:
        asyncio.run(pg_execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    for result in results:
        result.ratio_to_reference = round(result.requests_per_s / reference.requests_per_s, 3)
    verification = key_verification_us()
    print_table(results)
    print(
        f"\nkey verification of a cached key (in process, {verification['iterations']:,} "
        f"calls): {verification['us_per_call']:.1f} µs per request"
    )
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    document = {
        "at": stamp,
        "machine": {"cpus": os.cpu_count(), "taskset": HAS_TASKSET},
        "connections": 32,
        "duration_s": args.duration,
        "results": [asdict(r) for r in results],
        "key_verification": verification,
    }
    for path in (RESULTS / f"intake-{stamp}.json", RESULTS / "latest.json"):
        path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwritten: bench/results/intake-{stamp}.json (logs in {logs})")


def key_verification_us(iterations: int = 200_000) -> dict[str, Any]:
    """What verifying a cached key costs a request: the authenticator's own steps (format and
    CRC32 check, HMAC-SHA256, cache lookup, usability check) and the Principal, timed in
    process."""
    import asyncio

    import sqlalchemy as sa

    from leadgate import crypto
    from leadgate.api_keys.authenticator import Authenticator, principal_of
    from leadgate.api_keys.cache import KeyCache
    from leadgate.api_keys.repository import VerifiedKey
    from leadgate.settings import Settings

    settings = Settings(
        secret_key="bench-secret-" + "b" * 40, database_url="sqlite://", key_cache_ttl_seconds=3600
    )
    cache = KeyCache(settings, sa.create_engine("sqlite://"))
    plaintext = crypto.generate_api_key(settings.key_prefix).plaintext
    entry = VerifiedKey(
        key_id="key_bench", tenant_id="ten_bench", tenant_slug="bench", name="bench",
        scopes=frozenset({"leads:write"}), team_scope="all-accounts", team_ids=(),
        rate_limit_per_minute=None, monthly_quota=None, expires_at=None, revoked_at=None,
        secret_id="sec_bench", secret_expires_at=None, enforce_mtls=False,
        mtls_thumbprints=frozenset(), phone_region=None, duplicate_policy="reject", plan="free",
        created_by={},
    )  # fmt: skip
    cache.put(crypto.hash_api_key(plaintext, settings.secret_bytes), entry, cache.generation)
    # A cache hit touches nothing else: no database, limiter, recorder or alerts.
    authenticator = Authenticator(settings, None, cache, None, None, None)  # type: ignore[arg-type]

    async def run() -> float:
        assert await authenticator.verify(plaintext) is entry
        started = time.perf_counter()
        for _ in range(iterations):
            key = await authenticator.verify(plaintext)
            principal_of(key, settings, "header")
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    return {"iterations": iterations, "us_per_call": round(elapsed / iterations * 1e6, 2)}


def print_table(results: list[Result]) -> None:
    columns = ("req/s", "p50", "p99", "non2xx", "cpu%", "µs/req", "÷ref", "÷best")
    header = f"{'run':<62} " + " ".join(f"{c:>7}" for c in columns)
    print("\n" + header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:<62} {r.requests_per_s:>7.0f} {r.p50_ms:>7.1f} {r.p99_ms:>7.1f} "
            f"{r.non_2xx:>7} {r.server_cpu_pct:>7.0f} {r.cpu_us_per_request:>7.0f} "
            f"{r.ratio_to_reference or 0:>7.2f} {r.ratio_to_best_intake or 0:>7.2f}"
        )


if __name__ == "__main__":
    main()
