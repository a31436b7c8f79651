-- What spec/nonblocking_spec.lua no longer times: the cost of request:poll(0)
-- with 100 requests in flight (their replies held by the mock server), as a
-- ratio against a baseline of the same number of core.now() calls, and how
-- late a 16 ms frame loop driving ten streams with poll(0) starts its frames.
-- Run from the checkout: make bench-poll
--   (or with LUA_PATH/LUA_CPATH set: lua5.4 bench/poll.lua)
package.path = "./?.lua;" .. package.path
local oaichat = require("oaichat")
local core = require("oaichat.core")
local server = require("spec.support.server")

local srv = server.start()
local client = oaichat.new { api_key = "sk-bench", base_url = srv.url, max_retries = 0 }

local function pct(xs, p)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  return s[math.max(1, math.floor(#s * p + 0.5))]
end

-- 1. poll(0) with 100 requests held in flight, 100 rounds.
local scripts = {}
for i = 1, 100 do scripts[i] = { hold = true } end
srv:queue(scripts)
local reqs = {}
for i = 1, 100 do reqs[i] = client:chat_async("req " .. i) end
local took = {}
for _ = 1, 100 do
  for i = 1, 100 do
    local t = core.now()
    reqs[i]:poll(0)
    took[#took + 1] = core.now() - t
  end
end
local base = {}
for i = 1, #took do
  local t = core.now()
  core.now()
  base[i] = core.now() - t
end
srv:release(100)
for i = 1, 100 do reqs[i]:poll(nil) end
local med, med_base = pct(took, 0.5), pct(base, 0.5)
print(("%s: poll(0), 100 in flight: median %.1f us, p99 %.1f us, max %.2f ms; core.now() median %.2f us; ratio %.0f")
  :format(type(jit) == "table" and jit.version or _VERSION, med * 1e6, pct(took, 0.99) * 1e6,
    pct(took, 1) * 1e3, med_base * 1e6, med / math.max(med_base, 1e-9)))

-- 2. A 16 ms frame loop over ten streams: how late each frame starts,
-- against the frame length.
local FRAME = 0.016
local streams = {}
for i = 1, 10 do
  streams[i] = client:stream(("frame stream %d says a b c d e"):format(i), { headers = { ["x-mock-delay-ms"] = "25" } })
end
local late, work = {}, {}
local due, running = core.now(), 10
while running > 0 do
  local t = core.now()
  late[#late + 1] = t - due
  running = 0
  for _, s in ipairs(streams) do
    local _, done = s:poll(0)
    if not done then running = running + 1 end
  end
  work[#work + 1] = core.now() - t
  due = due + FRAME
  core.sleep(due - core.now())
end
print(("frames: %d, polls per frame median %.1f us, max %.2f ms; latest start %.2f ms = %.2f of a frame")
  :format(#work, pct(work, 0.5) * 1e6, pct(work, 1) * 1e3, pct(late, 1) * 1e3, pct(late, 1) / FRAME))
client:close()
srv:stop()
