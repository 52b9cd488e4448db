"""The reference floor: the least a lead-intake endpoint can do, written plainly, no leadgate code.

POST /leads: check a SHA-256-hashed API key from a dict, run one Redis script (a per-key counter),
do one raw asyncpg INSERT, answer 201 with the id. `bench/run.py` measures leadgate against it.

    REFERENCE_DSN=postgresql://postgres@127.0.0.1/lg_bench \
    REFERENCE_REDIS=redis://127.0.0.1:6379/0 uvicorn bench.reference_app:app --port 8100
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import redis.asyncio as aioredis
from fastapi import FastAPI, Request, Response

API_KEY = os.environ.get("REFERENCE_API_KEY", "ref_benchmark_key")
KEY_HASHES = {hashlib.sha256(API_KEY.encode()).hexdigest(): "tenant-1"}
COUNT_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], 60) end
return n
"""
state: dict[str, object] = {}


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(os.environ["REFERENCE_DSN"], min_size=10, max_size=10)
    async with pool.acquire() as connection:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS reference_leads ("
            " id text PRIMARY KEY, tenant_id text NOT NULL, first_name text NOT NULL,"
            " last_name text NOT NULL, email text, created_at timestamptz DEFAULT now())"
        )
    client = aioredis.from_url(os.environ.get("REFERENCE_REDIS", "redis://127.0.0.1:6379/0"))
    state["pool"] = pool
    state["redis"] = client
    state["script"] = client.register_script(COUNT_SCRIPT)
    yield
    await pool.close()
    await client.aclose()


app = FastAPI(lifespan=lifespan)


@app.post("/leads", status_code=201)
async def create_lead(request: Request) -> Response:
    key = request.headers.get("x-api-key", "")
    tenant = KEY_HASHES.get(hashlib.sha256(key.encode()).hexdigest())
    if tenant is None:
        return Response(status_code=401)
    await state["script"](keys=[f"ref:rl:{tenant}"])  # type: ignore[operator]
    body = json.loads(await request.body())
    lead_id = "lead_" + secrets.token_hex(12)
    pool: asyncpg.Pool = state["pool"]  # type: ignore[assignment]
    await pool.execute(
        "INSERT INTO reference_leads (id, tenant_id, first_name, last_name, email)"
        " VALUES ($1, $2, $3, $4, $5)",
        lead_id,
        tenant,
        body["firstName"],
        body["lastName"],
        body.get("email"),
    )
    return Response(
        json.dumps({"id": lead_id, **body}), status_code=201, media_type="application/json"
    )
