-- Misuse and hostile numbers (issue 11, points 7, 8, 14 and 15): bad poll
-- arguments raise naming the argument; NaN is refused wherever it would
-- silently mean "no limit"; huge numbers are clamped in C (under `make
-- check-memory` UBSan's float-cast-overflow check aborts on an unclamped cast).
local oaichat = require("oaichat")
local core = require("oaichat.core")
local helper = require("spec.support.helper")
local util = require("spec.support.util")

local srv

local function client(opts)
  opts = opts or {}
  opts.base_url = opts.base_url or srv.url
  opts.api_key = opts.api_key or "sk-misuse"
  if opts.max_retries == nil then opts.max_retries = 0 end
  return oaichat.new(opts)
end

-- The message raised by f, which must name this file (the user's line).
local function raised_here(f)
  local msg = tostring(util.raised(f))
  assert.is_truthy(msg:find("misuse_spec.lua:%d+: "), "not raised at the caller's line: " .. msg)
  return msg
end

describe("misuse", function()
  setup(function()
    srv = helper.server()
  end)

  before_each(function()
    srv:reset()
  end)

  describe("close and on_retry", function()
    -- a retry the specs never wait for: each call must end before its delay
    local LONG_WAIT = { status = 500, headers = { ["retry-after-ms"] = "60000" } }

    local function poll_until(f, cond)
      for _ = 1, 2000 do
        f()
        if cond() then return end
      end
      error("the condition was never met")
    end

    it("client:close() during a retry wait ends a request and a stream as canceled", function()
      srv:queue({ LONG_WAIT, LONG_WAIT })
      local retries = 0
      local c = client({ max_retries = 2, on_retry = function() retries = retries + 1 end })
      local r = c:chat_async("hi")
      poll_until(function() assert.is_false(r:poll(5)) end, function() return retries == 1 end)
      local s = c:stream("hi")
      poll_until(function() s:poll(5) end, function() return retries == 2 end)
      c:close()
      local done, resp, err = r:poll(0)
      assert.is_true(done)
      assert.is_nil(resp)
      assert.are.equal("canceled", err.kind)
      assert.are.equal(1, err.attempts)
      local chunks, sdone, serr = s:poll(0)
      assert.are.same({}, chunks)
      assert.is_true(sdone)
      assert.are.equal("canceled", serr.kind)
      local chunk, nerr = s:next()
      assert.is_nil(chunk)
      assert.are.equal("canceled", nerr.kind)
      assert.are.equal(0, c:poll(0))
      assert.are.equal(0, c:pending())
      assert.are.equal(2, #srv:requests())
    end)

    it("client:close() inside on_retry ends chat, next, poll and chat_many as canceled at once", function()
      local cases = {
        function(c) return select(2, c:chat("hi")) end,
        function(c) return select(2, c:stream("hi"):next()) end,
        function(c) return select(3, c:chat_async("hi"):poll(nil)) end,
        function(c) return c:chat_many({ { "hi" } })[1].error end,
      }
      -- the library's waits between attempts go through core.sleep: count them
      local real_sleep, slept = core.sleep, 0
      core.sleep = function(sec)
        slept = slept + sec
        return real_sleep(math.min(sec, 0.01))
      end
      local ok, problem = pcall(function()
        for i, run in ipairs(cases) do
          srv:reset()
          srv:queue({ LONG_WAIT })
          local c
          c = client({ max_retries = 2, on_retry = function() c:close() end })
          slept = 0
          local err = run(c)
          assert.are.equal("canceled", err and err.kind, "case " .. i .. ": " .. tostring(err))
          assert.are.equal(0, slept, "case " .. i .. " waited for the retry")
          assert.are.equal(1, #srv:requests())
        end
      end)
      core.sleep = real_sleep
      assert(ok, problem)
    end)

    it("closing the request or stream inside on_retry ends it without another attempt", function()
      srv:queue({ LONG_WAIT, LONG_WAIT })
      local r, s
      local c = client({ max_retries = 2, on_retry = function() if s then s:close() else r:close() end end })
      r = c:chat_async("hi")
      local done, resp, err = r:poll(nil)
      assert.is_true(done)
      assert.is_nil(resp)
      assert.are.equal("canceled", err.kind)
      s = c:stream("hi")
      local chunk, serr = s:next()
      assert.is_nil(chunk)
      assert.is_nil(serr)
      assert.is_true(select(2, s:poll(0)))
      assert.are.equal(2, #srv:requests())
      c:close()
    end)

    it("an error raised by on_retry propagates once; the call is then done with the attempt's error", function()
      srv:queue({ { status = 500 }, { status = 500 }, { status = 500 } })
      local c = client({ max_retries = 2, on_retry = function() error("hook failed", 0) end })
      local r = c:chat_async("hi")
      assert.are.equal("hook failed", util.raised(r.poll, r, nil))
      local done, resp, err = r:poll(0)
      assert.is_true(done)
      assert.is_nil(resp)
      assert.are.equal("api", err.kind)
      assert.are.equal(500, err.status)
      assert.are.equal(1, err.attempts)
      r:close()
      assert.are.equal(err, select(3, r:poll(0)))
      local s = c:stream("hi")
      assert.are.equal("hook failed", util.raised(s.next, s))
      local chunk, serr = s:next()
      assert.is_nil(chunk)
      assert.are.equal(500, serr.status)
      local chunks, sdone, perr = s:poll(0)
      assert.are.same({}, chunks)
      assert.is_true(sdone)
      assert.are.equal(serr, perr)
      assert.are.equal("hook failed", util.raised(c.chat, c, "hi"))
      assert.are.equal(3, #srv:requests())
      -- the client still works
      local ok = c:chat("hi")
      assert.are.equal("Echo: hi (1 message)", oaichat.text(ok))
      c:close()
    end)
  end)

  describe("a stream's timeout", function()
    local CHUNK = 'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
      .. '"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n'
    -- one chunk, then keep-alive comments for about 2 s, then [DONE]
    local function slow_stream()
      local events = { CHUNK }
      for _ = 1, 40 do events[#events + 1] = ": keep-alive\n\n" end
      events[#events + 1] = "data: [DONE]\n\n"
      return { raw_events = events, chunk_delay_ms = 50 }
    end

    it("opts.timeout ends a stream kept alive by comments as kind timeout", function()
      srv:queue({ slow_stream() })
      local c = client({ idle_timeout = 0.3 })
      local chunks, err = util.drain(c:stream("hi", { timeout = 0.5 }))
      assert.are.equal("timeout", err and err.kind, tostring(err))
      assert.is_truthy(tostring(err):find("timeout 0.5 s", 1, true), tostring(err))
      assert.is_true(#chunks <= 1)
      c:close()
    end)

    it("opts.timeout also bounds a polled stream", function()
      srv:queue({ slow_stream() })
      local c = client({ idle_timeout = 0.3 })
      local s = c:stream("hi", { timeout = 0.5 })
      local done, err
      for _ = 1, 100000 do
        _, done, err = s:poll(20)
        if done then break end
      end
      assert.is_true(done)
      assert.are.equal("timeout", err and err.kind, tostring(err))
      c:close()
    end)

    it("without opts.timeout the comments keep idle_timeout from firing and the stream ends well", function()
      srv:queue({ slow_stream() })
      local c = client({ idle_timeout = 0.3, timeout = 0.5 }) -- the client's timeout is for chat only
      local chunks, err = util.drain(c:stream("hi"))
      assert.is_nil(err)
      assert.are.equal(1, #chunks)
      c:close()
    end)
  end)

  describe("poll arguments", function()
    it("stream:poll, request:poll and client:poll name timeout_ms when it is not a number", function()
      local c = client()
      local s = c:stream("hi")
      local r = c:chat_async("hi")
      local cases = {
        { function() s:poll("x") end, "stream:poll: timeout_ms must be a number of milliseconds, got string" },
        { function() s:poll({}) end, "stream:poll: timeout_ms must be a number of milliseconds, got table" },
        { function() r:poll({}) end, "request:poll: timeout_ms must be a number of milliseconds, got table" },
        { function() r:poll("10") end, "request:poll: timeout_ms must be a number of milliseconds, got string" },
        { function() c:poll(true) end, "client:poll: timeout_ms must be a number of milliseconds, got boolean" },
      }
      for _, case in ipairs(cases) do
        local msg = raised_here(case[1])
        assert.is_truthy(msg:find(case[2], 1, true), msg)
      end
      -- the objects still work after the misuse
      local _, err = util.drain(s)
      assert.is_nil(err)
      local done, resp = r:poll(nil)
      assert.is_true(done)
      assert.are.equal("Echo: hi (1 message)", oaichat.text(resp))
      c:close()
    end)

    it("refuses a NaN timeout_ms in every poll (it would mean no limit)", function()
      local c = client()
      local s = c:stream("hi")
      local r = c:chat_async("hi")
      for _, f in ipairs({ function() s:poll(0 / 0) end, function() r:poll(0 / 0) end,
        function() c:poll(0 / 0) end }) do
        local msg = raised_here(f)
        assert.is_truthy(msg:find("timeout_ms must be a number of milliseconds, got NaN", 1, true), msg)
      end
      s:close()
      r:close()
      c:close()
    end)
  end)

  describe("numbers C must clamp", function()
    it("poll(1e300) on a stream, a request and a client returns their results", function()
      local c = client()
      local s = c:stream("hi")
      local chunks, text = {}, {}
      repeat
        local got, done, err = s:poll(1e300)
        assert.is_nil(err)
        for _, ch in ipairs(got) do chunks[#chunks + 1] = ch end
      until done
      for _, ch in ipairs(chunks) do
        text[#text + 1] = ch.choices[1] and ch.choices[1].delta.content or ""
      end
      assert.are.equal("Echo: hi (1 message)", table.concat(text))
      local r = c:chat_async("hi")
      local done, resp = r:poll(1e300)
      assert.is_true(done)
      assert.are.equal("Echo: hi (1 message)", oaichat.text(resp))
      assert.are.equal(0, c:poll(1e300))
      assert.are.equal(0, c:poll(-1e300))
      c:close()
    end)

    it("huge timeouts and max_response_bytes (1e300, math.huge) mean no practical limit", function()
      for _, big in ipairs({ 1e300, math.huge }) do
        local c = client({ timeout = big, connect_timeout = big, idle_timeout = big,
          max_response_bytes = big })
        local resp, err = c:chat("hi")
        assert.is_nil(err)
        assert.are.equal("Echo: hi (1 message)", oaichat.text(resp))
        resp, err = c:chat("hi", { timeout = big, max_response_bytes = big })
        assert.is_nil(err)
        assert.are.equal("Echo: hi (1 message)", oaichat.text(resp))
        local _, serr = util.drain(c:stream("hi", { idle_timeout = big, max_response_bytes = big }))
        assert.is_nil(serr)
        c:close()
      end
    end)

    it("refuses NaN for every timeout and size option, at oaichat.new and per call", function()
      for _, k in ipairs({ "timeout", "connect_timeout", "idle_timeout", "max_retries",
        "max_response_bytes", "max_image_bytes" }) do
        local ok, msg = pcall(oaichat.new, { base_url = srv.url, [k] = 0 / 0 })
        assert.is_false(ok, k)
        assert.is_truthy(tostring(msg):find("option " .. k .. " must not be negative or NaN", 1, true), msg)
      end
      local c = client()
      for _, k in ipairs({ "timeout", "idle_timeout", "max_retries", "max_response_bytes" }) do
        for _, call in ipairs({ "chat", "stream", "chat_async" }) do
          local msg = raised_here(function() c[call](c, "hi", { [k] = 0 / 0 }) end)
          assert.is_truthy(msg:find("opts." .. k .. " must be a non-negative number", 1, true), msg)
        end
      end
      -- NaN concurrency would launch nothing and return no results
      local msg = raised_here(function() c:chat_many({ { "hi" } }, { concurrency = 0 / 0 }) end)
      assert.is_truthy(msg:find("concurrency must be a number >= 1", 1, true), msg)
      assert.are.equal(0, #srv:requests())
      c:close()
    end)
  end)
end)
