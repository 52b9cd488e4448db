"""Intake benchmark: the reference floor vs leadgate, on PostgreSQL + Redis and on SQLite.

One server process pinned to CPU 0, wrk pinned to CPU 1 (32 connections, a warm-up, then a
measured run). Prints a table and writes it as JSON to bench/results/. See bench/README.md.

    .venv/bin/python bench/run.py                 # the standard run (about 3 minutes)
    .venv/bin/python bench/run.py --duration 5    # a quick look
    .venv/bin/python bench/run.py --big           # also 10,000 keys and 1,000,000 leads
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
    ratio_to_reference: float | None = None
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
    )
    if redis_url:
        env["LEADGATE_REDIS_URL"] = redis_url
        env["LEADGATE_REDIS_PREFIX"] = f"lgbench:{uuid.uuid4().hex[:6]}:"
    return env


def provision(env: dict[str, str]) -> str:
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
    return str(json.loads(created.stdout)["apiKey"]["key"])


def run_leadgate(
    label: str, env: dict[str, str], args: argparse.Namespace, logs: Path
) -> list[Result]:
    key = provision(env)
    port = free_port()
    server = Server(
        [str(BIN / "leadgate"), "serve", "--port", str(port)], env, port, logs / f"{label}.log"
    )
    results = []
    try:
        base = {"BENCH_KEY": key, "BENCH_PATH": "/api/v1/leads"}
        results.append(measure(f"leadgate {label}", server, "intake.lua", base, args))
        results.append(
            measure(
                f"leadgate {label} + Idempotency-Key",
                server,
                "intake.lua",
                {**base, "BENCH_IDEMPOTENCY": "1"},
                args,
            )
        )
        probe = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/api-keys/self", headers={"X-API-Key": key}
        )
        if probe.status_code == 200:
            results.append(
                measure(
                    f"leadgate {label} key verification (GET /api-keys/self)",
                    server,
                    "intake.lua",
                    {"BENCH_KEY": key, "BENCH_MODE": "get", "BENCH_PATH": "/api/v1/api-keys/self"},
                    args,
                )
            )
        else:
            print(f"  (GET /api/v1/api-keys/self answered {probe.status_code}: skipped)")
    finally:
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="measured seconds per run")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per run")
    parser.add_argument("--skip-sqlite", action="store_true")
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
        results += run_leadgate("PostgreSQL+Redis", leadgate_env(pg_url, logs, REDIS), args, logs)
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
    print_table(results)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    document = {
        "at": stamp,
        "machine": {"cpus": os.cpu_count(), "taskset": HAS_TASKSET},
        "connections": 32,
        "duration_s": args.duration,
        "results": [asdict(r) for r in results],
    }
    for path in (RESULTS / f"intake-{stamp}.json", RESULTS / "latest.json"):
        path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwritten: bench/results/intake-{stamp}.json (logs in {logs})")


def print_table(results: list[Result]) -> None:
    columns = ("req/s", "p50", "p90", "p99", "non2xx", "cpu%", "÷ref")
    header = f"{'run':<58} " + " ".join(f"{c:>7}" for c in columns)
    print("\n" + header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:<58} {r.requests_per_s:>7.0f} {r.p50_ms:>7.1f} {r.p90_ms:>7.1f} "
            f"{r.p99_ms:>7.1f} {r.non_2xx:>7} {r.server_cpu_pct:>7.0f} "
            f"{r.ratio_to_reference or 0:>7.2f}"
        )


if __name__ == "__main__":
    main()
