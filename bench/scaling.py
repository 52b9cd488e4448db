"""Scaling curve on one machine: `leadgate serve` with 1, then 2 processes (PostgreSQL + Redis).

For each layout and each connection count, wrk (one thread, bench/intake.lua: a unique lead per
POST /api/v1/leads) runs a warm-up and a measured run. Printed and written to
bench/results/scaling-<time>.json (and scaling-latest.json): requests/s, p50/p99, and where the CPU
went — the server processes, wrk itself, and everything else on the machine (PostgreSQL, Redis,
other load) — because on 2 cores the load generator competes with the servers. See bench/README.md.

Layouts:
  1 process, pinned    server on CPU 0, wrk on CPU 1 (bench/run.py's layout: the baseline)
  1 process            nothing pinned
  2 processes          `leadgate serve --workers 2` (uvicorn: two worker processes accepting on
                       one socket), nothing pinned — the servers, wrk, PostgreSQL and Redis all
                       share both cores

    .venv/bin/python bench/scaling.py                       # about 3 minutes
    .venv/bin/python bench/scaling.py --duration 5 --connections 32
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Run as a script: the repository root is on sys.path from here on.
from bench.run import (
    BIN,
    HAS_TASKSET,
    PG_ADMIN,
    REDIS,
    RESULTS,
    Server,
    cpu_seconds,
    free_port,
    leadgate_env,
    pg_execute,
    provision,
    wrk,
)


@dataclass
class Point:
    layout: str
    processes: int
    connections: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    server_cpu_pct: float  # all server processes together; 100 = one core
    wrk_cpu_pct: float
    machine_busy_pct: float  # the whole machine; 100 x cores = every core busy
    other_cpu_pct: float  # machine - servers - wrk: PostgreSQL, Redis, anything else running


@dataclass(frozen=True)
class Layout:
    name: str
    workers: int
    server_cpu: int | None
    wrk_cpu: int | None


LAYOUTS = (
    Layout("1 process, pinned (server CPU 0, wrk CPU 1)", 1, 0, 1),
    Layout("1 process, unpinned", 1, None, None),
    Layout("2 processes (--workers 2), unpinned", 2, None, None),
)


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants (uvicorn's worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):  # a process that ended meanwhile
            total += cpu_seconds(pid)
    return total


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / ticks, sum(values) / ticks


def wrk_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    layout: Layout, server: Server, env: dict[str, str], connections: int, args: argparse.Namespace
) -> Point:
    pids = tree(server.process.pid)
    wrk(server.port, "intake.lua", args.warmup, env, connections, layout.wrk_cpu)
    servers_before = tree_cpu_seconds(pids)
    wrk_before = wrk_cpu_seconds()
    busy_before, total_before = machine_busy_seconds()
    started = time.monotonic()
    summary = wrk(server.port, "intake.lua", args.duration, env, connections, layout.wrk_cpu)
    elapsed = time.monotonic() - started
    busy_after, total_after = machine_busy_seconds()
    servers = (tree_cpu_seconds(pids) - servers_before) / elapsed * 100
    wrk_pct = (wrk_cpu_seconds() - wrk_before) / elapsed * 100
    cores = os.cpu_count() or 1
    machine = (busy_after - busy_before) / max(total_after - total_before, 1e-9) * 100 * cores
    seconds = summary["duration_us"] / 1e6
    point = Point(
        layout=layout.name,
        processes=layout.workers,
        connections=connections,
        requests_per_s=round(summary["requests"] / seconds, 1),
        p50_ms=summary["p50_ms"],
        p99_ms=summary["p99_ms"],
        non_2xx=summary["errors_status"],
        socket_errors=sum(
            summary[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_timeout")
        ),
        server_cpu_pct=round(servers, 1),
        wrk_cpu_pct=round(wrk_pct, 1),
        machine_busy_pct=round(machine, 1),
        other_cpu_pct=round(max(machine - servers - wrk_pct, 0.0), 1),
    )
    print(
        f"  {connections:>3} connections: {point.requests_per_s:>7.1f} req/s, "
        f"p50 {point.p50_ms:.1f} ms, p99 {point.p99_ms:.1f} ms, servers {point.server_cpu_pct}%, "
        f"wrk {point.wrk_cpu_pct}%, other {point.other_cpu_pct}%, non-2xx {point.non_2xx}",
        flush=True,
    )
    return point


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per point")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per point")
    parser.add_argument(
        "--connections", type=int, nargs="+", default=[8, 32, 64], help="wrk connection counts"
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="RESULTS_JSON",
        help="only print the table of a results file as Markdown (for docs/scaling.md)",
    )
    args = parser.parse_args()
    if args.markdown:
        print(markdown_table(json.loads(args.markdown.read_text())))
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk (make bench-scaling installs it)")
    RESULTS.mkdir(exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="leadgate-scaling-"))
    database = f"lg_scaling_{uuid.uuid4().hex[:8]}"
    load_before = load_average()
    asyncio.run(pg_execute(f'CREATE DATABASE "{database}"'))
    points: list[Point] = []
    try:
        pg_url = (
            "postgresql+asyncpg://" + PG_ADMIN.split("://", 1)[1].rsplit("/", 1)[0] + "/" + database
        )
        env = leadgate_env(pg_url, logs, REDIS)
        env["LEADGATE_ACCESS_LOG"] = "false"
        key = provision(env)
        wrk_env = {"BENCH_KEY": key, "BENCH_PATH": "/api/v1/leads"}
        for index, layout in enumerate(LAYOUTS):
            print(f"{layout.name}", flush=True)
            port = free_port()
            command = [str(BIN / "leadgate"), "serve", "--port", str(port)]
            command += ["--workers", str(layout.workers)]
            server = Server(command, env, port, logs / f"layout-{index}.log", layout.server_cpu)
            try:
                for connections in args.connections:
                    points.append(measure(layout, server, wrk_env, connections, args))
            finally:
                server.stop()
    finally:
        asyncio.run(pg_execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    print_table(points)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    document = {
        "at": stamp,
        "machine": {"cpus": os.cpu_count(), "taskset": HAS_TASKSET},
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "duration_s": args.duration,
        "workload": "POST /api/v1/leads, a unique lead per request (bench/intake.lua), "
        "PostgreSQL + Redis, production settings, access log off",
        "points": [asdict(point) for point in points],
    }
    for path in (RESULTS / f"scaling-{stamp}.json", RESULTS / "scaling-latest.json"):
        path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwritten: bench/results/scaling-{stamp}.json (logs in {logs})")


def markdown_table(document: dict[str, Any]) -> str:
    lines = [
        f"`{document['at']}`, {document['machine']['cpus']} CPUs, load average before/after "
        f"{document['load_average_before'][0]}/{document['load_average_after'][0]}, "
        f"{document['duration_s']} s per point.",
        "",
        "| Layout | Connections | req/s | p50 ms | p99 ms | Servers CPU % | wrk CPU % "
        "| Rest of machine CPU % |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in document["points"]:
        lines.append(
            f"| {p['layout']} | {p['connections']} | {p['requests_per_s']:.0f} "
            f"| {p['p50_ms']:.0f} | {p['p99_ms']:.0f} | {p['server_cpu_pct']:.0f} "
            f"| {p['wrk_cpu_pct']:.1f} | {p['other_cpu_pct']:.0f} |"
        )
    return "\n".join(lines)


def print_table(points: list[Point]) -> None:
    columns = ("conns", "req/s", "p50", "p99", "srv%", "wrk%", "other%", "non2xx")
    header = f"{'layout':<46} " + " ".join(f"{c:>7}" for c in columns)
    print("\n" + header)
    print("-" * len(header))
    for p in points:
        print(
            f"{p.layout:<46} {p.connections:>7} {p.requests_per_s:>7.0f} {p.p50_ms:>7.1f} "
            f"{p.p99_ms:>7.1f} {p.server_cpu_pct:>7.0f} {p.wrk_cpu_pct:>7.0f} "
            f"{p.other_cpu_pct:>7.0f} {p.non_2xx:>7}"
        )


if __name__ == "__main__":
    main()
