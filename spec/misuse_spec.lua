-- Misuse and hostile numbers (issue 11, points 7, 8, 14 and 15): bad poll
-- arguments raise naming the argument; NaN is refused wherever it would
-- silently mean "no limit"; huge numbers are clamped in C (under `make
-- check-memory` UBSan's float-cast-overflow check aborts on an unclamped cast).
local oaichat = require("oaichat")
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
      assert.are.equal(0, #srv:requests())
      c:close()
    end)
  end)
end)
