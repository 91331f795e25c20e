-- wrk script: authenticated POST /api/v1/me/location/ from many volunteers (one token each).
-- The tokens file has one "token lat lon" line per volunteer; each wrk thread starts at its own
-- offset and walks the list, so every request comes from the next volunteer.
local tokens = {}
local counter = 0
local threads = {}
-- thread_offset is a global: thread:set() below sets it in each thread's state (a `local` of
-- the same name would hide it, and every thread would walk the list in step with the others).
thread_offset = 0
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
  thread:set("thread_offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  if rate > 0 then
    interval_ms = 1000 * tonumber(os.getenv("BENCH_THREADS") or "1") / rate
  end
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    local token, lat, lon = line:match("(%S+) (%S+) (%S+)")
    tokens[#tokens + 1] = {token, lat, lon}
  end
  counter = thread_offset
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
  counter = counter + 1
  local t = tokens[(counter % #tokens) + 1]
  local body = string.format(
    '{"lat": %s, "lon": %s, "accuracy_m": 25, "measured_at": "%s"}',
    t[2], t[3], os.date("!%Y-%m-%dT%H:%M:%SZ"))
  local headers = {}
  headers["Authorization"] = "Token " .. t[1]
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", path_override, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
