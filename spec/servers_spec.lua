-- Issue 10: streams, tool calls and errors as real providers send them. Each
-- recorded-style fixture of spec/fixtures/providers/ is replayed through the
-- loopback server and read with next(), the `for` iterator and poll(); the
-- C parser replays the same files at every split point (make test-c).
local oaichat = require("oaichat")
local helper = require("spec.support.helper")

local null = oaichat.null

local ROOT = debug.getinfo(1, "S").source:match("^@(.-)spec[/\\]servers_spec%.lua$") or ""
local DIR = ROOT .. "spec/fixtures/providers/"

local function fixture(name)
  local f = assert(io.open(DIR .. name, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local srv, client

-- Queues a fixture as the next reply: an .sse file as an event stream,
-- a .json file as a body with the given status.
local function queue(name, status, extra)
  local script = { status = status or 200, headers = { ["x-request-id"] = "req_" .. name } }
  if name:match("%.sse$") then
    script.raw_events = { fixture(name) }
  else
    script.body = fixture(name)
  end
  for k, v in pairs(extra or {}) do script[k] = v end
  srv:queue { script }
end

-- The three ways to read a stream; each returns the stream, its chunks and
-- its error (nil on success).
local READERS = {
  next = function(s)
    local got = {}
    while true do
      local c, err = s:next()
      if not c then return got, err end
      got[#got + 1] = c
    end
  end,
  ["for"] = function(s)
    local got = {}
    local ok, err = pcall(function()
      for c in s do got[#got + 1] = c end
    end)
    return got, (not ok) and err or nil
  end,
  poll = function(s)
    local got = {}
    for _ = 1, 100000 do
      local chunks, done, err = s:poll(50)
      for _, c in ipairs(chunks) do got[#got + 1] = c end
      if done then return got, err end
    end
    error("the stream never ended")
  end,
}

-- Replays a stream fixture with every reader; check(s, chunks, err, how) runs
-- for each. One more replay drips the body 3 bytes at a time.
local function replay(name, check)
  for _, how in ipairs({ "next", "for", "poll" }) do
    queue(name)
    local s = client:stream("hi")
    local chunks, err = READERS[how](s)
    check(s, chunks, err, how)
    s:close()
  end
  queue(name, 200, { drip_bytes = 3 })
  local s = client:stream("hi")
  local chunks, err = READERS.next(s)
  check(s, chunks, err, "drip")
  s:close()
end

local function is_tool_id(id)
  return type(id) == "string" and #id == 9 and id:match("^[A-Za-z0-9]+$") ~= nil
end

setup(function()
  srv = helper.server()
  client = oaichat.new { api_key = "sk-servers-test", base_url = srv.url, max_retries = 0 }
end)

before_each(function() srv:reset() end)

describe("servers: stream accumulation", function()
  it("10.1 Azure: top-level fields take the first non-empty value; refusal null, index, finish_reason, logprobs",
    function()
    replay("azure.sse", function(s, chunks, err, how)
      assert.is_nil(err, how)
      assert.equal(7, #chunks, how)
      local r = s:result()
      assert.same({ "chatcmpl-AZ9xQk2", "gpt-4o-2024-08-06", 1733011200, "fp_az_5f1e", "chat.completion" },
        { r.id, r.model, r.created, r.system_fingerprint, r.object }, how)
      assert.equal(1, #r.choices)
      local c = r.choices[1]
      assert.same({ role = "assistant", content = "Hello from Azure", refusal = null }, c.message, how)
      assert.same({ 0, "stop", null }, { c.index, c.finish_reason, c.logprobs }, how)
      -- nothing lost: the filter results of the prompt and of the choice
      assert.equal("safe", r.prompt_filter_results[1].content_filter_results.hate.severity, how)
      assert.equal("safe", c.content_filter_results.violence.severity, how)
      assert.is_false(c.content_filter_results.protected_material_text.detected, how)
      assert.equal(16, r.usage.total_tokens, how)
      assert.equal("Hello from Azure", s:text(), how)
    end)
  end)

  it("10.2 usage: the last non-null usage wins wherever it came (xAI, llama.cpp, DeepSeek); Groq's x_groq.usage",
    function()
    replay("xai.sse", function(s, _, err, how)
      assert.is_nil(err, how)
      assert.same({ prompt_tokens = 120, completion_tokens = 30, total_tokens = 150,
        completion_tokens_details = { reasoning_tokens = 22 } }, s:result().usage, how)
    end)
    replay("llamacpp.sse", function(s, chunks, err, how)
      assert.is_nil(err, how)
      assert.same({}, chunks[#chunks].choices, how)
      local r = s:result()
      assert.same({ completion_tokens = 3, prompt_tokens = 9, total_tokens = 12 }, r.usage, how)
      assert.equal(9, r.timings.prompt_n, how)
      assert.equal("b6123-79c137f7", r.system_fingerprint, how)
    end)
    replay("deepseek.sse", function(s, _, err, how)
      assert.is_nil(err, how)
      local u = s:result().usage
      assert.same({ 114, 0, 18, 80 }, { u.total_tokens, u.prompt_cache_hit_tokens, u.prompt_cache_miss_tokens,
        u.completion_tokens_details.reasoning_tokens }, how)
    end)
    replay("groq.sse", function(s, _, err, how)
      assert.is_nil(err, how)
      local r = s:result()
      assert.same({ 40, 2, 42 }, { r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens }, how)
      assert.equal("req_01jgq8a1", r.x_groq.id, how)
    end)
  end)

  it("10.3 Ollama: calls that share index 0 with distinct ids stay separate calls with valid JSON arguments", function()
    replay("ollama.sse", function(s, _, err, how)
      assert.is_nil(err, how)
      local calls = s:result().choices[1].message.tool_calls
      assert.same({
        { id = "call_k2v8r1xq", type = "function",
          ["function"] = { name = "get_weather", arguments = '{"city":"Paris"}' } },
        { id = "call_9dmz4h0w", type = "function",
          ["function"] = { name = "get_time", arguments = '{"tz":"Europe/Paris"}' } },
      }, calls, how)
      for _, c in ipairs(calls) do assert.is_table(require("oaichat.core").decode(c["function"].arguments)) end
      assert.equal("tool_calls", s:result().choices[1].finish_reason, how)
    end)
  end)

  it("10.3 Gemini: index-less calls with empty ids are two calls with stable 9-character ids, extra_content kept",
    function()
    replay("gemini.sse", function(s, _, err, how)
      assert.is_nil(err, how)
      local r = s:result()
      local calls = r.choices[1].message.tool_calls
      assert.equal(2, #calls, how)
      assert.same({ '{"city":"Paris"}', '{"city":"Rome"}' }, { calls[1]["function"].arguments,
        calls[2]["function"].arguments }, how)
      assert.same({ "get_weather", "get_weather" }, { calls[1]["function"].name, calls[2]["function"].name }, how)
      assert.is_true(is_tool_id(calls[1].id), tostring(calls[1].id))
      assert.is_true(is_tool_id(calls[2].id), tostring(calls[2].id))
      assert.not_equal(calls[1].id, calls[2].id)
      -- the same ids at every result()
      local again = s:result().choices[1].message.tool_calls
      assert.same({ calls[1].id, calls[2].id }, { again[1].id, again[2].id }, how)
      assert.same({ google = { thought_signature = "CiQB0e2Kb7sig+Paris/x==" } }, calls[1].extra_content, how)
      assert.is_nil(calls[2].extra_content, how)
      assert.equal("Checking both cities.", s:text(), how)
    end)
  end)

  it("10.3 Groq: \"tool_calls\": [] in every delta yields no tool_calls", function()
    replay("groq.sse", function(s, _, err, how)
      assert.is_nil(err, how)
      local msg = s:result().choices[1].message
      assert.is_nil(msg.tool_calls, how)
      assert.same({ role = "assistant", content = "Fast answer", refusal = null }, msg, how)
    end)
  end)

  it("10.3 synthesized ids are the ones in the conversation history (conv:stream)", function()
    queue("gemini.sse")
    local conv = client:conversation()
    local cs = conv:stream("weather in Paris and Rome?")
    for _ in cs do end
    local ids = {}
    for i, c in ipairs(cs:result().choices[1].message.tool_calls) do ids[i] = c.id end
    local kept = conv.messages[2].tool_calls
    assert.equal(2, #kept)
    assert.same(ids, { kept[1].id, kept[2].id })
    assert.is_true(is_tool_id(ids[1]) and is_tool_id(ids[2]))
  end)

  it("10.3 run_tools answers id-less calls with synthesized ids that match the history and the request sent",
    function()
    queue("gemini_tools.json")
    srv:queue { { json = { id = "fin", object = "chat.completion", created = 1, model = "gemini-2.5-flash",
      choices = { { index = 0, message = { role = "assistant", content = "Sunny in both." },
        finish_reason = "stop" } } } } }
    local conv = client:conversation()
    local seen = {}
    local text = assert(conv:run_tools({ { type = "function", ["function"] = { name = "get_weather",
      parameters = { type = "object" } } } }, { get_weather = function(args, call)
        seen[#seen + 1] = call.id
        return { city = args.city, sky = "sunny" }
      end }, { prompt = "Weather in Paris and Rome?" }))
    assert.equal("Sunny in both.", text)
    local m = conv.messages
    assert.same({ "user", "assistant", "tool", "tool", "assistant" },
      { m[1].role, m[2].role, m[3].role, m[4].role, m[5].role })
    local ids = { m[2].tool_calls[1].id, m[2].tool_calls[2].id }
    assert.is_true(is_tool_id(ids[1]) and is_tool_id(ids[2]))
    assert.not_equal(ids[1], ids[2])
    assert.same(ids, { m[3].tool_call_id, m[4].tool_call_id })
    assert.same(ids, seen)
    -- what went over the wire in the second request
    local sent = require("oaichat.core").decode(srv:requests()[2].body).messages
    assert.same(ids, { sent[2].tool_calls[1].id, sent[2].tool_calls[2].id })
    assert.same(ids, { sent[3].tool_call_id, sent[4].tool_call_id })
  end)

  it("10.4 OpenRouter: reasoning_details merge item by item by index; reasoning pieces are joined", function()
    replay("openrouter.sse", function(s, _, err, how)
      assert.is_nil(err, how)
      local r = s:result()
      local msg = r.choices[1].message
      assert.same({
        { type = "reasoning.text", text = "Two and two make four.", format = "openai-responses-v1", index = 0 },
        { type = "reasoning.encrypted", data = "gAAAAB3x", format = "openai-responses-v1", index = 1 },
      }, msg.reasoning_details, how)
      assert.equal("Two and two make four.", msg.reasoning, how)
      assert.equal("4", msg.content, how)
      -- a field repeated in every chunk is not glued together
      assert.equal("OpenAI", r.provider, how)
      assert.equal("stop", r.choices[1].native_finish_reason, how)
      assert.equal(0.000281, r.usage.cost, how)
    end)
  end)

  it("10.5 reasoning: stream:reasoning() and oaichat.reasoning() whichever field the server used", function()
    local want = {
      ["deepseek.sse"] = "9.11 vs 9.9: compare tenths.", ["ollama.sse"] = "The user wants weather and time.",
      ["openrouter.sse"] = "Two and two make four.", ["vllm.sse"] = "Short answer.",
      ["mistral.sse"] = "Paris is the capital.", ["xai.sse"] = "Need the weather tool.",
    }
    for name, text in pairs(want) do
      replay(name, function(s, _, err, how)
        assert.is_nil(err, name .. " " .. how)
        assert.equal(text, s:reasoning(), name .. " " .. how)
        assert.equal(text, oaichat.reasoning(s:result()), name .. " " .. how)
      end)
    end
    replay("azure.sse", function(s)
      assert.is_nil(s:reasoning())
      assert.is_nil(oaichat.reasoning(s:result()))
    end)
    replay("deepseek.sse", function(s)
      -- the first delta's content: null and reasoning_content: "" add nothing
      assert.equal("9.9 is larger.", s:text())
      assert.equal("9.11 vs 9.9: compare tenths.", s:result().choices[1].message.reasoning_content)
    end)
  end)

  it("10.5 Mistral: thinking content arrays are reasoning and never enter text() or content", function()
    replay("mistral.sse", function(s, chunks, err, how)
      assert.is_nil(err, how)
      assert.equal(6, #chunks)
      assert.equal("The capital is Paris.", s:text(), how)
      local msg = s:result().choices[1].message
      assert.equal("The capital is Paris.", msg.content, how)
      assert.equal("Paris is the capital.", msg.reasoning, how)
      assert.equal(45, s:result().usage.total_tokens, how)
    end)
    -- a non-streaming magistral answer keeps its content array as sent
    local resp = { choices = { { message = { role = "assistant", content = {
      { type = "thinking", thinking = { { type = "text", text = "Hmm, " }, { type = "text", text = "yes." } } },
      { type = "text", text = "Yes." } } } } } }
    assert.equal("Hmm, yes.", oaichat.reasoning(resp))
    assert.equal("Yes.", oaichat.text(resp))
    -- conv:stream yields the text parts of content arrays, and never the thinking
    queue("mistral.sse")
    local conv = client:conversation()
    local pieces = {}
    for piece in conv:stream("capital of France?") do pieces[#pieces + 1] = piece end
    assert.same({ "The capital ", "is Paris." }, pieces)
    assert.equal("The capital is Paris.", conv.messages[2].content)
    assert.is_nil(oaichat.reasoning({ choices = {} }))
    assert.has_error(function() oaichat.reasoning("x") end)
  end)

  it("10.6 finish_reason values are kept exactly as sent", function()
    replay("finish_reasons.sse", function(s, _, err, how)
      assert.is_nil(err, how)
      local got = {}
      for i, c in ipairs(s:result().choices) do got[i] = c.index .. "=" .. c.finish_reason end
      assert.same({ "0=eos_token", "1=eos", "2=error", "3=abort" }, got, how)
    end)
    replay("xai.sse", function(s, _, err, how)
      assert.is_nil(err, how)
      local c = s:result().choices[1]
      assert.equal("stop", c.finish_reason, how) -- a tool-call turn that says "stop"
      assert.equal("call_58211945", c.message.tool_calls[1].id, how)
    end)
    replay("vllm.sse", function(s, _, err, how)
      assert.is_nil(err, how)
      local r = s:result()
      assert.same({ "stop", "abort" }, { r.choices[1].finish_reason, r.choices[2].finish_reason }, how)
      assert.same({ "A", "B" }, { r.choices[1].message.content, r.choices[2].message.content }, how)
      assert.equal(20, r.usage.total_tokens, how)
    end)
  end)

  it("10.7 a stream that ends without [DONE] succeeds when every choice seen has a finish_reason", function()
    replay("llamacpp_nodone.sse", function(s, chunks, err, how)
      assert.is_nil(err, how)
      assert.equal(3, #chunks, how)
      assert.equal("Old server", s:text(), how)
      assert.equal(7, s:result().usage.total_tokens, how)
    end)
    -- the same when the connection is cut before the body's end (curl: partial body)
    local body = fixture("llamacpp_nodone.sse")
    srv:queue { { raw_events = { body }, chunked = false, close_after_bytes = #body,
      headers = { ["Content-Length"] = #body + 100 } } }
    local cut = client:stream("hi")
    local chunks, cut_err = READERS.next(cut)
    assert.is_nil(cut_err)
    assert.equal(3, #chunks)
    assert.equal("Old server", cut:text())
    srv:queue { { raw_events = { fixture("llamacpp_cut.sse") }, chunked = false,
      close_after_bytes = #fixture("llamacpp_cut.sse"), headers = { ["Content-Length"] = 10000 } } }
    assert.equal("stream", select(2, READERS.next(client:stream("hi"))).kind)
    -- every choice must have finished: one without a finish_reason is a cut-off
    queue("finish_reasons.sse")
    local s = client:stream("hi")
    assert.is_nil(select(2, READERS.next(s)))
    srv:queue { { raw_events = { fixture("finish_reasons.sse"),
      'data: {"choices":[{"index":4,"delta":{"content":"4"},"finish_reason":null}]}\n\n' } } }
    local _, err = READERS.next(client:stream("hi"))
    assert.equal("stream", err.kind)
  end)

  it("10.7 otherwise it is kind stream with everything received in result()", function()
    replay("llamacpp_cut.sse", function(s, chunks, err, how)
      assert.equal(2, #chunks, how)
      assert.equal("stream", err.kind, how)
      assert.matches("[DONE]", err.message, 1, true)
      assert.equal("Cut", s:text(), how)
      assert.equal(null, s:result().choices[1].finish_reason, how)
    end)
  end)
end)

describe("servers: errors", function()
  it("10.8/10.9 OpenRouter: an error object mid-stream at 200 is kind stream, message exactly the service's", function()
    replay("openrouter_error.sse", function(s, chunks, err, how)
      assert.equal(2, #chunks, how)
      assert.equal("stream", err.kind, how)
      assert.equal("Provider returned error", err.message, how)
      assert.equal(502, err.code, how)
      assert.equal(200, err.status, how)
      assert.equal("req_openrouter_error.sse", err.request_id, how)
      assert.equal("Once upon a time", s:text(), how)
      assert.equal("error", s:result().choices[1].finish_reason, how)
      local line = tostring(err)
      assert.is_nil(line:find("\n"))
      assert.matches("Provider returned error", line, 1, true)
      assert.matches("mid-stream", line, 1, true)
      assert.matches("502", line, 1, true)
    end)
  end)

  it("10.8/10.9 llama.cpp: an `error:` field line is kind stream with the service's message, type and code", function()
    replay("llamacpp_error.sse", function(s, chunks, err, how)
      assert.equal(2, #chunks, how)
      assert.equal("stream", err.kind, how)
      assert.equal("the request exceeds the available context size, try increasing it", err.message, how)
      assert.equal("invalid_request_error", err.type, how)
      assert.equal(400, err.code, how)
      assert.equal("Partial", s:text(), how)
      assert.is_nil(tostring(err):find("\n"))
    end)
  end)

  it("10.8 comment lines stay ignored (OpenRouter's processing notes, DeepSeek's keep-alives)", function()
    replay("openrouter.sse", function(_, chunks, err, how)
      assert.is_nil(err, how)
      assert.equal(6, #chunks, how)
    end)
    replay("deepseek.sse", function(_, chunks, err, how)
      assert.is_nil(err, how)
      assert.equal(6, #chunks, how)
    end)
  end)

  -- fixture, status, message, type, code, param
  local BODIES = {
    { "gemini_error.json", 400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT", 400 },
    { "vllm_error.json", 404, "The model `llama-9` does not exist.", "NotFoundError", 404 },
    { "mistral_error.json", 400, "Invalid model: mistral-huge", "invalid_model", "1500" },
    { "fastapi_detail.json", 404, "Not Found" },
    { "fastapi_validation.json", 422, "Field required", "missing", nil, "body.messages" },
    { "error_string.json", 404, 'model "llama9" not found, try pulling it first' },
  }

  it("10.10 error bodies of every shape are kind api with message, type, code and param (chat and stream)", function()
    for _, b in ipairs(BODIES) do
      local name, status, message, etype, code, param = b[1], b[2], b[3], b[4], b[5], b[6]
      for _, via in ipairs({ "chat", "stream" }) do
        queue(name, status)
        local err
        if via == "chat" then
          err = select(2, client:chat("hi"))
        else
          err = select(2, client:stream("hi"):next())
        end
        local what = name .. " via " .. via
        assert.equal("api", err.kind, what)
        assert.equal(status, err.status, what)
        assert.equal(message, err.message, what)
        assert.equal(etype, err.type, what)
        assert.equal(code, err.code, what)
        assert.equal(param, err.param, what)
        assert.equal("req_" .. name, err.request_id, what)
        local line = tostring(err)
        assert.is_nil(line:find("\n"), what)
        assert.matches(message, line, 1, true)
      end
    end
  end)

  it("10.10 LM Studio's HTTP 200 {\"error\": \"...\"} stays kind api (chat and stream)", function()
    queue("lmstudio_error.json", 200)
    local _, err = client:chat("hi")
    assert.equal("api", err.kind)
    assert.equal("Unexpected endpoint or method. (POST /v1/chat/completionz)", err.message)
    queue("lmstudio_error.json", 200)
    _, err = client:stream("hi"):next()
    assert.equal("api", err.kind)
    assert.equal("Unexpected endpoint or method. (POST /v1/chat/completionz)", err.message)
    assert.equal(200, err.status)
  end)
end)

describe("servers: odd chunks (11.6) give chunks or an error table, never a raw Lua error", function()
  local ODD = {
    '{"choices":[{"index":NaN}]}',
    '{"choices":[1]}',
    '{"choices":[null]}',
    '{"choices":[{"index":0,"delta":{"tool_calls":[7]}}]}',
    '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":NaN,"function":"f","id":5}]}}]}',
    '{"choices":[{"index":"0","delta":"x"}]}',
    '{"choices":[{"index":-1,"delta":{"content":7,"role":[]}}]}',
    '{"choices":{"0":{"delta":{}}},"usage":"x"}',
    '{"choices":[{"index":1e300,"delta":{"content":[1,null,{"type":"thinking","thinking":7}]}}]}',
    '{"choices":[{"index":0,"delta":{"reasoning_details":[{"index":NaN}],"audio":{"data":1}}}]}',
    '{"choices":[{"index":0,"logprobs":{"content":7},"finish_reason":7}]}',
    '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":7,"name":[]}}]}}]}',
    '{"choices":[{"index":0.5,"delta":{"tool_calls":[{"index":0.5}]}}],"x_groq":{"usage":7}}',
  }
  local function events(odd)
    return { 'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n', "data: " .. odd .. "\n\n",
      'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n', "data: [DONE]\n\n" }
  end
  -- A failure, if any, is an error object.
  local function settled(err, what)
    if err ~= nil then
      assert.equal("table", type(err), what .. ": " .. tostring(err))
      assert.is_string(err.kind, what)
    end
  end

  it("from stream:next(), the for iterator, poll(), result(), text() and reasoning()", function()
    for i, odd in ipairs(ODD) do
      for _, how in ipairs({ "next", "for", "poll" }) do
        srv:queue { { raw_events = events(odd) } }
        local s = client:stream("hi")
        local ok, chunks, err = pcall(READERS[how], s)
        local what = ("odd %d via %s"):format(i, how)
        assert.is_true(ok, what .. ": " .. tostring(chunks))
        settled(err, what)
        assert.is_true(#chunks >= 1, what)
        local fine, why = pcall(function()
          assert(type(s:result()) == "table")
          assert(type(s:text()) == "string")
          s:reasoning()
        end)
        assert.is_true(fine, what .. ": " .. tostring(why))
        s:close()
      end
    end
  end)

  it("from conv:stream()", function()
    for i, odd in ipairs(ODD) do
      srv:queue { { raw_events = events(odd) } }
      local conv = client:conversation()
      local ok, err = pcall(function()
        for _ in conv:stream("hi") do end
      end)
      if not ok then settled(err, "odd " .. i) end
      assert.is_true(#conv.messages == 0 or #conv.messages == 2, "odd " .. i)
    end
  end)

  it("from run_tools()", function()
    local BODIES = {
      '{"choices":[{"index":0,"message":{"role":"assistant","tool_calls":[7]}}]}',
      '{"choices":[{"index":0,"message":{"role":"assistant","tool_calls":[{"function":7}]}}]}',
      '{"choices":[{"index":0,"message":{"role":"assistant","tool_calls":[null,{"id":5,'
        .. '"function":{"name":"f","arguments":7}}]}}]}',
      '{"choices":[{"index":0,"message":{"role":"assistant","tool_calls":[{"function":{"name":"f",'
        .. '"arguments":"[1]"}}]}}]}',
      '{"choices":[1]}',
      '{"choices":[null]}',
      '{"choices":[{"index":NaN,"message":{"role":"assistant","content":"x","tool_calls":"x"}}]}',
    }
    local final = '{"choices":[{"index":0,"message":{"role":"assistant","content":"done"},"finish_reason":"stop"}]}'
    for i, body in ipairs(BODIES) do
      srv:reset()
      srv:queue { { body = body }, { body = final } }
      local conv = client:conversation()
      local ok, text, err = pcall(conv.run_tools, conv, { { type = "function", ["function"] = { name = "f" } } },
        { f = function() return "ok" end }, { prompt = "hi", max_rounds = 2 })
      assert.is_true(ok, ("body %d: %s"):format(i, tostring(text)))
      if text == nil then settled(err, "body " .. i) end
      -- every tool message answers a call of the history by its id
      local ids = {}
      for _, m in ipairs(conv.messages) do
        for _, c in ipairs(type(m.tool_calls) == "table" and m.tool_calls or {}) do ids[c.id] = true end
        if m.role == "tool" then assert.is_true(ids[m.tool_call_id], "body " .. i) end
      end
    end
  end)
end)
