-- How often the Lua layer crosses into C: counted through a wrapped core
-- table (module functions and the session and transfer methods), not timed.
local helper = require("spec.support.helper")
local core = require("oaichat.core")
local oaichat = require("oaichat")

-- Wraps every function of tbl to count its calls into counts; returns the undo.
local function wrap(tbl, counts)
  local orig = {}
  for k, f in pairs(tbl) do
    if type(f) == "function" then
      orig[k] = f
      tbl[k] = function(...)
        counts.n = counts.n + 1
        return f(...)
      end
    end
  end
  return function()
    for k, f in pairs(orig) do tbl[k] = f end
  end
end

describe("the Lua/C boundary", function()
  local srv, client, method_tables
  local words = {}
  for i = 1, 18 do words[i] = "w" .. i end
  local MESSAGE = table.concat(words, " ")

  setup(function()
    srv = helper.server()
    client = oaichat.new{ base_url = srv.url, api_key = "sk-spec", max_retries = 0 }
    local t = client._session:start({ url = srv.url .. "/chat/completions", body = "{}" })
    method_tables = { getmetatable(client._session).__index, getmetatable(t).__index }
    t:close()
  end)
  teardown(function() client:close() end)

  -- Runs f(counts) with every call into C counted in counts.n; returns the
  -- count and f's result.
  local function counted(f)
    local counts = { n = 0 }
    local undo = { wrap(core, counts) }
    for _, mt in ipairs(method_tables) do undo[#undo + 1] = wrap(mt, counts) end
    local ok, res = pcall(f, counts)
    for _, u in ipairs(undo) do u() end
    assert(ok, res)
    return counts.n, res
  end

  -- Polls s with poll(timeout_ms) until it is done (or `until_chunks` chunks
  -- came), recording each poll's C calls and chunks in log; returns the chunks.
  local function drive(s, counts, timeout_ms, log, until_chunks)
    local got, done = 0, false
    while not done and got < (until_chunks or math.huge) do
      local before = counts.n
      local list
      list, done = s:poll(timeout_ms)
      got = got + #list
      log[#log + 1] = { calls = counts.n - before, chunks = #list }
    end
    return got
  end

  -- Every poll, whatever the timing, crosses at most once more than the
  -- chunks it returns (its last step finds nothing queued, or the end).
  local function assert_per_poll(log)
    for i, p in ipairs(log) do
      assert.is_true(p.calls <= p.chunks + 1,
        ("poll %d of %d: %d calls for %d chunks"):format(i, #log, p.calls, p.chunks))
    end
  end

  it("a chat() crosses into C at most twice: start (encoding the body), one step (decoding the answer)", function()
    local n, resp = counted(function() return client:chat("hi") end)
    assert.equal("Echo: hi (1 message)", oaichat.text(resp))
    assert.is_true(n <= 2, n .. " calls")
  end)

  it("a streamed for loop takes one call per chunk, plus the start and the end", function()
    local n, chunks = counted(function()
      local got = 0
      for _ in client:stream(MESSAGE) do got = got + 1 end
      return got
    end)
    assert.is_true(chunks >= 20, chunks .. " chunks")
    assert.is_true(n <= chunks + 2, ("%d calls for %d chunks"):format(n, chunks))
  end)

  it("a stream driven by poll(10): one call to start, then per poll at most one more than its chunks", function()
    local log, start_calls = {}, nil
    local n, chunks = counted(function(counts)
      local s = client:stream(MESSAGE)
      start_calls = counts.n
      return drive(s, counts, 10, log)
    end)
    assert.equal(1, start_calls)
    assert.is_true(chunks >= 20, chunks .. " chunks")
    assert_per_poll(log)
    -- (so at most two per chunk whenever each poll brings one)
    assert.is_true(n <= 1 + chunks + #log, ("%d calls for %d chunks in %d polls"):format(n, chunks, #log))
  end)

  it("while the server holds the rest, each empty poll(0) is one call; the end costs one", function()
    local events = {}
    for i = 1, 6 do
      events[i] = ('data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
        .. '"choices":[{"index":0,"delta":{"content":"p%d"},"finish_reason":null}]}\n\n'):format(i)
    end
    events[7] = "data: [DONE]\n\n"
    -- the six chunks go out, [DONE] waits for the release: the end is met in a poll of its own
    srv:queue { { raw_events = events, hold_after = 6 } }
    local log, held_log, held = {}, {}, nil
    local _, chunks = counted(function(counts)
      local s = client:stream("hi")
      local got = drive(s, counts, 10, log, 6)
      for _ = 1, 5 do
        local before = counts.n
        local list = s:poll(0)
        held_log[#held_log + 1] = { calls = counts.n - before, chunks = #list }
      end
      held = srv:stats().held
      srv:release()
      return got + drive(s, counts, 10, log)
    end)
    assert.equal(1, held)
    assert.equal(6, chunks)
    for i, p in ipairs(held_log) do
      assert.same({ calls = 1, chunks = 0 }, p, "held poll " .. i)
    end
    assert_per_poll(log)
    assert.same({ calls = 1, chunks = 0 }, log[#log], "the poll that finds the end")
  end)
end)
