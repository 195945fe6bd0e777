-- wrk script for benchmarks/load_vs_reference.py: the same mix as
-- Locust's `get-and-list` scenario, 1:1 alternating per wrk thread:
-- GET one random pre-created ConfigMap, then LIST the namespace's
-- ConfigMaps. Everything comes from the environment (the token stays off
-- the command line):
--   KG_WRK_TOKEN      bearer token
--   KG_WRK_GET_PREFIX path of the ConfigMaps, e.g.
--                     /api/v1/namespaces/NS/configmaps/kg-bench-
--   KG_WRK_OBJECTS    how many: names are PREFIX000 .. PREFIX(N-1)
--   KG_WRK_LIST_PATH  the LIST request's path (and query)
-- done() prints one `KGWRK key=value ...` line that the benchmark parses.

local token = os.getenv("KG_WRK_TOKEN")
local get_prefix = os.getenv("KG_WRK_GET_PREFIX")
local objects = tonumber(os.getenv("KG_WRK_OBJECTS"))
local list_path = os.getenv("KG_WRK_LIST_PATH")
local headers = {
  ["Authorization"] = "Bearer " .. token,
  ["Accept"] = "application/json",
}
local sent = 0
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(os.time() + (seed or 0) * 7919)
end

function request()
  sent = sent + 1
  if sent % 2 == 0 then
    return wrk.format("GET", list_path, headers)
  end
  local path = string.format("%s%03d", get_prefix, math.random(objects) - 1)
  return wrk.format("GET", path, headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "KGWRK requests=%d duration_us=%d connect=%d read=%d write=%d "
      .. "status=%d timeout=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
