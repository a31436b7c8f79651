-- The mock server (tools/mock_server.lua, tools/mock/) and its spec helper
-- (spec/support/server.lua), checked with raw luasocket clients: the
-- behaviours every other spec relies on. It runs its own server instance,
-- so the shared one of spec/support/helper.lua is left alone.
local socket = require("socket")
local cjson = require("cjson")
local server = require("spec.support.server")

local srv

local function check(cond, msg)
  if not cond then error(msg or "check failed", 2) end
end

-- Waits (in 10 ms naps, at most 5 s: a generous bound for a loaded machine)
-- until cond() holds; the server runs in another process.
local function eventually(cond, what)
  for _ = 1, 500 do
    if cond() then return end
    socket.sleep(0.01)
  end
  error("never happened: " .. what, 2)
end

local function eq(got, want, what)
  if got ~= want then
    error(string.format("%s: expected %q, got %q", what or "value", tostring(want), tostring(got)), 2)
  end
end

---------------------------------------------------------------------------
-- Raw HTTP client
---------------------------------------------------------------------------

local function connect(timeout)
  local c = assert(socket.connect("127.0.0.1", srv.port))
  c:settimeout(timeout or 5)
  return c
end

local function request_bytes(method, path, body, headers)
  local lines = { string.format("%s %s HTTP/1.1", method, path), "Host: 127.0.0.1" }
  for _, h in ipairs(headers or {}) do lines[#lines + 1] = h[1] .. ": " .. h[2] end
  body = body or ""
  if body ~= "" or method == "POST" then lines[#lines + 1] = "Content-Length: " .. #body end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. body
end

local function send(c, method, path, body, headers)
  assert(c:send(request_bytes(method, path, body, headers)))
end

-- Reads a response; resp.chunks holds each chunk with its arrival time.
-- On a cut connection returns resp with resp.err set and the partial body.
local function read_response(c)
  local resp = { headers = {}, chunks = {} }
  local line, err = c:receive("*l")
  if not line then resp.err = err; return resp end
  resp.status = tonumber(line:match("^HTTP/1%.1 (%d+)"))
  while true do
    local h = c:receive("*l")
    if not h then resp.err = "headers cut"; return resp end
    if h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    resp.headers[name:lower()] = value
  end
  if (resp.headers["transfer-encoding"] or ""):find("chunked") then
    local parts = {}
    while true do
      local size_line
      size_line, err = c:receive("*l")
      if not size_line then resp.err = err; break end
      local size = tonumber(size_line, 16)
      if size == 0 then
        c:receive("*l")
        resp.complete = true
        break
      end
      local data, e, partial = c:receive(size)
      if not data then resp.err = e; parts[#parts + 1] = partial; break end
      c:receive("*l")
      parts[#parts + 1] = data
      resp.chunks[#resp.chunks + 1] = { data = data, t = socket.gettime() }
    end
    resp.body = table.concat(parts)
  else
    local n = tonumber(resp.headers["content-length"] or "0")
    local data, e, partial = c:receive(n)
    resp.body = data or partial
    resp.err = not data and e or nil
    resp.complete = data ~= nil
  end
  return resp
end

local function roundtrip(method, path, body, headers)
  local c = connect()
  send(c, method, path, body, headers)
  local resp = read_response(c)
  c:close()
  return resp
end

local function chat(body, headers)
  return roundtrip("POST", "/v1/chat/completions", cjson.encode(body), headers)
end

-- Parses an SSE body into the list of data payloads.
local function sse_data(body)
  local out = {}
  for event in body:gmatch("(.-)\n\n") do
    local data = event:match("^data: (.*)$")
    if data then out[#out + 1] = data end
  end
  return out
end

local function is_closed(c)
  local data, err = c:receive(1)
  return data == nil and (err == "closed" or err:find("reset") ~= nil), err
end

local HELLO = { model = "gpt-test", temperature = 0.2, top_k = 40, messages = {
  { role = "system", content = "You are terse." },
  { role = "user", content = { { type = "text", text = "hello world" },
    { type = "image_url", image_url = { url = "data:image/png;base64,iVBORw0KGgoAAAA=" } },
    { type = "image_url", image_url = { url = "https://example.com/cat.jpg" } } } },
} }

local WEATHER_TOOL = { type = "function", ["function"] = { name = "get_weather",
  parameters = { type = "object", required = { "city", "days" },
    properties = { city = { type = "string" }, days = { type = "integer" }, unit = { type = "string" } } } } }

describe("the mock server", function()
  setup(function() srv = server.start() end)
  teardown(function() srv:stop() end)
  before_each(function() srv:reset() end)

  it("helper: start gives port and url", function()
    check(srv.port > 0, "port")
    eq(srv.url, "http://127.0.0.1:" .. srv.port .. "/v1", "url")
  end)

  it("keep-alive: two requests on one connection share a conn id", function()
    local c = connect()
    send(c, "POST", "/v1/chat/completions", cjson.encode(HELLO))
    local r1 = read_response(c)
    send(c, "POST", "/v1/chat/completions", cjson.encode(HELLO))
    local r2 = read_response(c)
    c:close()
    eq(r1.status, 200, "status 1")
    eq(r2.status, 200, "status 2")
    eq(r1.headers.connection, "keep-alive", "connection header")
    local reqs = srv:requests()
    eq(#reqs, 2, "recorded")
    eq(reqs[1].conn, reqs[2].conn, "conn id")
  end)

  it("default JSON response shape", function()
    local r = chat(HELLO)
    eq(r.status, 200, "status")
    eq(r.headers["content-type"], "application/json", "content-type")
    eq(r.headers["x-request-id"], "req_mock_1", "x-request-id")
    local j = cjson.decode(r.body)
    eq(j.id, "chatcmpl-mock-1", "id")
    eq(j.object, "chat.completion", "object")
    eq(j.created, 1700000000, "created")
    eq(j.model, "gpt-test", "model")
    eq(j.choices[1].index, 0, "index")
    eq(j.choices[1].finish_reason, "stop", "finish_reason")
    eq(j.choices[1].message.role, "assistant", "role")
    eq(j.choices[1].message.content, "Echo: hello world (2 messages; system prompt; images: 2 " ..
      "[image/png 11 bytes, https://example.com/cat.jpg]; params: temperature=0.2, top_k=40)", "content")
    local u = j.usage
    eq(u.prompt_tokens, 5, "prompt_tokens")
    eq(u.total_tokens, u.prompt_tokens + u.completion_tokens, "total_tokens")
    -- a second request gets the next id
    eq(cjson.decode(chat(HELLO).body).id, "chatcmpl-mock-2", "second id")
  end)

  it("default streaming response (SSE, include_usage, per-word chunks)", function()
    local plain = cjson.decode(chat(HELLO).body).choices[1].message.content
    local body = cjson.decode(cjson.encode(HELLO))
    body.stream, body.stream_options = true, { include_usage = true }
    local r = chat(body)
    eq(r.status, 200, "status")
    eq(r.headers["content-type"], "text/event-stream", "content-type")
    eq(r.headers["transfer-encoding"], "chunked", "chunked")
    check(r.complete, "clean end")
    local data = sse_data(r.body)
    eq(#r.chunks, #data, "one write (chunk) per event")
    eq(data[#data], "[DONE]", "last is [DONE]")
    local first = cjson.decode(data[1])
    eq(first.object, "chat.completion.chunk", "object")
    eq(first.choices[1].delta.role, "assistant", "first delta role")
    eq(first.choices[1].delta.content, "", "first delta content")
    local text = {}
    for i = 2, #data - 3 do text[#text + 1] = cjson.decode(data[i]).choices[1].delta.content end
    eq(table.concat(text), plain, "concatenated deltas")
    local fin = cjson.decode(data[#data - 2])
    eq(fin.choices[1].finish_reason, "stop", "finish chunk")
    local usage = cjson.decode(data[#data - 1])
    eq(#usage.choices, 0, "usage chunk has no choices")
    eq(usage.usage.total_tokens, usage.usage.prompt_tokens + usage.usage.completion_tokens, "usage")
  end)

  it("streaming honours x-mock-delay-ms", function()
    local t0 = socket.gettime()
    local r = chat({ stream = true, messages = { { role = "user", content = "one two three" } } },
      { { "x-mock-delay-ms", "40" } })
    local dt = socket.gettime() - t0
    local n = #sse_data(r.body)
    check(dt >= 0.04 * (n - 3), "too fast: " .. dt)
    check(r.chunks[#r.chunks].t - r.chunks[1].t >= 0.04 * (n - 3), "chunks not spread out")
  end)

  it("default tool call, tool_choice and tool result", function()
    local ask = { tools = { WEATHER_TOOL }, messages = { { role = "user", content = "weather?" } } }
    local r = cjson.decode(chat(ask).body)
    local ch = r.choices[1]
    eq(ch.finish_reason, "tool_calls", "finish_reason")
    eq(ch.message.content, cjson.null, "content null")
    local tc = ch.message.tool_calls[1]
    eq(tc.id, "call_mock_1", "id")
    eq(tc.type, "function", "type")
    eq(tc["function"].name, "get_weather", "name")
    eq(tc["function"].arguments, '{"city":"x","days":1}', "arguments")
    local none = cjson.decode(chat({ tools = { WEATHER_TOOL }, tool_choice = "none",
      messages = { { role = "user", content = "hi" } } }).body)
    eq(none.choices[1].finish_reason, "stop", "tool_choice none")
    local after = cjson.decode(chat({ tools = { WEATHER_TOOL }, messages = {
      { role = "user", content = "weather?" },
      { role = "assistant", content = cjson.null, tool_calls = { tc } },
      { role = "tool", tool_call_id = "call_mock_1", content = "sunny, 21C" } } }).body)
    eq(after.choices[1].message.content, "Tool said: sunny, 21C", "tool result")
  end)

  it("streamed tool call deltas", function()
    local r = chat({ stream = true, tools = { WEATHER_TOOL }, messages = { { role = "user", content = "w" } } })
    local data = sse_data(r.body)
    local first = cjson.decode(data[1]).choices[1].delta.tool_calls[1]
    eq(first.id, "call_mock_1", "id in first delta")
    eq(first["function"].name, "get_weather", "name in first delta")
    local args, pieces = {}, 0
    for i = 2, #data - 2 do
      local d = cjson.decode(data[i]).choices[1].delta.tool_calls[1]
      args[#args + 1] = d["function"].arguments
      pieces = pieces + 1
    end
    check(pieces >= 2, "arguments split over 2+ deltas")
    eq(table.concat(args), '{"city":"x","days":1}', "arguments")
    eq(cjson.decode(data[#data - 1]).choices[1].finish_reason, "tool_calls", "finish")
  end)

  it("invalid JSON gets a 400 error; unknown path 404; GET chat 405", function()
    local r = roundtrip("POST", "/v1/chat/completions", "{nope")
    eq(r.status, 400, "bad json")
    check(cjson.decode(r.body).error.message, "error message")
    r = roundtrip("GET", "/v1/embeddings")
    eq(r.status, 404, "404")
    eq(cjson.decode(r.body).error.code, "unknown_url", "404 code")
    r = roundtrip("GET", "/v1/models")
    eq(r.status, 200, "models")
    eq(cjson.decode(r.body).object, "list", "models list")
    eq(roundtrip("GET", "/v1/chat/completions").status, 405, "405")
    eq(roundtrip("POST", "/custom/prefix/chat/completions", cjson.encode(HELLO)).status, 200, "suffix path")
  end)

  it("script: status + json + headers, FIFO then default", function()
    eq(srv:queue({ { status = 429, json = { error = { message = "slow down" } },
      headers = { ["retry-after"] = "1", ["x-request-id"] = "req_custom" } }, { json = { n = 2 } } }), 2, "queued")
    local r = chat(HELLO)
    eq(r.status, 429, "status")
    eq(r.headers["retry-after"], "1", "retry-after")
    eq(r.headers["x-request-id"], "req_custom", "x-request-id")
    eq(r.headers["content-type"], "application/json", "content-type")
    eq(cjson.decode(r.body).error.message, "slow down", "body")
    eq(cjson.decode(chat(HELLO).body).n, 2, "second script")
    eq(cjson.decode(chat(HELLO).body).object, "chat.completion", "then default")
    eq(srv:stats().pending, 0, "queue drained")
  end)

  it("script: raw body, content-type override, bare error status", function()
    srv:queue({ { body = "not json at all", headers = { ["Content-Type"] = "text/plain" } }, { status = 503 } })
    local r = chat(HELLO)
    eq(r.body, "not json at all", "body")
    eq(r.headers["content-type"], "text/plain", "content-type")
    r = chat(HELLO)
    eq(r.status, 503, "status")
    check(cjson.decode(r.body).error.message, "error body")
  end)

  it("script: default=true with status, headers and delay_ms", function()
    srv:queue({ { default = true, status = 201, delay_ms = 100, headers = { ["x-extra"] = "yes" } } })
    local t0 = socket.gettime()
    local r = chat(HELLO)
    check(socket.gettime() - t0 >= 0.1, "delay_ms")
    eq(r.status, 201, "status")
    eq(r.headers["x-extra"], "yes", "header")
    eq(r.headers["x-request-id"], "req_mock_1", "default x-request-id")
    eq(cjson.decode(r.body).object, "chat.completion", "default body")
  end)

  it("script: sse with chunk_delay_ms, no [DONE] still ends cleanly", function()
    srv:queue({ { sse = { '{"a":1}', '{"a":2}', '{"a":3}' }, chunk_delay_ms = 60, truncate_stream = true } })
    local r = chat(HELLO)
    eq(r.headers["content-type"], "text/event-stream", "content-type")
    check(r.complete, "terminating chunk received")
    eq(#r.chunks, 3, "three writes")
    eq(r.chunks[1].data, 'data: {"a":1}\n\n', "event 1")
    check(r.chunks[3].t - r.chunks[1].t >= 0.1, "delays between chunks")
    eq(#sse_data(r.body), 3, "events")
  end)

  it("script: sse with chunked=false uses Content-Length", function()
    srv:queue({ { sse = { "x", "[DONE]" }, chunked = false } })
    local r = chat(HELLO)
    eq(r.headers["content-length"], tostring(#"data: x\n\ndata: [DONE]\n\n"), "content-length")
    eq(r.body, "data: x\n\ndata: [DONE]\n\n", "body")
  end)

  it("script: raw_events verbatim, one chunk each", function()
    local events = { ": keep-alive comment\r\n\r\n", "data: {\"x\":1}\r\n\r\n", "data: partial", " line\n\n",
      "garbage" }
    srv:queue({ { raw_events = events } })
    local r = chat(HELLO)
    eq(#r.chunks, #events, "chunks")
    for i, e in ipairs(events) do eq(r.chunks[i].data, e, "event " .. i) end
  end)

  it("script: drip_bytes slow drip", function()
    local body = string.rep("0123456789", 3)
    srv:queue({ { body = body, drip_bytes = 7, chunk_delay_ms = 30, chunked = true } })
    local t0 = socket.gettime()
    local r = chat(HELLO)
    eq(r.body, body, "body")
    eq(#r.chunks, 5, "5 chunks of <= 7 bytes")
    check(socket.gettime() - t0 >= 0.12, "drip delays")
    srv:queue({ { body = body, drip_bytes = 10, chunk_delay_ms = 30 } })
    r = chat(HELLO)
    eq(r.headers["content-length"], "30", "non-chunked drip has content-length")
    eq(r.body, body, "body 2")
  end)

  it("script: close_after_bytes cuts mid-body", function()
    srv:queue({ { body = string.rep("x", 100), close_after_bytes = 10 } })
    local r = chat(HELLO)
    eq(r.status, 200, "headers arrive")
    eq(r.headers["content-length"], "100", "announced length")
    eq(r.err, "closed", "cut")
    eq(#r.body, 10, "only 10 bytes")
    srv:queue({ { sse = { "a", "b", "c" }, close_after_bytes = 14, chunk_delay_ms = 10 } })
    r = chat(HELLO)
    check(not r.complete, "stream not complete")
    eq(#r.chunks, 1, "one full chunk before cut")
  end)

  it("script: close_before_headers and reset", function()
    srv:queue({ { close_before_headers = true }, { reset = true } })
    local c = connect()
    send(c, "POST", "/v1/chat/completions", "{}")
    local line, err = c:receive("*l")
    eq(line, nil, "no response")
    eq(err, "closed", "closed")
    c:close()
    c = connect()
    send(c, "POST", "/v1/chat/completions", "{}")
    line, err = c:receive("*l")
    c:close()
    eq(line, nil, "no response after reset")
    check(err == "closed" or err:find("reset"), "reset error: " .. tostring(err))
    srv:queue({ { body = "abcdef", close_after_bytes = 3, reset = true } })
    local r = chat(HELLO)
    eq(r.status, 200, "headers before RST")
    check(r.err, "cut")
  end)

  it("script: hang does not block other connections", function()
    srv:queue({ { hang = true } })
    local hung = connect(0.5)
    send(hung, "POST", "/v1/chat/completions", "{}")
    eventually(function() return srv:stats().pending == 0 end, "the hang script is consumed first")
    -- The hang never ends, so this answer can only come from another coroutine.
    local r = chat(HELLO)
    eq(r.status, 200, "other connection served")
    local line, err = hung:receive("*l")
    eq(line, nil, "hung gets nothing")
    eq(err, "timeout", "client timeout")
    hung:close()
    eventually(function() return srv:stats().open == 1 end, "hung connection released (only the stats one open)")
  end)

  it("script: hold keeps the reply until a release; a release sent first is kept", function()
    srv:queue({ { hold = true } })
    local c = connect(0.2)
    send(c, "POST", "/v1/chat/completions", cjson.encode(HELLO))
    eventually(function() return srv:stats().held == 1 end, "the reply is held")
    local line, err = c:receive("*l")
    eq(line, nil, "nothing before the release")
    eq(err, "timeout", "still waiting")
    eq(srv:release().woken, 1, "one reply woken")
    c:settimeout(5)
    local r = read_response(c)
    c:close()
    eq(r.status, 200, "the reply after the release")
    eq(srv:stats().held, 0, "none held")
    srv:release()
    srv:queue({ { hold = true } })
    eq(chat(HELLO).status, 200, "an early release lets the next hold through")
  end)

  it("script: hold_after sends the first pieces, then holds the rest until a release", function()
    srv:queue({ { raw_events = { "data: 1\n\n", "data: 2\n\n", "data: [DONE]\n\n" }, hold_after = 1 } })
    local c = connect(0.2)
    send(c, "POST", "/v1/chat/completions", cjson.encode(HELLO))
    eq(c:receive("*l"), "HTTP/1.1 200 OK", "the head")
    repeat local h = c:receive("*l") until h == ""
    eq(c:receive("*l"), "9", "the first chunk's size")
    eq(c:receive(9 + 2), "data: 1\n\n\r\n", "the first chunk")
    local _, err = c:receive("*l")
    eq(err, "timeout", "the rest is held")
    eq(srv:stats().held, 1, "one reply held")
    srv:release()
    c:settimeout(5)
    eq(c:receive("*l"), "9", "the second chunk after the release")
    c:close()
  end)

  it("script: keep_alive=false closes after the response", function()
    srv:queue({ { json = { ok = true }, keep_alive = false } })
    local c = connect()
    send(c, "POST", "/v1/chat/completions", "{}")
    local r = read_response(c)
    eq(r.headers.connection, "close", "Connection: close")
    eq(cjson.decode(r.body).ok, true, "body")
    check(is_closed(c), "server closed")
    c:close()
  end)

  it("client Connection: close is honoured", function()
    local c = connect()
    send(c, "POST", "/v1/chat/completions", cjson.encode(HELLO), { { "Connection", "close" } })
    local r = read_response(c)
    eq(r.headers.connection, "close", "header")
    check(is_closed(c), "server closed")
    c:close()
  end)

  it("recording: headers (ordered, lowercased), body, chunked request body", function()
    chat(HELLO, { { "Authorization", "Bearer sk-test" }, { "X-Custom", "a" }, { "x-custom", "b" } })
    local c = connect()
    c:send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" ..
      "5\r\n{\"mod\r\n09\r\nel\":\"m2\"}\r\n0\r\n\r\n")
    local r = read_response(c)
    c:close()
    eq(cjson.decode(r.body).model, "m2", "chunked body parsed")
    roundtrip("GET", "/_control/stats")
    local reqs = srv:requests()
    eq(#reqs, 2, "control requests not recorded")
    local first = reqs[1]
    eq(first.method, "POST", "method")
    eq(first.path, "/v1/chat/completions", "path")
    eq(first.http_version, "HTTP/1.1", "http_version")
    eq(first.headers.authorization, "Bearer sk-test", "lowercased header")
    eq(first.headers["x-custom"], "a, b", "joined duplicates")
    eq(first.raw_headers[2][1], "Authorization", "raw order/name")
    eq(first.raw_headers[4][2], "b", "raw value")
    eq(first.body, cjson.encode(HELLO), "raw body")
    eq(reqs[2].body, '{"model":"m2"}', "de-chunked body")
    check(reqs[2].conn > first.conn, "increasing conn ids")
    local last = srv:last_request()
    eq(last.json.model, "m2", "last_request().json")
    srv:reset()
    eq(#srv:requests(), 0, "reset clears requests")
  end)

  it("150 concurrent connections with delayed streams", function()
    local before = srv:stats().connections
    local conns = {}
    for i = 1, 150 do conns[i] = connect(10) end
    local body = cjson.encode({ stream = true, messages = { { role = "user", content = "a b c d" } } })
    for i = 1, 150 do send(conns[i], "POST", "/v1/chat/completions", body, { { "x-mock-delay-ms", "50" } }) end
    -- Read last to first: a server taking one stream (~0.35 s) at a time
    -- would make the last one wait ~52 s, past the sockets' 10 s timeout.
    local ok = 0
    for i = 150, 1, -1 do
      local r = read_response(conns[i])
      if r.status == 200 and r.complete and r.body:find("[DONE]", 1, true) then ok = ok + 1 end
      conns[i]:close()
    end
    eq(ok, 150, "all served")
    local stats = srv:stats()
    check(stats.connections - before >= 150, "connections counted")
  end)

  it("Expect: 100-continue gets its 100 before the body is sent", function()
    local payload = cjson.encode({ messages = { { role = "user", content = string.rep("word ", 300000) } } })
    local c = connect()
    assert(c:send(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n" ..
      "Content-Length: %d\r\n\r\n"):format(#payload)))
    -- Nothing of the body is out yet: this line can only come from the server.
    eq(c:receive("*l"), "HTTP/1.1 100 Continue", "interim response")
    eq(c:receive("*l"), "", "end of the interim head")
    assert(c:send(payload))
    local r = read_response(c)
    c:close()
    eq(r.status, 200, "status")
    eq(cjson.decode(r.body).usage.prompt_tokens, 300000, "big body parsed")
  end)

  it("stop(): server exits and port closes", function()
    local other = server.start()
    other:queue({ { hang = true } })
    local hung = assert(socket.connect("127.0.0.1", other.port))
    send(hung, "POST", "/v1/chat/completions", "{}")
    eventually(function() return other:stats().pending == 0 end, "the hang script is consumed")
    other:stop()
    local _, err = hung:receive("*l")
    eq(err, "closed", "the hung connection ends with the server")
    local c = socket.tcp()
    c:settimeout(1)
    check(not c:connect("127.0.0.1", other.port), "port closed after stop")
    c:close()
    hung:close()
  end)
end)
