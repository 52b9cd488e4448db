"""How much does streaming a big CSV export grow the server's memory?

Starts `leadgate serve` (uvicorn, one process) on a temporary SQLite database, or on the
PostgreSQL database given with `--database-url` (it must be empty or already leadgate's),
seeds N leads with bulk INSERTs, then downloads `GET /api/v1/leads/export.csv` while sampling
the server process's resident memory (VmRSS from /proc) every 50 ms. Prints RSS before, the
peak during the export, the growth, rows and bytes received and the time taken.

    .venv/bin/python bench/export_memory.py                      # 100,000 leads on SQLite
    .venv/bin/python bench/export_memory.py --leads 20000
    .venv/bin/python bench/export_memory.py --database-url postgresql+asyncpg://postgres@127.0.0.1/bench

Linux only (reads /proc). The target in issue 6 is growth under 50 MiB for 100,000 leads.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

from leadgate.db import Database
from leadgate.ids import new_id
from leadgate.migrate import upgrade
from leadgate.models import Lead, utcnow
from leadgate.settings import Settings
from leadgate.tenants.service import provision_tenant

SECRET = "bench-secret-" + "x" * 40
MIB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def seed(settings: Settings, count: int) -> str:
    """A tenant with `count` leads, inserted 5,000 rows per statement; returns its key."""
    database = Database(settings)
    try:
        async with database.sessionmaker() as session, session.begin():
            provisioned = await provision_tenant(
                session, settings, slug=f"bench-{uuid.uuid4().hex[:8]}", name="Bench"
            )
        tenant_id = provisioned.tenant.id
        base = utcnow()
        for start in range(0, count, 5000):
            rows = []
            for index in range(start, min(start + 5000, count)):
                tag = f"{index:07d}"
                rows.append(
                    {
                        "id": new_id("lead"),
                        "tenant_id": tenant_id,
                        "first_name": f"First{tag}",
                        "last_name": f"Last{tag}",
                        "email": f"lead{tag}@example.com",
                        "phone": f"+1555{index % 10_000_000:07d}",
                        "company": f"Company {tag} Incorporated",
                        "website": f"https://company{tag}.example.com",
                        "source": "bench",
                        "address": f"{index} Main Street",
                        "city": "New York",
                        "state": "NY",
                        "zipcode": "10001",
                        "country": "US",
                        "status": "new",
                        "custom_fields": {"utm_source": "newsletter", "score": index % 100},
                        "created_by": {"type": "system", "id": "bench", "name": "bench"},
                        "request_source": "import",
                        "email_key": f"lead{tag}@example.com",
                        "name_key": f"first{tag}\x1flast{tag}",
                        "claims_duplicates": True,
                        "created_at": base + timedelta(milliseconds=index),
                        "updated_at": base + timedelta(milliseconds=index),
                    }
                )
            async with database.sessionmaker() as session, session.begin():
                await session.execute(sa.insert(Lead), rows)
        return provisioned.first_key.plaintext
    finally:
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="leadgate-bench-") as data_dir:
        env = {
            **os.environ,
            "LEADGATE_ENVIRONMENT": "test",
            "LEADGATE_SECRET_KEY": SECRET,
            "LEADGATE_DATA_DIR": data_dir,
            "LEADGATE_DATABASE_URL": args.database_url,
            "LEADGATE_ACCESS_LOG": "false",
            "LEADGATE_LOG_LEVEL": "WARNING",
        }
        settings = Settings(
            environment="test",
            secret_key=SECRET,
            data_dir=Path(data_dir),
            database_url=args.database_url,
        )
        upgrade(settings)
        started = time.perf_counter()
        key = asyncio.run(seed(settings, args.leads))
        print(f"seeded {args.leads:,} leads in {time.perf_counter() - started:.1f} s")

        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "leadgate.asgi:app", "--port", str(port),
             "--log-level", "warning", "--no-access-log"],
            env=env,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise SystemExit("server did not start")
            headers = {"X-API-Key": key}
            # Warm up: the first request imports and caches what every request needs.
            httpx.get(f"{url}/api/v1/leads", params={"limit": 100}, headers=headers, timeout=30)
            before = rss_bytes(server.pid)
            peak = before
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, rss_bytes(server.pid))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.perf_counter()
            received = lines = 0
            with httpx.stream(
                "GET", f"{url}/api/v1/leads/export.csv", headers=headers, timeout=600
            ) as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    received += len(chunk)
                    lines += chunk.count(b"\n")
            elapsed = time.perf_counter() - started
            done.set()
            sampler.join()
            after = rss_bytes(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)

    backend = "PostgreSQL" if args.database_url.startswith("postgresql") else "SQLite"
    print(f"backend:            {backend}")
    print(f"rows exported:      {lines - 1:,} ({received / MIB:.1f} MiB in {elapsed:.1f} s)")
    print(f"server RSS before:  {before / MIB:.1f} MiB")
    print(f"server RSS peak:    {peak / MIB:.1f} MiB")
    print(f"server RSS after:   {after / MIB:.1f} MiB")
    print(f"growth (peak - before): {(peak - before) / MIB:.1f} MiB (target < 50 MiB)")


if __name__ == "__main__":
    main()
