-- client:chat against the real loopback server: what goes on the wire
-- (body, headers, method, path), what comes back, connection reuse,
-- the module-level default client, async requests and chat_many.
local oaichat = require("oaichat")
local core = require("oaichat.core")
local cjson = require("cjson")
local server = require("spec.support.server")
local helper = require("spec.support.helper")

local KEY = "sk-test-0123456789"

describe("client:chat", function()
  local srv, client

  -- The last recorded request, its body decoded by the core (exact integers).
  local function last()
    local r = srv:last_request()
    assert.is_table(r)
    r.json = assert(core.decode(r.body))
    return r
  end

  before_each(function()
    srv = helper.server()
    srv:reset()
    client = oaichat.new{ base_url = srv.url, api_key = KEY, max_retries = 0 }
  end)

  after_each(function()
    client:close()
  end)

  describe("request body", function()
    it("sends model, messages and params exactly (the issue's example)", function()
      local messages = {
        { role = "system", content = "Be brief." },
        { role = "user", content = "Hello" },
      }
      local resp, err = client:chat(messages, { temperature = 0.2, top_k = 40 })
      assert.is_nil(err)
      assert.equal("Echo: Hello (2 messages; system prompt; params: temperature=0.2, top_k=40)",
        oaichat.text(resp))
      assert.same({
        model = "gpt-5.5",
        messages = {
          { role = "system", content = "Be brief." },
          { role = "user", content = "Hello" },
        },
        temperature = 0.2, top_k = 40,
      }, last().json)
    end)

    it("turns a plain string into one user message", function()
      assert.is_table(client:chat("Hi there"))
      assert.same({ model = "gpt-5.5", messages = { { role = "user", content = "Hi there" } } }, last().json)
    end)

    it("sends text and image_url content parts and a multi-turn history as given", function()
      local messages = {
        { role = "system", content = "You describe images." },
        { role = "user", content = "Hello" },
        { role = "assistant", content = "Hi! Send me a picture." },
        { role = "user", content = {
          { type = "text", text = "What is in this image?" },
          { type = "image_url", image_url = { url = "https://example.com/cat.png", detail = "low" } },
        } },
      }
      local resp, err = client:chat(messages)
      assert.is_nil(err)
      assert.is_string(oaichat.text(resp))
      assert.same({ model = "gpt-5.5", messages = messages }, last().json)
    end)

    it("passes every parameter through, vendor keys and nested tables included", function()
      local opts = {
        temperature = 0.7, top_p = 0.9, top_k = 40, max_tokens = 100, stop = { "\n\n", "END" },
        repetition_penalty = 1.1, chat_template_kwargs = { enable_thinking = false },
        logit_bias = { ["50256"] = -100 }, user = "u-1", n = 1,
      }
      assert.is_table(client:chat("x", opts))
      local want = { model = "gpt-5.5", messages = { { role = "user", content = "x" } } }
      for k, v in pairs(opts) do want[k] = v end
      assert.same(want, last().json)
    end)

    it("never sends the reserved transport keys", function()
      local resp, err = client:chat("x", { timeout = 5, idle_timeout = 5, max_retries = 1,
        headers = { ["X-Trace"] = "t1" }, max_response_bytes = 100000, seed = 7 })
      assert.is_nil(err)
      assert.is_table(resp)
      local r = last()
      assert.same({ model = "gpt-5.5", messages = { { role = "user", content = "x" } }, seed = 7 }, r.json)
      assert.equal("t1", r.headers["x-trace"])
    end)

    it("merges opts over client.params, and opts.model overrides the client's model", function()
      local c = oaichat.new{ base_url = srv.url, api_key = KEY, model = "m-client",
        params = { temperature = 0.7, top_k = 20, presence_penalty = 0.5 } }
      assert.is_table(c:chat("x", { temperature = 0.1, top_p = 0.5 }))
      assert.same({ model = "m-client", messages = { { role = "user", content = "x" } },
        temperature = 0.1, top_k = 20, top_p = 0.5, presence_penalty = 0.5 }, last().json)
      assert.is_table(c:chat("x", { model = "m-call" }))
      assert.same({ model = "m-call", messages = { { role = "user", content = "x" } },
        temperature = 0.7, top_k = 20, presence_penalty = 0.5 }, last().json)
      -- The params of the client are not changed by a call.
      assert.same({ temperature = 0.7, top_k = 20, presence_penalty = 0.5 }, c.params)
      c:close()
    end)

    it("sends a model given in client.params", function()
      local c = oaichat.new{ base_url = srv.url, api_key = KEY, params = { model = "p-model" } }
      assert.is_table(c:chat("x"))
      assert.equal("p-model", last().json.model)
      c:close()
    end)

    it("sends a 15-digit seed and a 2^53 integer exactly", function()
      -- Past 2^53 only where integers exist (5.3+); 5.1 numbers are doubles.
      local big = math.type and "9007199254740993" or "9007199254740992"
      assert.is_table(client:chat("x", { seed = 123456789012345, big = tonumber(big),
        neg = -9007199254740992 }))
      local r = last()
      assert.truthy(r.body:find('"seed":123456789012345[,}]'))
      assert.truthy(r.body:find('"big":' .. big .. '[,}]'))
      assert.truthy(r.body:find('"neg":%-9007199254740992[,}]'))
      assert.equal(123456789012345, r.json.seed)
    end)

    it("sends oaichat.null as JSON null", function()
      local messages = { { role = "assistant", content = oaichat.null,
        tool_calls = { { id = "c1", type = "function", ["function"] = { name = "f", arguments = "{}" } } } },
        { role = "tool", tool_call_id = "c1", content = "42" } }
      assert.is_table(client:chat(messages, { stop = oaichat.null }))
      local r = last()
      assert.truthy(r.body:find('"stop":null', 1, true))
      assert.truthy(r.body:find('"content":null', 1, true))
      assert.equal(oaichat.null, r.json.stop)
      assert.same(messages, r.json.messages)
    end)
  end)

  describe("headers, method and path", function()
    it("POSTs to {base_url}/chat/completions with the JSON, auth and agent headers", function()
      assert.is_table(client:chat("x"))
      local r = last()
      assert.equal("POST", r.method)
      assert.equal("/v1/chat/completions", r.path)
      assert.equal("application/json", r.headers["content-type"])
      assert.equal("application/json", r.headers["accept"])
      assert.equal("Bearer " .. KEY, r.headers["authorization"])
      assert.equal(tostring(#r.body), r.headers["content-length"])
      local ua = r.headers["user-agent"]
      assert.truthy(ua:match("^oaichat/%d+%.%d+%.%d+ libcurl/%d+%.%d+%.%d+ Lua/5%.%d"), ua)
      assert.equal(("oaichat/%s libcurl/%s Lua/%s"):format(oaichat.VERSION, core.curl_version,
        _VERSION:match("%d+%.%d+")), ua:match("^%S+ %S+ %S+"))
      assert.is_nil(r.headers["expect"])
    end)

    it("never doubles the slash after a base_url with a trailing slash", function()
      for _, url in ipairs({ srv.url .. "/", srv.url .. "//" }) do
        local c = oaichat.new{ base_url = url, api_key = KEY }
        assert.is_table(c:chat("x"))
        assert.equal("/v1/chat/completions", last().path)
        c:close()
      end
    end)

    it("works with a base_url without a path", function()
      local c = oaichat.new{ base_url = srv.base_url, api_key = KEY }
      assert.is_table(c:chat("x"))
      assert.equal("/chat/completions", last().path)
      c:close()
    end)

    it("sends no Expect header and the whole body for a 2 MB request", function()
      local big = ("abcdefghij"):rep(200 * 1024)
      local resp, err = client:chat(big, { timeout = 5 })
      assert.is_nil(err)
      assert.is_table(resp)
      -- Without the header libcurl has nothing to wait for (no clock needed).
      local r = last()
      assert.is_nil(r.headers["expect"])
      assert.equal(big, r.json.messages[1].content)
    end)

    it("sends the client's custom headers, and opts.headers merge over them", function()
      local c = oaichat.new{ base_url = srv.url, api_key = KEY,
        headers = { ["X-Org"] = "org-1", ["X-Team"] = "blue", ["OpenAI-Beta"] = "b1" } }
      assert.is_table(c:chat("x"))
      local h = last().headers
      assert.equal("org-1", h["x-org"])
      assert.equal("blue", h["x-team"])
      assert.equal("b1", h["openai-beta"])
      assert.is_table(c:chat("x", { headers = { ["x-team"] = "red", ["X-Call"] = "c" } }))
      local r = last()
      assert.equal("org-1", r.headers["x-org"])
      assert.equal("red", r.headers["x-team"])
      assert.equal("c", r.headers["x-call"])
      assert.equal("Bearer " .. KEY, r.headers["authorization"])
      assert.equal("application/json", r.headers["accept"])
      -- One header line per name: the override replaced the client's value.
      local teams = 0
      for _, h2 in ipairs(r.raw_headers) do
        if h2[1]:lower() == "x-team" then teams = teams + 1 end
      end
      assert.equal(1, teams)
      -- The next call without opts.headers is back to the client's headers.
      assert.is_table(c:chat("x"))
      assert.equal("blue", last().headers["x-team"])
      assert.is_nil(last().headers["x-call"])
      c:close()
    end)

    it("lets opts.headers replace Authorization", function()
      assert.is_table(client:chat("x", { headers = { Authorization = "Bearer other" } }))
      assert.equal("Bearer other", last().headers["authorization"])
    end)

    it("sends no Authorization header without a key", function()
      local c = oaichat.new{ base_url = srv.url, api_key = "" }
      assert.is_table(c:chat("x"))
      assert.is_nil(last().headers["authorization"])
      c:close()
    end)
  end)

  describe("response decoding", function()
    local canned = {
      id = "chatcmpl-abc", object = "chat.completion", created = 1700000000, model = "gpt-5.5-2025",
      system_fingerprint = "fp_1",
      choices = { { index = 0, finish_reason = "stop", logprobs = cjson.null,
        message = { role = "assistant", content = "Hello there", refusal = cjson.null } } },
      usage = { prompt_tokens = 1000, completion_tokens = 904, total_tokens = 1904,
        completion_tokens_details = { reasoning_tokens = 128 } },
      vendor_extra = { nested = { 1, 2, 3 } },
    }

    it("returns the JSON exactly as sent, with oaichat.text", function()
      srv:queue{ { json = canned, headers = { ["x-request-id"] = "req_ok" } } }
      local resp, err = client:chat("x")
      assert.is_nil(err)
      local want = {
        id = "chatcmpl-abc", object = "chat.completion", created = 1700000000, model = "gpt-5.5-2025",
        system_fingerprint = "fp_1",
        choices = { { index = 0, finish_reason = "stop", logprobs = oaichat.null,
          message = { role = "assistant", content = "Hello there", refusal = oaichat.null } } },
        usage = { prompt_tokens = 1000, completion_tokens = 904, total_tokens = 1904,
          completion_tokens_details = { reasoning_tokens = 128 } },
        vendor_extra = { nested = { 1, 2, 3 } },
      }
      assert.same(want, resp)
      assert.equal("Hello there", oaichat.text(resp))
      assert.equal("1904", tostring(resp.usage.total_tokens))
      assert.equal("1700000000", tostring(resp.created))
    end)

    it("oaichat.text gives nil without text content and raises on a non-table", function()
      assert.is_nil(oaichat.text({ choices = {} }))
      assert.is_nil(oaichat.text({ choices = { { message = { content = oaichat.null } } } }))
      assert.has_error(function() oaichat.text(nil) end,
        "oaichat.text: expected a response table, got nil")
    end)

    it("answers the default mock completion with the expected shape", function()
      local resp = assert(client:chat("Hello"))
      assert.equal("chat.completion", resp.object)
      assert.equal("gpt-5.5", resp.model)
      assert.equal("assistant", resp.choices[1].message.role)
      assert.equal("stop", resp.choices[1].finish_reason)
      assert.equal(resp.usage.prompt_tokens + resp.usage.completion_tokens, resp.usage.total_tokens)
    end)
  end)

  describe("connections", function()
    it("reuses one TCP connection for sequential chats", function()
      local before = srv:stats().connections
      local c = oaichat.new{ base_url = srv.url, api_key = KEY }
      for i = 1, 4 do
        local resp, err = c:chat("turn " .. i)
        assert.is_nil(err)
        assert.truthy(oaichat.text(resp):find("turn " .. i, 1, true))
      end
      -- One connection for the client, one for this control request.
      assert.equal(before + 2, srv:stats().connections)
      local reqs = srv:requests()
      assert.equal(4, #reqs)
      for i = 2, 4 do assert.equal(reqs[1].conn, reqs[i].conn) end
      c:close()
    end)

    it("opens a new connection when the server closed the previous one", function()
      srv:queue{ { keep_alive = false } }
      assert.is_table(client:chat("a"))
      assert.is_table(client:chat("b"))
      local reqs = srv:requests()
      assert.equal(2, #reqs)
      assert.are_not.equal(reqs[1].conn, reqs[2].conn)
    end)

    it("tostring(client) shows the URL and model, never the key", function()
      local s = tostring(client)
      assert.equal(("oaichat.client (%s, model gpt-5.5)"):format(srv.url), s)
      assert.is_nil(s:find(KEY, 1, true))
    end)
  end)

  describe("module level", function()
    -- Runs a Lua chunk in a child process with the given environment;
    -- returns its stdout.
    local function run_child(env, code)
      local parts = { "env" }
      for _, name in ipairs({ "OAICHAT_API_KEY", "OAICHAT_BASE_URL", "OAICHAT_MODEL", "OPENAI_API_KEY",
        "OPENAI_BASE_URL", "STARMAGIC_API_KEY", "OAICHAT_DEBUG" }) do
        parts[#parts + 1] = "-u " .. name
      end
      for name, value in pairs(env) do parts[#parts + 1] = ("%s='%s'"):format(name, value) end
      parts[#parts + 1] = ("LUA_PATH='%s' LUA_CPATH='%s'"):format(package.path, package.cpath)
      parts[#parts + 1] = ("'%s' -e \"%s\" 2>&1"):format(server.interpreter(), code)
      local p = assert(io.popen(table.concat(parts, " ")))
      local out = p:read("*a")
      p:close()
      return out
    end

    it("oaichat.chat uses a default client configured from the environment", function()
      local out = run_child({ OAICHAT_BASE_URL = srv.url, OAICHAT_API_KEY = "sk-env-1", OAICHAT_MODEL = "env-model" },
        "local o = require('oaichat'); local r, e = o.chat('Hello env', {top_k = 3}); "
        .. "print(r and o.text(r) or tostring(e)); print(o.default() == o.default())")
      assert.equal("Echo: Hello env (1 message; params: top_k=3)\ntrue\n", out)
      local r = last()
      assert.equal("Bearer sk-env-1", r.headers["authorization"])
      assert.same({ model = "env-model", top_k = 3, messages = { { role = "user", content = "Hello env" } } }, r.json)
    end)

    it("the OPENAI_* pair configures the default client", function()
      local out = run_child({ OPENAI_BASE_URL = srv.url, OPENAI_API_KEY = "sk-openai-1" },
        "local o = require('oaichat'); local r, e = o.chat('Hi'); print(r and o.text(r) or tostring(e))")
      assert.equal("Echo: Hi (1 message)\n", out)
      assert.equal("Bearer sk-openai-1", last().headers["authorization"])
    end)

    it("never sends STARMAGIC_API_KEY to another base URL", function()
      local out = run_child({ OAICHAT_BASE_URL = srv.url, STARMAGIC_API_KEY = "sk-star-1" },
        "local o = require('oaichat'); local r, e = o.chat('Hi'); print(r and o.text(r) or tostring(e))")
      assert.equal("Echo: Hi (1 message)\n", out)
      assert.is_nil(last().headers["authorization"])
    end)
  end)

  describe("chat_async", function()
    it("returns at once; poll(0) never blocks; the request completes later", function()
      -- The reply is held until srv:release(): a chat_async or poll that
      -- waited for it could only return done (after the mock's 30 s safety).
      srv:queue{ { hold = true } }
      local req = client:chat_async("slow one")
      local done, resp, err = req:poll(0)
      assert.is_false(done)
      assert.is_nil(resp)
      assert.is_nil(err)
      for _ = 1, 20 do assert.is_false(req:poll(0)) end
      -- poll(ms) waits its time out and returns, the reply still held.
      local t1 = core.now()
      assert.is_false(req:poll(50))
      assert.is_true(core.now() - t1 >= 0.04)
      assert.equal(1, srv:release().releases)
      local polls = 0
      repeat
        done, resp, err = req:poll(20)
        polls = polls + 1
      until done or polls > 200
      assert.is_true(done)
      assert.is_nil(err)
      assert.equal("Echo: slow one (1 message)", oaichat.text(resp))
      -- Polling a finished request gives the same answer again.
      local done2, resp2 = req:poll(0)
      assert.is_true(done2)
      assert.equal(resp, resp2)
      req:close()
    end)

    it("poll(nil) waits until done and reports errors as nil, err", function()
      srv:queue{ { status = 400, json = { error = { message = "bad", type = "invalid_request_error" } } } }
      local req = client:chat_async("x")
      local done, resp, err = req:poll()
      assert.is_true(done)
      assert.is_nil(resp)
      assert.equal("api", err.kind)
      assert.equal(400, err.status)
      assert.equal("bad", err.message)
    end)

    it("close() cancels a pending request", function()
      -- Held until released, which never happens: a close() that waited for
      -- the reply would return only at the mock's 30 s safety, as "done".
      srv:queue{ { hold = true } }
      local req = client:chat_async("x")
      local polls = 0
      repeat
        assert.is_false(req:poll(10))
        polls = polls + 1
      until srv:stats().held == 1 or polls > 500
      req:close()
      assert.equal(1, srv:stats().held) -- close() did not wait for the reply
      local done, resp, err = req:poll(0)
      assert.is_true(done)
      assert.is_nil(resp)
      assert.equal("canceled", err.kind)
      assert.equal(0, client:pending())
    end)

    it("raises on bad arguments at once", function()
      assert.has_error(function() client:chat_async(42) end,
        "client:chat_async: messages must be an array of messages or a string, got number")
    end)
  end)

  describe("chat_many", function()
    it("returns results in input order with an {error=} entry", function()
      local list = {}
      for i = 1, 6 do list[i] = { { { role = "user", content = "item " .. i } } } end
      list[4] = { "item 4", { max_response_bytes = 10 } }
      local results = client:chat_many(list, { concurrency = 3 })
      assert.equal(6, #results)
      for i, res in ipairs(results) do
        if i == 4 then
          assert.is_nil(res.choices)
          assert.equal("limit", res.error.kind)
        else
          assert.equal(("Echo: item %d (1 message)"):format(i), oaichat.text(res))
        end
      end
      assert.equal(6, #srv:requests())
    end)

    it("runs up to `concurrency` requests at once", function()
      srv:queue{ { delay_ms = 300 }, { delay_ms = 300 }, { delay_ms = 300 } }
      local results = client:chat_many({ { "a" }, { "b" }, { "c" } }, { concurrency = 3 })
      -- HTTP/1.1 carries one request at a time: three in flight at once
      -- took three connections (one after another would reuse one).
      local conns = {}
      for _, r in ipairs(srv:requests()) do conns[r.conn] = true end
      local n = 0
      for _ in pairs(conns) do n = n + 1 end
      assert.equal(3, n)
      assert.equal("Echo: a (1 message)", oaichat.text(results[1]))
      assert.equal("Echo: b (1 message)", oaichat.text(results[2]))
      assert.equal("Echo: c (1 message)", oaichat.text(results[3]))
    end)

    it("concurrency = 1 runs them one after another on one connection", function()
      local results = client:chat_many({ { "a" }, { "b" }, { "c" } }, { concurrency = 1 })
      assert.equal(3, #results)
      local reqs = srv:requests()
      assert.equal(reqs[1].conn, reqs[3].conn)
      assert.equal("Echo: a (1 message)", oaichat.text(results[1]))
      assert.equal("Echo: c (1 message)", oaichat.text(results[3]))
    end)

    it("accepts {messages=, opts=} items and an empty list", function()
      local results = client:chat_many({ { messages = "m", opts = { top_k = 1 } } })
      assert.equal("Echo: m (1 message; params: top_k=1)", oaichat.text(results[1]))
      assert.same({}, client:chat_many({}))
    end)

    it("raises on a bad list, item or concurrency", function()
      assert.has_error(function() client:chat_many("x") end,
        "client:chat_many: list must be an array of {messages, opts}, got string")
      assert.has_error(function() client:chat_many({ "x" }) end,
        "client:chat_many: list[1] must be a table {messages, opts}")
      assert.has_error(function() client:chat_many({}, { concurrency = 0 }) end,
        "client:chat_many: concurrency must be a number >= 1")
      assert.equal(0, #srv:requests())
    end)

    it("checks every item before sending any", function()
      local ok, msg = pcall(function() client:chat_many({ { "a" }, { "b" }, { { { role = 1 } } } }) end)
      assert.is_false(ok)
      assert.truthy(msg:find("client:chat_many: messages[1].role must be a string, got number", 1, true), msg)
      assert.truthy(msg:find("^[^:]*chat_spec%.lua:%d+:"), msg)
      ok, msg = pcall(client.chat_many, client, { { "a" }, 5 })
      assert.is_false(ok)
      assert.truthy(msg:find("client:chat_many: list[2] must be a table {messages, opts}", 1, true), msg)
      assert.equal(0, client:pending())
      assert.equal(0, #srv:requests())
    end)

    it("leaves nothing in flight when on_retry raises", function()
      local c = oaichat.new{ base_url = srv.url, api_key = KEY, max_retries = 1,
        on_retry = function() error("stop here") end }
      srv:queue{ { status = 500, headers = { ["retry-after-ms"] = "0" } }, { delay_ms = 500 }, { delay_ms = 500 } }
      local ok, msg = pcall(c.chat_many, c, { { "a" }, { "b" }, { "c" } }, { concurrency = 3 })
      assert.is_false(ok)
      assert.truthy(tostring(msg):find("stop here", 1, true))
      assert.equal(0, c:pending())
      c:close()
    end)
  end)
end)
