-- Scale benchmark against the loopback mock server (tools/mock_server.lua),
-- from one Lua process:
--   1. 1,000 chat requests with concurrency 100 through client:chat_many:
--      throughput and peak memory (Lua heap and the process's VmHWM);
--   2. how the cost grows with 1, 10, 100 and 1,000 concurrent streams,
--      each driven by client:poll() plus stream:poll(0), as an event loop would.
--
--   lua5.4 bench/scale.lua [--requests N] [--concurrency N] [--max-streams N] [--delay-ms N]
--   luajit bench/scale.lua            (any of lua5.1/5.3/5.4/luajit; build that version first)
--
-- It finds the checkout's lua/ and build/<version>/ from its own location.
-- The mock server is one single-threaded Lua process: its speed, not
-- oaichat's, bounds the throughput; the CPU columns show the client's share.

local function checkout_root()
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  local dir = src:match("^(.*)/bench/scale%.lua$") or (src == "bench/scale.lua" and ".")
  return dir or "."
end

local ROOT = checkout_root()
local BUILD = type(jit) == "table" and "jit" or _VERSION:match("%d+%.%d+")
package.path = ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;" .. ROOT .. "/?.lua;" .. package.path
package.cpath = ROOT .. "/build/" .. BUILD .. "/?.so;" .. package.cpath

local oaichat = require("oaichat")
local core = require("oaichat.core")
local server = require("spec.support.server")

local opts = { requests = 1000, concurrency = 100, ["max-streams"] = 1000, ["delay-ms"] = 20 }
do
  local i = 1
  while arg[i] do
    local name = arg[i]:match("^%-%-(.+)$")
    if not name or opts[name] == nil or not tonumber(arg[i + 1]) then
      io.stderr:write("usage: bench/scale.lua [--requests N] [--concurrency N] [--max-streams N] [--delay-ms N]\n")
      os.exit(2)
    end
    opts[name] = tonumber(arg[i + 1])
    i = i + 2
  end
end

-- kB from /proc/self/status (Linux), nil elsewhere.
local function proc_kb(field)
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return tonumber(text:match(field .. ":%s*(%d+)"))
end

local function mb(kb) return kb and ("%.1f MB"):format(kb / 1024) or "n/a" end

-- Peak Lua heap while fn runs: sampled by a count hook (every 1000 VM
-- instructions), since chat_many does not return until the end.
local function with_heap_peak(fn)
  local peak = collectgarbage("count")
  debug.sethook(function()
    local k = collectgarbage("count")
    if k > peak then peak = k end
  end, "", 1000)
  local ok, a, b = pcall(fn)
  debug.sethook()
  if not ok then error(a, 0) end
  return peak, a, b
end

local function part1(srv)
  local n, conc = opts.requests, opts.concurrency
  local client = oaichat.new { api_key = "sk-bench", base_url = srv.url, max_retries = 0, timeout = 60 }
  local list = {}
  for i = 1, n do list[i] = { "bench request " .. i } end
  collectgarbage()
  local base = collectgarbage("count")
  local t0, c0 = core.now(), os.clock()
  local peak, results = with_heap_peak(function() return client:chat_many(list, { concurrency = conc }) end)
  local wall, cpu = core.now() - t0, os.clock() - c0
  local ok = 0
  for i = 1, n do
    if oaichat.text(results[i]) == ("Echo: bench request %d (1 message)"):format(i) then ok = ok + 1 end
  end
  local conns = srv:stats().connections
  client:close()
  print(("1. %d requests, concurrency %d, chat_many (%s, %s)"):format(n, conc, _VERSION,
    type(jit) == "table" and jit.version or "no JIT"))
  print(("   correct answers   %d / %d"):format(ok, n))
  print(("   wall time         %.2f s"):format(wall))
  print(("   throughput        %.0f requests/s"):format(n / wall))
  print(("   client CPU        %.2f s (%.0f us per request)"):format(cpu, cpu / n * 1e6))
  print(("   Lua heap          %.0f kB before, peak %.0f kB (+%.1f kB per request in flight)"):format(
    base, peak, (peak - base) / conc))
  print(("   process peak RSS  %s (VmHWM)"):format(mb(proc_kb("VmHWM"))))
  print(("   server connections so far: %d"):format(conns))
  return ok == n
end

-- One row of the table: n streams at once, driven to the end.
-- delay_ms: the server's pause between chunks (a model's pace), or 0.
local function stream_row(srv, n, delay_ms)
  srv:reset()
  local client = oaichat.new { api_key = "sk-bench", base_url = srv.url, max_retries = 0, idle_timeout = 60 }
  collectgarbage()
  local base, rss_peak = collectgarbage("count"), proc_kb("VmRSS") or 0
  local rss_base = rss_peak
  local t0, c0 = core.now(), os.clock()
  local streams, live = {}, {}
  for i = 1, n do
    streams[i] = client:stream("stream " .. i .. " says hello",
      { headers = { ["x-mock-delay-ms"] = tostring(delay_ms) } })
    live[i] = streams[i]
  end
  local peak, polls, poll_time, rounds, chunks = collectgarbage("count"), 0, 0, 0, 0
  local remaining = n
  while remaining > 0 do
    client:poll(10) -- one wait for every transfer
    rounds = rounds + 1
    for i, s in pairs(live) do
      local p = core.now()
      local got, done = s:poll(0)
      poll_time, polls = poll_time + core.now() - p, polls + 1
      chunks = chunks + #got
      if done then
        live[i], remaining = nil, remaining - 1
      end
    end
    local k = collectgarbage("count")
    if k > peak then peak = k end
    if rounds % 10 == 1 then rss_peak = math.max(rss_peak, proc_kb("VmRSS") or 0) end
  end
  local wall, cpu = core.now() - t0, os.clock() - c0
  rss_peak = math.max(rss_peak, proc_kb("VmRSS") or 0)
  local ok = 0
  for i = 1, n do
    if streams[i]:text() == ("Echo: stream %d says hello (1 message)"):format(i) then ok = ok + 1 end
    streams[i]:close()
  end
  client:close()
  return { n = n, ok = ok, wall = wall, cpu = cpu, rounds = rounds, chunks = chunks,
    poll_us = poll_time / polls * 1e6, heap_kb = (peak - base) / n, rss = rss_peak - rss_base }
end

local function stream_table(srv, delay_ms)
  print()
  print(("   %s: concurrent streams of 9 chunks, %d ms apart; client:poll(10) + stream:poll(0) each")
    :format(delay_ms > 0 and "paced" or "as fast as possible", delay_ms))
  local head = ("   %7s %5s %8s %9s %11s %10s %12s %13s %10s"):format("streams", "ok", "wall s", "rounds",
    "chunks/s", "cpu s", "cpu ms/str", "poll(0) us", "heap kB/str")
  print(head .. "  RSS +MB")
  local all_ok = true
  local n = 1
  while n <= opts["max-streams"] do
    local r = stream_row(srv, n, delay_ms)
    all_ok = all_ok and r.ok == n
    print(("   %7d %5d %8.3f %9d %11.0f %10.3f %12.3f %13.1f %10.1f  %7.1f"):format(r.n, r.ok, r.wall, r.rounds,
      r.chunks / r.wall, r.cpu, r.cpu / n * 1000, r.poll_us, r.heap_kb, r.rss / 1024))
    n = n * 10
  end
  return all_ok
end

local function part2(srv)
  print()
  print("2. cost from 1 to " .. opts["max-streams"] .. " concurrent streams")
  local ok = stream_table(srv, 0)
  if opts["delay-ms"] > 0 then ok = stream_table(srv, opts["delay-ms"]) and ok end
  print()
  print(("   process peak RSS %s (VmHWM)"):format(mb(proc_kb("VmHWM"))))
  return ok
end

local srv = server.start()
local ok1, ok2
local ok, err = pcall(function()
  ok1 = part1(srv)
  ok2 = part2(srv)
end)
srv:stop()
if not ok then error(err, 0) end
os.exit((ok1 and ok2) and 0 or 1)
