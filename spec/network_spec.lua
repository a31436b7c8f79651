-- Real-network behaviour that event loops rely on: slow DNS, bursts,
-- unread streams, resets after [DONE], and resources the GC cannot see.
local helper = require("spec.support.helper")
local child = require("spec.support.child")
local util = require("spec.support.util")
local oaichat = require("oaichat")
local cjson = require("cjson")
local sub = require("spec.support.subprocess")
local server = require("spec.support.server")

-- Runs code in a child with the LD_PRELOAD shim build/<shim>.so (built by
-- the Makefile: make specs / test / check-memory) and env; returns the
-- "name value" lines it printed (numbers where they are numbers) and stderr.
local function with_shim(shim, env, code)
  local path = "build/" .. shim .. ".so"
  local f = io.open(path, "rb")
  assert(f, path .. " is missing: run the specs through make")
  f:close()
  local preload = os.getenv("LD_PRELOAD")
  env.LD_PRELOAD = (preload and preload ~= "" and preload .. " " or "") .. "./" .. path
  local out, err, ok = child.run(env, code)
  assert(ok, "child failed: " .. tostring(err) .. tostring(out))
  local got = {}
  for name, value in out:gmatch("(%S+) ([^\n]*)") do got[name] = tonumber(value) or value end
  return got, err
end

-- Runs code in a child whose lookups of "slow.test" take ms milliseconds.
local function with_slow_dns(ms, code)
  return with_shim("slow_dns", { OAICHAT_SLOW_DNS_HOST = "slow.test", OAICHAT_SLOW_DNS_MS = tostring(ms),
    SPEC_PORT = tostring(helper.server().port) }, code)
end

local PRELUDE = [[
local oaichat = require("oaichat")
local core = require("oaichat.core")
local url = "http://slow.test:" .. os.getenv("SPEC_PORT") .. "/v1"
local function new() return oaichat.new{ base_url = url, api_key = "k", connect_timeout = 0.5, max_retries = 0 } end
local function timed(f, ...) local t = core.now(); f(...); return core.now() - t end
local function report(name, v) io.write(name, " ", tostring(v), "\n") end
]]

describe("network", function()
  describe("a 3 s DNS lookup (LD_PRELOAD shim) with connect_timeout = 0.5", function()
    -- Bounds are generous (1 s against a 3 s lookup) so they hold under ASan
    -- on a loaded machine; before the fix each of these took 1.5-3 s.
    it("never blocks stream:poll(0), request:poll(0), close(), client:close() or the GC", function()
      local got = with_slow_dns(3000, PRELUDE .. [[
local c = new()
local s, worst, polls = c:stream("hi"), 0, 0
while true do
  local done
  local d = timed(function() local _; _, done = s:poll(0) end)
  worst, polls = math.max(worst, d), polls + 1
  if done then break end
  core.sleep(0.01)
end
local r, rworst = c:chat_async("hi"), 0
while true do
  local done
  rworst = math.max(rworst, timed(function() done = r:poll(0) end))
  if done then break end
  core.sleep(0.01)
end
report("poll_worst", worst)
report("request_poll_worst", rworst)
report("polls", polls)
local _, err = s:next()
report("kind", err and err.kind)
s = c:stream("hi"); s:poll(0); core.sleep(0.1)
report("close", timed(function() s:close() end))
r = c:chat_async("hi"); r:poll(0); core.sleep(0.1)
report("request_close", timed(function() r:close() end))
s = c:stream("hi"); s:poll(0); core.sleep(0.1)
report("client_close", timed(function() c:close() end))
local c2 = new()
s = c2:stream("hi"); s:poll(0); core.sleep(0.1)
s, c2 = nil, nil
report("gc", timed(function() collectgarbage() collectgarbage() end))
]])
      assert.equal("timeout", got.kind)
      assert.is_true(got.polls >= 2)
      assert.is_true(got.poll_worst < 1, "stream:poll(0) took " .. got.poll_worst .. " s")
      assert.is_true(got.request_poll_worst < 1, "request:poll(0) took " .. got.request_poll_worst .. " s")
      assert.is_true(got.close < 1, "stream:close() took " .. got.close .. " s")
      assert.is_true(got.request_close < 1, "request:close() took " .. got.request_close .. " s")
      assert.is_true(got.client_close < 1, "client:close() took " .. got.client_close .. " s")
      assert.is_true(got.gc < 1, "collecting a client took " .. got.gc .. " s")
    end)

    it("chat() gives up at connect_timeout, not when the lookup ends", function()
      local got = with_slow_dns(3000, PRELUDE .. [[
local c = new()
local t = core.now()
local _, err = c:chat("hi")
report("elapsed", core.now() - t)
report("kind", err.kind)
]])
      assert.equal("timeout", got.kind)
      assert.is_true(got.elapsed < 2, "chat() took " .. got.elapsed .. " s")
    end)

    it("still answers once a slow lookup finishes within connect_timeout", function()
      local got = with_slow_dns(200, PRELUDE .. [[
local c = oaichat.new{ base_url = url, api_key = "k", connect_timeout = 10, max_retries = 0 }
local resp, err = c:chat("hi")
report("text", resp and oaichat.text(resp) ~= nil)
report("err", err and tostring(err))
]])
      assert.equal("true", got.text)
    end)
  end)

  describe("[DONE] then a TCP reset inside the grace wait", function()
    -- The script's pieces, chunk-encoded as the mock sends them, so the
    -- connection is reset right after [DONE], before the body's last chunk.
    local function done_then_reset(srv, n)
      local pieces, wire = {}, 0
      for i = 1, n do pieces[i] = util.text_chunk("w" .. i) end
      pieces[#pieces].choices[1].finish_reason = cjson.null
      pieces[n + 1] = "[DONE]"
      for _, p in ipairs(pieces) do
        local text = "data: " .. (type(p) == "string" and p or cjson.encode(p)) .. "\n\n"
        wire = wire + #string.format("%x\r\n", #text) + #text + 2
      end
      srv:queue{ { sse = pieces, chunked = true, close_after_bytes = wire, reset = true } }
    end

    it("is a success: every chunk, no error, from next(), poll() and the for loop", function()
      local srv = helper.server()
      local c = oaichat.new{ base_url = srv.url, api_key = "sk-spec", max_retries = 0 }
      done_then_reset(srv, 3)
      local got, err = util.drain(c:stream("hi"))
      assert.is_nil(err)
      assert.equal(3, #got)
      done_then_reset(srv, 3)
      local s, n, done, perr = c:stream("hi"), 0, false, nil
      while not done do
        local chunks
        chunks, done, perr = s:poll(50)
        n = n + #chunks
      end
      assert.is_nil(perr)
      assert.equal(3, n)
      done_then_reset(srv, 2)
      local text = {}
      for chunk in c:stream("hi") do text[#text + 1] = chunk.choices[1].delta.content end
      assert.equal("w1w2", table.concat(text))
      -- a conversation keeps the turn
      local conv = c:conversation()
      done_then_reset(srv, 2)
      local pieces = {}
      for piece in conv:stream("hi") do pieces[#pieces + 1] = piece end
      assert.equal("w1w2", table.concat(pieces))
      assert.equal(2, #conv.messages)
      assert.equal("w1w2", conv.messages[2].content)
      c:close()
    end)
  end)

  describe("a burst of 200,000 tiny events", function()
    local burst
    setup(function() burst = require("spec.support.burst_server").start() end)
    teardown(function() burst:stop() end)

    it("one poll(0) returns at most POLL_MAX_CHUNKS chunks; the rest stay queued for the next polls", function()
      local max = require("oaichat.stream").POLL_MAX_CHUNKS
      local c = oaichat.new{ base_url = burst:url(200000), api_key = "sk-spec", max_retries = 0 }
      local s = c:stream("hi")
      local total, polls, most, done, err = 0, 0, 0, false, nil
      while not done do
        local chunks
        chunks, done, err = s:poll(0)
        polls, total, most = polls + 1, total + #chunks, math.max(most, #chunks)
        if #chunks == 0 and not done then require("oaichat.core").sleep(0.001) end
      end
      assert.is_nil(err)
      assert.equal(200000, total)
      assert.equal(max, most)
      assert.is_true(polls >= 200000 / max)
      c:close()
    end)
  end)

  describe("an unread stream", function()
    local burst
    setup(function() burst = require("spec.support.burst_server").start() end)
    teardown(function() burst:stop() end)

    local function rss_kib()
      local f = assert(io.open("/proc/self/status"))
      local kib = tonumber(f:read("*a"):match("VmRSS:%s*(%d+)"))
      f:close()
      return kib
    end

    it("stops reading (backpressure) while its queue is full, and resumes when read", function()
      -- 300,000 events are 17 MB; the queue holds about 1 MiB of them.
      local c = oaichat.new{ base_url = burst:url(300000), api_key = "sk-spec", max_retries = 0,
        idle_timeout = 1 }
      local s = c:stream("hi")
      collectgarbage()
      local before = rss_kib()
      -- Drive the client for a second or more without reading the stream
      -- (and past its idle_timeout: a paused stream is not idle).
      local t0 = require("oaichat.core").now()
      repeat c:poll(10) until require("oaichat.core").now() - t0 > 1.5
      local grown = rss_kib() - before
      assert.is_true(grown < 8 * 1024, ("RSS grew by %d KiB while unread"):format(grown))
      -- Reading past the first queueful proves the transfer resumed.
      for _ = 1, 50000 do
        local chunk, err = s:next()
        assert.is_nil(err)
        assert.is_table(chunk)
      end
      s:close()
      c:close()
    end)
  end)

  describe("the CA bundle", function()
    local tls = require("spec.support.tls")
    local certs, tsrv
    setup(function()
      certs = tls.make_certs()
      tsrv = tls.start(certs, helper.server().port)
    end)
    teardown(function()
      tsrv:stop()
      tls.remove_certs(certs)
    end)

    it("given as ca_file is read once per TLS connection, not per request", function()
      local got, stderr = with_shim("count_open", { OAICHAT_COUNT_OPEN = certs.ca_file,
        SPEC_URL = tsrv.url, SPEC_CA = certs.ca_file }, [[
local oaichat = require("oaichat")
local ok = 0
for _ = 1, 3 do
  local c = oaichat.new{ base_url = os.getenv("SPEC_URL"), api_key = "sk-spec", ca_file = os.getenv("SPEC_CA") }
  for _ = 1, 3 do
    if c:chat("hi") then ok = ok + 1 end
  end
  c:close()
end
io.write("ok ", ok, "\n")
]])
      assert.equal(9, got.ok)
      local opened = tonumber(stderr:match("opened (%d+)"))
      assert.is_true(opened >= 1 and opened <= 3, "opened " .. tostring(opened))
    end)

    it("of the system is never parsed whole when its hashed directory is there (Debian)", function()
      -- libcurl's defaults on Debian: this bundle and /etc/ssl/certs, hashed.
      local bundle = "/etc/ssl/certs/ca-certificates.crt"
      local got, stderr = with_shim("count_open", { OAICHAT_COUNT_OPEN = bundle, SPEC_URL = tsrv.url }, [[
local oaichat = require("oaichat")
local kinds = {}
for i = 1, 3 do
  local c = oaichat.new{ base_url = os.getenv("SPEC_URL"), api_key = "sk-spec", max_retries = 0 }
  local _, err = c:chat("hi")
  kinds[i] = err and err.kind
  c:close()
end
io.write("kinds ", table.concat(kinds, ","), "\n")
]])
      -- the test CA is not in the system store: verification fails, as it must
      assert.equal("connection,connection,connection", got.kinds)
      assert.equal("0", stderr:match("opened (%d+)"))
    end)
  end)

  describe("resources the garbage collector cannot see", function()
    -- A child with `ulimit -n 256` and a 32 MB live heap (so the collector
    -- runs rarely): without help every dropped client or unclosed stream
    -- keeps its socket until a GC cycle, and the child runs out of fds.
    local function limited(code)
      local script = os.tmpname()
      sub.spit(script, [[
local oaichat = require("oaichat")
local url = os.getenv("SPEC_URL")
local pid = io.open("/proc/self/stat"):read("*l"):match("^(%d+)")
local function fds()
  local p = io.popen("ls /proc/" .. pid .. "/fd | wc -l")
  local n = tonumber(p:read("*a"))
  p:close()
  return n - 1 -- the pipe of this popen
end
local function rss_kib()
  local f = io.open("/proc/self/status")
  local kib = tonumber(f:read("*a"):match("VmRSS:%s*(%d+)"))
  f:close()
  return kib
end
local ballast = {}
for i = 1, 250000 do ballast[i] = ("x"):rep(100) .. i end
local function report(name, v) io.write(name, " ", tostring(v), "\n") end
]] .. code)
      local r = sub.run({ "sh", "-c", ("ulimit -n 256 && exec %s %s"):format(server.interpreter(), script) },
        { exec = true, env = { LUA_PATH = package.path, LUA_CPATH = package.cpath,
          SPEC_URL = helper.server().url } })
      os.remove(script)
      assert(r.code == 0, "child failed: " .. r.stderr .. r.stdout)
      local got = {}
      for name, value in r.stdout:gmatch("(%S+) ([^\n]*)") do got[name] = tonumber(value) or value end
      return got
    end

    it("1,000 dropped clients do not exhaust fds (ulimit -n 256)", function()
      local got = limited([[
local fails, most, rss0 = 0, 0, rss_kib()
local fds0 = fds()
for i = 1, 1000 do
  local c = oaichat.new{ base_url = url, api_key = "sk-spec", max_retries = 0 }
  local resp = c:chat("hi")
  if not resp then fails = fails + 1 end
  if i % 25 == 0 then most = math.max(most, fds() - fds0) end
end
report("fails", fails)
report("most_fds", most)
report("rss_kib", rss_kib() - rss0)
]])
      assert.equal(0, got.fails)
      assert.is_true(got.most_fds < 200, "fds in use: " .. got.most_fds)
    end)

    it("1,000 `break`s out of a long stream do not exhaust fds, and the streams end", function()
      local words = {}
      for i = 1, 300 do words[i] = "w" .. i end
      local got = limited(([[
local c = oaichat.new{ base_url = url, api_key = "sk-spec", max_retries = 0 }
local fails, most, rss0 = 0, 0, rss_kib()
local fds0 = fds()
for i = 1, 1000 do
  local ok = pcall(function()
    for _ in c:stream(%q, { headers = { ["x-mock-delay-ms"] = "20" } }) do break end
  end)
  if not ok then fails = fails + 1 end
  if i %% 25 == 0 then most = math.max(most, fds() - fds0) end
end
report("fails", fails)
report("most_fds", most)
report("pending", c:pending())
report("rss_kib", rss_kib() - rss0)
]]):format(table.concat(words, " ")))
      assert.equal(0, got.fails)
      assert.is_true(got.most_fds < 200, "fds in use: " .. got.most_fds)
      if _VERSION == "Lua 5.4" then
        -- the for loop closed each stream at its break
        assert.equal(0, got.pending)
      end
    end)
  end)

  describe("what a stream's response says", function()
    it("recognises Content-Type: Text/Event-Stream (media types are case-insensitive)", function()
      local srv = helper.server()
      local c = oaichat.new{ base_url = srv.url, api_key = "sk-spec", max_retries = 0 }
      srv:queue{ { sse = { util.text_chunk("a"), util.text_chunk("b"), "[DONE]" },
        headers = { ["Content-Type"] = "Text/Event-Stream; Charset=UTF-8" } } }
      local got, err = util.drain(c:stream("hi"))
      assert.is_nil(err)
      assert.equal(2, #got)
      c:close()
    end)

    it("makes a data: [1,2,3] event a decode error, as the same body is when not streamed", function()
      local srv = helper.server()
      local c = oaichat.new{ base_url = srv.url, api_key = "sk-spec", max_retries = 0 }
      srv:queue{ { sse = { util.text_chunk("a"), "[1,2,3]", "[DONE]" } } }
      local got, err = util.drain(c:stream("hi"))
      assert.equal(1, #got)
      assert.equal("decode", err.kind)
      assert.equal("[1,2,3]", err.body)
      assert.equal("a stream chunk is not a JSON object", err.message)
      srv:queue{ { body = "[1,2,3]" } }
      local _, cerr = c:chat("hi")
      assert.equal("decode", cerr.kind)
      c:close()
    end)
  end)
end)
