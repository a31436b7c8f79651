-- Fault injection against the loopback server (issue 5, item 6): each fault
-- alone, then 100 sequential requests with seeded random faults where every
-- request succeeds or fails with the right kind, and Lua memory stays flat.
local oaichat = require("oaichat")
local core = require("oaichat.core")
local helper = require("spec.support.helper")

local KEY = "sk-faults-secret-0123456789abcdef"
local ECHO_HI = "Echo: hi (1 message)"

local srv

local function client(opts)
  opts = opts or {}
  opts.base_url = srv.url
  opts.api_key = KEY
  return oaichat.new(opts)
end

local chunk = require("spec.support.util").text_chunk

local function drain(s)
  local got = {}
  while true do
    local c, err = s:next()
    if not c then return got, err end
    got[#got + 1] = c.choices[1] and c.choices[1].delta.content
  end
end

local function since(t0)
  return core.now() - t0
end

describe("faults", function()
  setup(function()
    srv = helper.server()
  end)

  before_each(function()
    srv:reset()
  end)

  it("429 with Retry-After, then success", function()
    srv:queue({ { status = 429, headers = { ["retry-after"] = "0" },
      json = { error = { message = "Rate limit reached", type = "requests", code = "rate_limit_exceeded" } } } })
    local delays = {}
    local c = client({ on_retry = function(err, _, delay) delays[#delays + 1] = { err.code, delay } end })
    local resp, err = c:chat("hi")
    assert.is_nil(err)
    assert.are.equal(ECHO_HI, oaichat.text(resp))
    assert.are.same({ { "rate_limit_exceeded", 0 } }, delays)
    assert.are.equal(2, #srv:requests())
  end)

  it("500 twice, then success", function()
    local fail = { status = 500, headers = { ["retry-after-ms"] = "0" } }
    srv:queue({ fail, fail })
    local attempts = {}
    local c = client({ on_retry = function(_, attempt) attempts[#attempts + 1] = attempt end })
    local resp, err = c:chat("hi")
    assert.is_nil(err)
    assert.are.equal(ECHO_HI, oaichat.text(resp))
    assert.are.same({ 1, 2 }, attempts)
    assert.are.equal(3, #srv:requests())
  end)

  it("503 with x-should-retry: false is not retried", function()
    srv:queue({ { status = 503, headers = { ["x-should-retry"] = "false", ["x-request-id"] = "req_503" } } })
    local c = client({ max_retries = 2 })
    local resp, err = c:chat("hi")
    assert.is_nil(resp)
    assert.are.same({ "api", 503, false, 1, "req_503" },
      { err.kind, err.status, err.retryable, err.attempts, err.request_id })
    assert.are.equal("oaichat: api error 503 (mock_error): mock error 503 [request req_503]", tostring(err))
    assert.are.equal(1, #srv:requests())
  end)

  it("a reset before the headers: kind connection, then a retry succeeds", function()
    srv:queue({ { reset = true } })
    local _, err = client({ max_retries = 0 }):chat("hi")
    assert.are.same({ "connection", true, 1 }, { err.kind, err.retryable, err.attempts })
    srv:queue({ { reset = true } })
    local resp = client({ max_retries = 1 }):chat("hi")
    assert.are.equal(ECHO_HI, oaichat.text(resp))
  end)

  it("a reset mid-body: kind connection, then a retry succeeds", function()
    srv:queue({ { close_after_bytes = 40, reset = true } })
    local resp, err = client({ max_retries = 0 }):chat("hi")
    assert.is_nil(resp)
    assert.are.same({ "connection", 200, 1 }, { err.kind, err.status, err.attempts })
    srv:queue({ { close_after_bytes = 40, reset = true } })
    resp = client({ max_retries = 1 }):chat("hi")
    assert.are.equal(ECHO_HI, oaichat.text(resp))
  end)

  it("a close mid-body (FIN, Content-Length short) is kind connection", function()
    srv:queue({ { close_after_bytes = 40 } })
    local _, err = client({ max_retries = 0 }):chat("hi")
    assert.are.equal("connection", err.kind)
  end)

  it("a reset mid-stream: kind stream, what arrived kept, no retry", function()
    local pad = chunk(string.rep("p", 3000))
    srv:queue({ { sse = { chunk("one "), chunk("two"), pad, "[DONE]" }, chunked = false,
      close_after_bytes = 600, reset = true } })
    local s = client({ max_retries = 2 }):stream("hi")
    local got, err = drain(s)
    assert.are.same({ "one ", "two" }, got)
    assert.are.same({ "stream", 1 }, { err.kind, err.attempts })
    assert.are.equal("one two", s:text())
    assert.are.equal("one two", s:result().choices[1].message.content)
    assert.are.equal(1, #srv:requests())
  end)

  it("a server that accepts and never answers: kind timeout after timeout / idle_timeout", function()
    srv:queue({ { hang = true }, { hang = true } })
    local c = client({ timeout = 0.3, idle_timeout = 0.3, max_retries = 0 })
    local t0 = core.now()
    local _, err = c:chat("hi")
    local elapsed = since(t0)
    -- The hang never ends, so only the timeout ended the call: lower bounds
    -- only (no load can make a call return early).
    assert.are.same({ "timeout", true, 1 }, { err.kind, err.retryable, err.attempts })
    assert.is_true(elapsed >= 0.28, tostring(elapsed))
    t0 = core.now()
    local got, serr = drain(c:stream("hi"))
    elapsed = since(t0)
    assert.are.same({}, got)
    assert.are.same({ "timeout", 1 }, { serr.kind, serr.attempts })
    assert.is_true(elapsed >= 0.28, tostring(elapsed))
  end)

  it("a slow drip of one byte per 60 ms passes under idle_timeout 0.6", function()
    -- 23 body bytes: about 1.4 s in all, far over idle_timeout, never idle
    -- that long (10 gaps' worth of slack for a loaded machine)
    srv:queue({ { raw_events = { "data:{}\n\ndata:[DONE]\n\n" }, drip_bytes = 1, chunk_delay_ms = 60 } })
    local c = client({ idle_timeout = 0.6, max_retries = 0 })
    local t0 = core.now()
    local s = c:stream("hi")
    local first, err = s:next()
    assert.is_nil(err)
    assert.are.same({}, first)
    local last, err2 = s:next()
    assert.is_nil(last)
    assert.is_nil(err2)
    assert.is_true(since(t0) > 0.9, tostring(since(t0)))
  end)

  describe("100 sequential requests with random faults", function()
    -- Each fault: the script, whether it is a stream, and the outcome
    -- ("ok" or the error kind). The client never retries, so each request
    -- is one script.
    local FAULTS = {
      { name = "ok" },
      { name = "ok stream", stream = true },
      { name = "api 500", script = { status = 500 }, kind = "api" },
      { name = "api 429", script = { status = 429, headers = { ["retry-after"] = "0" } }, kind = "api" },
      { name = "api 400", kind = "api",
        script = { status = 400, json = { error = { message = "bad", type = "invalid_request_error" } } } },
      { name = "http 502", script = { status = 502, body = "<html>bad gateway</html>" }, kind = "http" },
      -- On a reused keep-alive connection libcurl itself re-sends a request
      -- whose connection dies before any response byte (a stale connection
      -- is not a server failure): then the default answer comes back.
      { name = "reset", script = { reset = true }, kind = "connection", or_resent = true },
      { name = "close", script = { close_before_headers = true }, kind = "connection", or_resent = true },
      { name = "mid-body", script = { close_after_bytes = 30, reset = true }, kind = "connection" },
      { name = "not json", script = { body = "not json" }, kind = "decode" },
      { name = "too big", script = { body = string.rep("x", 3000) }, kind = "limit" },
      { name = "hang", script = { hang = true }, kind = "timeout" },
      { name = "stream cut", stream = true, script = { sse = { chunk("a") } }, kind = "stream" },
      { name = "stream bad", stream = true, script = { sse = { "{bad" } }, kind = "decode" },
      { name = "stream error", stream = true, script = { sse = { { error = { message = "overloaded" } } } },
        kind = "stream" },
      { name = "stream 503", stream = true, script = { status = 503 }, kind = "api" },
      { name = "stream hang", stream = true, script = { hang = true }, kind = "timeout" },
      { name = "stream reset", stream = true, script = { sse = { chunk("a"), chunk(string.rep("b", 2000)) },
        chunked = false, close_after_bytes = 300, reset = true }, kind = "stream" },
    }

    -- Only a hang needs a short timeout; every other request gets a
    -- generous one, so a loaded machine (or ASan) cannot turn it into a timeout.
    local SHORT = { timeout = 0.15, idle_timeout = 0.15 }

    local function run_one(c, fault)
      if fault.script then srv:queue({ fault.script }) end
      local opts = fault.kind == "timeout" and SHORT or nil
      if not fault.stream then
        local resp, err = c:chat("hi", opts)
        if resp then return "ok", oaichat.text(resp) == ECHO_HI end
        return err.kind, err.attempts == 1
      end
      local s = c:stream("hi", opts)
      local _, err = drain(s)
      s:close()
      if err then return err.kind, err.attempts == 1 end
      return "ok", s:text() == "Echo: hi (1 message)"
    end

    -- Lua memory once garbage is gone. LuaJIT counts its compiled traces in
    -- the same total and keeps adding traces for a while (up to maxtrace), so
    -- flush them first. Finalizers free what they hold only on a later cycle,
    -- so collect until the count stops falling.
    local function settled_kib()
      if jit then jit.flush() end
      local kib = math.huge
      for _ = 1, 10 do
        collectgarbage("collect")
        local now = collectgarbage("count")
        if now >= kib then break end
        kib = now
      end
      return kib
    end

    it("every request succeeds or fails with the right kind, and memory stays flat", function()
      math.randomseed(20240501)
      local plan = {}
      for i = 1, 100 do plan[i] = FAULTS[math.random(#FAULTS)] end
      local c = client({ max_retries = 0, timeout = 30, idle_timeout = 30, max_response_bytes = 2048 })
      local seen, resent = {}, 0
      local function check(label, fault)
        local kind, good = run_one(c, fault)
        if fault.or_resent and kind == "ok" then
          resent = resent + 1
        else
          assert.are.equal(fault.kind or "ok", kind, ("request %s (%s)"):format(label, fault.name))
        end
        assert.is_true(good, ("request %s (%s): content or attempts"):format(label, fault.name))
        -- a full collection after each request keeps the garbage alive at once
        -- (and so the string table's and the weak tables' sizes) the same in
        -- both runs; a leak survives it
        collectgarbage("collect")
      end
      -- The plan runs twice and only the second run is measured: one-time
      -- costs (lazy loads, cached strings and tables) fall in the first.
      for i, fault in ipairs(plan) do
        check(i, fault)
        seen[fault.name] = true
      end
      local baseline = settled_kib()
      for i, fault in ipairs(plan) do check("again " .. i, fault) end
      local grown = settled_kib() - baseline
      -- 4 KiB over 100 requests is 40 bytes a request: less than one table
      assert.is_true(grown < 4, ("Lua memory grew by %.1f KiB over 100 requests"):format(grown))
      assert.are.equal(0, c:pending())
      assert.are.equal(0, srv:stats().pending)
      assert.are.equal(200 + resent, #srv:requests())
      -- the seed exercises nearly every fault
      local n = 0
      for _ in pairs(seen) do n = n + 1 end
      assert.is_true(n >= #FAULTS - 2, tostring(n))
      -- the client is still healthy afterwards
      assert.are.equal(ECHO_HI, oaichat.text(c:chat("hi")))
    end)
  end)
end)
