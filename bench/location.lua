-- wrk script: authenticated POST /api/v1/me/location/ from many volunteers (one token each).
-- The tokens file has one "token lat lon" line per volunteer; the wrk threads share it out, each
-- its own volunteers (thread i of n takes lines i, i + n, i + 2n, ...), and walk them in turn:
-- every request comes from the next volunteer, and the same volunteer reports again only after
-- a lap of its thread's share, however fast each thread goes (the server refuses a position
-- sooner than LOCATION_MIN_INTERVAL_S after the last with a 429; when each thread walked a
-- stretch of the list of its own, a faster thread caught up with a slower one's trail).
local tokens = {}
local sent = 0
local share = 0
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
local threads = {}
-- thread_index and statuses are globals: thread:set() and thread:get() reach them in each
-- thread's own state (a `local` of the same name would hide them).
thread_index = 0
statuses = {}
local path_override = os.getenv("BENCH_PATH")

-- BENCH_RATE (requests/s over all threads): each thread hands out send times on a fixed
-- schedule (delay() runs before each request of a connection after its first), so the load is
-- that rate, not "as fast as the server answers", as long as the server keeps up; when it
-- falls behind, the requests go at once and the rate measured is what it could do.
-- Latency counts from the moment a request is sent.
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local clock = ffi.new("bench_timespec")
local interval_ms = 0
local next_ms = nil

local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  if rate > 0 then
    interval_ms = 1000 * thread_count / rate
  end
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    local token, lat, lon = line:match("(%S+) (%S+) (%S+)")
    tokens[#tokens + 1] = {token, lat, lon}
  end
  share = math.floor(#tokens / thread_count)
end

function delay()
  if rate <= 0 then
    return 0
  end
  local now = now_ms()
  next_ms = math.max(next_ms or now, now - 1000)  -- a backlog of at most a second
  next_ms = next_ms + interval_ms
  return math.max(0, next_ms - now)
end

function request()
  local t = tokens[thread_index + thread_count * (sent % share) + 1]
  sent = sent + 1
  local body = string.format(
    '{"lat": %s, "lon": %s, "accuracy_m": 25, "measured_at": "%s"}',
    t[2], t[3], os.date("!%Y-%m-%dT%H:%M:%SZ"))
  local headers = {}
  headers["Authorization"] = "Token " .. t[1]
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", path_override, headers, body)
end

-- The answers that were not 2xx, by status, so a report can say what the errors were.
function response(status, headers, body)
  if status >= 300 then
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local by_status = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(by_status) do
    parts[#parts + 1] = string.format('"%d": %d', status, count)
  end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, ' ..
    '"statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout, table.concat(parts, ", ")))
end
