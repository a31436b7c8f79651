-- client:stream against the real loopback server: iteration, accumulation,
-- failure kinds, poll, cancellation and cleanup.
local oaichat = require("oaichat")
local core = require("oaichat.core")
local helper = require("spec.support.helper")

local null = oaichat.null

-- One chat.completion.chunk as JSON text (fixed id/model/created).
local function chunk(delta, finish, index)
  return core.encode({ id = "chatcmpl-s1", object = "chat.completion.chunk", created = 1700000001,
    model = "m-test", choices = { { index = index or 0, delta = delta, finish_reason = finish or null } } })
end

local function content(s) return chunk({ content = s }) end

local USAGE = '{"id":"chatcmpl-s1","object":"chat.completion.chunk","created":1700000001,'
  .. '"model":"m-test","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}'

-- The pieces of a well-formed stream: role, "Hel", "lo", finish, [DONE].
local function hello_events()
  return { chunk({ role = "assistant", content = "" }), content("Hel"), content("lo"),
    chunk({}, "stop"), "[DONE]" }
end

local function collect(s)
  local out = {}
  for c in s do out[#out + 1] = c end
  return out
end

local function contents(chunks)
  local out = {}
  for _, c in ipairs(chunks) do
    local ch = c.choices[1]
    out[#out + 1] = ch and ch.delta.content or "-"
  end
  return table.concat(out, "|")
end

local function fails(s)
  local ok, err = pcall(collect, s)
  assert.is_false(ok)
  assert.equal("table", type(err))
  return err
end

describe("client:stream", function()
  local srv, client

  before_each(function()
    srv = helper.server()
    srv:reset()
    client = oaichat.new { api_key = "sk-test", base_url = srv.url, max_retries = 0, idle_timeout = 2 }
  end)

  after_each(function()
    client:close()
  end)

  describe("delivery", function()
    it("sends stream=true without stream_options and yields the default echo in order", function()
      local chunks = collect(client:stream("hi there"))
      assert.equal("|Echo:| hi| there| (1| message)|-", contents(chunks))
      local req = srv:last_request()
      assert.equal(true, req.json.stream)
      assert.is_nil(req.json.stream_options)
      assert.equal("text/event-stream", req.headers.accept)
      assert.equal("chat.completion.chunk", chunks[1].object)
    end)

    it("returns at once without waiting for the network", function()
      -- The reply is held and never released: a stream() that waited for
      -- it would return only at the mock's 30 s safety, with chunks ready.
      srv:queue { { hold = true } }
      local s = client:stream("hi")
      local chunks, done = s:poll(0)
      assert.same({}, chunks)
      assert.is_false(done)
      s:close()
    end)

    it("reassembles events written in many small writes with delays", function()
      local body = table.concat({ "data: " .. content("ab") .. "\n\n", "data: " .. content("cd") .. "\n\n",
        "data: [DONE]\n\n" })
      srv:queue { { raw_events = { body }, drip_bytes = 7, chunk_delay_ms = 1 } }
      local s = client:stream("hi")
      assert.equal("ab|cd", contents(collect(s)))
      assert.equal("abcd", s:text())
    end)

    it("hands over the first chunk before the rest is sent", function()
      local events = {}
      for i = 1, 5 do events[i] = "data: " .. content("p" .. i) .. "\n\n" end
      events[6] = "data: [DONE]\n\n"
      -- The server holds everything after the first event until released:
      -- a next() that waited for more could not return before the release.
      srv:queue { { raw_events = events, hold_after = 1 } }
      local s = client:stream("hi")
      local first = assert(s:next())
      assert.equal("p1", first.choices[1].delta.content)
      assert.equal(1, srv:stats().held)
      srv:release()
      local rest = collect(s)
      assert.equal("p2|p3|p4|p5", contents(rest))
    end)

    it("reuses one connection across streams and chats", function()
      collect(client:stream("one"))
      srv:queue { { sse = hello_events() } }
      collect(client:stream("two"))
      assert(client:chat("three"))
      collect(client:stream("four"))
      local reqs = srv:requests()
      assert.equal(4, #reqs)
      for i = 2, 4 do assert.equal(reqs[1].conn, reqs[i].conn) end
    end)

    it("next() returns each chunk, then nil at the end, and nil again", function()
      srv:queue { { sse = hello_events() } }
      local s = client:stream("hi")
      local got = {}
      for i = 1, 4 do
        local c, err = s:next()
        assert.is_nil(err)
        got[i] = c
      end
      assert.equal("|Hel|lo|-", contents(got))
      assert.equal("stop", got[4].choices[1].finish_reason)
      local c, err = s:next()
      assert.is_nil(c)
      assert.is_nil(err)
      c, err = s:next()
      assert.is_nil(c)
      assert.is_nil(err)
      assert.equal(0, client:pending())
    end)

    it("a 2 MB stream of small chunks arrives complete", function()
      local writes, piece = {}, ("0123456789"):rep(10)
      local n_writes, per_write = 100, 200
      for w = 1, n_writes do
        local evs = {}
        for i = 1, per_write do evs[i] = "data: " .. content(piece) .. "\n\n" end
        writes[w] = table.concat(evs)
      end
      writes[#writes + 1] = "data: " .. chunk({}, "stop") .. "\n\ndata: [DONE]\n\n"
      srv:queue { { raw_events = writes } }
      local s = client:stream("hi")
      local n = 0
      for _ in s do n = n + 1 end
      assert.equal(n_writes * per_write + 1, n)
      local msg = s:result().choices[1].message
      assert.equal(n_writes * per_write * #piece, #msg.content)
      assert.equal(2000000, #s:text())
      assert.equal(piece:rep(3), msg.content:sub(1, 300))
    end)
  end)

  describe("accumulation through result()", function()
    it("has exactly the shape of a non-streaming response", function()
      srv:queue { { sse = { chunk({ role = "assistant", content = "" }), content("Hel"), content("lo"),
        chunk({}, "stop"), USAGE, "[DONE]" } } }
      local s = client:stream("hi")
      local chunks = collect(s)
      assert.equal(5, #chunks)
      -- the usage chunk (choices = []) is yielded like any other
      assert.same({}, chunks[5].choices)
      assert.equal(8, chunks[5].usage.total_tokens)
      assert.same({
        id = "chatcmpl-s1", object = "chat.completion", created = 1700000001, model = "m-test",
        choices = { { index = 0, message = { role = "assistant", content = "Hello", refusal = null },
          finish_reason = "stop", logprobs = null } },
        usage = { prompt_tokens = 5, completion_tokens = 3, total_tokens = 8 },
      }, s:result())
      assert.equal("Hello", s:text())
      assert.equal("Hello", oaichat.text(s:result()))
      if math.type then
        assert.equal("integer", math.type(s:result().created))
        assert.equal("integer", math.type(s:result().usage.total_tokens))
      end
    end)

    it("is available during iteration", function()
      srv:queue { { sse = hello_events() } }
      local s = client:stream("hi")
      assert.equal("", s:text())
      s:next()
      s:next()
      assert.equal("Hel", s:text())
      assert.equal("Hel", s:result().choices[1].message.content)
      assert.equal(null, s:result().choices[1].finish_reason)
      collect(s)
      assert.equal("Hello", s:text())
    end)

    it("merges tool-call deltas over several chunks and several calls by index", function()
      srv:queue { { sse = {
        chunk({ role = "assistant", content = null }),
        chunk({ tool_calls = { { index = 0, id = "call_a", type = "function",
          ["function"] = { name = "get_weather", arguments = "" } } } }),
        chunk({ tool_calls = { { index = 0, ["function"] = { arguments = '{"ci' } } } }),
        chunk({ tool_calls = { { index = 1, id = "call_b", type = "function",
          ["function"] = { name = "get_time", arguments = '{"tz"' } } } }),
        chunk({ tool_calls = { { index = 0, ["function"] = { arguments = 'ty":"Paris"}' } } } }),
        chunk({ tool_calls = { { index = 1, ["function"] = { arguments = ':"UTC"}' } } } }),
        chunk({}, "tool_calls"), "[DONE]" } } }
      local s = client:stream("hi")
      collect(s)
      local choice = s:result().choices[1]
      assert.equal("tool_calls", choice.finish_reason)
      assert.same({ role = "assistant", content = null, refusal = null, tool_calls = {
        { id = "call_a", type = "function", ["function"] = { name = "get_weather", arguments = '{"city":"Paris"}' } },
        { id = "call_b", type = "function", ["function"] = { name = "get_time", arguments = '{"tz":"UTC"}' } },
      } }, choice.message)
      assert.equal("", s:text())
    end)

    it("concatenates reasoning_content and refusal", function()
      srv:queue { { sse = { chunk({ role = "assistant", reasoning_content = "Let me " }),
        chunk({ reasoning_content = "think." }), chunk({ refusal = "I can't " }), chunk({ refusal = "help." }),
        chunk({}, "stop"), "[DONE]" } } }
      local s = client:stream("hi")
      collect(s)
      assert.same({ role = "assistant", content = null, reasoning_content = "Let me think.",
        refusal = "I can't help." }, s:result().choices[1].message)
    end)

    it("keeps several choices apart by index", function()
      srv:queue { { sse = { chunk({ role = "assistant", content = "A" }, nil, 0),
        chunk({ role = "assistant", content = "B" }, nil, 1), chunk({ content = "a" }, "stop", 0),
        chunk({ content = "b" }, "length", 1), "[DONE]" } } }
      local s = client:stream("hi")
      collect(s)
      local r = s:result()
      assert.equal(2, #r.choices)
      local c1, c2 = r.choices[1], r.choices[2]
      assert.same({ 0, "Aa", "stop" }, { c1.index, c1.message.content, c1.finish_reason })
      assert.same({ 1, "Bb", "length" }, { c2.index, c2.message.content, c2.finish_reason })
      assert.equal("Aa", s:text())
    end)
  end)

  describe("failures", function()
    it("for raises the error object of a mid-stream {error} payload as kind stream", function()
      srv:queue { { sse = { content("a"),
        { error = { message = "The server overloaded", type = "server_error", code = "overloaded" } } },
        headers = { ["x-request-id"] = "req_mid" } } }
      local s = client:stream("hi")
      local err = fails(s)
      assert.equal("stream", err.kind)
      assert.equal(200, err.status)
      assert.equal("req_mid", err.request_id)
      assert.is_false(err.retryable)
      assert.equal(1, err.attempts)
      assert.equal("overloaded", err.code)
      assert.equal("server_error", err.type)
      assert.matches("The server overloaded", err.message, 1, true)
      assert.equal("a", s:text())
      local c, e2 = s:next()
      assert.is_nil(c)
      assert.equal(err, e2)
      assert.equal(0, client:pending())
    end)

    it("event: error with a JSON error object is kind stream with its message and code", function()
      srv:queue { { raw_events = { "data: " .. content("a") .. "\n\n",
        'event: error\ndata: {"error":{"message":"rate limited upstream","code":"rate_limit"}}\n\n' } } }
      local err = fails(client:stream("hi"))
      assert.equal("stream", err.kind)
      assert.equal("rate_limit", err.code)
      assert.matches("rate limited upstream", err.message, 1, true)
      assert.matches("rate limited upstream", tostring(err), 1, true)
    end)

    it("event: error whose data is the error object itself is kind stream with its code", function()
      srv:queue { { raw_events = { 'event: error\ndata: {"message":"bad thing","code":"e42","type":"upstream"}\n\n' },
        headers = { ["x-request-id"] = "req_ev" } } }
      local _, err = client:stream("hi"):next()
      assert.equal("stream", err.kind)
      assert.equal("e42", err.code)
      assert.equal("upstream", err.type)
      assert.equal(200, err.status)
      assert.equal("req_ev", err.request_id)
      assert.equal(1, err.attempts)
      assert.equal("bad thing", err.message)
      assert.equal("oaichat: stream error 200 (e42): bad thing (reported mid-stream) [request req_ev]", tostring(err))
    end)

    it("event: error without JSON is kind stream carrying the text", function()
      srv:queue { { raw_events = { "event: error\ndata: upstream went away\n\n" } } }
      local s = client:stream("hi")
      local c, err = s:next()
      assert.is_nil(c)
      assert.equal("stream", err.kind)
      assert.matches("upstream went away", err.message, 1, true)
    end)

    it("a body ending without [DONE] after chunks is kind stream and keeps what arrived", function()
      srv:queue { { sse = { chunk({ role = "assistant", content = "par" }), content("tial") } } }
      local s = client:stream("hi")
      local err = fails(s)
      assert.equal("stream", err.kind)
      assert.matches("[DONE]", err.message, 1, true)
      assert.equal("partial", s:result().choices[1].message.content)
      assert.equal("partial", s:text())
      assert.equal(0, client:pending())
    end)

    for _, chunked in ipairs({ false, true }) do
      it("a connection cut mid-stream is kind stream and keeps what arrived (chunked " .. tostring(chunked) .. ")",
        function()
          local first = "data: " .. content("kept") .. "\n\n"
          srv:queue { { raw_events = { first, "data: " .. content("lost") .. "\n\n", "data: [DONE]\n\n" },
            close_after_bytes = #first + 20, chunked = chunked, chunk_delay_ms = 20 } }
          local s = client:stream("hi")
          local err = fails(s)
          assert.equal("stream", err.kind)
          assert.is_false(err.retryable)
          assert.equal("kept", s:text())
          -- the client still works afterwards
          assert.equal("Echo: again (1 message)", oaichat.text(assert(client:chat("again"))))
        end)
    end

    it("a connection cut before any chunk is retried", function()
      srv:queue { { raw_events = { "data: " .. content("lost") .. "\n\n" }, close_after_bytes = 10 },
        { sse = hello_events() } }
      local c2 = oaichat.new { api_key = "sk-test", base_url = srv.url, max_retries = 1 }
      local s = c2:stream("hi")
      assert.equal("|Hel|lo|-", contents(collect(s)))
      assert.equal(2, #srv:requests())
      c2:close()
    end)

    it("HTTP 401 before the stream is the same error table as chat", function()
      local body = { error = { message = "Incorrect API key provided", type = "invalid_request_error",
        code = "invalid_api_key", param = null } }
      srv:queue { { status = 401, json = body, headers = { ["x-request-id"] = "req_401" } },
        { status = 401, json = body, headers = { ["x-request-id"] = "req_401" } } }
      local _, chat_err = client:chat("hi")
      local s = client:stream("hi")
      local c, err = s:next()
      assert.is_nil(c)
      local fields = { "kind", "status", "message", "type", "code", "param", "request_id", "retryable", "attempts",
        "body" }
      for _, f in ipairs(fields) do assert.equal(chat_err[f], err[f], f) end
      assert.equal("api", err.kind)
      assert.equal(401, err.status)
      assert.is_false(err.retryable)
      assert.equal(tostring(chat_err), tostring(err))
      assert.equal("oaichat: api error 401 (invalid_api_key): Incorrect API key provided [request req_401]"
        .. " -- the API key came from the api_key option of oaichat.new; check it", tostring(err))
    end)

    it("HTTP 429 before the stream is kind api, retryable", function()
      srv:queue { { status = 429, json = { error = { message = "Slow down", code = "rate_limit_exceeded" } } } }
      local err = fails(client:stream("hi"))
      assert.equal("api", err.kind)
      assert.equal(429, err.status)
      assert.equal("Slow down", err.message)
      assert.is_true(err.retryable)
      assert.equal(1, err.attempts)
    end)

    it("HTTP 500 before any chunk is retried, then the stream works", function()
      srv:queue { { status = 500, headers = { ["retry-after"] = "0" } }, { sse = hello_events() } }
      local c2 = oaichat.new { api_key = "sk-test", base_url = srv.url, max_retries = 1 }
      local s = c2:stream("hi")
      assert.equal("|Hel|lo|-", contents(collect(s)))
      assert.equal(2, #srv:requests())
      assert.equal("Hello", s:text())
      c2:close()
    end)

    it("HTTP 500 with retries spent is kind api with every attempt counted", function()
      srv:queue { { status = 500, headers = { ["retry-after"] = "0" } },
        { status = 500, headers = { ["retry-after"] = "0" } } }
      local c2 = oaichat.new { api_key = "sk-test", base_url = srv.url, max_retries = 1 }
      local err = fails(c2:stream("hi"))
      assert.equal("api", err.kind)
      assert.equal(500, err.status)
      assert.equal("mock error 500", err.message)
      assert.equal(2, err.attempts)
      assert.is_true(err.retryable)
      c2:close()
    end)

    it("is never retried once a chunk was handed over", function()
      srv:queue { { sse = { content("a") } }, { sse = hello_events() } }
      local c2 = oaichat.new { api_key = "sk-test", base_url = srv.url, max_retries = 2 }
      local s = c2:stream("hi")
      assert.equal("stream", fails(s).kind)
      assert.equal(1, #srv:requests())
      c2:close()
    end)

    it("a stream that stalls mid-way is kind timeout after idle_timeout", function()
      srv:queue { { raw_events = { "data: " .. content("a") .. "\n\n", "data: [DONE]\n\n" }, chunk_delay_ms = 3000 } }
      local t0 = core.now()
      local s = client:stream("hi", { idle_timeout = 0.3 })
      local err = fails(s)
      local took = core.now() - t0
      assert.equal("timeout", err.kind)
      assert.is_false(err.retryable)
      assert.equal("a", s:text())
      -- The 3 s pause would have ended the stream cleanly: only the idle
      -- timeout can have made it a timeout (lower bound only).
      assert.is_true(took >= 0.29, "took " .. took)
    end)

    it("a body dripping slower than idle_timeout is kind timeout", function()
      srv:queue { { raw_events = { "data: " .. content("a") .. "\n\n", "data: [DONE]\n\n" }, drip_bytes = 1,
        chunk_delay_ms = 600 } }
      local s = client:stream("hi", { idle_timeout = 0.3 })
      local err = fails(s)
      -- Finished, the drip would be a success: the timeout is what ended it.
      assert.equal("timeout", err.kind)
      assert.is_false(err.retryable)
      assert.equal("", s:text())
    end)

    it("idle_timeout counts time between bytes, not the whole stream", function()
      local events = {}
      for i = 1, 4 do events[i] = "data: " .. content("d" .. i) .. "\n\n" end
      events[5] = "data: [DONE]\n\n"
      srv:queue { { raw_events = events, chunk_delay_ms = 150 } }
      local s = client:stream("hi", { idle_timeout = 0.3 })
      assert.equal("d1|d2|d3|d4", contents(collect(s)))
    end)

    it("a timeout before the first byte is retried", function()
      srv:queue { { hang = true }, { sse = hello_events() } }
      local c2 = oaichat.new { api_key = "sk-test", base_url = srv.url, max_retries = 1, idle_timeout = 0.3 }
      local s = c2:stream("hi")
      assert.equal("|Hel|lo|-", contents(collect(s)))
      assert.equal("Hello", s:text())
      assert.equal(2, #srv:requests())
      c2:close()
    end)

    it("a server that never answers is kind timeout after idle_timeout", function()
      srv:queue { { hang = true } }
      local s = client:stream("hi", { idle_timeout = 0.3 })
      local c, err = s:next()
      assert.is_nil(c)
      assert.equal("timeout", err.kind)
      assert.is_true(err.retryable)
      assert.equal(1, err.attempts)
    end)

    it("a chunk that is not JSON is kind decode with the raw text in body", function()
      srv:queue { { sse = { content("a"), "this is {not json" } } }
      local s = client:stream("hi")
      local err = fails(s)
      assert.equal("decode", err.kind)
      assert.equal("this is {not json", err.body)
      assert.equal("a", s:text())
      assert.equal(0, client:pending())
    end)

    it("a chunk that is JSON but not an object is kind decode", function()
      srv:queue { { sse = { content("a"), "42" }, headers = { ["x-request-id"] = "req_42" } } }
      local s = client:stream("hi")
      local err = fails(s)
      assert.equal("decode", err.kind)
      assert.equal("42", err.body)
      assert.equal(200, err.status)
      assert.equal("req_42", err.request_id)
      assert.equal("a", s:text())
    end)

    it("an SSE event over max_response_bytes is kind limit", function()
      srv:queue { { sse = { content("a"), content(("x"):rep(2000)), "[DONE]" } } }
      local s = client:stream("hi", { max_response_bytes = 1000 })
      local err = fails(s)
      assert.equal("limit", err.kind)
      assert.is_false(err.retryable)
      assert.equal("a", s:text())
    end)

    it("max_response_bytes bounds each event, not the stream's total", function()
      local events = {}
      for i = 1, 20 do events[i] = content(("y"):rep(200)) end
      events[21] = "[DONE]"
      srv:queue { { sse = events } }
      local s = client:stream("hi", { max_response_bytes = 1000 })
      collect(s)
      assert.equal(4000, #s:text())
    end)

    it("a non-SSE 200 body is kind stream", function()
      srv:queue { { json = { hello = "world" } } }
      local err = fails(client:stream("hi"))
      assert.equal("stream", err.kind)
      assert.equal(200, err.status)
    end)
  end)

  describe("poll", function()
    it("poll(0) returns quickly with nothing, then all chunks and done", function()
      local events = {}
      for i = 1, 4 do events[i] = "data: " .. content("p" .. i) .. "\n\n" end
      events[5] = "data: [DONE]\n\n"
      srv:queue { { raw_events = events, chunk_delay_ms = 60, hold = true } }
      local s = client:stream("hi")
      -- Held reply: a poll(0) that waited for it could not return empty.
      local chunks, done, err = s:poll(0)
      assert.same({}, chunks)
      assert.is_false(done)
      assert.is_nil(err)
      srv:release()
      local all, polls = {}, 0
      while not done and polls < 1000 do
        chunks, done, err = s:poll(20)
        polls = polls + 1
        for _, c in ipairs(chunks) do all[#all + 1] = c end
      end
      assert.is_true(done)
      assert.is_nil(err)
      assert.is_true(polls > 4)
      assert.equal("p1|p2|p3|p4", contents(all))
      assert.equal(0, client:pending())
      chunks, done, err = s:poll(0)
      assert.same({}, chunks)
      assert.is_true(done)
      assert.is_nil(err)
    end)

    it("never blocks longer than its timeout on a hanging server", function()
      srv:queue { { hang = true } }
      local s = client:stream("hi")
      for _ = 1, 3 do
        local t0 = core.now()
        local chunks, done = s:poll(50)
        local took = core.now() - t0
        assert.same({}, chunks)
        assert.is_false(done)
        -- "No longer than its timeout" has no event to show it but the clock:
        -- a generous bound (the hang's reply never comes); bench/poll.lua
        -- measures how close to the timeout it is.
        assert.is_true(took >= 0.04 and took < 2.05, "poll(50) took " .. took)
      end
      s:close()
    end)

    it("reports a failure as chunks, true, err", function()
      srv:queue { { status = 401, json = { error = { message = "nope", code = "invalid_api_key" } } } }
      local s = client:stream("hi")
      local polls, chunks, done, err = 0, nil, false, nil
      while not done and polls < 1000 do
        chunks, done, err = s:poll(20)
        polls = polls + 1
      end
      assert.same({}, chunks)
      assert.is_true(done)
      assert.equal("api", err.kind)
      assert.equal(401, err.status)
    end)

    it("returns the chunks that arrived before a failure together with it", function()
      srv:queue { { sse = { content("a"), content("b") } } }
      local s = client:stream("hi")
      local all, done, err = {}, false, nil
      local polls = 0
      while not done and polls < 1000 do
        polls = polls + 1
        local chunks
        chunks, done, err = s:poll(20)
        for _, c in ipairs(chunks) do all[#all + 1] = c end
      end
      assert.equal("a|b", contents(all))
      assert.equal("stream", err.kind)
    end)
  end)

  describe("cancellation and cleanup", function()
    it("close() mid-stream stops at once; a new chat on the same client works", function()
      local events = {}
      for i, e in ipairs(hello_events()) do events[i] = "data: " .. e .. "\n\n" end
      srv:queue { { raw_events = events, hold_after = 1 } }
      local s = client:stream("hi")
      assert(s:next())
      s:close()
      -- The rest is still held (never released): close() did not wait for it.
      assert.equal(1, srv:stats().held)
      assert.equal(0, client:pending())
      assert.is_nil(s:next())
      assert.equal("Echo: next (1 message)", oaichat.text(assert(client:chat("next"))))
      assert.equal("|Echo:| more| (1| message)|-", contents(collect(client:stream("more"))))
      s:close() -- twice is harmless
    end)

    it("break out of the loop plus collectgarbage frees the transfer", function()
      srv:queue { { raw_events = { "data: " .. content("a") .. "\n\n", "data: [DONE]\n\n" }, chunk_delay_ms = 2000 } }
      do
        local got
        for c in client:stream("hi") do -- luacheck: ignore 512 (the break is the point)
          got = c
          break
        end
        assert.equal("a", got.choices[1].delta.content)
      end
      -- 5.4's for closes the stream (client:stream's fourth value); 5.1-5.3 leave it to the GC
      assert.equal(_VERSION == "Lua 5.4" and 0 or 1, client:pending())
      collectgarbage()
      collectgarbage()
      assert.equal(0, client:pending())
      assert.equal("Echo: later (1 message)", oaichat.text(assert(client:chat("later"))))
    end)

    it("an error raised in the loop body leaves nothing pending", function()
      srv:queue { { raw_events = { "data: " .. content("a") .. "\n\n", "data: [DONE]\n\n" }, chunk_delay_ms = 2000 } }
      local ok, err = pcall(function()
        for _ in client:stream("hi") do error("boom", 0) end
      end)
      assert.is_false(ok)
      assert.equal("boom", err)
      collectgarbage()
      collectgarbage()
      assert.equal(0, client:pending())
      assert.equal("Echo: after (1 message)", oaichat.text(assert(client:chat("after"))))
    end)

    if _VERSION == "Lua 5.4" then
      it("<close> closes the stream at scope exit (Lua 5.4)", function()
        srv:queue { { raw_events = { "data: " .. content("a") .. "\n\n", "data: [DONE]\n\n" }, chunk_delay_ms = 2000 } }
        local f = assert(load([[
          local client = ...
          local s <close> = client:stream("hi")
          local c = s:next()
          return c.choices[1].delta.content, client:pending()
        ]]))
        local first, pending_inside = f(client)
        assert.equal("a", first)
        assert.equal(1, pending_inside)
        assert.equal(0, client:pending())
      end)
    end
  end)
end)
