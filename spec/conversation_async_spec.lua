-- Conversations driven from an event loop: conv:stream(...):poll,
-- conv:say_async and conv:run_tools_async, each polled with poll(0) once
-- per simulated frame (a short sleep between frames, like a game or an
-- editor between its own events). The history changes exactly once, when
-- the turn succeeds; a failure or a cancel leaves it as it was.
local oaichat = require("oaichat")
local core = require("oaichat.core")
local helper = require("spec.support.helper")
local conversation = require("oaichat.conversation")

local null = oaichat.null

local WEATHER = { {
  type = "function",
  ["function"] = { name = "get_weather", parameters = { type = "object",
    properties = { city = { type = "string" } }, required = { "city" } } },
} }

local function chunk(content)
  return core.encode({ id = "c1", object = "chat.completion.chunk", created = 1, model = "m",
    choices = { { index = 0, delta = { content = content }, finish_reason = null } } })
end

local function reply(message, finish)
  return { json = { id = "r1", object = "chat.completion", created = 1, model = "m",
    choices = { { index = 0, message = message, finish_reason = finish or "stop" } },
    usage = { prompt_tokens = 1, completion_tokens = 1, total_tokens = 2 } } }
end

local FRAME_S = 0.002
local MAX_FRAMES = 20000

-- The frame loop: calls poll(0) once a frame until it reports done; on_frame
-- (if given) runs after each poll with the frame number and poll's values
-- and may return true to stop early. Returns the frame count and the values
-- of the last poll.
local function frame_loop(obj, on_frame)
  local n = 0
  while true do
    n = n + 1
    assert(n <= MAX_FRAMES, "no end after " .. MAX_FRAMES .. " frames")
    local v = { obj:poll(0) }
    if on_frame and on_frame(n, v) then return n, v end
    local done = v[1]
    if type(done) == "table" then done = v[2] end -- a stream's poll: chunks, done, err, text
    if done then return n, v end
    core.sleep(FRAME_S)
  end
end

describe("conversations in an event loop", function()
  local srv, client

  before_each(function()
    srv = helper.server()
    srv:reset()
    client = oaichat.new({ base_url = srv.url, api_key = "sk-test", max_retries = 0,
      headers = { ["x-mock-delay-ms"] = "10" } })
  end)

  after_each(function()
    client:close()
  end)

  describe("conv:stream(...):poll", function()
    it("hands out chunks and their text per frame and commits the turn once, at the end", function()
      local conv = client:conversation({ system = "S" })
      local s = conv:stream("Hello")
      local texts, counts, nchunks = {}, {}, 0
      local frames, last = frame_loop(s, function(_, v)
        nchunks = nchunks + #v[1]
        if v[4] ~= "" then texts[#texts + 1] = v[4] end
        counts[#counts + 1] = #conv.messages
      end)
      local final = "Echo: Hello (2 messages; system prompt)"
      assert.is_true(last[2])
      assert.is_nil(last[3])
      assert.is_true(frames > #texts, "frames without news: the loop was never blocked")
      assert.is_true(#texts >= 3, #texts .. " frames brought text")
      assert.equal(final, table.concat(texts))
      assert.equal(final, s:text())
      assert.equal(200, s:meta().status)
      assert.is_true(nchunks >= #texts)
      -- The history: one message (system) every frame until the last one.
      for i = 1, #counts - 1 do assert.equal(1, counts[i]) end
      assert.equal(3, counts[#counts])
      assert.same({ { role = "system", content = "S" }, { role = "user", content = "Hello" },
        { role = "assistant", content = final } }, conv.messages)
      -- Later polls and next() add nothing.
      local chunks, done, err, text = s:poll(0)
      assert.same({}, chunks)
      assert.is_true(done)
      assert.is_nil(err)
      assert.equal("", text)
      assert.is_nil(s:next())
      assert.equal(3, #conv.messages)
      assert.equal(0, client:pending())
    end)

    it("leaves the history as it was when the stream breaks off, however often polled", function()
      srv:queue({ { sse = { chunk("par"), chunk("tial") }, chunk_delay_ms = 10 } })
      local conv = client:conversation()
      conv:add("earlier")
      local before = conversation.deep_copy(conv.messages)
      local s = conv:stream("Hello")
      local frames, last = frame_loop(s)
      assert.is_true(frames > 1)
      assert.equal("stream", last[3].kind)
      assert.equal("partial", s:text())
      assert.same(before, conv.messages)
      for _ = 1, 3 do
        local chunks, done, err = s:poll(0)
        assert.same({}, chunks)
        assert.is_true(done)
        assert.equal("stream", err.kind)
      end
      assert.same(before, conv.messages)
      assert.equal("failed", s.state)
    end)

    it("commits nothing when closed mid-stream", function()
      local conv = client:conversation()
      local s = conv:stream("Hello there")
      local _, last = frame_loop(s, function(_, v) return v[4] ~= "" end)
      assert.is_false(last[2])
      s:close()
      local chunks, done, err = s:poll(0)
      assert.same({}, chunks)
      assert.is_true(done)
      assert.is_nil(err)
      assert.equal("canceled", s.state)
      assert.same({}, conv.messages)
      assert.equal(0, client:pending())
    end)
  end)

  describe("conv:say_async", function()
    it("returns at once, and poll commits the exchange once when the reply arrives", function()
      srv:queue({ { delay_ms = 30 } })
      local conv = client:conversation({ system = "S" })
      local r = conv:say_async("Hi", { temperature = 0.5 })
      local counts = {}
      local frames, last = frame_loop(r, function() counts[#counts + 1] = #conv.messages end)
      assert.is_true(frames > 1, "the first poll(0) waited for the reply")
      for i = 1, #counts - 1 do assert.equal(1, counts[i]) end
      local final = "Echo: Hi (2 messages; system prompt; params: temperature=0.5)"
      assert.is_true(last[1])
      assert.equal("chatcmpl-mock-1", last[2].id)
      assert.is_nil(last[3])
      assert.equal(200, last[4].status) -- the request's meta, as request:poll gives it
      assert.equal(final, r:text())
      assert.same({ { role = "system", content = "S" }, { role = "user", content = "Hi" },
        { role = "assistant", content = final } }, conv.messages)
      assert.is_nil(srv:last_request().json.stream)
      -- Polling again returns the same and commits nothing more.
      local done, resp = r:poll(0)
      assert.is_true(done)
      assert.equal(last[2], resp)
      assert.equal(3, #conv.messages)
      assert.same({ prompt_tokens = 2, completion_tokens = 8, total_tokens = 10 }, conv:usage())
    end)

    it("leaves the history untouched on failure", function()
      srv:queue({ { delay_ms = 20, status = 400, json = { error = { message = "too long" } } } })
      local conv = client:conversation({ system = "S" })
      local _, last = frame_loop(conv:say_async("Hi"))
      assert.is_true(last[1])
      assert.is_nil(last[2])
      assert.equal("api", last[3].kind)
      assert.equal("too long", last[3].message)
      assert.same({ { role = "system", content = "S" } }, conv.messages)
    end)

    it("leaves the history untouched when closed, and reports canceled", function()
      srv:queue({ { delay_ms = 2000 } })
      local conv = client:conversation()
      local r = conv:say_async("Hi")
      assert.is_false((r:poll(0)))
      r:close()
      local done, resp, err = r:poll(0)
      assert.is_true(done)
      assert.is_nil(resp)
      assert.equal("canceled", err.kind)
      assert.same({}, conv.messages)
      assert.equal(0, client:pending())
    end)

    it("raises on misuse at once", function()
      local conv = client:conversation()
      assert.has_error(function() conv:say_async(42) end,
        "conv:say_async: content must be a string, a message or an array of content parts, got number")
      assert.has_error(function() conv:say_async("x", "y") end, "conv:say_async: opts must be a table, got string")
      assert.equal(0, #srv:requests())
    end)
  end)

  describe("conv:run_tools_async", function()
    it("runs the tool round trip from the frame loop, committing as run_tools does", function()
      local conv = client:conversation({ system = "S" })
      local calls = 0
      local run = conv:run_tools_async(WEATHER, { get_weather = function(args)
        calls = calls + 1
        return "21C in " .. args.city
      end }, { prompt = "Weather in Oslo?" })
      -- Nothing is sent before the first poll; the prompt is already in the history.
      assert.equal(0, #srv:requests())
      local frames, last = frame_loop(run)
      assert.is_true(frames > 2)
      assert.is_true(last[1])
      assert.equal("stop", last[2].choices[1].finish_reason)
      assert.equal(1, calls)
      assert.equal("Tool said: 21C in x", run:text())
      assert.same({ "system", "user", "assistant", "tool", "assistant" }, (function()
        local roles = {}
        for i, m in ipairs(conv.messages) do roles[i] = m.role end
        return roles
      end)())
      assert.equal(2, #srv:requests())
      -- The same conversation through the blocking run_tools gives the same history.
      local sync = client:conversation({ system = "S" })
      assert.truthy(sync:run_tools(WEATHER, { get_weather = function(args)
        return "21C in " .. args.city end }, { prompt = "Weather in Oslo?" }))
      assert.same(sync.messages, conv.messages)
    end)

    it("restores the history when a later request fails", function()
      srv:queue({ reply({ role = "assistant", content = null, tool_calls = { { id = "c1", type = "function",
        ["function"] = { name = "get_weather", arguments = "{}" } } } }, "tool_calls"),
        { delay_ms = 20, status = 400, json = { error = { message = "bad tool" } } } })
      local conv = client:conversation()
      conv:add("earlier")
      local before = conversation.deep_copy(conv.messages)
      local _, last = frame_loop(conv:run_tools_async(WEATHER, function() return "ok" end, { prompt = "x" }))
      assert.is_true(last[1])
      assert.is_nil(last[2])
      assert.equal("bad tool", last[3].message)
      assert.same(before, conv.messages)
    end)

    it("restores the history when closed after a tool round", function()
      srv:queue({ reply({ role = "assistant", content = null, tool_calls = { { id = "c1", type = "function",
        ["function"] = { name = "get_weather", arguments = "{}" } } } }, "tool_calls"), { delay_ms = 2000 } })
      local conv = client:conversation()
      local run = conv:run_tools_async(WEATHER, function() return "ok" end, { prompt = "x" })
      local _, last = frame_loop(run, function() return #conv.messages == 3 end)
      assert.is_false(last[1])
      assert.equal("tool", conv.messages[3].role)
      run:close()
      local done, resp, err = run:poll(0)
      assert.is_true(done)
      assert.is_nil(resp)
      assert.equal("canceled", err.kind)
      assert.same({}, conv.messages)
      assert.equal("canceled", run.state)
      assert.equal(0, client:pending())
    end)
  end)
end)
