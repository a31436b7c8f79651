-- Instructions of oaichat's JSON glue alone (run under callgrind by
-- bench/bench.lua): decodes the benchmark's completion and one content chunk
-- N times each, and encodes a request body N times.
--
--   lua bench/json_cost.lua MODE N      MODE: completion | chunk | request
local core = require("oaichat.core")
local gen = require("bench.gen")

local mode, n = arg[1], tonumber(arg[2])
-- The collector is stopped: its share per call depends on the whole heap,
-- not on the glue, and would blur small differences (2,000 calls fit).
collectgarbage("stop")
local sse = gen.sse(3)
local texts = {
  completion = gen.completion(),
  chunk = select(2, sse:match("data: ([^\n]*)\n\ndata: ([^\n]*)\n\n")),
}
if mode == "request" then
  local body = { model = gen.MODEL, messages = { { role = "user", content = gen.PROMPT } }, stream = true,
    temperature = 0.7 }
  for _ = 1, n do core.encode(body) end
else
  local s = assert(texts[mode], "mode: completion, chunk or request")
  for _ = 1, n do assert(core.decode(s)) end
end
