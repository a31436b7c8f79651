-- Retries and timeouts (issue 5, items 1 and 2), against the loopback mock
-- server. Basic 429/500/503 retries of client:chat live in chat_spec and
-- errors_spec; this file covers the rest: which failures are retried, the
-- delays (measured), attempts, max_retries, on_retry, streams, polling
-- during the wait, and the three timeouts.
local oaichat = require("oaichat")
local core = require("oaichat.core")
local socket = require("socket")
local helper = require("spec.support.helper")

local KEY = "sk-reliability-0123456789abcdef"
local ECHO_HI = "Echo: hi (1 message)"

local srv

local function client(opts)
  opts = opts or {}
  opts.base_url = opts.base_url or srv.url
  opts.api_key = KEY
  return oaichat.new(opts)
end

-- A client whose on_retry calls are recorded as {kind, status, attempt, delay, err}.
local function recording_client(opts)
  local calls = {}
  opts = opts or {}
  opts.on_retry = function(err, attempt, delay)
    calls[#calls + 1] = { kind = err.kind, status = err.status, attempt = attempt, delay = delay, err = err }
  end
  return client(opts), calls
end

local util = require("spec.support.util")
local chunk, drain = util.text_chunk, util.drain

local function contents(chunks)
  local out = {}
  for i, c in ipairs(chunks) do out[i] = c.choices[1] and c.choices[1].delta.content end
  return out
end

-- Times fn(): returns the seconds it took and its results packed.
local function timed(fn)
  local t0 = core.now()
  local res = { fn() }
  return core.now() - t0, res
end

describe("reliability", function()
  setup(function()
    srv = helper.server()
  end)

  before_each(function()
    srv:reset()
  end)

  describe("which failures are retried", function()
    it("a connection closed, then reset, before the headers: retried with the doubling backoff", function()
      srv:queue({ { close_before_headers = true }, { reset = true } })
      local c, calls = recording_client({ max_retries = 2 })
      local resp, err = c:chat("hi")
      assert.is_nil(err)
      assert.are.equal(ECHO_HI, oaichat.text(resp))
      assert.are.equal(3, #srv:requests())
      assert.are.equal(2, #calls)
      assert.are.same({ "connection", "connection" }, { calls[1].kind, calls[2].kind })
      assert.are.same({ 1, 2 }, { calls[1].attempt, calls[2].attempt })
      -- min(0.5 * 2^n, 8) * (1 - 0.25 * random): n = 0 then 1
      assert.is_true(calls[1].delay >= 0.375 and calls[1].delay <= 0.5, tostring(calls[1].delay))
      assert.is_true(calls[2].delay >= 0.75 and calls[2].delay <= 1.0, tostring(calls[2].delay))
    end)

    it("a connection error with retries spent is kind connection, retryable, with attempts", function()
      srv:queue({ { reset = true } })
      local c = client({ max_retries = 0 })
      local resp, err = c:chat("hi")
      assert.is_nil(resp)
      assert.are.equal("connection", err.kind)
      assert.is_true(err.retryable)
      assert.are.equal(1, err.attempts)
      assert.is_nil(err.status)
      assert.are.equal(1, #srv:requests())
    end)

    it("a timeout before the first response byte is retried", function()
      srv:queue({ { hang = true } })
      local c, calls = recording_client({ timeout = 0.3, max_retries = 1 })
      local elapsed, res = timed(function() return c:chat("hi") end)
      assert.is_nil(res[2])
      assert.are.equal(ECHO_HI, oaichat.text(res[1]))
      assert.are.equal(2, #srv:requests())
      assert.are.equal(1, #calls)
      assert.are.equal("timeout", calls[1].kind)
      assert.is_true(calls[1].err.retryable)
      assert.is_true(elapsed >= 0.3 + calls[1].delay - 0.02, tostring(elapsed))
    end)

    it("a timeout after the response began is not retried", function()
      srv:queue({ { drip_bytes = 1, chunk_delay_ms = 100 } })
      local c, calls = recording_client({ timeout = 0.3, max_retries = 2 })
      local resp, err = c:chat("hi")
      assert.is_nil(resp)
      assert.are.equal("timeout", err.kind)
      assert.is_false(err.retryable)
      assert.are.equal(1, err.attempts)
      assert.are.equal(0, #calls)
      assert.are.equal(1, #srv:requests())
    end)

    it("retries 408, 409, 429, 500, 502, 503 and 504", function()
      for _, status in ipairs({ 408, 409, 429, 500, 502, 503, 504 }) do
        srv:reset()
        srv:queue({ { status = status, headers = { ["retry-after-ms"] = "0" } } })
        local c, calls = recording_client({ max_retries = 1 })
        local resp, err = c:chat("hi")
        assert.is_nil(err, "status " .. status)
        assert.are.equal(ECHO_HI, oaichat.text(resp))
        assert.are.equal(2, #srv:requests(), "status " .. status)
        assert.are.same({ "api", status, 1, 0 }, { calls[1].kind, calls[1].status, calls[1].attempt, calls[1].delay })
      end
    end)

    it("never retries 400, 401, 403, 404 and 422", function()
      for _, status in ipairs({ 400, 401, 403, 404, 422 }) do
        srv:reset()
        srv:queue({ { status = status, headers = { ["retry-after-ms"] = "0" } } })
        local c, calls = recording_client({ max_retries = 2 })
        local resp, err = c:chat("hi")
        assert.is_nil(resp)
        assert.are.same({ "api", status, false, 1 }, { err.kind, err.status, err.retryable, err.attempts })
        assert.are.equal(0, #calls)
        assert.are.equal(1, #srv:requests(), "status " .. status)
      end
    end)

    it("x-should-retry: true forces a retry of a 400", function()
      srv:queue({ { status = 400, headers = { ["x-should-retry"] = "true", ["retry-after-ms"] = "0" } } })
      local c, calls = recording_client({ max_retries = 1 })
      local resp, err = c:chat("hi")
      assert.is_nil(err)
      assert.are.equal(ECHO_HI, oaichat.text(resp))
      assert.are.equal(2, #srv:requests())
      assert.are.equal(400, calls[1].status)
      assert.is_true(calls[1].err.retryable)
    end)
  end)

  describe("delays", function()
    it("waits retry-after-ms milliseconds", function()
      srv:queue({ { status = 429, headers = { ["retry-after-ms"] = "300" } } })
      local c, calls = recording_client()
      local elapsed, res = timed(function() return c:chat("hi") end)
      assert.are.equal(ECHO_HI, oaichat.text(res[1]))
      assert.are.equal(0.3, calls[1].delay)
      assert.is_true(elapsed >= 0.3, tostring(elapsed))
    end)

    it("waits retry-after seconds", function()
      srv:queue({ { status = 503, headers = { ["retry-after"] = "1" } } })
      local c, calls = recording_client()
      local elapsed, res = timed(function() return c:chat("hi") end)
      assert.are.equal(ECHO_HI, oaichat.text(res[1]))
      assert.are.equal(1, calls[1].delay)
      assert.is_true(elapsed >= 1, tostring(elapsed))
    end)

    it("prefers retry-after-ms over retry-after", function()
      srv:queue({ { status = 429, headers = { ["retry-after-ms"] = "100", ["retry-after"] = "5" } } })
      local c, calls = recording_client()
      local elapsed, res = timed(function() return c:chat("hi") end)
      assert.are.equal(ECHO_HI, oaichat.text(res[1]))
      assert.are.equal(0.1, calls[1].delay)
      assert.is_true(elapsed >= 0.1, tostring(elapsed))
    end)

    it("takes retry-after as an HTTP date", function()
      local date = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 1)
      srv:queue({ { status = 429, headers = { ["retry-after"] = date } } })
      local c, calls = recording_client()
      local resp = c:chat("hi")
      assert.are.equal(ECHO_HI, oaichat.text(resp))
      -- whole seconds from the date (the jittered backoff is never whole)
      local d = calls[1].delay
      assert.is_true(d == 0 or d == 1, tostring(d))
    end)

    it("ignores a retry-after over 60 s and backs off instead", function()
      srv:queue({ { status = 429, headers = { ["retry-after"] = "120" } } })
      local c, calls = recording_client()
      local elapsed, res = timed(function() return c:chat("hi") end)
      assert.are.equal(ECHO_HI, oaichat.text(res[1]))
      assert.is_true(calls[1].delay >= 0.375 and calls[1].delay <= 0.5, tostring(calls[1].delay))
      assert.is_true(elapsed >= calls[1].delay, tostring(elapsed))
    end)
  end)

  describe("attempts and max_retries", function()
    local function fail_all(n)
      local list = {}
      for i = 1, n do list[i] = { status = 500, headers = { ["retry-after-ms"] = "0" } } end
      srv:queue(list)
    end

    it("the client's max_retries bounds the attempts reported in err.attempts", function()
      fail_all(5)
      local c, calls = recording_client({ max_retries = 1 })
      local resp, err = c:chat("hi")
      assert.is_nil(resp)
      assert.are.same({ "api", 500, true, 2 }, { err.kind, err.status, err.retryable, err.attempts })
      assert.are.equal(2, #srv:requests())
      assert.are.equal(1, #calls)
    end)

    it("a per-call max_retries overrides the client's, both ways", function()
      fail_all(5)
      local c = client({ max_retries = 0 })
      local _, err = c:chat("hi", { max_retries = 3 })
      assert.are.equal(4, err.attempts)
      assert.are.equal(4, #srv:requests())
      srv:reset()
      fail_all(5)
      c = client({ max_retries = 3 })
      _, err = c:chat("hi", { max_retries = 0 })
      assert.are.equal(1, err.attempts)
      assert.are.equal(1, #srv:requests())
      -- the reserved key is not sent
      assert.is_nil(srv:last_request().json.max_retries)
    end)

    it("on_retry gets the error, the attempt number and the delay before each retry", function()
      srv:queue({ { status = 429, headers = { ["retry-after-ms"] = "10", ["x-request-id"] = "req_a" } },
        { status = 502, headers = { ["retry-after-ms"] = "20", ["x-request-id"] = "req_b" } } })
      local c, calls = recording_client({ max_retries = 2 })
      local resp = c:chat("hi")
      assert.are.equal(ECHO_HI, oaichat.text(resp))
      assert.are.equal(2, #calls)
      assert.are.same({ 429, 1, 0.01, "req_a", 1 },
        { calls[1].status, calls[1].attempt, calls[1].delay, calls[1].err.request_id, calls[1].err.attempts })
      assert.are.same({ 502, 2, 0.02, "req_b", 2 },
        { calls[2].status, calls[2].attempt, calls[2].delay, calls[2].err.request_id, calls[2].err.attempts })
    end)
  end)

  describe("streams", function()
    it("a connection closed before the headers is retried, then the stream works", function()
      srv:queue({ { close_before_headers = true } })
      local c, calls = recording_client({ max_retries = 1 })
      local got, err = drain(c:stream("hi"))
      assert.is_nil(err)
      assert.are.equal("Echo: hi (1 message)", table.concat(contents(got)))
      assert.are.equal(1, #calls)
      assert.are.equal(2, #srv:requests())
    end)

    it("is never retried after a chunk reached the caller", function()
      local pad = string.rep("p", 2000)
      local events = { chunk("a"), chunk("b"), chunk(pad) }
      -- cut (RST) inside the third event, well after the first two
      local sent = 0
      for i = 1, 2 do sent = sent + #("data: " .. core.encode(events[i]) .. "\n\n") + 8 end
      srv:queue({ { sse = events, chunked = false, close_after_bytes = sent + 200, reset = true }, {} })
      local c, calls = recording_client({ max_retries = 2 })
      local s = c:stream("hi")
      local got, err = drain(s)
      assert.are.same({ "a", "b" }, contents(got))
      assert.are.equal("stream", err.kind)
      assert.are.equal(1, err.attempts)
      assert.are.equal(0, #calls)
      assert.are.equal(1, #srv:requests())
      assert.are.equal(1, srv:stats().pending) -- the good script was never asked for
      assert.are.equal("ab", s:text())
    end)

    it("a body ending without [DONE] after chunks is not retried either", function()
      srv:queue({ { sse = { chunk("a") } }, {} })
      local c = client({ max_retries = 2 })
      local got, err = drain(c:stream("hi"))
      assert.are.same({ "a" }, contents(got))
      assert.are.same({ "stream", 1 }, { err.kind, err.attempts })
      assert.are.equal(1, #srv:requests())
    end)
  end)

  describe("waiting between attempts", function()
    it("does not block a chat_async driven by poll(0)", function()
      srv:queue({ { status = 429, headers = { ["retry-after-ms"] = "400" } } })
      local c = client()
      local t0 = core.now()
      local r = c:chat_async("hi")
      local polls, done, resp, err = 0, false, nil, nil
      while not done and polls < 20000 do
        done, resp, err = r:poll(0)
        polls = polls + 1
        if not done then socket.sleep(0.005) end
      end
      assert.is_nil(err)
      assert.are.equal(ECHO_HI, oaichat.text(resp))
      assert.is_true(core.now() - t0 >= 0.4)
      -- The 400 ms wait spread over many calls; a poll(0) that slept it out
      -- would need two or three (how long each takes: bench/poll.lua).
      assert.is_true(polls >= 10, tostring(polls))
    end)

    it("does not block a stream driven by poll(0)", function()
      srv:queue({ { status = 503, headers = { ["retry-after-ms"] = "400" } } })
      local c = client()
      local t0 = core.now()
      local s = c:stream("hi")
      local polls, got, done, err = 0, {}, false, nil
      while not done and polls < 20000 do
        local chunks
        chunks, done, err = s:poll(0)
        polls = polls + 1
        for _, ch in ipairs(chunks) do got[#got + 1] = ch end
        if not done then socket.sleep(0.005) end
      end
      assert.is_nil(err)
      assert.are.equal("Echo: hi (1 message)", table.concat(contents(got)))
      assert.is_true(core.now() - t0 >= 0.4)
      assert.is_true(polls >= 10, tostring(polls))
    end)

    it("poll(ms) during the wait returns after about ms", function()
      srv:queue({ { status = 429, headers = { ["retry-after-ms"] = "500" } } })
      local c = client()
      local r = c:chat_async("hi")
      r:poll(50) -- gets the 429 and starts waiting
      local elapsed, res = timed(function() return r:poll(100) end)
      -- Not done: it did not sit out the 500 ms wait (and so the retry).
      assert.is_false(res[1])
      assert.is_true(elapsed >= 0.09, tostring(elapsed))
      local done, resp = r:poll(nil)
      assert.is_true(done)
      assert.are.equal(ECHO_HI, oaichat.text(resp))
    end)

    it("chat_many sleeps through a retry wait instead of spinning", function()
      srv:queue({ { status = 429, headers = { ["retry-after-ms"] = "500" } } })
      local c = client()
      local cpu = os.clock()
      local elapsed, res = timed(function() return c:chat_many({ { "hi" } }) end)
      assert.are.equal(ECHO_HI, oaichat.text(res[1][1]))
      assert.is_true(elapsed >= 0.5, tostring(elapsed))
      -- CPU time is work, not a clock: no load on the machine adds to it.
      assert.is_true(os.clock() - cpu < 0.2, "CPU seconds: " .. (os.clock() - cpu))
    end)
  end)

  describe("timeouts", function()
    -- Runs fn(url) against a listener whose accept queue is full: it drops
    -- further SYNs, so a connect hangs (a loopback stand-in for an
    -- unreachable host; no traffic leaves the machine).
    local function with_full_backlog(fn)
      local listener = assert(socket.tcp())
      assert(listener:bind("127.0.0.1", 0))
      assert(listener:listen(0))
      local _, port = listener:getsockname()
      local fillers = {}
      for i = 1, 3 do
        fillers[i] = socket.tcp()
        fillers[i]:settimeout(0)
        fillers[i]:connect("127.0.0.1", port)
      end
      socket.sleep(0.05)
      local ok, err = pcall(fn, ("http://127.0.0.1:%d/v1"):format(port))
      for _, f in ipairs(fillers) do f:close() end
      listener:close()
      if not ok then error(err, 0) end
    end

    it("connect_timeout stops a connect that gets no answer", function()
      with_full_backlog(function(url)
        local c = client({ base_url = url, connect_timeout = 0.3, max_retries = 0, timeout = 5 })
        local elapsed, res = timed(function() return c:chat("hi") end)
        local err = res[2]
        assert.is_nil(res[1])
        assert.are.same({ "timeout", true, 1 }, { err.kind, err.retryable, err.attempts })
        assert.is_truthy(err.message:find("(connect_timeout 0.3 s, timeout 5 s)", 1, true), err.message)
        assert.is_true(elapsed >= 0.28, tostring(elapsed))
      end)
    end)

    it("connect_timeout applies to a stream, and is retried like any timeout before a byte", function()
      with_full_backlog(function(url)
        local calls = 0
        local c = client({ base_url = url, connect_timeout = 0.2, max_retries = 1, idle_timeout = 5,
          on_retry = function() calls = calls + 1 end })
        local elapsed, res = timed(function() return c:stream("hi"):next() end)
        local err = res[2]
        assert.are.same({ "timeout", 2, 1 }, { err.kind, err.attempts, calls })
        assert.are.equal(")", err.message:sub(-1))
        assert.is_truthy(err.message:find("(connect_timeout 0.2 s)", 1, true), err.message)
        assert.is_true(elapsed >= 0.4 + 0.375 - 0.02, tostring(elapsed))
      end)
    end)

    it("timeout bounds a whole non-streaming request", function()
      srv:queue({ { delay_ms = 2000 } })
      local c = client({ timeout = 0.3, max_retries = 0 })
      local elapsed, res = timed(function() return c:chat("hi") end)
      assert.are.same({ "timeout", 1 }, { res[2].kind, res[2].attempts })
      assert.is_true(elapsed >= 0.28, tostring(elapsed))
    end)

    it("a per-call timeout overrides the client's", function()
      srv:queue({ { hang = true } })
      local c = client({ timeout = 30, max_retries = 0 })
      local elapsed, res = timed(function() return c:chat("hi", { timeout = 0.2 }) end)
      assert.are.equal("timeout", res[2].kind)
      assert.is_true(elapsed >= 0.18, tostring(elapsed))
    end)

    it("idle_timeout ends a stream that stalls after a chunk, as kind timeout, without a retry", function()
      srv:queue({ { sse = { chunk("a"), chunk("b"), "[DONE]" }, chunk_delay_ms = 1500 }, {} })
      local c = client({ idle_timeout = 0.3, max_retries = 2 })
      local t0 = core.now()
      local s = c:stream("hi")
      local got, err = drain(s)
      local elapsed = core.now() - t0
      assert.are.same({ "a" }, contents(got))
      assert.are.same({ "timeout", 1 }, { err.kind, err.attempts })
      assert.is_truthy(err.message:find("idle_timeout", 1, true))
      assert.is_true(elapsed >= 0.28, tostring(elapsed))
      assert.are.equal(1, #srv:requests())
    end)

    it("keeps TCP keep-alive probes on for the connection (Linux /proc/net/tcp)", function()
      srv:queue({ { hang = true } })
      local c = client({ timeout = 3, max_retries = 0 })
      local r = c:chat_async("hi")
      local hex = (":%04X "):format(srv.port)
      local timers = {}
      for _ = 1, 50 do
        r:poll(20)
        timers = {}
        local f = assert(io.open("/proc/net/tcp", "r"))
        for line in f:lines() do
          -- fields: sl local rem state queues timer:when ...; our side has rem = the server
          local rem, st, tr, when = line:match("^%s*%d+: %x+:%x+ (%x+:%x+) (%x+) %x+:%x+ (%x+):(%x+)")
          if rem and (rem .. " "):sub(-6) == hex and st == "01" then
            timers[#timers + 1] = { tr = tr, when = tonumber(when, 16) / 100 }
          end
        end
        f:close()
        if #timers > 0 and timers[1].tr == "02" then break end
      end
      r:close()
      assert.is_true(#timers > 0)
      -- timer 2 is the keep-alive timer; the first probe comes after about 30 s idle
      assert.are.equal("02", timers[1].tr)
      assert.is_true(timers[1].when > 20 and timers[1].when <= 31, tostring(timers[1].when))
    end)
  end)
end)
