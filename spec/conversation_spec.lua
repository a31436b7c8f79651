-- Conversations against the loopback server: say/stream append exactly one
-- exchange on success and nothing on failure; usage, undo, fork, JSON round
-- trip, tool results and the run_tools loop.
local oaichat = require("oaichat")
local core = require("oaichat.core")
local conversation = require("oaichat.conversation")
local helper = require("spec.support.helper")

local null = oaichat.null

local WEATHER = { {
  type = "function",
  ["function"] = { name = "get_weather", description = "weather of a city",
    parameters = { type = "object", properties = { city = { type = "string" } }, required = { "city" } } },
} }

-- A chat.completion chunk as JSON text.
local function chunk(delta, finish, extra)
  local c = { id = "chatcmpl-c1", object = "chat.completion.chunk", created = 1700000002, model = "m-test",
    choices = { { index = 0, delta = delta, finish_reason = finish or null } } }
  for k, v in pairs(extra or {}) do c[k] = v end
  return core.encode(c)
end

-- A scripted non-streaming reply with the given message and usage.
local function reply(message, usage, finish)
  return { json = { id = "chatcmpl-r1", object = "chat.completion", created = 1700000003, model = "m-test",
    choices = { { index = 0, message = message, finish_reason = finish or "stop" } }, usage = usage } }
end

local function tool_call_reply(id, args)
  return reply({ role = "assistant", content = null, tool_calls = { { id = id, type = "function",
    ["function"] = { name = "get_weather", arguments = args } } } }, { prompt_tokens = 1, completion_tokens = 1,
    total_tokens = 2 }, "tool_calls")
end

local function collect(cs)
  local out = {}
  for piece in cs do out[#out + 1] = piece end
  return out
end

local raised = require("spec.support.util").raised

describe("conversation", function()
  local srv, client

  before_each(function()
    srv = helper.server()
    srv:reset()
    client = oaichat.new({ base_url = srv.url, api_key = "sk-test", max_retries = 0 })
  end)

  after_each(function()
    client:close()
  end)

  describe("say", function()
    it("appends the user turn and the service's message, and returns text, resp", function()
      local conv = client:conversation({ system = "You are terse.", params = { temperature = 0.5 } })
      local text, resp = conv:say("Hello")
      assert.equal("Echo: Hello (2 messages; system prompt; params: temperature=0.5)", text)
      assert.equal("chatcmpl-mock-1", resp.id)
      assert.same({
        { role = "system", content = "You are terse." },
        { role = "user", content = "Hello" },
        { role = "assistant", content = "Echo: Hello (2 messages; system prompt; params: temperature=0.5)" },
      }, conv.messages)
      local body = srv:last_request().json
      assert.same({ { role = "system", content = "You are terse." }, { role = "user", content = "Hello" } },
        body.messages)
      assert.equal(0.5, body.temperature)
      assert.equal("gpt-5.5", body.model)
      assert.is_nil(body.stream)
    end)

    it("sends the whole history on the next turn, with per-call params on top", function()
      local conv = client:conversation({ params = { temperature = 0.5 } })
      assert.truthy(conv:say("one"))
      local text = conv:say("two", { temperature = 0.1, top_k = 3 })
      assert.equal("Echo: two (3 messages; params: temperature=0.1, top_k=3)", text)
      local body = srv:last_request().json
      assert.same({ { role = "user", content = "one" }, { role = "assistant", content = "Echo: one (1 message; "
        .. "params: temperature=0.5)" }, { role = "user", content = "two" } }, body.messages)
      assert.same({ temperature = 0.5 }, conv.params)
    end)

    it("takes a message, parts or oaichat.user{...} as the turn", function()
      local conv = client:conversation()
      local img = oaichat.image_file("spec/fixtures/red.png", { detail = "low" })
      assert.equal("Echo: Describe: (1 message; images: 1 [image/png 69 bytes detail=low])",
        conv:say(oaichat.user({ "Describe:", img })))
      assert.same({ role = "user", content = { { type = "text", text = "Describe:" }, img } }, conv.messages[1])
      -- The server describes the images of the whole history.
      assert.equal("Echo: a b (3 messages; images: 1 [image/png 69 bytes detail=low])",
        conv:say({ "a", oaichat.text_part("b") }))
      assert.equal("Echo: c (5 messages; images: 1 [image/png 69 bytes detail=low])",
        conv:say({ role = "user", content = "c", name = "ann" }))
      assert.same({ role = "user", content = "c", name = "ann" }, srv:last_request().json.messages[5])
    end)

    it("starts from given messages, keeping a system message first", function()
      local conv = client:conversation({ system = "S", messages = { { role = "user", content = "q" },
        { role = "assistant", content = "a" } } })
      assert.same({ { role = "system", content = "S" }, { role = "user", content = "q" },
        { role = "assistant", content = "a" } }, conv.messages)
      local again = client:conversation({ system = "S", messages = conv.messages })
      assert.equal(3, #again.messages)
      assert.are_not.equal(conv.messages[2], again.messages[2]) -- copied
    end)

    it("keeps the message as returned, minus null and empty fields", function()
      srv:queue({ reply({ role = "assistant", content = "hi", refusal = null, annotations = {},
        reasoning_content = "thought", audio = null }) })
      local conv = client:conversation()
      assert.equal("hi", conv:say("x"))
      assert.same({ role = "assistant", content = "hi", reasoning_content = "thought" }, conv.messages[2])
    end)

    it("returns nil, err on failure and leaves the history as it was", function()
      local conv = client:conversation({ system = "S" })
      assert.truthy(conv:say("one"))
      local before = conversation.deep_copy(conv.messages)
      local usage = conv:usage()
      srv:queue({ { status = 401, json = { error = { message = "bad key", type = "invalid_request_error",
        code = "invalid_api_key" } } } })
      local text, err = conv:say("two")
      assert.is_nil(text)
      assert.equal("api", err.kind)
      assert.equal(401, err.status)
      assert.equal("oaichat: api error 401 (invalid_api_key): bad key"
        .. " -- the API key came from the api_key option of oaichat.new; check it", tostring(err))
      assert.same(before, conv.messages)
      assert.same(usage, conv:usage())
    end)

    it("treats a response without a message as a decode error, history unchanged", function()
      srv:queue({ { json = { id = "x", object = "chat.completion", choices = {} } } })
      local conv = client:conversation()
      local text, err = conv:say("x")
      assert.is_nil(text)
      assert.equal("decode", err.kind)
      assert.equal("the response holds no choices[1].message", err.message)
      assert.same({}, conv.messages)
    end)

    it("returns an empty text for a reply that only calls tools", function()
      srv:queue({ tool_call_reply("call_1", '{"city":"Oslo"}') })
      local conv = client:conversation()
      local text, resp = conv:say("weather?", { tools = WEATHER })
      assert.equal("", text)
      assert.equal("tool_calls", resp.choices[1].finish_reason)
      assert.same({ role = "assistant", content = null, tool_calls = { { id = "call_1", type = "function",
        ["function"] = { name = "get_weather", arguments = '{"city":"Oslo"}' } } } }, conv.messages[2])
    end)

    it("raises on wrong argument types, naming them, before any request", function()
      local conv = client:conversation()
      assert.equal("conv:say: content must be a string, a message or an array of content parts, got number",
        raised(conv.say, conv, 42))
      assert.equal("conv:say: opts must be a table, got string", raised(conv.say, conv, "x", "y"))
      assert.equal("conv:say: nothing to send (no content and an empty history)", raised(conv.say, conv))
      assert.equal("conv:say: messages[1].role must be a string, got number",
        raised(conv.say, conv, { role = 1, content = "x" }))
      assert.equal("client:conversation: system must be a string, got number",
        raised(client.conversation, client, { system = 1 }))
      assert.equal("client:conversation: params must be a table, got string",
        raised(client.conversation, client, { params = "x" }))
      assert.equal("client:conversation: messages[1] must be a table, got string",
        raised(client.conversation, client, { messages = { "hi" } }))
      assert.equal(0, #srv:requests())
    end)
  end)

  describe("stream", function()
    it("yields the text pieces and appends the exchange at the end", function()
      local conv = client:conversation({ system = "S" })
      local pieces = collect(conv:stream("And then?"))
      assert.same({ "Echo:", " And", " then?", " (2", " messages;", " system", " prompt)" }, pieces)
      assert.same({ { role = "system", content = "S" }, { role = "user", content = "And then?" },
        { role = "assistant", content = "Echo: And then? (2 messages; system prompt)" } }, conv.messages)
      assert.is_true(srv:last_request().json.stream)
    end)

    it("offers next(), text() and result()", function()
      local conv = client:conversation()
      local s = conv:stream("hi")
      assert.equal("Echo:", s:next())
      assert.equal(" hi", s:next())
      assert.equal(" (1", s:next())
      assert.equal(" message)", s:next())
      assert.is_nil(s:next())
      assert.is_nil(s:next())
      assert.equal("Echo: hi (1 message)", s:text())
      assert.equal("stop", s:result().choices[1].finish_reason)
      assert.equal(2, #conv.messages)
    end)

    it("offers reasoning() like a client stream (nil before any reasoning)", function()
      srv:queue { { sse = { chunk({ role = "assistant", reasoning_content = "Let me " }),
        chunk({ reasoning_content = "think." }), chunk({ content = "Hi" }), chunk({}, "stop"), "[DONE]" } } }
      local conv = client:conversation()
      local s = conv:stream("hi")
      assert.is_nil(s:reasoning())
      assert.equal("Hi", s:next())
      assert.equal("Let me think.", s:reasoning())
      assert.is_nil(s:next())
      assert.equal("Let me think.", s:reasoning())
    end)

    it("appends a streamed tool call as the assistant message", function()
      local conv = client:conversation()
      assert.same({}, collect(conv:stream("weather?", { tools = WEATHER })))
      assert.same({ role = "assistant", content = null, tool_calls = { { id = "call_mock_1", type = "function",
        ["function"] = { name = "get_weather", arguments = '{"city":"x"}' } } } }, conv.messages[2])
    end)

    it("drops empty content next to tool calls and counts the usage chunk", function()
      srv:queue({ { sse = {
        chunk({ role = "assistant", content = "", refusal = null }),
        chunk({ tool_calls = { { index = 0, id = "call_9", type = "function",
          ["function"] = { name = "get_weather", arguments = "{}" } } } }),
        chunk({}, "tool_calls"),
        core.encode({ id = "chatcmpl-c1", object = "chat.completion.chunk", created = 1, model = "m", choices = {},
          usage = { prompt_tokens = 7, completion_tokens = 2, total_tokens = 9,
            completion_tokens_details = { reasoning_tokens = 1 } } }),
        "[DONE]" } } })
      local conv = client:conversation()
      collect(conv:stream("x"))
      assert.same({ role = "assistant", content = null, tool_calls = { { id = "call_9", type = "function",
        ["function"] = { name = "get_weather", arguments = "{}" } } } }, conv.messages[2])
      assert.same({ prompt_tokens = 7, completion_tokens = 2, total_tokens = 9,
        completion_tokens_details = { reasoning_tokens = 1 } }, conv:usage())
    end)

    it("raises from the for on an HTTP error, history unchanged", function()
      local conv = client:conversation()
      assert.truthy(conv:say("one"))
      local before = conversation.deep_copy(conv.messages)
      srv:queue({ { status = 500, json = { error = { message = "boom", type = "server_error" } } } })
      local err = raised(collect, conv:stream("two"))
      assert.equal("api", err.kind)
      assert.equal(500, err.status)
      assert.same(before, conv.messages)
    end)

    it("raises on a stream that breaks off before [DONE], history unchanged", function()
      srv:queue({ { sse = { chunk({ role = "assistant", content = "Hel" }), chunk({ content = "lo" }) } } })
      local conv = client:conversation()
      local s = conv:stream("x")
      local got = {}
      local ok, err = pcall(function()
        for piece in s do got[#got + 1] = piece end
      end)
      assert.is_false(ok)
      assert.equal("stream", err.kind)
      assert.equal("the stream ended without [DONE]", err.message)
      assert.same({ "Hel", "lo" }, got)
      assert.same({}, conv.messages)
      local piece, again = s:next()
      assert.is_nil(piece)
      assert.equal(err, again)
    end)

    it("raises on an error event mid-stream, history unchanged", function()
      srv:queue({ { sse = { chunk({ role = "assistant", content = "a" }), { error = { message = "overloaded" } } } } })
      local conv = client:conversation()
      local err = raised(collect, conv:stream("x"))
      assert.equal("stream", err.kind)
      assert.same({}, conv.messages)
    end)

    it("appends nothing when closed early", function()
      local conv = client:conversation()
      local s = conv:stream("one two three")
      assert.equal("Echo:", s:next())
      s:close()
      assert.is_nil(s:next())
      assert.same({}, conv.messages)
      assert.truthy(conv:say("again"))
      assert.equal(2, #conv.messages)
    end)

    it("appends nothing after a break out of the for", function()
      local conv = client:conversation()
      local s = conv:stream("one two three")
      for _ in s do break end -- luacheck: ignore 512
      s:close()
      assert.same({}, conv.messages)
    end)

    if _VERSION == "Lua 5.4" then
      it("cancels the transfer when a for loop is left by break (5.4 closing value)", function()
        local conv = client:conversation()
        local run = assert(load([[
          local conv = ...
          local s
          for piece, _ in conv:stream("one two") do
            s = piece
            break
          end
          return s
        ]]))
        assert.equal("Echo:", run(conv))
        assert.same({}, conv.messages)
        assert.equal(0, client:pending())
      end)
    end
  end)

  describe("usage", function()
    it("sums every reply, nested details included", function()
      srv:queue({
        reply({ role = "assistant", content = "a" }, { prompt_tokens = 10, completion_tokens = 20, total_tokens = 30,
          completion_tokens_details = { reasoning_tokens = 5, accepted_prediction_tokens = 0 },
          prompt_tokens_details = { cached_tokens = 4 } }),
        reply({ role = "assistant", content = "b" }, { prompt_tokens = 1, completion_tokens = 2, total_tokens = 3,
          completion_tokens_details = { reasoning_tokens = 7 }, prompt_tokens_details = { cached_tokens = 0,
            audio_tokens = 2 }, cost = 0.5 }),
        reply({ role = "assistant", content = "c" }),
      })
      local conv = client:conversation()
      assert.equal("a", conv:say("1"))
      assert.equal("b", conv:say("2"))
      assert.equal("c", conv:say("3"))
      local u = conv:usage()
      assert.same({ prompt_tokens = 11, completion_tokens = 22, total_tokens = 33,
        completion_tokens_details = { reasoning_tokens = 12, accepted_prediction_tokens = 0 },
        prompt_tokens_details = { cached_tokens = 4, audio_tokens = 2 }, cost = 0.5 }, u)
      if math.type then
        assert.equal("integer", math.type(u.total_tokens))
        assert.equal("integer", math.type(u.completion_tokens_details.reasoning_tokens))
      end
    end)

    it("is zero before any reply", function()
      assert.same({ prompt_tokens = 0, completion_tokens = 0, total_tokens = 0 }, client:conversation():usage())
    end)
  end)

  describe("undo, reset, fork", function()
    it("undo drops the last user turn and everything after it", function()
      local conv = client:conversation({ system = "S" })
      assert.truthy(conv:say("one"))
      local after_one = conversation.deep_copy(conv.messages)
      assert.truthy(conv:say("two"))
      conv:add_tool_result("call_x", "late")
      assert.is_true(conv:undo())
      assert.same(after_one, conv.messages)
      assert.is_true(conv:undo())
      assert.same({ { role = "system", content = "S" } }, conv.messages)
      assert.is_false(conv:undo())
      assert.equal("Echo: three (2 messages; system prompt)", conv:say("three"))
    end)

    it("reset keeps only the system prompt", function()
      local conv = client:conversation({ system = "S" })
      assert.truthy(conv:say("one"))
      conv:reset()
      assert.same({ { role = "system", content = "S" } }, conv.messages)
    end)

    it("fork is an independent deep copy", function()
      local conv = client:conversation({ system = "S", params = { temperature = 0.5, stop = { "x" } } })
      assert.truthy(conv:say(oaichat.user({ "look", oaichat.image_url("https://x.test/a.png") })))
      local f = conv:fork()
      assert.same(conv.messages, f.messages)
      assert.same(conv.params, f.params)
      assert.same(conv:usage(), f:usage())
      f.messages[2].content[1].text = "changed"
      f.params.stop[1] = "y"
      assert.equal("look", conv.messages[2].content[1].text)
      assert.equal("x", conv.params.stop[1])
      assert.truthy(f:say("fork only"))
      assert.equal(3, #conv.messages)
      assert.equal(5, #f.messages)
      assert.equal(client, f.client)
    end)
  end)

  describe("JSON", function()
    it("round-trips system, params, messages and usage", function()
      local conv = client:conversation({ system = "S", params = { temperature = 0.25, seed = 123456789012345 } })
      assert.truthy(conv:say("one"))
      srv:queue({ tool_call_reply("call_1", '{"city":"Oslo"}') })
      assert.truthy(conv:say("weather?", { tools = WEATHER }))
      conv:add_tool_result("call_1", "sunny")
      local s = conv:to_json()
      local obj = core.decode(s)
      assert.equal("S", obj.system)
      assert.same(conv.params, obj.params)
      assert.same(conv.messages, obj.messages)
      assert.same(conv:usage(), obj.usage)
      local back = client:conversation_from_json(s)
      assert.equal("S", back.system)
      assert.same(conv.messages, back.messages)
      assert.same(conv.params, back.params)
      assert.same(conv:usage(), back:usage())
      assert.equal(client, back.client)
      -- The restored history is sent as it was.
      assert.equal("Tool said: sunny", back:say())
      local sent = srv:last_request().json
      assert.same(core.decode(core.encode(conv.messages)), sent.messages)
      assert.equal(123456789012345, sent.seed)
    end)

    it("reports text that is not a saved conversation as nil, err", function()
      local conv, err = client:conversation_from_json("not json")
      assert.is_nil(conv)
      assert.equal("decode", err.kind)
      assert.truthy(err.message:find("^client:conversation_from_json: not a JSON object"))
      conv, err = client:conversation_from_json('{"messages": 3}')
      assert.is_nil(conv)
      assert.equal("client:conversation_from_json: messages is not an array", err.message)
      conv, err = client:conversation_from_json('{"messages": [{"content": "x"}]}')
      assert.is_nil(conv)
      assert.equal("client:conversation: messages[1].role must be a string, got nil", err.message)
      assert.equal("client:conversation_from_json: expected a JSON string, got nil",
        raised(client.conversation_from_json, client))
    end)

    it("restores an empty conversation", function()
      local back = client:conversation_from_json(client:conversation():to_json())
      assert.same({}, back.messages)
      assert.same({}, back.params)
      assert.is_nil(back.system)
    end)
  end)

  describe("tool results", function()
    it("add_tool_result then say() with no new user text", function()
      local conv = client:conversation()
      local text = conv:say("weather in Oslo?", { tools = WEATHER })
      assert.equal("", text)
      local call = conv.messages[2].tool_calls[1]
      conv:add_tool_result(call.id, { temp = 21 })
      assert.same({ role = "tool", tool_call_id = "call_mock_1", content = '{"temp":21}' }, conv.messages[3])
      assert.equal('Tool said: {"temp":21}', conv:say(nil, { tools = WEATHER }))
      local sent = srv:last_request().json.messages
      assert.equal(3, #sent)
      assert.same({ role = "tool", tool_call_id = "call_mock_1", content = '{"temp":21}' }, sent[3])
      assert.equal(4, #conv.messages)
    end)

    it("add_tool_result raises without a call id", function()
      local conv = client:conversation()
      assert.equal("conv:add_tool_result: call_id must be a non-empty string, got nil",
        raised(conv.add_tool_result, conv, nil, "x"))
    end)
  end)

  describe("run_tools", function()
    it("runs the round trip: handler gets the decoded arguments, the model the result", function()
      local conv = client:conversation({ system = "S" })
      local seen
      local text, resp = conv:run_tools(WEATHER, {
        get_weather = function(args, call)
          seen = { args = args, id = call.id }
          return { temp = 21 }
        end,
      }, { prompt = "Weather in Oslo?" })
      assert.equal('Tool said: {"temp":21}', text)
      assert.equal("stop", resp.choices[1].finish_reason)
      assert.same({ args = { city = "x" }, id = "call_mock_1" }, seen)
      assert.same({
        { role = "system", content = "S" },
        { role = "user", content = "Weather in Oslo?" },
        { role = "assistant", content = null, tool_calls = { { id = "call_mock_1", type = "function",
          ["function"] = { name = "get_weather", arguments = '{"city":"x"}' } } } },
        { role = "tool", tool_call_id = "call_mock_1", content = '{"temp":21}' },
        { role = "assistant", content = 'Tool said: {"temp":21}' },
      }, conv.messages)
      local reqs = srv:requests()
      assert.equal(2, #reqs)
      for _, r in ipairs(reqs) do
        assert.same(core.decode(core.encode(WEATHER)), core.decode(r.body).tools)
      end
    end)

    it("answers tool calls already in the history and takes a handler function", function()
      local conv = client:conversation()
      assert.equal("", conv:say("weather?", { tools = WEATHER }))
      local calls = {}
      local text = conv:run_tools(WEATHER, function(name, args)
        calls[#calls + 1] = name .. ":" .. args.city
        return "cold"
      end)
      assert.equal("Tool said: cold", text)
      assert.same({ "get_weather:x" }, calls)
      assert.equal(2, #srv:requests())
    end)

    it("turns a raising handler, an unknown tool and bad arguments into tool results", function()
      srv:queue({ reply({ role = "assistant", content = null, tool_calls = {
        { id = "c1", type = "function", ["function"] = { name = "get_weather", arguments = '{"city":"A"}' } },
        { id = "c2", type = "function", ["function"] = { name = "get_time", arguments = "{}" } },
        { id = "c3", type = "function", ["function"] = { name = "get_weather", arguments = "{oops" } },
      } }) })
      local conv = client:conversation()
      local text = conv:run_tools(WEATHER, { get_weather = function() error("service down", 0) end },
        { prompt = "go" })
      local _, why = core.decode("{oops")
      assert.same({ role = "tool", tool_call_id = "c1", content = "error: service down" }, conv.messages[3])
      assert.same({ role = "tool", tool_call_id = "c2", content = 'error: no handler for the tool "get_time"' },
        conv.messages[4])
      assert.same({ role = "tool", tool_call_id = "c3", content = "error: the arguments are not valid JSON: " .. why },
        conv.messages[5])
      assert.equal("Tool said: error: the arguments are not valid JSON: " .. why, text)
    end)

    it("fails with kind limit after max_rounds, history as before", function()
      local conv = client:conversation()
      assert.truthy(conv:say("hi"))
      srv:queue({ tool_call_reply("c1", "{}"), tool_call_reply("c2", "{}") })
      local before = conversation.deep_copy(conv.messages)
      local n = 0
      local text, err = conv:run_tools(WEATHER, { get_weather = function() n = n + 1 return "x" end },
        { prompt = "loop", max_rounds = 2 })
      assert.is_nil(text)
      assert.equal("limit", err.kind)
      assert.equal("the model still asked for tools after 2 rounds (max_rounds = 2)", err.message)
      assert.equal(1, n)
      assert.same(before, conv.messages)
      assert.equal(3, #srv:requests())
    end)

    it("passes other options as request parameters", function()
      local conv = client:conversation()
      assert.truthy(conv:run_tools(WEATHER, { get_weather = function() return "ok" end },
        { prompt = "x", tool_choice = "auto", max_rounds = 3 }))
      local body = srv:last_request().json
      assert.equal("auto", body.tool_choice)
      assert.is_nil(body.max_rounds)
      assert.is_nil(body.prompt)
    end)

    it("leaves the history as before when a request fails mid-way", function()
      srv:queue({ tool_call_reply("c1", "{}"), { status = 400, json = { error = { message = "bad tool" } } } })
      local conv = client:conversation()
      local text, err = conv:run_tools(WEATHER, { get_weather = function() return "ok" end }, { prompt = "x" })
      assert.is_nil(text)
      assert.equal("api", err.kind)
      assert.equal("bad tool", err.message)
      assert.same({}, conv.messages)
    end)

    it("raises on misuse", function()
      local conv = client:conversation()
      assert.equal("conv:run_tools: nothing to answer: give opts.prompt, or add a user message first",
        raised(conv.run_tools, conv, WEATHER, {}))
      assert.equal("conv:run_tools: tools must be an array of tool definitions, got nil",
        raised(conv.run_tools, conv, nil, {}))
      assert.equal("conv:run_tools: handlers must be a table of functions (or a function), got string",
        raised(conv.run_tools, conv, WEATHER, "x"))
      assert.equal("conv:run_tools: max_rounds must be a number >= 1",
        raised(conv.run_tools, conv, WEATHER, {}, { max_rounds = 0, prompt = "x" }))
      assert.equal(0, #srv:requests())
    end)
  end)

  it("add appends without sending", function()
    local conv = client:conversation()
    conv:add("q"):add({ role = "assistant", content = "a" })
    assert.same({ { role = "user", content = "q" }, { role = "assistant", content = "a" } }, conv.messages)
    assert.equal(0, #srv:requests())
    assert.equal("oaichat.conversation (2 messages)", tostring(conv))
  end)
end)
