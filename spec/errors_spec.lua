-- Every failure of a non-streaming chat as an error object, its one-line
-- tostring, the key never leaking, argument errors, and retries.
local oaichat = require("oaichat")
local core = require("oaichat.core")
local errors = require("oaichat.errors")
local retry = require("oaichat.retry")
local socket = require("socket")
local helper = require("spec.support.helper")

local KEY = "sk-secret-KEY-9876543210"

-- A loopback port that was just open and is now closed: connecting is refused.
local function closed_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

-- Asserts that no string field of err, nor tostring(err), holds the key.
local function assert_no_key(err)
  assert.is_nil(tostring(err):find(KEY, 1, true))
  for k, v in pairs(err) do
    if type(v) == "string" then assert.is_nil(v:find(KEY, 1, true), k) end
  end
end

describe("errors", function()
  local srv, client

  before_each(function()
    srv = helper.server()
    srv:reset()
    client = oaichat.new{ base_url = srv.url, api_key = KEY, max_retries = 0 }
  end)

  after_each(function()
    client:close()
  end)

  describe("kind api", function()
    it("carries status, message, type, code, param and request_id", function()
      srv:queue{ { status = 401, headers = { ["X-Request-ID"] = "req_123" }, json = { error = {
        message = "Incorrect API key provided", type = "invalid_request_error",
        param = "authorization", code = "invalid_api_key" } } } }
      local resp, err = client:chat("x")
      assert.is_nil(resp)
      assert.equal("api", err.kind)
      assert.equal(401, err.status)
      assert.equal("Incorrect API key provided", err.message)
      assert.equal("invalid_request_error", err.type)
      assert.equal("invalid_api_key", err.code)
      assert.equal("authorization", err.param)
      assert.equal("req_123", err.request_id)
      assert.is_false(err.retryable)
      assert.equal(1, err.attempts)
      assert.is_nil(err.body)
      assert.equal("oaichat: api error 401 (invalid_api_key): Incorrect API key provided [request req_123]"
        .. " -- the API key came from the api_key option of oaichat.new; check it", tostring(err))
      assert.equal(errors.Error, getmetatable(err))
    end)

    it("leaves out null fields and a missing request id", function()
      srv:queue{ { status = 400, json = { error = { message = "bad 'messages'", type = "invalid_request_error",
        param = require("cjson").null, code = require("cjson").null } } } }
      local _, err = client:chat("x")
      assert.equal("api", err.kind)
      assert.is_nil(err.code)
      assert.is_nil(err.param)
      assert.is_nil(err.request_id)
      assert.equal("oaichat: api error 400: bad 'messages'", tostring(err))
    end)

    it("keeps a numeric code and a string error", function()
      srv:queue{ { status = 422, json = { error = { message = "m", code = 1234 } } },
        { status = 403, json = { error = "forbidden, go away" } } }
      local _, err = client:chat("x")
      assert.equal(1234, err.code)
      assert.equal("oaichat: api error 422 (1234): m", tostring(err))
      _, err = client:chat("x")
      assert.equal("api", err.kind)
      assert.equal("forbidden, go away", err.message)
      assert.equal("oaichat: api error 403: forbidden, go away", tostring(err))
    end)

    it("reports a 200 whose body is an error object", function()
      srv:queue{ { status = 200, json = { error = { message = "overloaded", type = "server_error", code = "busy" } } } }
      local _, err = client:chat("x")
      assert.equal("api", err.kind)
      assert.equal(200, err.status)
      assert.equal("overloaded", err.message)
      assert.equal("busy", err.code)
    end)

    it("flags 408, 409, 429 and 5xx as retryable, other 4xx not", function()
      local want = { [400] = false, [401] = false, [403] = false, [404] = false, [408] = true,
        [409] = true, [422] = false, [429] = true, [500] = true, [502] = true, [503] = true, [529] = true }
      for status, retryable in pairs(want) do
        srv:queue{ { status = status } }
        local _, err = client:chat("x")
        assert.equal("api", err.kind)
        assert.equal(status, err.status)
        assert.equal(retryable, err.retryable, "status " .. status)
      end
    end)

    it("honours x-should-retry in the retryable flag", function()
      srv:queue{ { status = 503, headers = { ["X-Should-Retry"] = "false" } },
        { status = 400, headers = { ["x-should-retry"] = "true" } } }
      local _, err = client:chat("x")
      assert.is_false(err.retryable)
      _, err = client:chat("x")
      assert.is_true(err.retryable)
    end)
  end)

  describe("kind http", function()
    it("reports a non-2xx body that is not JSON, with its start", function()
      local page = "<html><body>Bad gateway</body></html>"
      srv:queue{ { status = 502, body = page, headers = { ["Content-Type"] = "text/html",
        ["x-request-id"] = "req_gw" } } }
      local _, err = client:chat("x")
      assert.equal("http", err.kind)
      assert.equal(502, err.status)
      assert.equal(page, err.body)
      assert.equal("req_gw", err.request_id)
      assert.is_true(err.retryable)
      assert.equal(("oaichat: http error 502: HTTP 502 from %s/chat/completions: %s [request req_gw]")
        :format(srv.url, page), tostring(err))
    end)

    it("keeps at most 4 KiB of the body and one line in tostring", function()
      local big = ("line of text\n"):rep(1000)
      srv:queue{ { status = 404, body = big, headers = { ["Content-Type"] = "text/plain" } } }
      local _, err = client:chat("x")
      assert.equal("http", err.kind)
      assert.equal(404, err.status)
      assert.equal(big:sub(1, 4096), err.body)
      assert.is_false(err.retryable)
      local s = tostring(err)
      assert.is_nil(s:find("\n"))
      assert.is_true(#s < 400)
    end)

    it("reports a JSON body without an error object as http", function()
      srv:queue{ { status = 500, json = { status = "oops" } } }
      local _, err = client:chat("x")
      assert.equal("http", err.kind)
      assert.equal('{"status":"oops"}', err.body)
    end)

    it("reports an empty error body", function()
      srv:queue{ { status = 503, body = "" } }
      local _, err = client:chat("x")
      assert.equal("http", err.kind)
      assert.equal("", err.body)
      assert.equal(("oaichat: http error 503: HTTP 503 from %s/chat/completions"):format(srv.url), tostring(err))
    end)
  end)

  describe("kind decode", function()
    it("reports a 200 whose body is not JSON", function()
      srv:queue{ { status = 200, body = "Hello, I am not JSON", headers = { ["x-request-id"] = "req_d" } } }
      local _, err = client:chat("x")
      assert.equal("decode", err.kind)
      assert.equal(200, err.status)
      assert.equal("Hello, I am not JSON", err.body)
      assert.equal("req_d", err.request_id)
      assert.is_false(err.retryable)
      assert.equal(1, err.attempts)
      assert.truthy(tostring(err):find("^oaichat: decode error 200: the response is not valid JSON: "))
    end)

    it("reports invalid UTF-8 in a JSON body", function()
      local body = '{"choices":[{"message":{"role":"assistant","content":"bad \255\254 bytes"}}]}'
      srv:queue{ { status = 200, body = body } }
      local _, err = client:chat("x")
      assert.equal("decode", err.kind)
      assert.equal(body, err.body)
      assert.truthy(err.message:find("UTF-8", 1, true), err.message)
    end)

    it("reports a JSON array or a truncated object", function()
      srv:queue{ { status = 200, body = "[1,2]" }, { status = 200, body = '{"choices":[' } }
      local _, err = client:chat("x")
      assert.equal("decode", err.kind)
      assert.equal("[1,2]", err.body)
      _, err = client:chat("x")
      assert.equal("decode", err.kind)
      assert.equal('{"choices":[', err.body)
    end)
  end)

  describe("kind connection", function()
    it("reports a refused connection as retryable", function()
      local port = closed_port()
      local c = oaichat.new{ base_url = ("http://127.0.0.1:%d/v1"):format(port), api_key = KEY, max_retries = 0 }
      local resp, err = c:chat("x")
      assert.is_nil(resp)
      assert.equal("connection", err.kind)
      assert.is_nil(err.status)
      assert.is_true(err.retryable)
      assert.equal(1, err.attempts)
      assert.truthy(err.message:find(("http://127.0.0.1:%d/v1/chat/completions"):format(port), 1, true))
      assert.truthy(tostring(err):find("^oaichat: connection error: could not connect"), tostring(err))
      assert_no_key(err)
      c:close()
    end)

    it("reports a connection closed before the headers", function()
      srv:queue{ { close_before_headers = true } }
      local _, err = client:chat("x")
      assert.equal("connection", err.kind)
      assert.is_true(err.retryable)
    end)

    it("reports a body cut short", function()
      srv:queue{ { close_after_bytes = 20 } }
      local _, err = client:chat("x")
      assert.equal("connection", err.kind)
      assert.equal(200, err.status)
    end)
  end)

  describe("kind timeout", function()
    it("stops a hanging server after `timeout` seconds", function()
      srv:queue{ { hang = true } }
      local t0 = core.now()
      local resp, err = client:chat("x", { timeout = 0.3 })
      local took = core.now() - t0
      assert.is_nil(resp)
      -- The hang never ends: only the timeout can have ended the call (a
      -- lower bound only, which no load can break).
      assert.equal("timeout", err.kind)
      assert.is_true(took >= 0.25, tostring(took))
      assert.is_true(err.retryable)
      assert.equal(1, err.attempts)
      assert.truthy(tostring(err):find("^oaichat: timeout error: "))
    end)

    it("takes the client's timeout too; not retryable once the response began", function()
      local c = oaichat.new{ base_url = srv.url, api_key = KEY, timeout = 0.3, max_retries = 2 }
      srv:queue{ { drip_bytes = 1, chunk_delay_ms = 100 } }
      local _, err = c:chat("x")
      assert.equal("timeout", err.kind)
      assert.is_false(err.retryable)
      assert.equal(1, err.attempts)
      assert.equal(1, #srv:requests())
      c:close()
    end)
  end)

  describe("kind limit", function()
    it("stops a body over max_response_bytes (per call)", function()
      local _, err = client:chat("x", { max_response_bytes = 100 })
      assert.equal("limit", err.kind)
      assert.is_false(err.retryable)
      assert.equal(1, err.attempts)
      assert.truthy(err.message:find("max_response_bytes (100 bytes)", 1, true))
    end)

    it("stops a chunked body over the client's max_response_bytes", function()
      local c = oaichat.new{ base_url = srv.url, api_key = KEY, max_response_bytes = 50 }
      srv:queue{ { chunked = true } }
      local _, err = c:chat("x")
      assert.equal("limit", err.kind)
      -- The limit is about the body: a body within it passes.
      local resp = c:chat("x", { max_response_bytes = 100000 })
      assert.equal("Echo: x (1 message)", oaichat.text(resp))
      c:close()
    end)
  end)

  describe("the API key", function()
    it("never appears in an error even when the server echoes it", function()
      srv:queue{
        { status = 401, headers = { ["x-request-id"] = KEY },
          json = { error = { message = "Incorrect API key provided: " .. KEY, code = KEY, param = KEY } } },
        { status = 500, body = "bad key " .. KEY .. " in header", headers = { ["Content-Type"] = "text/plain" } },
        { status = 200, body = "not json " .. KEY },
      }
      local _, err = client:chat("x")
      assert.equal("api", err.kind)
      assert.equal("Incorrect API key provided: ***", err.message)
      assert_no_key(err)
      _, err = client:chat("x")
      assert.equal("http", err.kind)
      assert.equal("bad key *** in header", err.body)
      assert_no_key(err)
      _, err = client:chat("x")
      assert.equal("decode", err.kind)
      assert.equal("not json ***", err.body)
      assert_no_key(err)
    end)

    it("is not in tostring(client) nor in the client table", function()
      assert.is_nil(tostring(client):find(KEY, 1, true))
      for k, v in pairs(client) do
        if type(v) == "string" then assert.is_nil(v:find(KEY, 1, true), k) end
      end
    end)

    it("is not in argument error messages", function()
      local ok, msg = pcall(client.chat, client, { { role = KEY } , 5 })
      assert.is_false(ok)
      assert.is_nil(tostring(msg):find(KEY, 1, true))
    end)
  end)

  describe("argument errors", function()
    -- Asserts fn raises a message containing `want`, before any request.
    local function raises(want, fn)
      local ok, msg = pcall(fn)
      assert.is_false(ok)
      assert.truthy(tostring(msg):find(want, 1, true), tostring(msg))
      assert.equal(0, #srv:requests())
      return msg
    end

    it("names the bad argument of client:chat", function()
      raises("client:chat: messages must be an array of messages or a string, got number",
        function() client:chat(42) end)
      raises("client:chat: messages must be an array of messages or a string, got nil",
        function() client:chat() end)
      raises("client:chat: messages[2] must be a table, got string",
        function() client:chat({ { role = "user", content = "a" }, "b" }) end)
      raises("client:chat: messages[2].role must be a string, got number",
        function() client:chat({ { role = "user", content = "a" }, { role = 5, content = "b" } }) end)
      raises("client:chat: messages[1].role must be a string, got nil",
        function() client:chat({ { content = "a" } }) end)
      raises("client:chat: messages[1].content must be a string or an array of content parts, got number",
        function() client:chat({ { role = "user", content = 42 } }) end)
      raises("client:chat: opts must be a table, got string",
        function() client:chat("x", "fast") end)
      raises("oaichat.chat: messages must be an array of messages or a string, got number",
        function() oaichat.chat(42) end)
    end)

    it("refuses empty messages, bad transport options and a closed client", function()
      raises("client:chat: messages must not be empty", function() client:chat({}) end)
      raises("client:chat: opts.timeout must be a non-negative number, got 5",
        function() client:chat("x", { timeout = "5" }) end)
      raises("client:chat: opts.max_retries must be a non-negative number, got -1",
        function() client:chat("x", { max_retries = -1 }) end)
      raises("client:chat: opts.max_response_bytes must be a non-negative number, got table",
        function() client:chat("x", { max_response_bytes = {} }) end)
      local c = oaichat.new{ base_url = srv.url, api_key = KEY }
      c:close()
      raises("client:chat: the client is closed", function() c:chat("x") end)
      raises("client:stream: the client is closed", function() c:stream("x") end)
    end)

    it("refuses an API key with CR or LF without showing it", function()
      local msg = raises("oaichat.new: the API key contains CR, LF or NUL",
        function() oaichat.new{ base_url = srv.url, api_key = KEY .. "\r\nX-Evil: 1" } end)
      assert.is_nil(msg:find(KEY, 1, true))
    end)

    it("points at the caller's line", function()
      local msg = raises("client:chat: messages", function() client:chat(42) end)
      assert.truthy(msg:find("^[^:]*errors_spec%.lua:%d+:"), msg)
      local cases = {
        function() client:chat({ { role = 1 } }) end,
        function() client:chat({ { role = "user", content = 1 } }) end,
        function() client:chat("x", 5) end,
        function() client:chat("x", { headers = { ["X-A"] = "\n" } }) end,
        function() client:chat("x", { headers = 5 }) end,
        function() client:chat("x", { f = print }) end,
        function() client:chat_async({ 5 }) end,
        function() client:chat_many({ { { { role = 2 } } } }) end,
        function() client:stream({ { role = 2 } }) end,
        function() oaichat.chat(42) end,
        function() oaichat.new{ headers = { ["X-A"] = "\r" } } end,
        function() oaichat.new{ headers = 5 } end,
        function() oaichat.new{ bogus = 1 } end,
        function() oaichat.new{ base_url = "ftp://x" } end,
      }
      for i, fn in ipairs(cases) do
        msg = raises(":", fn)
        assert.truthy(msg:find("^[^:]*errors_spec%.lua:%d+:"), i .. ": " .. msg)
      end
    end)

    it("accepts any role string and null content", function()
      local resp, err = client:chat({ { role = "developer", content = "d" },
        { role = "user", content = oaichat.null } })
      assert.is_nil(err)
      assert.is_table(resp)
    end)

    it("refuses a header with CR or LF, per call and per client", function()
      raises('client:chat: header "X-Evil" contains CR, LF or NUL',
        function() client:chat("x", { headers = { ["X-Evil"] = "a\r\nInjected: 1" } }) end)
      raises('client:chat: header "X-Evil" contains CR, LF or NUL',
        function() client:chat("x", { headers = { ["X-Evil"] = "a\nb" } }) end)
      raises("client:chat: header name Bad Name is not a valid HTTP token",
        function() client:chat("x", { headers = { ["Bad Name"] = "v" } }) end)
      raises("client:chat: headers must be a table, got string",
        function() client:chat("x", { headers = "X-A: 1" }) end)
      raises('oaichat.new: header "X-Evil" contains CR, LF or NUL',
        function() oaichat.new{ base_url = srv.url, headers = { ["X-Evil"] = "a\rb" } } end)
    end)

    it("refuses a non-http base_url, an unknown option and a wrong option type", function()
      raises('oaichat.new: base_url must be an http:// or https:// URL, got "ftp://example.com/v1"',
        function() oaichat.new{ base_url = "ftp://example.com/v1" } end)
      raises('oaichat.new: base_url must be an http:// or https:// URL, got "localhost:8080"',
        function() oaichat.new{ base_url = "localhost:8080" } end)
      raises("oaichat.new: base_url must not contain spaces or control characters",
        function() oaichat.new{ base_url = "http://a b/v1" } end)
      raises('oaichat.new: unknown option "temprature"',
        function() oaichat.new{ temprature = 0.5 } end)
      raises("oaichat.new: option timeout must be a number, got string",
        function() oaichat.new{ timeout = "10" } end)
      raises("oaichat.new: option max_retries must not be negative",
        function() oaichat.new{ max_retries = -1 } end)
      raises("oaichat.new: options must be a table, got string",
        function() oaichat.new("http://x") end)
    end)

    it("refuses a request that cannot be encoded as JSON", function()
      raises("client:chat: cannot encode the request as JSON",
        function() client:chat("x", { temperature = 0 / 0 }) end)
      raises("client:chat: cannot encode the request as JSON",
        function() client:chat("x", { callback = print }) end)
    end)
  end)

  describe("retries", function()
    it("retries a 429 after retry-after, then succeeds", function()
      local c = oaichat.new{ base_url = srv.url, api_key = KEY }
      srv:queue{ { status = 429, headers = { ["retry-after"] = "0" } } }
      local resp, err = c:chat("x")
      assert.is_nil(err)
      assert.equal("Echo: x (1 message)", oaichat.text(resp))
      local reqs = srv:requests()
      assert.equal(2, #reqs)
      assert.equal(reqs[1].body, reqs[2].body)
      c:close()
    end)

    it("retries 500 twice, then succeeds; gives up after max_retries with attempts", function()
      local c = oaichat.new{ base_url = srv.url, api_key = KEY, max_retries = 2 }
      local h = { ["retry-after-ms"] = "10" }
      srv:queue{ { status = 500, headers = h }, { status = 500, headers = h } }
      assert.equal("Echo: x (1 message)", oaichat.text(c:chat("x")))
      assert.equal(3, #srv:requests())
      srv:reset()
      srv:queue{ { status = 500, headers = h }, { status = 502, headers = h }, { status = 503, headers = h } }
      local resp, err = c:chat("x")
      assert.is_nil(resp)
      assert.equal("api", err.kind)
      assert.equal(503, err.status)
      assert.equal(3, err.attempts)
      assert.is_true(err.retryable)
      assert.equal(3, #srv:requests())
      c:close()
    end)

    it("does not retry a 503 with x-should-retry: false", function()
      local c = oaichat.new{ base_url = srv.url, api_key = KEY }
      srv:queue{ { status = 503, headers = { ["x-should-retry"] = "false", ["retry-after"] = "0" } } }
      local _, err = c:chat("x")
      assert.equal(503, err.status)
      assert.equal(1, err.attempts)
      assert.is_false(err.retryable)
      assert.equal(1, #srv:requests())
      c:close()
    end)

    it("retries a 400 with x-should-retry: true", function()
      local c = oaichat.new{ base_url = srv.url, api_key = KEY }
      srv:queue{ { status = 400, headers = { ["x-should-retry"] = "true", ["retry-after-ms"] = "0" } } }
      assert.is_table(c:chat("x"))
      assert.equal(2, #srv:requests())
      c:close()
    end)

    it("does not retry with max_retries = 0, per client or per call", function()
      srv:queue{ { status = 429, headers = { ["retry-after"] = "0" } } }
      local _, err = client:chat("x")
      assert.equal(429, err.status)
      assert.equal(1, err.attempts)
      assert.is_true(err.retryable)
      local c = oaichat.new{ base_url = srv.url, api_key = KEY }
      srv:queue{ { status = 429, headers = { ["retry-after"] = "0" } } }
      _, err = c:chat("x", { max_retries = 0 })
      assert.equal(1, err.attempts)
      assert.equal(2, #srv:requests())
      c:close()
    end)

    it("a per-call max_retries raises the client's", function()
      srv:queue{ { status = 500, headers = { ["retry-after-ms"] = "0" } } }
      assert.is_table(client:chat("x", { max_retries = 1 }))
      assert.equal(2, #srv:requests())
    end)

    it("does not retry a 4xx", function()
      local c = oaichat.new{ base_url = srv.url, api_key = KEY }
      srv:queue{ { status = 401, headers = { ["retry-after"] = "0" } } }
      local _, err = c:chat("x")
      assert.equal(1, err.attempts)
      assert.equal(1, #srv:requests())
      c:close()
    end)

    it("calls on_retry with (err, attempt, delay) before each retry", function()
      local calls = {}
      local c = oaichat.new{ base_url = srv.url, api_key = KEY, max_retries = 3,
        on_retry = function(err, attempt, delay)
          calls[#calls + 1] = { kind = err.kind, status = err.status, attempt = attempt, delay = delay }
        end }
      srv:queue{ { status = 429, headers = { ["retry-after-ms"] = "20" } },
        { status = 503, headers = { ["retry-after"] = "0" } } }
      local t0 = core.now()
      assert.is_table(c:chat("x"))
      assert.is_true(core.now() - t0 >= 0.02)
      assert.same({
        { kind = "api", status = 429, attempt = 1, delay = 0.02 },
        { kind = "api", status = 503, attempt = 2, delay = 0 },
      }, calls)
      c:close()
    end)

    it("retries a connection closed before the headers and a timeout before the first byte", function()
      local c = oaichat.new{ base_url = srv.url, api_key = KEY, max_retries = 2, timeout = 0.3,
        on_retry = function() end }
      srv:queue{ { close_before_headers = true }, { hang = true } }
      local resp, err = c:chat("x")
      assert.is_nil(err)
      assert.equal("Echo: x (1 message)", oaichat.text(resp))
      assert.equal(3, #srv:requests())
      c:close()
    end)

    it("retries a refused connection and reports the attempts", function()
      local c = oaichat.new{ base_url = ("http://127.0.0.1:%d/v1"):format(closed_port()), api_key = KEY,
        max_retries = 1 }
      local delays = {}
      c.on_retry = function(_, _, delay) delays[#delays + 1] = delay end
      local _, err = c:chat("x")
      assert.equal("connection", err.kind)
      assert.equal(2, err.attempts)
      assert.equal(1, #delays)
      assert.is_true(delays[1] >= 0.375 and delays[1] <= 0.5, tostring(delays[1]))
      c:close()
    end)

    it("a chat_async in its retry wait does not block poll(0)", function()
      local retried = 0
      local c = oaichat.new{ base_url = srv.url, api_key = KEY, on_retry = function() retried = retried + 1 end }
      srv:queue{ { status = 429, headers = { ["retry-after-ms"] = "1000" } } }
      local t0 = core.now()
      local req = c:chat_async("x")
      local polls = 0
      repeat
        assert.is_false(req:poll(10))
        polls = polls + 1
      until retried == 1 or polls > 1000
      -- The 1 s retry wait spreads over many poll(0) calls; one that slept
      -- it out would send the second attempt at its first call.
      local in_wait = 0
      while #srv:requests() == 1 and in_wait < 100000 do
        if req:poll(0) then break end -- the retry may finish before we see it recorded
        in_wait = in_wait + 1
      end
      assert.is_true(in_wait >= 10, in_wait .. " poll(0) calls in the retry wait")
      local done, resp = req:poll(nil)
      assert.is_true(done)
      assert.equal("Echo: x (1 message)", oaichat.text(resp))
      assert.equal(2, #srv:requests())
      assert.is_true(core.now() - t0 >= 1) -- the wait was honoured (a lower bound)
      c:close()
    end)
  end)

  describe("retry.delay", function()
    it("uses retry-after-ms, then retry-after seconds", function()
      assert.equal(1.5, retry.delay({ ["retry-after-ms"] = "1500" }, 0))
      assert.equal(0.25, retry.delay({ ["retry-after-ms"] = "250", ["retry-after"] = "9" }, 3))
      assert.equal(3, retry.delay({ ["retry-after"] = "3" }, 0))
      assert.equal(0, retry.delay({ ["retry-after"] = "0" }, 4))
      assert.equal(2.5, retry.delay({ ["retry-after"] = "2.5" }, 0))
      assert.equal(60, retry.delay({ ["retry-after"] = "60" }, 0))
      assert.equal(7, retry.delay({ ["retry-after-ms"] = "junk", ["retry-after"] = "7" }, 0))
    end)

    it("parses an HTTP date in retry-after", function()
      local now = retry.parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT")
      assert.equal(1445412480, now)
      assert.equal(0, retry.parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"))
      assert.equal(951782400, retry.parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT"))
      assert.is_nil(retry.parse_http_date("yesterday"))
      assert.equal(10, retry.delay({ ["retry-after"] = "Wed, 21 Oct 2015 07:28:10 GMT" }, 0, now))
      assert.equal(0, retry.delay({ ["retry-after"] = "Wed, 21 Oct 2015 07:28:00 GMT" }, 0, now))
    end)

    -- Every value of the exponential backoff for retry n lies in its bounds.
    local function assert_backoff(headers, n, now)
      local top = math.min(0.5 * 2 ^ n, 8)
      for _ = 1, 50 do
        local d = retry.delay(headers, n, now)
        assert.is_true(d >= 0.75 * top and d <= top, ("retry %d: %s"):format(n, tostring(d)))
      end
    end

    it("falls back to the jittered backoff when the hint is missing or out of range", function()
      for n = 0, 6 do assert_backoff(nil, n) end
      assert_backoff({}, 0)
      assert_backoff({ ["retry-after"] = "61" }, 1)
      assert_backoff({ ["retry-after"] = "-1" }, 2)
      assert_backoff({ ["retry-after"] = "soon" }, 0)
      assert_backoff({ ["retry-after-ms"] = "60001" }, 0)
      assert_backoff({ ["retry-after-ms"] = "-5" }, 1)
      local now = retry.parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT")
      assert_backoff({ ["retry-after"] = "Wed, 21 Oct 2015 07:27:00 GMT" }, 0, now)
      assert_backoff({ ["retry-after"] = "Wed, 21 Oct 2015 07:30:00 GMT" }, 0, now)
    end)

    it("jitters: not every delay is the same", function()
      local seen = {}
      for _ = 1, 20 do seen[retry.delay(nil, 1)] = true end
      local distinct = 0
      for _ in pairs(seen) do distinct = distinct + 1 end
      assert.is_true(distinct > 1)
    end)
  end)
end)
