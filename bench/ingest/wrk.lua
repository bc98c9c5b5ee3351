-- Closed-loop Alertmanager deliveries for bench.ingest, scenario (b):
--
--   wrk -t1 -c64 -d5s --latency -s bench/ingest/wrk.lua URL -- PREFIX TOKEN TEMPLATE
--
-- TEMPLATE is bench.ingest.bodies.BODY_TEMPLATE, passed in rather than copied here so both
-- scenarios send the same body shape. Every request gets its own id, PREFIX-THREAD-N, as
-- group key, labels, service and fingerprint: each delivery is a new group of a service of
-- its own and opens one incident (groups sharing a service would join a storm incident), and
-- a repeated key would silently turn an insert into a cheaper no-op.
--
-- wrk's own error count only sees statuses >= 400 and its latency covers every answer, so
-- the response hook counts 2xx (the acks) separately, and done() prints one parseable line:
--   INGEST_WRK {"requests": ..., "acked": ..., "sent": ..., "statuses": {...}, ...}

local threads = {}

function setup(thread)
  -- Runs in wrk's main Lua state, once per thread, before the thread starts.
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1] .. "-t" .. thread_index
  template = args[3]
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
  sent = 0
  acked = 0
  statuses = {}
end

function request()
  -- wrk also calls this once to inspect the request before the run, so "sent" may count one
  -- request that never went out; it is only used as an upper bound.
  sent = sent + 1
  local id = prefix .. "-" .. sent
  return wrk.format(nil, nil, nil, string.format(template, id, id, id, id, id, id, id))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 200 and status < 300 then
    acked = acked + 1
  end
end

local function statuses_json()
  local merged = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      merged[code] = (merged[code] or 0) + count
    end
  end
  local parts = {}
  for code, count in pairs(merged) do
    table.insert(parts, string.format('"%d": %d', code, count))
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
  local sent_total, acked_total = 0, 0
  for _, thread in ipairs(threads) do
    sent_total = sent_total + thread:get("sent")
    acked_total = acked_total + thread:get("acked")
  end
  local e = summary.errors
  io.write(string.format(
    'INGEST_WRK {"requests": %d, "acked": %d, "sent": %d, "duration_us": %d, '
      .. '"p50_us": %d, "p99_us": %d, "max_us": %d, "statuses": %s, '
      .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    summary.requests, acked_total, sent_total, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max, statuses_json(),
    e.connect, e.read, e.write, e.timeout))
end
