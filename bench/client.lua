-- oaichat as a contender in the benchmark (driven by bench/bench.lua).
--
--   lua bench/client.lua MODE BASE_URL N WARM [CONC]
--   MODE: seq (client:chat loop), many (client:chat_many at CONC), stream
--   (N whole streams through client:stream, every chunk decoded), ttft (first
--   chunk's receipt minus the server's sent_us).
--
-- Prints one JSON line like bench/c_baseline.c: samples, n, wall, cpu (os.clock:
-- this process's CPU time), rss_kb (VmHWM), chunks.
local oaichat = require("oaichat")
local core = require("oaichat.core")
local gen = require("bench.gen")

local mode, url = arg[1], arg[2]
local n, warm = tonumber(arg[3]), tonumber(arg[4])
local conc = tonumber(arg[5] or 16)

local client = oaichat.new { api_key = "bench-key", base_url = url, max_retries = 0 }
local messages = { { role = "user", content = gen.PROMPT } }
local chunks, samples = 0, {}

local function vm_hwm_kb()
  local f = assert(io.open("/proc/self/status"))
  local kb = f:read("a"):match("VmHWM:%s*(%d+)")
  f:close()
  return tonumber(kb)
end

local function seq(count)
  for _ = 1, count do
    local resp, err = client:chat(messages)
    if not resp then error(tostring(err)) end
  end
end

local function many(count)
  local list = {}
  for i = 1, count do list[i] = { messages } end
  for _, r in ipairs(client:chat_many(list, { concurrency = conc })) do
    if r.error then error(tostring(r.error)) end
  end
end

local function stream(count)
  for _ = 1, count do
    for _ in client:stream(messages) do chunks = chunks + 1 end
  end
end

local function ttft(count, keep)
  for _ = 1, count do
    local s = client:stream(messages)
    local first, err = s:next()
    local got = core.now() * 1e6
    if not first then error(tostring(err)) end
    if keep then samples[#samples + 1] = ("%.1f"):format(got - first.sent_us) end
    for _ in s do end
  end
end

local run = ({ seq = seq, many = many, stream = stream, ttft = ttft })[mode]
    or error("unknown mode " .. tostring(mode))
run(warm, false)
chunks = 0
local t0, c0 = core.now(), os.clock()
run(n, true)
local wall, cpu = core.now() - t0, os.clock() - c0
io.write(('{"samples":[%s],"n":%d,"wall":%.6f,"cpu":%.6f,"rss_kb":%d,"chunks":%d}\n')
  :format(table.concat(samples, ","), n, wall, cpu, vm_hwm_kb(), chunks))
client:close()
