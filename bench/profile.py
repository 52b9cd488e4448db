"""Profile one leadgate server under wrk: CPU per request and the top of a py-spy profile.

    .venv/bin/python bench/profile.py                      # intake on PostgreSQL + Redis
    .venv/bin/python bench/profile.py --sqlite             # intake on the embedded SQLite
    .venv/bin/python bench/profile.py --idempotency        # every request with an Idempotency-Key
    .venv/bin/python bench/profile.py --mode get           # key verification (GET /api-keys/self)
    .venv/bin/python bench/profile.py --no-profile         # CPU per request only

CPU per request (server user+system time ÷ requests answered) barely moves with other load on
the machine, unlike requests/s: use it to compare changes. The profile (py-spy, sampling at
500 Hz, native frames off) is summarised as the functions holding the most samples, on their own
("self") and with what they call ("total"); the raw collapsed stacks are kept for flame graphs.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (
    BIN,
    PG_ADMIN,
    REDIS,
    Server,
    cpu_seconds,
    free_port,
    leadgate_env,
    pg_execute,
    provision,
    wrk,
)


def summarise(collapsed: Path, top: int) -> str:
    """The functions with the most samples, on their own and including their callees."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    lines = [f"{samples} samples", "", "self%  total%  function (file:line)"]
    for frame, count in own.most_common(top):
        lines.append(f"{100 * count / samples:5.1f}  {100 * total[frame] / samples:6.1f}  {frame}")
    lines += ["", "total%  function (file:line)   [leadgate frames, most inclusive first]"]
    ours = [(f, c) for f, c in total.items() if "leadgate/" in f]
    for frame, count in sorted(ours, key=lambda item: -item[1])[:top]:
        lines.append(f"{100 * count / samples:6.1f}  {frame}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--idempotency", action="store_true")
    parser.add_argument("--mode", choices=("post", "get"), default="post")
    parser.add_argument(
        "--path",
        default=None,
        help="the path wrk requests (default: POST /api/v1/leads, GET /api/v1/api-keys/self)",
    )
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-access-log", action="store_true", help="production logs each request")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=None, help="where to keep the collapsed stacks")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="leadgate-profile-"))
    database = f"lg_profile_{uuid.uuid4().hex[:8]}"
    if args.sqlite:
        env = leadgate_env(f"sqlite+aiosqlite:///{work / 'leadgate.db'}", work, None)
    else:
        asyncio.run(pg_execute(f'CREATE DATABASE "{database}"'))
        pg_url = "postgresql+asyncpg://" + PG_ADMIN.split("://", 1)[1].rsplit("/", 1)[0]
        env = leadgate_env(f"{pg_url}/{database}", work, REDIS)
    if args.no_access_log:
        env["LEADGATE_ACCESS_LOG"] = "false"
    try:
        key = provision(env)
        port = free_port()
        server = Server(
            [str(BIN / "leadgate"), "serve", "--port", str(port)], env, port, work / "server.log"
        )
        wrk_env = {"BENCH_KEY": key, "BENCH_PATH": "/api/v1/leads", "BENCH_MODE": args.mode}
        if args.mode == "get":
            wrk_env["BENCH_PATH"] = "/api/v1/api-keys/self"
        if args.path:
            wrk_env["BENCH_PATH"] = args.path
        if args.idempotency:
            wrk_env["BENCH_IDEMPOTENCY"] = "1"
        try:
            if args.mode == "get":  # something to list: the intake warm-up writes leads
                wrk(port, "intake.lua", args.warmup, {**wrk_env, "BENCH_MODE": "post"})
            wrk(port, "intake.lua", args.warmup, wrk_env)
            spy = None
            collapsed = args.out or work / "profile.collapsed"
            if not args.no_profile and shutil.which(str(BIN / "py-spy")):
                spy = subprocess.Popen(
                    [str(BIN / "py-spy"), "record", "--pid", str(server.process.pid), "--rate",
                     "500", "--format", "raw", "--output", str(collapsed), "--nonblocking"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                time.sleep(1)
            before = cpu_seconds(server.process.pid)
            summary = wrk(port, "intake.lua", args.duration, wrk_env)
            cpu = cpu_seconds(server.process.pid) - before
            if spy is not None:
                spy.send_signal(2)
                spy.wait(timeout=30)
        finally:
            server.stop()
        requests = summary["requests"]
        seconds = summary["duration_us"] / 1e6
        print(
            f"{requests} requests in {seconds:.1f} s = {requests / seconds:.0f} req/s, "
            f"non-2xx {summary['errors_status']}, p99 {summary['p99_ms']:.1f} ms; server CPU "
            f"{cpu:.2f} s = {cpu / requests * 1e6:.0f} µs per request"
        )
        if spy is not None and collapsed.exists():
            print(summarise(collapsed, args.top))
            print(f"\ncollapsed stacks: {collapsed}")
    finally:
        if not args.sqlite:
            asyncio.run(pg_execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
