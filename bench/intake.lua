-- wrk script for bench/run.py. BENCH_MODE=post (default): POST a unique lead per request (thread
-- id + counter), with an Idempotency-Key when BENCH_IDEMPOTENCY=1. BENCH_MODE=get: GET BENCH_PATH
-- (the key-verification loop). BENCH_KEY is the API key sent as X-API-Key (or BENCH_KEYS_FILE).
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tid
  math.randomseed(os.time() + thread_id)
  run_tag = string.format("%x%04x", os.time(), math.random(0, 65535))
end

local mode = os.getenv("BENCH_MODE") or "post"
local path = os.getenv("BENCH_PATH") or "/api/v1/leads"
local key = os.getenv("BENCH_KEY") or ""
local idempotency = os.getenv("BENCH_IDEMPOTENCY") == "1"
-- BENCH_KEYS_FILE: one key per line; requests take them in turn (the many-keys tenant).
local keys = {}
local keys_file = os.getenv("BENCH_KEYS_FILE")
if keys_file then
  for line in io.lines(keys_file) do
    if #line > 0 then table.insert(keys, line) end
  end
end
local key_index = 0

local function next_key()
  if #keys == 0 then return key end
  key_index = key_index % #keys + 1
  return keys[key_index]
end

function request()
  if mode == "get" then
    return wrk.format("GET", path, {["X-API-Key"] = next_key()})
  end
  counter = counter + 1
  local unique = string.format("%s-%d-%d", run_tag, thread_id, counter)
  local body = string.format(
    '{"firstName":"Bench%s","lastName":"Lead","email":"bench.%s@example.com",' ..
    '"phone":"+1 555-123-4567","company":"Acme Inc","source":"website"}', unique, unique)
  local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = next_key()}
  if idempotency then
    headers["Idempotency-Key"] = "idem-" .. unique
  end
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"errors_status\":%d," ..
    "\"errors_connect\":%d,\"errors_read\":%d,\"errors_write\":%d,\"errors_timeout\":%d," ..
    "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"mean_ms\":%.3f}\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000))
end
