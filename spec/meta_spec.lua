-- Response metadata (issue 13.2) and client:models() (13.3), against the
-- loopback server: status, lower-cased headers, request id, attempts and
-- elapsed time beside an untouched response table.
local cjson = require("cjson")
local oaichat = require("oaichat")
local helper = require("spec.support.helper")
local util = require("spec.support.util")

local KEY = "sk-meta-0123456789"
local RETRY_NOW = { ["retry-after-ms"] = "0" }

-- Polls a stream (0 ms steps, at most n rounds) until pred(stream, chunks) holds.
local function poll_until(s, pred, n)
  local chunks = {}
  for _ = 1, n or 2000 do
    local got, done = s:poll(5)
    for _, c in ipairs(got) do chunks[#chunks + 1] = c end
    if pred(s, chunks) or done then break end
  end
  return chunks
end

describe("response metadata", function()
  local srv, client

  before_each(function()
    srv = helper.server()
    srv:reset()
    client = oaichat.new{ base_url = srv.url, api_key = KEY, max_retries = 2 }
  end)

  after_each(function()
    client:close()
  end)

  it("client:chat returns status, lower-cased headers, request_id, attempts and elapsed", function()
    srv:queue{ { default = true, headers = { ["X-RateLimit-Remaining-Requests"] = "99",
      ["X-Generation-Id"] = "gen-42", ["x-request-id"] = "req_meta_1" } } }
    local resp, err, meta = client:chat("hello")
    assert.is_nil(err)
    assert.is_table(resp)
    assert.equal(200, meta.status)
    assert.equal("99", meta.headers["x-ratelimit-remaining-requests"])
    assert.equal("gen-42", meta.headers["x-generation-id"])
    assert.is_nil(meta.headers["X-RateLimit-Remaining-Requests"])
    assert.equal("application/json", meta.headers["content-type"])
    assert.equal("req_meta_1", meta.request_id)
    assert.equal(1, meta.attempts)
    assert.is_number(meta.elapsed)
    assert.is_true(meta.elapsed >= 0)
  end)

  it("leaves the response table exactly the decoded JSON", function()
    local resp, _, meta = client:chat("hello")
    assert.is_table(meta)
    local keys = {}
    for k in pairs(resp) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({ "choices", "created", "id", "model", "object", "system_fingerprint", "usage" }, keys)
    assert.is_nil(getmetatable(resp))
  end)

  it("a success after one retry says attempts = 2", function()
    srv:queue{ { status = 503, headers = RETRY_NOW } }
    local resp, err, meta = client:chat("hello")
    assert.is_nil(err)
    assert.is_table(resp)
    assert.equal(2, meta.attempts)
    assert.equal(200, meta.status)
    assert.equal(2, #srv:requests())
  end)

  it("an error carries err.headers, and meta comes back beside it", function()
    srv:queue{ { status = 429, headers = { ["x-ratelimit-reset-requests"] = "1s", ["x-should-retry"] = "false",
      ["x-request-id"] = "req_429" } } }
    local resp, err, meta = client:chat("hello")
    assert.is_nil(resp)
    assert.equal(429, err.status)
    assert.equal("1s", err.headers["x-ratelimit-reset-requests"])
    assert.equal("application/json", err.headers["content-type"])
    assert.equal(429, meta.status)
    assert.equal("req_429", meta.request_id)
    assert.equal(1, meta.attempts)
  end)

  it("a connection error has no meta and no headers", function()
    local dead = oaichat.new{ base_url = "http://127.0.0.1:1/v1", max_retries = 0 }
    local resp, err, meta = dead:chat("x")
    assert.is_nil(resp)
    assert.equal("connection", err.kind)
    assert.is_nil(err.headers)
    assert.is_nil(meta)
    dead:close()
  end)

  it("request:poll returns meta as the fourth value when done", function()
    srv:queue{ { default = true, headers = { ["x-request-id"] = "req_async" } } }
    local r = client:chat_async("hi")
    local done, resp, err, meta
    for _ = 1, 4000 do
      done, resp, err, meta = r:poll(5)
      if done then break end
      assert.is_nil(meta)
    end
    assert.is_true(done)
    assert.is_nil(err)
    assert.is_table(resp)
    assert.equal("req_async", meta.request_id)
    assert.equal(200, meta.status)
  end)

  it("conv:say returns meta as its third value", function()
    srv:queue{ { default = true, headers = { ["x-request-id"] = "req_conv" } } }
    local text, resp, meta = client:conversation{}:say("hi")
    assert.is_string(text)
    assert.is_table(resp)
    assert.equal("req_conv", meta.request_id)
  end)

  it("oaichat.chat passes meta through", function()
    local code = ([[
      local o = require("oaichat")
      local resp, err, meta = o.chat("hi")
      io.write(tostring(meta and meta.status), " ", tostring(meta and meta.request_id))
    ]])
    local out = require("spec.support.child").run({ OAICHAT_BASE_URL = srv.url }, code)
    assert.equal("200 req_mock_1", out)
  end)

  describe("stream:meta()", function()
    it("is nil before the response head and set once it arrived, before any chunk", function()
      -- The head alone, then a pause (a generous bound, not a measurement)
      -- before the first body byte.
      local body = "data: " .. cjson.encode(util.text_chunk("late")) .. "\n\ndata: [DONE]\n\n"
      srv:queue{ { head_first = true, chunk_delay_ms = 2000, headers = { ["x-request-id"] = "req_head",
        ["X-RateLimit-Remaining-Tokens"] = "7" }, raw_events = { body } } }
      local s = client:stream("hi")
      assert.is_nil(s:meta())
      local chunks = poll_until(s, function(st) return st:meta() ~= nil end)
      assert.equal(0, #chunks)
      local meta = s:meta()
      assert.is_table(meta)
      assert.equal(200, meta.status)
      assert.equal("req_head", meta.request_id)
      assert.equal("7", meta.headers["x-ratelimit-remaining-tokens"])
      assert.equal("text/event-stream", meta.headers["content-type"])
      assert.equal(1, meta.attempts)
      -- the rest of the stream arrives; the server's connection is left idle
      chunks = poll_until(s, function() return false end)
      assert.equal("late", chunks[1].choices[1].delta.content)
      assert.equal(meta, s:meta())
    end)

    it("after a retried stream says attempts = 2 and keeps the final response's headers", function()
      srv:queue{ { status = 500, headers = { ["retry-after-ms"] = "0", ["x-request-id"] = "req_500" } },
        { default = true, headers = { ["x-request-id"] = "req_ok" } } }
      local s = client:stream("hi")
      local n = 0
      for _ in s do n = n + 1 end
      assert.is_true(n > 0)
      local meta = s:meta()
      assert.equal(2, meta.attempts)
      assert.equal(200, meta.status)
      assert.equal("req_ok", meta.request_id)
    end)

    it("a stream that failed before any chunk has err.headers", function()
      srv:queue{ { status = 400, headers = { ["x-request-id"] = "req_400", ["x-extra"] = "e" } } }
      local s = client:stream("hi")
      local c, err = s:next()
      assert.is_nil(c)
      assert.equal("e", err.headers["x-extra"])
      assert.equal(400, s:meta().status)
    end)
  end)

  describe("client:models()", function()
    it("sends GET {base_url}/models with the key and no body, and returns the list with meta", function()
      local list, err, meta = client:models()
      assert.is_nil(err)
      assert.equal("list", list.object)
      assert.equal("mock-small", list.data[1].id)
      assert.equal(2, #list.data)
      assert.equal(200, meta.status)
      assert.equal(1, meta.attempts)
      local req = srv:last_request()
      assert.equal("GET", req.method)
      assert.equal("/v1/models", req.target)
      assert.equal("Bearer " .. KEY, req.headers.authorization)
      assert.equal("application/json", req.headers.accept)
      assert.is_nil(req.headers["content-type"])
      assert.equal("", req.body)
    end)

    it("retries like chat and reports errors like chat", function()
      srv:queue{ { status = 503, headers = RETRY_NOW } }
      local list, _, meta = client:models()
      assert.is_table(list)
      assert.equal(2, meta.attempts)
      srv:queue{ { status = 401, json = { error = { message = "no", code = "invalid_api_key" } } } }
      local none, err, meta2 = client:models({ max_retries = 0 })
      assert.is_nil(none)
      assert.equal("api", err.kind)
      assert.equal(401, err.status)
      assert.equal("no", err.message)
      assert.equal(401, meta2.status)
    end)

    it("passes the timeout and headers of opts, and raises on misuse", function()
      srv:queue{ { hang = true } }
      local none, err = client:models({ timeout = 0.3, max_retries = 0, headers = { ["X-Trace"] = "t1" } })
      assert.is_nil(none)
      assert.equal("timeout", err.kind)
      assert.equal("t1", srv:last_request().headers["x-trace"])
      assert.has_error(function() client:models("x") end, "client:models: opts must be a table, got string")
      assert.has_error(function() client:models({ timeout = -1 }) end)
    end)

    it("verifies TLS like chat: a private CA is refused unless given with ca_file", function()
      local tls = require("spec.support.tls")
      local certs = tls.make_certs()
      local relay = tls.start(certs, srv.port)
      local ok, problem = pcall(function()
        local strict = oaichat.new{ base_url = relay.url, api_key = KEY, max_retries = 2 }
        local none, err = strict:models()
        assert.is_nil(none)
        assert.equal("connection", err.kind)
        assert.equal(1, err.attempts)
        assert.truthy(err.message:find("TLS", 1, true), err.message)
        assert.equal(0, #srv:requests())
        local trusting = oaichat.new{ base_url = relay.url, api_key = KEY, ca_file = certs.ca_file }
        local list, err2 = trusting:models()
        assert.is_nil(err2)
        assert.equal("list", list.object)
        assert.equal("GET /v1/models", srv:last_request().method .. " " .. srv:last_request().target)
        strict:close()
        trusting:close()
      end)
      relay:stop()
      tls.remove_certs(certs)
      assert(ok, problem)
    end)

    it("a non-JSON body is a decode error", function()
      srv:queue{ { body = "<html>nope</html>" } }
      local none, err = client:models()
      assert.is_nil(none)
      assert.equal("decode", err.kind)
      assert.equal("<html>nope</html>", err.body)
    end)
  end)
end)
