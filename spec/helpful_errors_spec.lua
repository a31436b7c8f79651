-- Errors that tell the user what to do (issue 13.7): where a rejected key
-- came from, a base URL hint on 404, the attempts behind a connection
-- error, and chat with stream = true pointing to client:stream.
local oaichat = require("oaichat")
local child = require("spec.support.child")
local helper = require("spec.support.helper")
local util = require("spec.support.util")

local UNAUTHORIZED = { status = 401, json = { error = { message = "Incorrect API key provided",
  type = "invalid_request_error", code = "invalid_api_key" } } }

describe("helpful errors", function()
  local srv

  before_each(function()
    srv = helper.server()
    srv:reset()
  end)

  describe("401", function()
    it("names the api_key option when the key was given", function()
      local c = oaichat.new{ base_url = srv.url, api_key = "sk-wrong-123456" }
      srv:queue{ UNAUTHORIZED }
      local _, err = c:chat("hi")
      assert.equal("Incorrect API key provided", err.message)
      assert.equal("oaichat: api error 401 (invalid_api_key): Incorrect API key provided"
        .. " -- the API key came from the api_key option of oaichat.new; check it", tostring(err))
      assert.is_nil(tostring(err):find("sk-wrong", 1, true))
      c:close()
    end)

    it("names the variable the key came from (child processes with their own environment)", function()
      local code = [[
        local o = require("oaichat")
        local c = o.new{ provider = os.getenv("P") }
        local _, e = c:chat("hi")
        io.write(tostring(e))
      ]]
      srv:queue{ UNAUTHORIZED }
      local out = child.run({ P = "starmagic", OAICHAT_BASE_URL = srv.url, OAICHAT_API_KEY = "sk-env-9" }, code)
      assert.truthy(out:find(" -- the API key came from $OAICHAT_API_KEY; check it, or give api_key to oaichat.new",
        1, true), out)
      srv:queue{ UNAUTHORIZED }
      out = child.run({ P = "openai", OPENAI_BASE_URL = srv.url, OPENAI_API_KEY = "sk-env-8" }, code)
      assert.truthy(out:find("the API key came from $OPENAI_API_KEY", 1, true), out)
      assert.is_nil(out:find("sk-env", 1, true))
    end)

    it("says no key was sent and which variable would set it", function()
      local c = oaichat.new{ provider = "openrouter", base_url = srv.url }
      srv:queue{ UNAUTHORIZED }
      local _, err = c:chat("hi")
      assert.truthy(tostring(err):find(" -- no API key was sent: give api_key to oaichat.new, or set "
        .. "$OPENROUTER_API_KEY (a key from $OPENROUTER_API_KEY is only sent to https://openrouter.ai/api/v1)",
        1, true), tostring(err))
      c:close()
      local local_server = oaichat.new{ provider = "ollama", base_url = srv.url }
      srv:queue{ UNAUTHORIZED }
      _, err = local_server:chat("hi")
      assert.truthy(tostring(err):find("give api_key to oaichat.new if the server needs one", 1, true))
      local_server:close()
    end)

    it("streams and models carry the same hint", function()
      local c = oaichat.new{ base_url = srv.url, api_key = "sk-x" }
      srv:queue{ UNAUTHORIZED, UNAUTHORIZED }
      local _, serr = util.drain(c:stream("hi"))
      assert.truthy(tostring(serr):find("api_key option", 1, true))
      local _, merr = c:models()
      assert.truthy(tostring(merr):find("api_key option", 1, true))
      c:close()
    end)
  end)

  describe("404", function()
    it("on /chat/completions suggests checking that the base URL ends in /v1", function()
      local base = srv.url:gsub("/v1$", "")
      local c = oaichat.new{ base_url = base, api_key = "sk-x" }
      srv:queue{ { status = 404, body = "404 page not found" } }
      local _, err = c:chat("hi")
      assert.equal("http", err.kind)
      assert.equal(404, err.status)
      assert.truthy(tostring(err):find(("-- check base_url (%s): an OpenAI-compatible server's usually ends in /v1")
        :format(base), 1, true), tostring(err))
      c:close()
    end)

    it("names the provider's own path for a preset", function()
      local c = oaichat.new{ provider = "openrouter", base_url = srv.url, api_key = "sk-x" }
      srv:queue{ { status = 404 } }
      local _, err = c:chat("hi")
      assert.truthy(tostring(err):find("for openrouter it usually ends in /api/v1", 1, true), tostring(err))
      srv:queue{ { status = 404 } }
      local _, merr = c:models()
      assert.truthy(tostring(merr):find("this server may not list models at " .. srv.url .. "/models", 1, true),
        tostring(merr))
      c:close()
    end)

    it("other statuses get no hint", function()
      local c = oaichat.new{ base_url = srv.url, api_key = "sk-x", max_retries = 0 }
      srv:queue{ { status = 400 } }
      local _, err = c:chat("hi")
      assert.is_nil(err.hint)
      assert.is_nil(tostring(err):find(" -- ", 1, true))
      c:close()
    end)
  end)

  it("a connection error after retries says how many attempts were made", function()
    local c = oaichat.new{ base_url = "http://127.0.0.1:1/v1", max_retries = 1 }
    local _, err = c:chat("hi")
    assert.equal("connection", err.kind)
    assert.equal(2, err.attempts)
    assert.truthy(tostring(err):find("(after 2 attempts)", 1, true), tostring(err))
    local once = oaichat.new{ base_url = "http://127.0.0.1:1/v1", max_retries = 0 }
    _, err = once:chat("hi")
    assert.is_nil(tostring(err):find("attempts", 1, true))
    c:close()
    once:close()
  end)

  it("client:chat with stream = true raises at once, pointing to client:stream", function()
    local c = oaichat.new{ base_url = srv.url }
    local want = "client:chat: stream = true needs client:stream(messages, opts), which returns a stream to iterate"
    assert.equal(want, util.raised(c.chat, c, "hi", { stream = true }))
    assert.truthy(util.raised(c.chat_async, c, "hi", { stream = true }):find("needs client:stream", 1, true))
    local p = oaichat.new{ base_url = srv.url, params = { stream = true } }
    assert.truthy(util.raised(p.chat, p, "hi"):find("needs client:stream", 1, true))
    assert.equal("client:chat_many: list[2] asks for stream = true; streams need client:stream",
      util.raised(c.chat_many, c, { { "a" }, { "b", { stream = true } } }))
    assert.equal(0, #srv:requests()) -- raised before the first request started
    -- stream = false passes through as a parameter, and client:stream still works with params.stream
    assert.truthy(c:chat("hi", { stream = false }))
    local _, err = util.drain(p:stream("hi"))
    assert.is_nil(err)
    assert.equal(2, #srv:requests())
    c:close()
    p:close()
  end)
end)
