-- Non-blocking use: poll(0) never waits (shown with 100 requests whose
-- replies the server holds), retry waits and timeouts advance inside polls,
-- close() cancels, client:pending()/client:poll(), chat_many's concurrency
-- bound and order, and a simulated 16 ms game frame loop driving ten streams.
-- No clock decides a result here: "did not wait" is shown by the order of
-- events (held replies, requests recorded) or by how many calls a wait spread
-- over; lower bounds check that waits were honoured. How long a poll(0)
-- takes, and how late frames start, is measured by bench/poll.lua.
local oaichat = require("oaichat")
local core = require("oaichat.core")
local helper = require("spec.support.helper")

local function echo(text) return "Echo: " .. text .. " (1 message)" end

-- Calls poll (which must wrap one poll(0) call and return done, ...) every
-- 2 ms, like an event loop would, until it reports done. Returns the number
-- of calls, the elapsed time (for lower bounds) and the results of the last
-- call. The bound on calls only keeps a broken client from looping forever.
local function drive(poll)
  local calls, t0 = 0, core.now()
  local res
  repeat
    res = { poll() }
    calls = calls + 1
    if not res[1] then core.sleep(0.002) end
  until res[1] or calls > 15000
  return calls, core.now() - t0, res
end

-- Calls poll (one poll(0)) until the server has recorded n requests, and
-- returns how many calls returned while it had fewer: a wait spread over
-- many calls, where a poll(0) that slept it out would return once.
local function calls_until_recorded(srv, n, poll)
  local calls = 0
  while #srv:requests() < n and calls < 100000 do
    if poll() then break end
    calls = calls + 1
  end
  return calls
end

local connections = require("spec.support.util").connections

-- Waits (polling the control API) until the server has no open client
-- connection left; returns the number still open.
local function wait_closed(srv, limit)
  local open, naps = srv:stats().open, 0
  -- the control connection making the stats call counts itself
  while open > 1 and naps < limit * 100 do
    core.sleep(0.01)
    naps = naps + 1
    open = srv:stats().open
  end
  return open - 1
end

describe("non-blocking use", function()
  local srv, client

  before_each(function()
    srv = helper.server()
    srv:reset()
    -- clients of earlier specs close their idle connections when collected:
    -- the connection counts below must see only this spec's
    collectgarbage()
    collectgarbage()
    client = oaichat.new { api_key = "sk-test", base_url = srv.url, max_retries = 0 }
  end)

  after_each(function()
    client:close()
  end)

  describe("request:poll(0)", function()
    it("never waits with 100 requests in flight, and alone brings each to its answer", function()
      local scripts = {}
      for i = 1, 100 do scripts[i] = { hold = true } end
      srv:queue(scripts)
      local reqs = {}
      for i = 1, 100 do reqs[i] = client:chat_async("req " .. i) end
      assert.equal(100, client:pending())
      -- Phase 1: the server holds every reply until srv:release(), so a
      -- poll(0) that waited for one could only come back done (after the
      -- mock's 30 s safety); 100 rounds of 100 must all come back at once.
      for _ = 1, 100 do
        for i = 1, 100 do assert.is_false(reqs[i]:poll(0)) end
      end
      assert.equal(100, client:pending())
      -- Phase 2: poll(0) alone brings every request to its answer.
      srv:release(100)
      local left, rounds = 100, 0
      local results = {}
      while left > 0 and rounds < 20000 do
        rounds = rounds + 1
        for i = 1, 100 do
          if not results[i] then
            local done, resp, err = reqs[i]:poll(0)
            if done then
              results[i], left = resp or err, left - 1
            end
          end
        end
        core.sleep(0.001)
      end
      assert.equal(0, left)
      for i = 1, 100 do assert.equal(echo("req " .. i), oaichat.text(results[i])) end
      assert.equal(0, client:pending())
      assert.equal(100, #srv:requests())
    end)

    it("advances a retry wait (429 with retry-after-ms) without blocking", function()
      srv:queue { { status = 429, headers = { ["retry-after-ms"] = "300" },
        json = { error = { message = "slow down", type = "rate_limit_exceeded" } } } }
      local c = oaichat.new { api_key = "sk-test", base_url = srv.url, max_retries = 1 }
      local r = c:chat_async("again")
      local t0 = core.now()
      local in_wait = calls_until_recorded(srv, 2, function() return r:poll(0) end)
      local _, _, res = drive(function() return r:poll(0) end)
      local elapsed = core.now() - t0
      c:close()
      assert.is_true(res[1])
      assert.is_nil(res[3])
      assert.equal(echo("again"), oaichat.text(res[2]))
      assert.is_true(elapsed >= 0.3, "retry came after " .. elapsed .. " s")
      assert.is_true(in_wait >= 10, "only " .. in_wait .. " polls during the wait")
      local reqs = srv:requests()
      assert.equal(2, #reqs)
      assert.equal(reqs[1].body, reqs[2].body)
    end)

    it("advances the whole-request timeout without blocking", function()
      srv:queue { { hang = true } }
      local r = client:chat_async("x", { timeout = 0.3 })
      local calls, elapsed, res = drive(function() return r:poll(0) end)
      assert.is_true(res[1])
      assert.is_nil(res[2])
      assert.equal("timeout", res[3].kind)
      assert.equal(1, res[3].attempts)
      -- The hang never ends: the timeout did, spread over many calls (one
      -- poll(0) that waited it out would be the only call).
      assert.is_true(elapsed >= 0.29, "timed out after " .. elapsed .. " s")
      assert.is_true(calls >= 10, "only " .. calls .. " polls until the timeout")
      assert.equal(0, client:pending())
    end)

    it("close() cancels: the request ends as canceled and its connection closes", function()
      srv:queue { { hang = true } }
      local r = client:chat_async("x")
      local polls = 0
      while #srv:requests() == 0 and polls < 2000 do
        r:poll(5)
        polls = polls + 1
      end
      assert.equal(1, #srv:requests())
      assert.equal(1, client:pending())
      r:close()
      assert.equal(0, client:pending())
      local done, resp, err = r:poll(0)
      assert.is_true(done)
      assert.is_nil(resp)
      assert.equal("canceled", err.kind)
      assert.equal("oaichat: canceled error: the request was canceled", tostring(err))
      assert.equal(0, wait_closed(srv, 10))
    end)
  end)

  describe("stream:poll(0)", function()
    it("advances a retry wait without blocking, then delivers the stream", function()
      srv:queue { { status = 429, headers = { ["retry-after-ms"] = "300" },
        json = { error = { message = "slow down", type = "rate_limit_exceeded" } } } }
      local c = oaichat.new { api_key = "sk-test", base_url = srv.url, max_retries = 1 }
      local s = c:stream("again")
      local got = {}
      local function poll()
        local chunks, done, err = s:poll(0)
        for _, ch in ipairs(chunks) do got[#got + 1] = ch end
        return done, err
      end
      local t0 = core.now()
      local in_wait = calls_until_recorded(srv, 2, poll)
      local _, _, res = drive(poll)
      local elapsed = core.now() - t0
      c:close()
      assert.is_true(res[1])
      assert.is_nil(res[2])
      assert.equal(6, #got)
      assert.equal(echo("again"), s:text())
      assert.equal("stop", s:result().choices[1].finish_reason)
      assert.is_true(elapsed >= 0.3, "stream ended after " .. elapsed .. " s")
      assert.is_true(in_wait >= 10, "only " .. in_wait .. " polls during the wait")
      assert.equal(2, #srv:requests())
    end)

    it("advances the idle timeout without blocking", function()
      srv:queue { { hang = true } }
      local s = client:stream("x", { idle_timeout = 0.3 })
      local calls, elapsed, res = drive(function()
        local chunks, done, err = s:poll(0)
        assert.equal(0, #chunks)
        return done, err
      end)
      assert.is_true(res[1])
      assert.equal("timeout", res[2].kind)
      assert.is_true(elapsed >= 0.29, "timed out after " .. elapsed .. " s")
      assert.is_true(calls >= 10, "only " .. calls .. " polls until the timeout")
    end)

    it("close() mid-stream cancels at once and closes the connection", function()
      local s = client:stream("one two three four", { headers = { ["x-mock-delay-ms"] = "200" } })
      local got = {}
      local polls = 0
      while #got == 0 and polls < 1000 do
        local chunks = s:poll(10)
        for _, ch in ipairs(chunks) do got[#got + 1] = ch end
        polls = polls + 1
      end
      assert.equal(1, #got)
      assert.equal(1, client:pending())
      s:close()
      assert.equal(0, client:pending())
      local chunks, done, err = s:poll(0)
      assert.same({}, chunks)
      assert.is_true(done)
      assert.is_nil(err)
      assert.equal("", s:text())
      assert.equal(0, wait_closed(srv, 10))
    end)
  end)

  describe("client:pending() and client:poll(ms)", function()
    it("counts transfers in flight, streams included", function()
      -- one request at a time, so that each meets the script meant for it
      local function until_recorded(r, n)
        local polls = 0
        while #srv:requests() < n and polls < 2000 do
          r:poll(5)
          polls = polls + 1
        end
        assert.equal(n, #srv:requests())
      end
      assert.equal(0, client:pending())
      srv:queue { { delay_ms = 200 } }
      local a = client:chat_async("a")
      until_recorded(a, 1)
      srv:queue { { hang = true } }
      local b = client:chat_async("b")
      until_recorded(b, 2)
      local s = client:stream("c", { headers = { ["x-mock-delay-ms"] = "2000" } })
      assert.equal(3, client:pending())
      s:close()
      assert.equal(2, client:pending())
      local done, resp = a:poll(-1)
      assert.is_true(done)
      assert.equal(echo("a"), oaichat.text(resp))
      assert.equal(1, client:pending())
      assert.is_false(b:poll(0))
      b:close()
      assert.equal(0, client:pending())
    end)

    it("poll(ms) advances every transfer at once; the requests then settle without waiting", function()
      local scripts = {}
      for i = 1, 5 do scripts[i] = { delay_ms = 100 } end
      srv:queue(scripts)
      local reqs = {}
      for i = 1, 5 do reqs[i] = client:chat_async("all " .. i) end
      local t0, rounds = core.now(), 0
      while client:pending() > 0 and rounds < 1000 do
        client:poll(20)
        rounds = rounds + 1
      end
      local elapsed = core.now() - t0
      assert.equal(0, client:pending())
      assert.is_true(rounds >= 3, "only " .. rounds .. " rounds")
      assert.is_true(elapsed >= 0.09, "took " .. elapsed .. " s")
      -- client:poll settled them all: each poll(0) only hands over its result.
      for i = 1, 5 do
        local done, resp, err = reqs[i]:poll(0)
        assert.is_true(done)
        assert.is_nil(err)
        assert.equal(echo("all " .. i), oaichat.text(resp))
      end
    end)

    it("poll(ms) waits at most ms while nothing happens, and returns the count in flight", function()
      srv:queue { { hang = true } }
      local r = client:chat_async("x")
      for _, wait in ipairs({ 0, 50, 120 }) do
        local t = core.now()
        local n = client:poll(wait)
        local took = core.now() - t
        assert.equal(1, n)
        -- "At most ms" has no event to show it but the clock: the bound is
        -- generous (a hang's reply never comes, so only the wait can end it);
        -- bench/poll.lua measures how close to ms it really is.
        assert.is_true(took >= wait / 1000 - 0.002 and took < wait / 1000 + 2,
          ("poll(%d) took %.3f ms"):format(wait, took * 1000))
      end
      r:close()
      assert.equal(0, client:poll(0))
    end)
  end)

  describe("client:chat_many", function()
    it("keeps at most N requests in flight on N connections and returns input order", function()
      local scripts = {}
      for i = 1, 12 do scripts[i] = { delay_ms = 150 } end
      srv:queue(scripts)
      local list = {}
      for i = 1, 12 do list[i] = { "many " .. i } end
      local t0 = core.now()
      local results = client:chat_many(list, { concurrency = 4 })
      local elapsed = core.now() - t0
      assert.equal(12, #results)
      for i = 1, 12 do assert.equal(echo("many " .. i), oaichat.text(results[i])) end
      -- 12 requests of 150 ms, 4 at a time: three rounds. More at once would
      -- finish sooner, fewer would need a fourth round.
      -- More at once would take more connections (HTTP/1.1 carries one
      -- request at a time) and finish sooner; fewer would take fewer.
      assert.is_true(elapsed >= 0.45, "12 x 150 ms took only " .. elapsed .. " s")
      assert.equal(12, #srv:requests())
      assert.equal(4, connections(srv))
      assert.equal(0, client:pending())
    end)

    it("puts {error = err} in place of failures, in input order", function()
      -- concurrency 1 makes the order of arrival, and so the scripts, fixed
      srv:queue { {}, { status = 400, json = { error = { message = "bad item", type = "invalid_request_error",
        code = "bad" } } }, {}, { status = 503 } }
      local list = {}
      for i = 1, 5 do list[i] = { { { role = "user", content = "item " .. i } } } end
      local results = client:chat_many(list, { concurrency = 1 })
      assert.equal(5, #results)
      for _, i in ipairs({ 1, 3, 5 }) do assert.equal(echo("item " .. i), oaichat.text(results[i])) end
      assert.equal("api", results[2].error.kind)
      assert.equal(400, results[2].error.status)
      assert.equal("bad item", results[2].error.message)
      assert.equal("bad", results[2].error.code)
      assert.is_false(results[2].error.retryable)
      assert.equal("api", results[4].error.kind)
      assert.equal(503, results[4].error.status)
      assert.is_true(results[4].error.retryable)
      assert.is_nil(results[2].choices)
      assert.equal(1, connections(srv))
    end)

    it("retries inside the loop without holding up the other requests", function()
      srv:queue { { status = 429, headers = { ["retry-after-ms"] = "1000" } } }
      local c = oaichat.new { api_key = "sk-test", base_url = srv.url, max_retries = 1 }
      local list = {}
      for i = 1, 9 do list[i] = { "r " .. i } end
      local t0 = core.now()
      local results = c:chat_many(list, { concurrency = 3 })
      local elapsed = core.now() - t0
      c:close()
      for i = 1, 9 do assert.equal(echo("r " .. i), oaichat.text(results[i])) end
      local reqs = srv:requests()
      assert.equal(10, #reqs)
      -- The other 8 ran during the 1 s wait: the retry of the first request
      -- recorded is the last request the server saw.
      assert.equal(reqs[1].body, reqs[10].body)
      for i = 2, 9 do assert.are_not.equal(reqs[1].body, reqs[i].body) end
      assert.is_true(elapsed >= 1, "took " .. elapsed .. " s")
    end)
  end)

  describe("a 16 ms frame loop", function()
    local FRAME = 0.016

    -- One run of the game loop: ten streams, each polled once per frame.
    -- Returns how late each frame started, how long each frame's polls
    -- took, and per stream the prompt and the number of frames that brought
    -- chunks. Errors and unfinished streams fail the spec at once.
    local function run_frames()
      local streams, prompts, frames_with_chunks = {}, {}, {}
      for i = 1, 10 do
        prompts[i] = ("frame stream %d says a b c d e"):format(i)
        streams[i] = client:stream(prompts[i], { headers = { ["x-mock-delay-ms"] = "25" } })
        frames_with_chunks[i] = 0
      end
      local frames = 0
      local due, running = core.now(), 10
      while running > 0 and frames < 2000 do
        frames = frames + 1
        running = 0
        for i, s in ipairs(streams) do
          local chunks, done, err = s:poll(0)
          assert.is_nil(err)
          if #chunks > 0 then frames_with_chunks[i] = frames_with_chunks[i] + 1 end
          if not done then running = running + 1 end
        end
        due = due + FRAME
        core.sleep(due - core.now())
      end
      assert.equal(0, running)
      for i, s in ipairs(streams) do
        assert.equal(echo(prompts[i]), s:text())
        assert.equal("stop", s:result().choices[1].finish_reason)
        -- the reply really arrived over many frames, not in one
        assert.is_true(frames_with_chunks[i] >= 5, "stream " .. i .. ": " .. frames_with_chunks[i] .. " frames")
      end
      return frames
    end

    -- How late frames start is timing, measured by bench/poll.lua; here the
    -- counts: every stream finished, each over at least 5 frames.
    it("drives ten streams with poll(0) once per frame, each reply over many frames", function()
      local frames = run_frames()
      assert.is_true(frames >= 15, "only " .. frames .. " frames")
    end)
  end)
end)
