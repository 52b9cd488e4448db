-- wrk script for bench/run.py. BENCH_MODE=post (default): POST a unique lead per request (thread
-- id + counter), with an Idempotency-Key when BENCH_IDEMPOTENCY=1 and two tags by name when
-- BENCH_TAGS=1. BENCH_MODE=get: GET BENCH_PATH. BENCH_KEY is the API key (or BENCH_KEYS_FILE),
-- carried as BENCH_TRANSPORT says: header (X-API-Key, default), bearer, query (?api_key=), body
-- (an api_key JSON field), form (an HTML form post with an api_key field). BENCH_HOST sets the
-- Host header (a tenant's subdomain). BENCH_TRANSPORT=formpost posts a visitor's submission to a
-- web form (BENCH_PATH /f/{id}): no key, a JSON body with the form's fields, the Origin header
-- BENCH_ORIGIN.
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
local tagged = os.getenv("BENCH_TAGS") == "1"
local transport = os.getenv("BENCH_TRANSPORT") or "header"
local host = os.getenv("BENCH_HOST")
local origin = os.getenv("BENCH_ORIGIN")
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

local function credential(headers, target, key_value)
  if transport == "bearer" then
    headers["Authorization"] = "Bearer " .. key_value
  elseif transport == "query" then
    local joiner = string.find(target, "?", 1, true) and "&" or "?"
    target = target .. joiner .. "api_key=" .. key_value
  elseif transport == "header" then
    headers["X-API-Key"] = key_value
  end
  if host then headers["Host"] = host end
  return target
end

function request()
  local headers = {}
  local key_value = next_key()
  if mode == "get" then
    return wrk.format("GET", credential(headers, path, key_value), headers)
  end
  counter = counter + 1
  local unique = string.format("%s-%d-%d", run_tag, thread_id, counter)
  local target = credential(headers, path, key_value)
  local body
  if transport == "formpost" then
    headers["Content-Type"] = "application/json"
    headers["Accept"] = "application/json"
    if origin then headers["Origin"] = origin end
    body = string.format(
      '{"firstName":"Bench%s","lastName":"Lead","email":"bench.%s@example.com",' ..
      '"phone":"+1 555-123-4567","company":"Acme Inc"}', unique, unique)
    return wrk.format("POST", target, headers, body)
  end
  if transport == "form" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    body = string.format(
      "firstName=Bench%s&lastName=Lead&email=bench.%s%%40example.com&phone=%%2B1+555-123-4567" ..
      "&company=Acme+Inc&source=website&api_key=%s", unique, unique, key_value)
    return wrk.format("POST", target, headers, body)
  end
  headers["Content-Type"] = "application/json"
  local extra = ""
  if transport == "body" then extra = extra .. ',"api_key":"' .. key_value .. '"' end
  if tagged then extra = extra .. ',"tags":["hot","webinar"]' end
  body = string.format(
    '{"firstName":"Bench%s","lastName":"Lead","email":"bench.%s@example.com",' ..
    '"phone":"+1 555-123-4567","company":"Acme Inc","source":"website"%s}', unique, unique, extra)
  if idempotency then
    headers["Idempotency-Key"] = "idem-" .. unique
  end
  return wrk.format("POST", target, headers, body)
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
