-- The driver of `make bench` (started by bench/run.sh, which starts the
-- servers): runs every contender as its own process, interleaved (A B C, then
-- rotated, round after round), takes medians, prints the table and writes
-- bench/results.md with the targets of issue 7 and callgrind counts.
--
-- Each contender process times only its own loop (after warm-up requests)
-- and prints one JSON line: n, wall, cpu, rss_kb (peak), samples, chunks/bytes.
local core = require("oaichat.core")
local gen = require("bench.gen")

local DIR = assert(os.getenv("BENCH_DIR"), "run me through bench/run.sh")
local HOST = "http://127.0.0.1:" .. assert(os.getenv("BENCH_PORT"))
local TTFT_BASE = ("http://127.0.0.1:%s/v1"):format(assert(os.getenv("BENCH_TTFT_PORT")))
local LUA = os.getenv("OAICHAT_LUA") or "lua5.4"
local QUICK = os.getenv("BENCH_QUICK") == "1"
-- The same Lua with its symbols kept, for callgrind (see bench/lua_prof.c).
local PROF_LUA = os.getenv("BENCH_PROF_LUA") or LUA
local ROUNDS = QUICK and 1 or tonumber(os.getenv("BENCH_ROUNDS")) or 5

-- Requests (or streams) per contender-round, and untimed warm-up ones. The
-- slow contenders do fewer: a rate is a rate, and the run must stay short.
local function count(full, quick) return QUICK and quick or full end
local N = {
  fast = count(5000, 500), node = count(1000, 200), spawn = count(50, 10),
  warm = count(200, 20), s10k = count(5, 1), s100k = 1, ttft = count(100, 20),
}

-- Client placements: the servers run on CPU 0.
local PLACEMENTS = { { name = "same CPU", cpu = 0 } }
if (tonumber(os.getenv("BENCH_CPUS")) or 1) >= 2 then
  PLACEMENTS[2] = { name = "split CPUs", cpu = 1 }
end

local function c_cmd(mode, path, body, n, warm, conc, prog)
  return ("%s/%s %s %s%s/chat/completions %s/%s %d %d %s"):format(DIR, prog or "c_baseline", mode, HOST, path,
    DIR, body, n, warm, conc or "")
end

-- The floor (issue 12): the C baseline's libcurl code, decoding every body
-- and SSE payload with lua-cjson into Lua tables (bench/floor.h).
local function floor_cmd(mode, path, body, n, warm, conc)
  return c_cmd(mode, path, body, n, warm, conc, "c_floor")
end

local function lua_cmd(mode, base, n, warm, lua)
  return ("%s bench/client.lua %s %s %d %d 16"):format(lua or LUA, mode, base, n, warm)
end

local function node_cmd(mode, base, n, warm)
  return ("node bench/node/bench.js %s %s %d %d 16"):format(mode, base, n, warm)
end

local function file_size(path)
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

-- A scenario: its contenders (the first is oaichat; `c` and `node` are the
-- references of the ratios), the unit of its rate and how to check a run.
local function stream_scenario(name, path, chunks, reps)
  local bytes = file_size(("%s/%s.sse"):format(DIR, path:sub(2, -4)))
  return {
    id = name, title = ("Stream of %s chunks"):format(chunks), unit = "chunks/s", per = chunks,
    contenders = {
      { id = "oaichat", label = "oaichat client:stream (decoded tables)",
        cmd = lua_cmd("stream", HOST .. path, reps, 1), chunks = chunks * reps },
      { id = "c", label = "C libcurl (bytes only)",
        cmd = c_cmd("stream", path, "body_stream.json", reps, 1), bytes = bytes * reps },
      { id = "node", label = "Node SDK stream iterator",
        cmd = node_cmd("stream", HOST .. path, 1, 1), chunks = chunks },
      { id = "floor", label = "floor: C libcurl + cjson into Lua tables",
        cmd = floor_cmd("stream", path, "body_stream.json", reps, 1), chunks = chunks * reps, bytes = bytes * reps },
    },
  }
end

local completion_bytes = #gen.completion()
local SCENARIOS = {
  { id = "seq", title = "Sequential chat, one client, keep-alive", unit = "req/s", per = 1,
    contenders = {
      { id = "oaichat", label = "oaichat client:chat loop", cmd = lua_cmd("seq", HOST .. "/v1", N.fast, N.warm) },
      { id = "c", label = "C libcurl, one easy handle",
        cmd = c_cmd("seq", "/v1", "body.json", N.fast, N.warm), bytes = N.fast * completion_bytes },
      { id = "node", label = "Node SDK, await in a loop", cmd = node_cmd("seq", HOST .. "/v1", N.node, N.warm) },
      { id = "floor", label = "floor: C libcurl + cjson into Lua tables",
        cmd = floor_cmd("seq", "/v1", "body.json", N.fast, N.warm), bytes = N.fast * completion_bytes },
      { id = "curl", label = "curl program spawned per request",
        cmd = c_cmd("spawn", "/v1", "body.json", N.spawn, 3) },
    } },
  { id = "conc", title = "16 requests in flight", unit = "req/s", per = 1,
    contenders = {
      { id = "oaichat", label = "oaichat client:chat_many, concurrency 16",
        cmd = lua_cmd("many", HOST .. "/v1", N.fast, N.warm) },
      { id = "c", label = "C libcurl multi, 16 in flight",
        cmd = c_cmd("multi", "/v1", "body.json", N.fast, N.warm, 16), bytes = N.fast * completion_bytes },
      { id = "node", label = "Node SDK, 16 in flight", cmd = node_cmd("par", HOST .. "/v1", N.node, N.warm) },
      { id = "floor", label = "floor: C libcurl multi + cjson, 16 in flight",
        cmd = floor_cmd("multi", "/v1", "body.json", N.fast, N.warm, 16), bytes = N.fast * completion_bytes },
    } },
  stream_scenario("s10k", "/s10k/v1", gen.COUNTS.s10k, N.s10k),
  stream_scenario("s100k", "/s100k/v1", gen.COUNTS.s100k, N.s100k),
  { id = "ttft", title = "Time to first token (server waits 5 ms, then sends)", unit = "req/s", per = 1,
    contenders = {
      { id = "oaichat", label = "oaichat stream:next()", cmd = lua_cmd("ttft", TTFT_BASE, N.ttft, 10) },
      { id = "c", label = "C libcurl, first write callback",
        cmd = ("%s/c_baseline ttft %s/chat/completions %s/body_stream.json %d 10"):format(DIR, TTFT_BASE, DIR,
          N.ttft) },
      { id = "node", label = "Node SDK, first iteration", cmd = node_cmd("ttft", TTFT_BASE, N.ttft, 10) },
    } },
}

---------------------------------------------------------------------------
-- Running
---------------------------------------------------------------------------

local function run(cmd, placement)
  local full = ("taskset -c %d %s"):format(placement.cpu, cmd)
  local p = assert(io.popen(full, "r"))
  local out = p:read("a")
  local ok = p:close()
  local res = ok and core.decode(out:match("[^\n]*\n?$") or "")
  if type(res) ~= "table" then error(("bench: this run failed:\n  %s\n%s"):format(full, out), 0) end
  return res
end

-- A run that did not receive what it should have is an error, not a figure.
local function check(c, res)
  if c.chunks and res.chunks ~= c.chunks then
    error(("bench: %s got %d chunks, expected %d"):format(c.label, res.chunks, c.chunks), 0)
  end
  if c.bytes and res.bytes ~= c.bytes then
    error(("bench: %s got %d bytes, expected %d"):format(c.label, res.bytes, c.bytes), 0)
  end
end

-- runs[scenario][contender][placement] = list of results
local function run_rounds()
  local runs = {}
  for r = 1, ROUNDS do
    io.stderr:write(("bench: round %d/%d:"):format(r, ROUNDS))
    for _, sc in ipairs(SCENARIOS) do
      io.stderr:write(" ", sc.id)
      runs[sc.id] = runs[sc.id] or {}
      for _, pl in ipairs(PLACEMENTS) do
        local cs, k = sc.contenders, #sc.contenders
        for j = 0, k - 1 do
          local c = cs[(j + r - 1) % k + 1]
          local res = run(c.cmd, pl)
          check(c, res)
          local by = runs[sc.id][c.id] or {}
          runs[sc.id][c.id] = by
          by[pl.name] = by[pl.name] or {}
          table.insert(by[pl.name], res)
        end
      end
    end
    io.stderr:write("\n")
  end
  return runs
end

---------------------------------------------------------------------------
-- Figures
---------------------------------------------------------------------------

local function median(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

local function quantile(xs, q)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  return s[math.max(1, math.ceil(q * #s))]
end

-- Medians over the rounds: rate (units/s), cpu (µs per unit), rss (MiB),
-- and for ttft the pooled samples' median and p90 (µs).
local function figures(sc, list)
  local rate, cpu, rss, samples = {}, {}, {}, {}
  for i, res in ipairs(list) do
    local units = res.n * sc.per
    rate[i] = units / res.wall
    cpu[i] = res.cpu / units * 1e6
    rss[i] = res.rss_kb / 1024
    for _, s in ipairs(res.samples) do samples[#samples + 1] = s end
  end
  return { rate = median(rate), cpu = median(cpu), rss = median(rss),
    ttft = median(samples), ttft90 = #samples > 0 and quantile(samples, 0.9) or nil }
end

local function all_figures(runs)
  local fig = {}
  for _, sc in ipairs(SCENARIOS) do
    fig[sc.id] = {}
    for _, c in ipairs(sc.contenders) do
      fig[sc.id][c.id] = {}
      for _, pl in ipairs(PLACEMENTS) do
        fig[sc.id][c.id][pl.name] = figures(sc, runs[sc.id][c.id][pl.name])
      end
    end
  end
  return fig
end

---------------------------------------------------------------------------
-- Tables
---------------------------------------------------------------------------

local function thousands(x)
  local s = ("%d"):format(math.floor(x + 0.5))
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

local function ratio(a, b)
  if not a or not b or b == 0 then return "–" end
  if a / b >= 10 then return ("%.0f×"):format(a / b) end
  return ("%.2f×"):format(a / b)
end

local function row(cells) return "| " .. table.concat(cells, " | ") .. " |" end

local function cpu_text(sc, v)
  if sc.per > 1 then return ("%.2f µs/chunk"):format(v) end
  return ("%.1f µs/req"):format(v)
end

local function throughput_table(fig, out)
  out[#out + 1] = row { "scenario", "contender", "placement", "throughput", "vs C", "vs Node",
    "CPU", "vs C", "vs Node", "peak RSS", "vs C", "vs Node" }
  out[#out + 1] = row { "---", "---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:" }
  for _, sc in ipairs(SCENARIOS) do
    if sc.id ~= "ttft" then
      for _, pl in ipairs(PLACEMENTS) do
        local C, Nd = fig[sc.id].c[pl.name], fig[sc.id].node[pl.name]
        for _, c in ipairs(sc.contenders) do
          local f = fig[sc.id][c.id][pl.name]
          out[#out + 1] = row { sc.title, c.label, pl.name,
            thousands(f.rate) .. " " .. sc.unit, ratio(f.rate, C.rate), ratio(f.rate, Nd.rate),
            cpu_text(sc, f.cpu), ratio(f.cpu, C.cpu), ratio(f.cpu, Nd.cpu),
            ("%.1f MiB"):format(f.rss), ratio(f.rss, C.rss), ratio(f.rss, Nd.rss) }
        end
      end
    end
  end
end

-- oaichat against the floor, side by side: CPU per unit of raw libcurl,
-- the floor and oaichat, and oaichat's throughput as a share of the floor's.
local FLOOR_SCENARIOS = { seq = 0.85, conc = 0.85, s10k = 0.75, s100k = 0.75 }

local function floor_table(fig, out)
  out[#out + 1] = row { "scenario", "placement", "CPU: raw libcurl", "floor", "oaichat", "oaichat CPU ÷ floor",
    "oaichat ÷ floor (throughput)", "target" }
  out[#out + 1] = row { "---", "---", "---:", "---:", "---:", "---:", "---:", "---:" }
  for _, sc in ipairs(SCENARIOS) do
    local want = FLOOR_SCENARIOS[sc.id]
    if want then
      for _, pl in ipairs(PLACEMENTS) do
        local C, F, O = fig[sc.id].c[pl.name], fig[sc.id].floor[pl.name], fig[sc.id].oaichat[pl.name]
        -- the raw C stream counts bytes: its CPU per chunk is per the same chunks
        out[#out + 1] = row { sc.title, pl.name, cpu_text(sc, C.cpu), cpu_text(sc, F.cpu), cpu_text(sc, O.cpu),
          ratio(O.cpu, F.cpu), ratio(O.rate, F.rate), ("≥ %.2f×"):format(want) }
      end
    end
  end
end

local function ttft_table(fig, out)
  local sc = SCENARIOS[#SCENARIOS]
  out[#out + 1] = row { "contender", "placement", "median overhead", "p90", "vs C", "vs Node", "peak RSS" }
  out[#out + 1] = row { "---", "---", "---:", "---:", "---:", "---:", "---:" }
  for _, pl in ipairs(PLACEMENTS) do
    local C, Nd = fig.ttft.c[pl.name], fig.ttft.node[pl.name]
    for _, c in ipairs(sc.contenders) do
      local f = fig.ttft[c.id][pl.name]
      out[#out + 1] = row { c.label, pl.name, ("%.0f µs"):format(f.ttft), ("%.0f µs"):format(f.ttft90),
        ratio(f.ttft, C.ttft), ratio(f.ttft, Nd.ttft), ("%.1f MiB"):format(f.rss) }
    end
  end
end

---------------------------------------------------------------------------
-- Targets (issue 7)
---------------------------------------------------------------------------

-- Each target: a description, and per placement the measured value and
-- whether it holds. Met only when it holds in every placement.
local function targets(fig)
  local function per_pl(fn)
    local parts, ok = {}, true
    for _, pl in ipairs(PLACEMENTS) do
      local text, good = fn(pl.name)
      parts[#parts + 1] = ("%s: %s"):format(pl.name, text)
      ok = ok and good
    end
    return table.concat(parts, "; "), ok
  end
  local function rel(sc, a, b, want, at_most)
    return function(pl)
      local x = fig[sc][a][pl].rate / fig[sc][b][pl].rate
      return ("%.2f×"):format(x), at_most and x <= want or x >= want
    end
  end
  local function rss(pl)
    local worst, good = 0, true
    for _, sc in ipairs { "seq", "s10k", "s100k", "ttft" } do
      local x = fig[sc].oaichat[pl].rss / fig[sc].c[pl].rss
      worst = math.max(worst, x)
      good = good and x <= 1.5
    end
    return ("worst %.2f×"):format(worst), good
  end
  local list = {
    { "sequential chat ≥ 0.85× C", per_pl(rel("seq", "oaichat", "c", 0.85)) },
    { "chat_many @16 ≥ 0.8× C multi @16", per_pl(rel("conc", "oaichat", "c", 0.8)) },
    { "stream (10k) chunks/s ≥ 5× Node SDK", per_pl(rel("s10k", "oaichat", "node", 5)) },
    { "stream (100k) chunks/s ≥ 5× Node SDK", per_pl(rel("s100k", "oaichat", "node", 5)) },
    { "time-to-first-token overhead < 1 ms median", per_pl(function(pl)
      local v = fig.ttft.oaichat[pl].ttft
      return ("%.0f µs"):format(v), v < 1000
    end) },
    { "peak RSS ≤ 1.5× C (chat, streams, ttft)", per_pl(rss) },
    { "sequential chat ≥ 10× curl spawned per request", per_pl(rel("seq", "oaichat", "curl", 10)) },
  }
  for _, id in ipairs { "seq", "conc", "s10k", "s100k" } do
    local want = FLOOR_SCENARIOS[id]
    list[#list + 1] = { ("%s ≥ %.2f× the floor's throughput (issue 12)"):format(id, want),
      per_pl(rel(id, "oaichat", "floor", want)) }
  end
  return list
end

local function targets_table(fig, out)
  out[#out + 1] = row { "target", "measured", "status" }
  out[#out + 1] = row { "---", "---", "---" }
  local missed = 0
  for _, t in ipairs(targets(fig)) do
    local text, ok = t[2], t[3]
    if not ok then missed = missed + 1 end
    out[#out + 1] = row { t[1], text, ok and "met" or "**missed**" }
  end
  return missed
end

---------------------------------------------------------------------------
-- Callgrind: instructions of one request and of one 1,000-chunk stream
---------------------------------------------------------------------------

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1", "r"))
  local out = p:read("a")
  p:close()
  return out
end

-- Total Ir and per-function Ir (callgrind_annotate, every function).
local function callgrind(cmd, tag)
  local file = ("%s/callgrind.%s.out"):format(DIR, tag)
  sh(("valgrind --tool=callgrind --callgrind-out-file=%s %s >/dev/null"):format(file, cmd))
  local text = sh(("callgrind_annotate --auto=no --threshold=100 %s"):format(file))
  local total = text:match("([%d,]+)%s+%(100%.0%%%)%s+PROGRAM TOTALS") or text:match("([%d,]+)%s+PROGRAM TOTALS")
  if not total then error("bench: callgrind failed for " .. cmd .. "\n" .. text, 0) end
  local fns = {}
  for ir, name in text:gmatch("\n%s*([%d,]+) %([^)]*%)%s+([^\n]+)") do
    if name ~= "PROGRAM TOTALS" then
      name = name:gsub("%[/[^%]]*/([^/%]]+)%]", "[%1]")
      fns[name] = (fns[name] or 0) + tonumber((ir:gsub(",", "")))
    end
  end
  return tonumber((total:gsub(",", ""))), fns
end

-- Instructions per unit: (run with n + k units) - (run with k units), over n,
-- so start-up and warm-up cancel out. Also the top functions of that difference.
-- Instructions per unit: (run with n + k units) - (run with k units), over n,
-- so start-up and warm-up cancel out. Also the top functions and objects
-- (shared libraries) of that difference.
local function per_unit(make_cmd, n, tag)
  local ir1, f1 = callgrind(make_cmd(1), tag .. ".1")
  local ir2, f2 = callgrind(make_cmd(1 + n), tag .. "." .. (1 + n))
  local diff, objs, by_obj = {}, {}, {}
  for name, ir in pairs(f2) do
    local d = (ir - (f1[name] or 0)) / n
    if d > 0 then
      -- a stripped library's functions keep the library's name
      local short = name:find("^%?%?%?:0x") and name or name:gsub("%s*%[[^%]]*%]%s*$", "")
      diff[#diff + 1] = { name = short, ir = d }
      local obj = name:match("%[([^%]]+)%]%s*$") or "?"
      by_obj[obj] = (by_obj[obj] or 0) + d
    end
  end
  for obj, ir in pairs(by_obj) do objs[#objs + 1] = { name = obj, ir = ir } end
  local function by_ir(a, b) return a.ir > b.ir end
  table.sort(diff, by_ir)
  table.sort(objs, by_ir)
  return (ir2 - ir1) / n, diff, objs
end

local function top_list(out, title, list, k)
  out[#out + 1] = ""
  out[#out + 1] = title
  out[#out + 1] = ""
  out[#out + 1] = "```"
  for i = 1, math.min(k, #list) do
    out[#out + 1] = ("%12s  %s"):format(thousands(list[i].ir), list[i].name)
  end
  out[#out + 1] = "```"
end

local function callgrind_section(out)
  local cases = {
    { "one chat request", 20, 1, function(k) return lua_cmd("seq", HOST .. "/v1", k, 1, PROF_LUA) end,
      function(k) return c_cmd("seq", "/v1", "body.json", k, 1) end,
      function(k) return floor_cmd("seq", "/v1", "body.json", k, 1) end },
    { "one request of chat_many, 16 in flight", 160, 1,
      function(k) return lua_cmd("many", HOST .. "/v1", k, 1, PROF_LUA) end,
      function(k) return c_cmd("multi", "/v1", "body.json", k, 1, 16) end,
      function(k) return floor_cmd("multi", "/v1", "body.json", k, 1, 16) end },
    { "one stream chunk (streams of 1,000)", 4, gen.COUNTS.s1k,
      function(k) return lua_cmd("stream", HOST .. "/s1k/v1", k, 1, PROF_LUA) end,
      function(k) return c_cmd("stream", "/s1k/v1", "body_stream.json", k, 1) end,
      function(k) return floor_cmd("stream", "/s1k/v1", "body_stream.json", k, 1) end },
  }
  local tops = {}
  out[#out + 1] = row { "unit", "oaichat (Lua " .. _VERSION:match("%d.%d") .. ")", "C libcurl", "floor (C + cjson)",
    "oaichat ÷ C", "oaichat ÷ floor" }
  out[#out + 1] = row { "---", "---:", "---:", "---:", "---:", "---:" }
  for _, case in ipairs(cases) do
    io.stderr:write("bench: callgrind: ", case[1], "\n")
    local per = case[3]
    local lua_ir, top, objs = per_unit(case[4], case[2], "lua")
    local c_ir = per_unit(case[5], case[2], "c")
    local f_ir = per_unit(case[6], case[2], "floor")
    lua_ir, c_ir, f_ir = lua_ir / per, c_ir / per, f_ir / per
    for _, l in ipairs { top, objs } do
      for _, x in ipairs(l) do x.ir = x.ir / per end
    end
    out[#out + 1] = row { case[1], thousands(lua_ir) .. " Ir", thousands(c_ir) .. " Ir", thousands(f_ir) .. " Ir",
      ratio(lua_ir, c_ir), ratio(lua_ir, f_ir) }
    tops[#tops + 1] = { case[1], top, objs }
  end
  for _, t in ipairs(tops) do
    top_list(out, ("oaichat's %s by object (Ir per unit):"):format(t[1]), t[3], 8)
    top_list(out, ("Top functions of oaichat's %s (Ir per unit, self cost):"):format(t[1]), t[2], 20)
  end
end

-- The JSON glue alone (bench/json_cost.lua): core.decode of the completion
-- and of one content chunk, core.encode of a request body.
local function json_section(out)
  out[#out + 1] = row { "operation", "Ir per call" }
  out[#out + 1] = row { "---", "---:" }
  for _, case in ipairs { { "core.decode: the 653-byte completion", "completion" },
    { "core.decode: one 276-byte stream chunk", "chunk" }, { "core.encode: a request body", "request" } } do
    local ir = per_unit(function(k) return ("%s bench/json_cost.lua %s %d"):format(PROF_LUA, case[2], k) end,
      2000, "json." .. case[2])
    out[#out + 1] = row { case[1], thousands(ir) .. " Ir" }
  end
end

---------------------------------------------------------------------------
-- Report
---------------------------------------------------------------------------

local function first_line(cmd)
  return (sh(cmd):match("[^\n]*") or ""):gsub("%s+$", "")
end

local function machine()
  local info = {}
  local f = io.open("/proc/cpuinfo")
  local cpu = f and f:read("a"):match("model name%s*:%s*([^\n]+)") or "?"
  if f then f:close() end
  local sdk = io.open("bench/node/node_modules/openai/package.json")
  local sdk_version = sdk and sdk:read("a"):match('"version"%s*:%s*"([^"]+)"') or "?"
  if sdk then sdk:close() end
  info[#info + 1] = ("- Machine: %s, %s CPUs, %s"):format(cpu, os.getenv("BENCH_CPUS") or "?",
    first_line("grep PRETTY_NAME /etc/os-release | cut -d'\"' -f2") .. ", Linux " .. first_line("uname -r"))
  local lua = first_line(LUA .. " -v"):match("^Lua %S+")
  local nginx = first_line("nginx -v"):gsub("nginx version: ", "")
  info[#info + 1] = ("- %s, libcurl %s, %s, Node %s with openai %s, curl %s"):format(lua, core.curl_version,
    nginx, first_line("node --version"), sdk_version, first_line("curl --version"):match("curl (%S+)") or "?")
  info[#info + 1] = ("- Date: %s; %d rounds, medians"):format(os.date("!%Y-%m-%d %H:%M UTC"), ROUNDS)
  return info
end

local METHOD = [[
Method: nginx (1 worker, keep-alive, access log off) and the first-token server
run on CPU 0; each client runs on CPU 0 too ("same CPU") and on CPU 1 ("split
CPUs"): loopback figures swing several-fold with placement on small VMs, so
compare like with like. Every contender is its own process, run interleaved
(the order rotates each round); each times its own loop after warm-up
requests. Throughput and CPU time (user + system of the client process) are
medians over the rounds; peak RSS is the client process's VmHWM (maxRSS for
Node; for curl, the largest curl child). Ratios are this row ÷ the C row, and
this row ÷ the Node row, of the same scenario and placement: above 1 is
faster for throughput, heavier for CPU and RSS. Requests: POST
/v1/chat/completions with one user message; the answer is a fixed 653-byte
completion; streams are OpenAI-shaped chat.completion.chunk events (276 bytes
each) ending with [DONE]. The floor is the C program's libcurl code decoding
every body and every SSE payload with lua-cjson into Lua tables in an
embedded Lua 5.4 (bench/floor.h): the most a binding using this JSON
library can reach. chat_many's RSS includes the decoded results it
returns (all of them, by contract); the C and Node runs discard theirs.
Time to first token: the server sends the head at once, waits 5 ms, then sends
the first chunk holding its CLOCK_MONOTONIC instant; the figure is the
client's receipt of that chunk (as a decoded table for oaichat and Node) minus
that instant.]]

local function report(fig)
  local out = { "# oaichat benchmark", "", "Written by `make bench` (bench/run.sh, bench/bench.lua).", "" }
  for _, l in ipairs(machine()) do out[#out + 1] = l end
  out[#out + 1] = ""
  out[#out + 1] = "## Throughput, CPU, memory"
  out[#out + 1] = ""
  throughput_table(fig, out)
  out[#out + 1] = ""
  out[#out + 1] = "## Against the floor (libcurl + lua-cjson into Lua tables, issue 12)"
  out[#out + 1] = ""
  floor_table(fig, out)
  out[#out + 1] = ""
  out[#out + 1] = "## Time to first token"
  out[#out + 1] = ""
  ttft_table(fig, out)
  out[#out + 1] = ""
  out[#out + 1] = "## Targets (issue 7)"
  out[#out + 1] = ""
  local missed = targets_table(fig, out)
  out[#out + 1] = ""
  out[#out + 1] = "## Instruction counts (valgrind --tool=callgrind, client process only)"
  out[#out + 1] = ""
  out[#out + 1] = "Per unit: (a run with 1 + n units minus a run with 1), divided by n, so start-up cancels out."
  out[#out + 1] = ""
  callgrind_section(out)
  out[#out + 1] = ""
  out[#out + 1] = "JSON glue alone (csrc/json.c over lua-cjson, same method):"
  out[#out + 1] = ""
  json_section(out)
  out[#out + 1] = ""
  out[#out + 1] = "## Method"
  out[#out + 1] = ""
  out[#out + 1] = METHOD
  return table.concat(out, "\n") .. "\n", missed
end

local function main()
  if os.getenv("BENCH_ONLY") == "callgrind" then
    local out = {}
    callgrind_section(out)
    out[#out + 1] = ""
    json_section(out)
    io.write(table.concat(out, "\n"), "\n")
    return
  end
  local runs = run_rounds()
  local text, missed = report(all_figures(runs))
  io.write(text)
  if QUICK then
    io.stderr:write("bench: quick run, bench/results.md left as it was\n")
  else
    local f = assert(io.open("bench/results.md", "w"))
    f:write(text)
    f:close()
    io.stderr:write("bench: wrote bench/results.md\n")
  end
  io.stderr:write(("bench: %d target(s) missed\n"):format(missed))
end

main()
