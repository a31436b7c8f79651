-- Scale, as a check (bench/scale.lua prints the figures): 1,000 requests
-- at concurrency 100 from one process all succeed on 100 connections, and
-- memory stays flat from one batch to the next; 300 streams at once.
local oaichat = require("oaichat")
local helper = require("spec.support.helper")

-- kB of a /proc/self/status field (the specs run on Linux).
local function proc_kb(field)
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("*a")
  f:close()
  return assert(tonumber(text:match(field .. ":%s*(%d+)")), field)
end

local function heap_kb()
  collectgarbage()
  collectgarbage()
  return collectgarbage("count")
end

local distinct_connections = require("spec.support.util").connections

-- Connections the server saw. chat_many opens one per slot and reuses
-- them; under load libcurl now and then replaces one (seen: 102 of 1,000
-- requests), so a few extra are allowed, never one per request. A loaded
-- machine under ASan once saw 99 (not reproduced in 12 runs, 3 at once;
-- likely a retried connection landing on one another slot freed). 95 still
-- shows the 100 slots ran at once (a serialised chat_many shows a handful).
local function assert_reused(srv)
  local n = distinct_connections(srv)
  assert.is_true(n >= 95 and n <= 105, n .. " connections for " .. #srv:requests() .. " requests")
end

describe("scale", function()
  local srv, client

  before_each(function()
    srv = helper.server()
    srv:reset()
    client = oaichat.new { api_key = "sk-test", base_url = srv.url, max_retries = 0, timeout = 30 }
  end)

  after_each(function()
    client:close()
  end)

  -- One batch of n requests through chat_many; returns how many came back
  -- with their own answer.
  local function batch(tag, n, concurrency)
    local list = {}
    for i = 1, n do list[i] = { ("%s %d"):format(tag, i) } end
    local results = client:chat_many(list, { concurrency = concurrency })
    assert.equal(n, #results)
    local ok = 0
    for i = 1, n do
      if oaichat.text(results[i]) == ("Echo: %s %d (1 message)"):format(tag, i) then ok = ok + 1 end
    end
    return ok
  end

  it("runs 1,000 requests at concurrency 100 on about 100 connections, memory flat", function()
    assert.equal(1000, batch("first", 1000, 100))
    assert.equal(0, client:pending())
    assert.equal(1000, #srv:requests())
    assert_reused(srv)
    -- Two more batches on the same connections. Memory is compared between
    -- them, not with the first: LuaJIT's compiled traces (GC objects too)
    -- grow the heap once while it warms up, by some hundred kB.
    -- (libcurl closes some idle connections when a burst ends: it keeps at
    -- most 4 per transfer still running; each batch still uses 100.)
    srv:reset()
    assert.equal(500, batch("second", 500, 100))
    assert_reused(srv)
    local heap1, rss1 = heap_kb(), proc_kb("VmRSS")
    srv:reset()
    assert.equal(500, batch("third", 500, 100))
    local heap2, rss2 = heap_kb(), proc_kb("VmRSS")
    assert_reused(srv)
    assert.is_true(heap2 - heap1 < 100, ("Lua heap grew %.0f kB over 500 requests"):format(heap2 - heap1))
    -- (AddressSanitizer's quarantine holds freed memory back on purpose:
    -- under check-memory only the Lua heap and LeakSanitizer speak)
    if not os.getenv("OAICHAT_SANITIZED") then
      assert.is_true(rss2 - rss1 < 2048, ("RSS grew %d kB over 500 requests"):format(rss2 - rss1))
    end
  end)

  it("runs 300 streams at once to the end, driven by poll(0)", function()
    local streams, live = {}, {}
    for i = 1, 300 do
      streams[i] = client:stream("stream " .. i)
      live[i] = streams[i]
    end
    assert.equal(300, client:pending())
    local remaining, rounds, chunks = 300, 0, 0
    while remaining > 0 and rounds < 5000 do
      rounds = rounds + 1
      client:poll(10)
      for i, s in pairs(live) do
        local got, done, err = s:poll(0)
        assert.is_nil(err)
        chunks = chunks + #got
        if done then
          live[i], remaining = nil, remaining - 1
        end
      end
    end
    assert.equal(0, remaining)
    assert.equal(0, client:pending())
    -- per stream: the role chunk, "Echo:", " stream", " <i>", " (1", " message)", the finish chunk
    assert.equal(300 * 7, chunks)
    for i = 1, 300 do
      assert.equal(("Echo: stream %d (1 message)"):format(i), streams[i]:text())
      assert.equal("stop", streams[i]:result().choices[1].finish_reason)
    end
  end)
end)
