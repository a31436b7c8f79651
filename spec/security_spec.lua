-- Network rules, limits, hostile input and secrets (issue 5, items 3-5):
-- protocols, redirects, proxies, max_response_bytes, gzip, bad JSON from
-- the server, header injection, and the API key kept out of every output.
local oaichat = require("oaichat")
local core = require("oaichat.core")
local helper = require("spec.support.helper")
local proxy = require("spec.support.proxy")
local child = require("spec.support.child")
local util = require("spec.support.util")

local KEY = "sk-security-secret-0123456789abcdef"
local ECHO_HI = "Echo: hi (1 message)"

local srv

local function client(opts)
  opts = opts or {}
  opts.base_url = opts.base_url or srv.url
  opts.api_key = KEY
  if opts.max_retries == nil then opts.max_retries = 0 end
  return oaichat.new(opts)
end

local function completion(text)
  return { id = "chatcmpl-x", object = "chat.completion", created = 1, model = "m",
    choices = { { index = 0, message = { role = "assistant", content = text }, finish_reason = "stop" } } }
end

local function gzip(data)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  local p = assert(io.popen("gzip -c -n " .. path, "r"))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  return out
end

-- Every string reachable from v: tables, their keys and (with metatables)
-- their metatables, as a recursive dump such as vim.inspect shows them.
local function strings_of(v, metatables, out, seen)
  out, seen = out or {}, seen or {}
  if type(v) == "string" then
    out[#out + 1] = v
  elseif type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      strings_of(k, metatables, out, seen)
      strings_of(x, metatables, out, seen)
    end
    if metatables then strings_of(getmetatable(v), metatables, out, seen) end
  end
  return out
end

-- No 6-byte piece of the key in s (a cut key leaves its start behind).
local function assert_no_fragment(s, what)
  for i = 1, #KEY - 5 do
    local piece = KEY:sub(i, i + 5)
    assert.is_falsy(s:find(piece, 1, true), what .. " shows " .. piece .. " of the key: " .. s:sub(1, 300))
  end
end

local function assert_no_dump(v, what)
  for _, s in ipairs(strings_of(v, true)) do assert_no_fragment(s, what) end
end

local function assert_no_key(v, what)
  for _, s in ipairs(strings_of(v)) do
    assert.is_falsy(s:find(KEY, 1, true), what .. " holds the key: " .. s)
  end
end

describe("security", function()
  setup(function()
    srv = helper.server()
  end)

  before_each(function()
    srv:reset()
  end)

  describe("protocols", function()
    it("refuses a base_url that is not http(s) at oaichat.new", function()
      for _, url in ipairs({ "ftp://127.0.0.1/v1", "file:///etc/passwd", "gopher://127.0.0.1/",
        "scp://127.0.0.1/x", "dict://127.0.0.1:11211/", "127.0.0.1:8080/v1", "//127.0.0.1/v1" }) do
        local ok, msg = pcall(oaichat.new, { base_url = url, api_key = KEY })
        assert.is_false(ok, url)
        assert.is_truthy(tostring(msg):find("base_url must be an http:// or https:// URL", 1, true), msg)
        assert.is_falsy(tostring(msg):find(KEY, 1, true))
      end
    end)

    it("refuses a non-http(s) OAICHAT_BASE_URL from the environment too", function()
      local out, err_out, ok = child.run({ OAICHAT_BASE_URL = "file:///etc/passwd", OAICHAT_API_KEY = KEY }, [[
        local ok, msg = pcall(require("oaichat").new)
        io.write(tostring(ok), "|", tostring(msg))
      ]])
      assert.is_true(ok, err_out)
      assert.is_truthy(out:find("^false|.*base_url must be an http:// or https:// URL"), out)
    end)

    it("does not follow a redirect of the POST; the 3xx is an error of kind http", function()
      local elsewhere = srv.url:gsub("127%.0%.0%.1", "localhost") .. "/chat/completions"
      for _, status in ipairs({ 301, 302, 303, 307, 308 }) do
        srv:reset()
        srv:queue({ { status = status, body = "", headers = { Location = elsewhere } } })
        local c = client({ max_retries = 2 })
        local resp, err = c:chat("hi")
        assert.is_nil(resp)
        assert.are.same({ "http", status, false, 1 }, { err.kind, err.status, err.retryable, err.attempts })
        -- only the first request reached the server: the key never went to "localhost"
        local reqs = srv:requests()
        assert.are.equal(1, #reqs, "status " .. status)
        assert.are.equal("127.0.0.1:" .. srv.port, reqs[1].headers.host)
      end
    end)
  end)

  describe("proxies", function()
    local p

    before_each(function()
      p = proxy.start()
    end)

    after_each(function()
      p:stop()
    end)

    local function assert_proxied(seen)
      assert.are.equal(1, #seen)
      assert.are.equal(("POST %s/chat/completions HTTP/1.1"):format(srv.url), seen[1].line)
      assert.are.equal("Bearer " .. KEY, srv:last_request().headers.authorization)
    end

    it("sends an http request to the proxy option as an absolute-URI request", function()
      local c = client({ proxy = p.url })
      local resp, err = c:chat("hi")
      c:close()
      assert.is_nil(err)
      assert.are.equal(ECHO_HI, oaichat.text(resp))
      assert_proxied(p:requests())
    end)

    local CHAT = [[
      local oaichat = require("oaichat")
      local resp, err = oaichat.new({ max_retries = 0 }):chat("hi")
      io.write(resp and oaichat.text(resp) or tostring(err))
    ]]

    it("honours http_proxy from the environment", function()
      local out, err_out = child.run({ http_proxy = p.url, OAICHAT_BASE_URL = srv.url, OAICHAT_API_KEY = KEY }, CHAT)
      assert.are.equal("", err_out)
      assert.are.equal(ECHO_HI, out)
      assert_proxied(p:requests())
    end)

    it("honours no_proxy", function()
      local out, err_out = child.run({ http_proxy = p.url, no_proxy = "127.0.0.1",
        OAICHAT_BASE_URL = srv.url, OAICHAT_API_KEY = KEY }, CHAT)
      assert.are.equal("", err_out)
      assert.are.equal(ECHO_HI, out)
      assert.are.equal(0, #p:requests())
      assert.are.equal(1, #srv:requests())
    end)

    it("refuses a proxy option with control characters", function()
      assert.has_error(function() oaichat.new({ base_url = srv.url, proxy = p.url .. "\r\nX-Evil: 1" }) end,
        "oaichat.new: option proxy contains a control character (CR, LF, NUL...); refusing it")
    end)
  end)

  describe("limits", function()
    it("max_response_bytes stops a larger body as kind limit, per client and per call", function()
      local big = core.encode(completion(string.rep("x", 5000)))
      srv:queue({ { body = big }, { body = big }, { body = big } })
      local c = client({ max_response_bytes = 4096 })
      local resp, err = c:chat("hi")
      assert.is_nil(resp)
      assert.are.same({ "limit", false, 1 }, { err.kind, err.retryable, err.attempts })
      assert.is_truthy(err.message:find("max_response_bytes (4096 bytes)", 1, true), err.message)
      resp = c:chat("hi", { max_response_bytes = #big })
      assert.are.equal(string.rep("x", 5000), oaichat.text(resp))
      local _, err2 = client():chat("hi", { max_response_bytes = 100 })
      assert.are.equal("limit", err2.kind)
    end)

    it("max_response_bytes bounds the decoded size of a compressed body (no zip bomb)", function()
      local body = core.encode(completion(string.rep("a", 1000000)))
      local gz = gzip(body)
      assert.is_true(#gz < 10000)
      srv:queue({ { body = gz, headers = { ["Content-Encoding"] = "gzip" } } })
      local _, err = client({ max_response_bytes = 100000 }):chat("hi")
      assert.are.equal("limit", err.kind)
    end)

    it("max_response_bytes bounds a single SSE event as kind limit", function()
      local ev = { id = "c", object = "chat.completion.chunk", choices = { { index = 0,
        delta = { content = string.rep("y", 3000) } } } }
      srv:queue({ { sse = { ev, "[DONE]" } } })
      local chunk, err = client({ max_response_bytes = 1000 }):stream("hi"):next()
      assert.is_nil(chunk)
      assert.are.equal("limit", err.kind)
    end)

    it("decodes a gzip-encoded response, having offered Accept-Encoding", function()
      srv:queue({ { body = gzip(core.encode(completion("zipped answer"))),
        headers = { ["Content-Encoding"] = "gzip" } } })
      local resp, err = client():chat("hi")
      assert.is_nil(err)
      assert.are.equal("zipped answer", oaichat.text(resp))
      local offered = srv:last_request().headers["accept-encoding"]
      assert.is_truthy(offered and offered:find("gzip", 1, true), tostring(offered))
    end)

    it("decodes a gzip-encoded event stream", function()
      local events = 'data: {"choices":[{"index":0,"delta":{"content":"z"}}]}\n\ndata: [DONE]\n\n'
      srv:queue({ { body = gzip(events), headers = { ["Content-Encoding"] = "gzip",
        ["Content-Type"] = "text/event-stream" } } })
      local got = {}
      for chunk in client():stream("hi") do got[#got + 1] = chunk.choices[1].delta.content end
      assert.are.same({ "z" }, got)
    end)
  end)

  describe("hostile input from the server", function()
    local function chat_body(body, status)
      srv:reset()
      srv:queue({ { body = body, status = status } })
      return client():chat("hi")
    end

    it("invalid UTF-8 in a JSON body is kind decode", function()
      local resp, err = chat_body('{"id":"\255\254","choices":[]}')
      assert.is_nil(resp)
      assert.are.equal("decode", err.kind)
      assert.are.equal(200, err.status)
      assert.are.equal('{"id":"\255\254","choices":[]}', err.body)
    end)

    it("100k nested brackets are kind decode, not a crash", function()
      for _, body in ipairs({ string.rep("[", 100000), string.rep("[", 100000) .. string.rep("]", 100000),
        string.rep('{"a":', 100000) }) do
        local resp, err = chat_body(body)
        assert.is_nil(resp)
        assert.are.equal("decode", err.kind)
        assert.are.equal(4096, #err.body)
      end
    end)

    it("nesting and invalid UTF-8 in a stream chunk are kind decode", function()
      for _, data in ipairs({ string.rep("[", 100000), '{"choices":[{"delta":{"content":"\192\128"}}]}' }) do
        srv:reset()
        srv:queue({ { sse = { data } } })
        local chunk, err = client():stream("hi"):next()
        assert.is_nil(chunk)
        assert.are.equal("decode", err.kind)
      end
    end)

    it("a nested or binary error body of a 500 is kind http with its start", function()
      local resp, err = chat_body(string.rep("[", 100000), 500)
      assert.is_nil(resp)
      assert.are.same({ "http", 500, 4096 }, { err.kind, err.status, #err.body })
      local bytes = {}
      for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
      resp, err = chat_body(table.concat(bytes), 502)
      assert.is_nil(resp)
      assert.are.same({ "http", 502 }, { err.kind, err.status })
      assert.are.equal(table.concat(bytes), err.body)
      assert.is_falsy(tostring(err):find("[\r\n]"))
    end)

    it("a flood of response headers (400 KB) is kind limit, and the client still works", function()
      local headers = {}
      for i = 1, 40 do headers["X-Flood-" .. i] = string.rep("h", 10000) end
      srv:queue({ { headers = headers }, { headers = headers, sse = { "[DONE]" } } })
      local c = client()
      local resp, err = c:chat("hi")
      assert.is_nil(resp)
      assert.are.same({ "limit", false }, { err.kind, err.retryable })
      local chunk, serr = c:stream("hi"):next()
      assert.is_nil(chunk)
      assert.are.equal("limit", serr.kind)
      assert.are.equal(ECHO_HI, oaichat.text(c:chat("hi")))
    end)

    it("random bytes as a 200 body are kind decode", function()
      math.randomseed(7)
      for _ = 1, 20 do
        local bytes = {}
        for i = 1, 200 do bytes[i] = string.char(math.random(0, 255)) end
        local resp, err = chat_body(table.concat(bytes))
        assert.is_nil(resp)
        assert.are.equal("decode", err.kind)
      end
    end)
  end)

  describe("header injection", function()
    local BAD_VALUES = { "a\r\nX-Evil: 1", "a\nX-Evil: 1", "a\rX-Evil: 1", "a\0b" }

    it("refuses CR, LF or NUL in a client header value", function()
      for _, v in ipairs(BAD_VALUES) do
        local ok, msg = pcall(oaichat.new, { base_url = srv.url, headers = { ["X-Custom"] = v } })
        assert.is_false(ok)
        local want = 'header "X-Custom" contains CR, LF or NUL; refusing it (header injection)'
        assert.is_truthy(msg:find(want, 1, true), msg)
      end
    end)

    it("refuses them in a per-call header value before sending anything", function()
      local c = client()
      for _, v in ipairs(BAD_VALUES) do
        assert.has_error(function() c:chat("hi", { headers = { ["X-Custom"] = v } }) end)
        assert.has_error(function() c:stream("hi", { headers = { ["X-Custom"] = v } }) end)
        assert.has_error(function() c:chat_async("hi", { headers = { ["X-Custom"] = v } }) end)
      end
      assert.are.equal(0, #srv:requests())
    end)

    it("refuses header names that are not tokens", function()
      for _, name in ipairs({ "X-A\r\nX-Evil", "X-A: b", "X A", "", "X-A\0" }) do
        assert.has_error(function() oaichat.new({ base_url = srv.url, headers = { [name] = "1" } }) end)
        assert.has_error(function() client():chat("hi", { headers = { [name] = "1" } }) end)
      end
      assert.are.equal(0, #srv:requests())
    end)

    it("refuses CR or LF in user_agent", function()
      assert.has_error(function() oaichat.new({ base_url = srv.url, user_agent = "ua\r\nX-Evil: 1" }) end,
        "oaichat.new: option user_agent contains a control character (CR, LF, NUL...); refusing it")
    end)

    it("sends a good custom header exactly once", function()
      local resp = client({ headers = { ["X-Custom"] = "v 1" } }):chat("hi")
      assert.are.equal(ECHO_HI, oaichat.text(resp))
      assert.are.equal("v 1", srv:last_request().headers["x-custom"])
      assert.is_nil(srv:last_request().headers["x-evil"])
    end)
  end)

  describe("the API key", function()
    it("is in no field and no tostring of an error echoing it, in a body or a stream", function()
      local echo = "Incorrect API key provided: " .. KEY
      srv:queue({
        { status = 401, json = { error = { message = echo, type = "invalid_request_error", code = KEY } } },
        { status = 502, body = "<html>key " .. KEY .. "</html>" },
        { sse = { { error = { message = echo } } } },
      })
      local c = client()
      local _, e1 = c:chat("hi")
      local _, e2 = c:chat("hi")
      local _, e3 = c:stream("hi"):next()
      for i, e in ipairs({ e1, e2, e3 }) do
        assert_no_key(e, "error " .. i)
        assert.is_falsy(tostring(e):find(KEY, 1, true))
        assert.is_truthy(tostring(e):find("***", 1, true), tostring(e))
      end
      assert.are.same({ "api", "http", "stream" }, { e1.kind, e2.kind, e3.kind })
    end)

    it("is in no transport error, nor in tostring or the fields of a client", function()
      local c = client({ base_url = "http://127.0.0.1:1/v1" })
      local _, err = c:chat("hi")
      assert.are.equal("connection", err.kind)
      assert_no_key(err, "connection error")
      assert.is_falsy(tostring(c):find(KEY, 1, true))
      assert_no_key(c, "client")
    end)

    it("shows as Bearer *** in the OAICHAT_DEBUG=1 trace", function()
      local out, err_out, ok = child.run({ OAICHAT_DEBUG = "1", OAICHAT_BASE_URL = srv.url,
        OAICHAT_API_KEY = KEY }, [[
        local oaichat = require("oaichat")
        local c = oaichat.new({ max_retries = 0 })
        local resp = c:chat("hi")
        for _ in c:stream("again") do end
        io.write(oaichat.text(resp))
      ]])
      assert.is_true(ok, err_out)
      assert.are.equal(ECHO_HI, out)
      assert.is_truthy(err_out:find("Authorization: Bearer ***", 1, true), err_out)
      assert.is_truthy(err_out:find("POST " .. srv.url .. "/chat/completions", 1, true), err_out)
      assert.is_falsy(err_out:find(KEY, 1, true))
      assert.is_falsy(err_out:find(KEY:sub(4, 20), 1, true))
      -- the real header still went out
      assert.are.equal("Bearer " .. KEY, srv:last_request().headers.authorization)
    end)

    it("is redacted from a request body in the trace too", function()
      local _, err_out = child.run({ OAICHAT_DEBUG = "1", OAICHAT_BASE_URL = srv.url, OAICHAT_API_KEY = KEY },
        ([[require("oaichat").new({ max_retries = 0 }):chat("my key is %s")]]):format(KEY))
      assert.is_truthy(err_out:find("my key is ***", 1, true), err_out)
      assert.is_falsy(err_out:find(KEY, 1, true))
    end)

    it("is in no stream, request or conversation stream when dumped (as vim.inspect would)", function()
      srv:queue({ {}, { sse = { { error = { message = "boom" } } } }, {}, {}, {} })
      local c = client({ headers = { ["x-api-key"] = KEY } })
      local objects = {}
      local s = c:stream("hi", { headers = { ["api-key"] = KEY } })
      objects[#objects + 1] = s
      assert_no_dump(s, "a stream before its first step")
      assert.is_truthy(s:next())
      assert_no_dump(s, "a stream while running")
      util.drain(s)
      local failed = c:stream("hi")
      local _, err = util.drain(failed)
      assert.are.equal("stream", err.kind)
      objects[#objects + 1] = failed
      local r = c:chat_async("hi")
      assert_no_dump(r, "a request in flight")
      local done = r:poll(nil)
      assert.is_true(done)
      objects[#objects + 1] = r
      local conv = c:conversation({ system = "s" })
      local cs = conv:stream("hi")
      assert_no_dump(cs, "a conversation stream")
      for _ in cs do end
      objects[#objects + 1] = cs
      objects[#objects + 1] = conv
      for i, o in ipairs(objects) do assert_no_dump(o, "object " .. i .. " after the end") end
      assert_no_dump(c, "the client")
      assert.are.equal("***", c.headers["x-api-key"])
      -- the key still went out
      assert.are.equal("Bearer " .. KEY, srv:requests()[1].headers.authorization)
      assert.are.equal(KEY, srv:requests()[1].headers["api-key"])
      c:close()
    end)

    it("leaves no byte of a key straddling the 4 KiB body cut or the 200-byte message cut", function()
      -- the key starts a few bytes before each cut, so a cut made before
      -- redacting would leave its first bytes behind
      local at_body, at_msg = ("x"):rep(4096 - 10), ("y"):rep(200 - 12)
      local chunk_body = '{"choices": "' .. at_body:sub(14) .. KEY .. '"'
      srv:queue({
        { status = 500, body = at_body .. KEY .. ("z"):rep(100) },
        { status = 500, body = at_msg .. KEY .. " tail" },
        { status = 200, body = at_body .. KEY .. "not json" },
        { raw_events = { "data: " .. chunk_body .. "\n\n" } },
      })
      local c = client()
      local errs = {}
      for i = 1, 3 do
        local _, e = c:chat("hi")
        errs[i] = e
      end
      local _, e4 = c:stream("hi"):next()
      errs[4] = e4
      assert.are.same({ "http", "http", "decode", "decode" },
        { errs[1].kind, errs[2].kind, errs[3].kind, errs[4].kind })
      for i, e in ipairs(errs) do
        for _, s in ipairs(strings_of(e)) do assert_no_fragment(s, "error " .. i) end
        assert_no_fragment(tostring(e), "tostring of error " .. i)
      end
      -- the cut still happens, and the masked key is marked
      assert.are.equal(4096, #errs[1].body)
      assert.is_truthy(errs[1].body:find("x***", 1, true), errs[1].body:sub(-20))
      assert.is_truthy(errs[2].message:find("y***", 1, true), errs[2].message)
      assert.is_truthy(errs[4].body:find("***", 1, true))
    end)

    it("masks a key the server cut off mid-way at the end of a body", function()
      srv:queue({ { status = 500, body = "your key " .. KEY:sub(1, 20) } })
      local _, err = client():chat("hi")
      for _, s in ipairs(strings_of(err)) do assert_no_fragment(s, "error") end
      assert.is_truthy(err.body:find("your key ***", 1, true), err.body)
    end)

    it("keeps credentials sent in other headers out of errors, their headers and tostring", function()
      local anthropic, bearer = "sk-ant-other-credential-0011223344", "tok-bearer-other-5566778899"
      local function echo(secret)
        return { status = 401, headers = { ["x-echo"] = "got " .. secret },
          json = { error = { message = "bad key " .. secret, code = "invalid_api_key" } } }
      end
      srv:queue({ echo(anthropic), { status = 500, body = ("x"):rep(4090) .. anthropic },
        echo(bearer), { sse = { { error = { message = "stream says " .. anthropic } } } } })
      local c = oaichat.new({ base_url = srv.url, max_retries = 0, headers = { ["x-api-key"] = anthropic } })
      local errs = {}
      errs[1] = select(2, c:chat("hi"))
      errs[2] = select(2, c:chat("hi"))
      errs[3] = select(2, c:chat("hi", { headers = { Authorization = "Bearer " .. bearer } }))
      errs[4] = select(2, c:stream("hi"):next())
      for i, e in ipairs(errs) do
        for _, secret in ipairs({ anthropic, bearer }) do
          for _, str in ipairs(strings_of(e)) do
            for j = 1, #secret - 5 do
              assert.is_falsy(str:find(secret:sub(j, j + 5), 1, true), "error " .. i .. " shows " .. str:sub(1, 200))
            end
          end
          assert.is_falsy(tostring(e):find(secret:sub(1, 10), 1, true), tostring(e))
        end
      end
      -- response headers in an error (err.headers) are masked too
      local e = require("oaichat.errors").new("api", "m", { key = { anthropic, bearer },
        headers = { ["x-echo"] = "got " .. anthropic, ["x-b"] = bearer } })
      assert.are.same({ ["x-echo"] = "got ***", ["x-b"] = "***" }, e.headers)
      assert.are.equal("bad key ***", errs[3].message)
      assert.are.equal(anthropic, srv:requests()[1].headers["x-api-key"])
      c:close()
    end)

    it("masks every credential header, in any case, in the OAICHAT_DEBUG=1 trace", function()
      local others = { "sk-other-azure-0000111122223333", "sk-other-anthropic-4444555566667777",
        "sk-other-gemini-88889999aaaabbbb", "sk-other-bearer-ccccddddeeeeffff" }
      local _, err_out, ok = child.run({ OAICHAT_DEBUG = "1" }, ([[
        local oaichat = require("oaichat")
        local c = oaichat.new({ base_url = %q, api_key = %q, max_retries = 0, headers = {
          ["api-key"] = %q, ["X-API-KEY"] = %q, ["x-goog-api-key"] = %q,
          ["X-Custom"] = "prefix-" .. %q .. "-suffix" } })
        assert(c:chat("hi"))
        assert(c:chat("hi", { headers = { AUTHORIZATION = "Bearer " .. %q } }))
        for _ in c:stream("again", { headers = { authorization = "Bearer " .. %q } }) do end
        local c2 = oaichat.new({ base_url = %q, max_retries = 0, headers = { Authorization = %q } })
        assert(c2:chat("hi"))
      ]]):format(srv.url, KEY, others[1], others[2], others[3], KEY, others[4], KEY, srv.url, others[4]))
      assert.is_true(ok, err_out)
      for _, secret in ipairs({ KEY, others[1], others[2], others[3], others[4] }) do
        for i = 1, #secret - 5 do
          local piece = secret:sub(i, i + 5)
          assert.is_falsy(err_out:find(piece, 1, true), "the trace shows " .. piece .. ":\n" .. err_out)
        end
      end
      for _, line in ipairs({ "api-key: ***", "X-API-KEY: ***", "x-goog-api-key: ***", "X-Custom: ***",
        "AUTHORIZATION: Bearer ***", "authorization: Bearer ***", "Authorization: ***" }) do
        assert.is_truthy(err_out:find("oaichat:   " .. line .. "\n", 1, true), line .. " missing:\n" .. err_out)
      end
      -- the real headers still went out
      assert.are.equal(others[4], srv:last_request().headers.authorization)
    end)

    it("prints no trace without OAICHAT_DEBUG", function()
      local out, err_out = child.run({ OAICHAT_BASE_URL = srv.url, OAICHAT_API_KEY = KEY }, [[
        local oaichat = require("oaichat")
        io.write(oaichat.text(oaichat.new({ max_retries = 0 }):chat("hi")))
      ]])
      assert.are.equal(ECHO_HI, out)
      assert.are.equal("", err_out)
    end)
  end)

  describe("credentials in a URL", function()
    local PW, QKEY = "pw-secret-9", "qs-secret-42"
    local function with_user(url) return (url:gsub("^http://", "http://user:" .. PW .. "@")) end

    local function assert_masked(v, what)
      for _, s in ipairs(strings_of(v)) do
        assert.is_falsy(s:find(PW, 1, true), what .. " shows the password: " .. s)
        assert.is_falsy(s:find(QKEY, 1, true), what .. " shows the query key: " .. s)
      end
    end

    it("masks userinfo and credential query values in tostring, fields and connection errors", function()
      local c = oaichat.new({ base_url = "http://user:" .. PW .. "@127.0.0.1:1/v1", api_key = "",
        max_retries = 0, proxy = "http://puser:" .. PW .. "@127.0.0.1:1" })
      assert.are.equal("oaichat.client (http://user:***@127.0.0.1:1/v1, model " .. c.model .. ")", tostring(c))
      assert.are.equal("http://user:***@127.0.0.1:1/v1", c.base_url)
      assert_masked(c, "client")
      c:close()
      c = oaichat.new({ base_url = "http://user:" .. PW .. "@127.0.0.1:1/v1", api_key = "", max_retries = 0 })
      local _, err = c:chat("hi")
      assert.are.equal("connection", err.kind)
      assert.is_truthy(tostring(err):find("(http://user:***@127.0.0.1:1/v1/chat/completions)", 1, true),
        tostring(err))
      assert_masked(err, "error")
      assert_masked(tostring(err), "tostring(err)")
      for _, q in ipairs({ "key", "api-key", "token", "access_token" }) do
        local cq = oaichat.new({ base_url = "http://127.0.0.1:1/v1?" .. q .. "=" .. QKEY, api_key = "",
          max_retries = 0 })
        local _, e = cq:chat("hi")
        assert.is_truthy(tostring(e):find("?" .. q .. "=***", 1, true), tostring(e))
        assert_masked({ tostring(cq), cq, e, tostring(e) }, q)
      end
      local ok, msg = pcall(oaichat.new, { base_url = "ftp://user:" .. PW .. "@127.0.0.1/v1" })
      assert.is_false(ok)
      assert.is_truthy(tostring(msg):find("ftp://user:***@127.0.0.1/v1", 1, true), msg)
      assert_masked(tostring(msg), "misuse message")
    end)

    it("masks them in a server's echo and the 404 hint, while the request uses the real URL", function()
      srv:queue{ { status = 404, body = "Cannot POST /v1?key=" .. QKEY .. " as user:" .. PW } }
      local c = oaichat.new({ base_url = with_user(srv.url) .. "?key=" .. QKEY, api_key = "", max_retries = 0 })
      local _, err = c:chat("hi")
      assert.are.equal(404, err.status)
      assert.is_truthy(tostring(err):find("check base_url (http://user:***@", 1, true), tostring(err))
      assert_masked({ err, tostring(err) }, "404 error")
      -- libcurl sent the URL's userinfo as Basic auth: the real URL was used
      assert.are.equal("Basic dXNlcjpwdy1zZWNyZXQtOQ==", srv:last_request().headers.authorization)
    end)

    it("shows the URL masked in the OAICHAT_DEBUG=1 trace", function()
      local url = with_user(srv.url)
      local _, err_out, ok = child.run({ OAICHAT_DEBUG = "1" }, ([[
        local oaichat = require("oaichat")
        local c = oaichat.new({ base_url = %q, api_key = "", max_retries = 0 })
        assert(c:chat("hi"))
        assert(c:models())
      ]]):format(url))
      assert.is_true(ok, err_out)
      local shown = srv.url:gsub("^http://", "http://user:***@")
      assert.is_truthy(err_out:find("POST " .. shown .. "/chat/completions\n", 1, true), err_out)
      assert.is_truthy(err_out:find("GET " .. shown .. "/models\n", 1, true), err_out)
      assert_masked(err_out, "the trace")
      assert.are.equal("Basic dXNlcjpwdy1zZWNyZXQtOQ==", srv:last_request().headers.authorization)
    end)
  end)

  describe("a short placeholder key", function()
    it("is not searched for inside messages (keys under 8 bytes), so no word is garbled", function()
      for _, key in ipairs({ "k", "EMPTY", "ollama", "dummy12" }) do
        srv:queue{ { status = 404, json = { error = { message = "no model ollama-dummy12 (EMPTY), check it",
          type = "mock_error" } } } }
        local c = oaichat.new({ base_url = srv.url, api_key = key, max_retries = 0 })
        local _, err = c:chat("hi")
        assert.are.equal("no model ollama-dummy12 (EMPTY), check it", err.message, key)
        assert.are.equal("mock_error", err.type, key)
        assert.is_truthy(tostring(err):find("check base_url (" .. srv.url .. ")", 1, true), tostring(err))
        assert.is_falsy(tostring(err):find("***", 1, true), tostring(err))
        c:close()
      end
    end)

    it("is still masked as a credential header's value, in the client's fields and the trace", function()
      local c = oaichat.new({ base_url = srv.url, api_key = "EMPTY", headers = { ["X-Api-Key"] = "none" } })
      assert.are.equal("***", c.headers["X-Api-Key"])
      c:close()
      local _, err_out, ok = child.run({ OAICHAT_DEBUG = "1" }, ([[
        local oaichat = require("oaichat")
        local c = oaichat.new({ base_url = %q, api_key = "EMPTY", max_retries = 0,
          headers = { ["X-Api-Key"] = "none" } })
        assert(c:chat("hi"))
      ]]):format(srv.url))
      assert.is_true(ok, err_out)
      assert.is_truthy(err_out:find("Authorization: Bearer ***\n", 1, true), err_out)
      assert.is_truthy(err_out:find("X-Api-Key: ***\n", 1, true), err_out)
      assert.is_falsy(err_out:find("EMPTY", 1, true), err_out)
      assert.are.equal("Bearer EMPTY", srv:last_request().headers.authorization)
    end)
  end)
end)
