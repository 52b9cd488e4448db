-- wrk script: GET a path with an API key (key-verification loop). Env: BENCH_PATH, BENCH_KEY.
local path = os.getenv("BENCH_PATH") or "/api/v1/api-keys/self"
local key = os.getenv("BENCH_KEY") or ""

function request()
  return wrk.format("GET", path, {["X-API-Key"] = key})
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
