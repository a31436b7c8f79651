-- Provider presets (issue 13.1) and stream_usage (13.4): each preset's
-- defaults, what the loopback server saw (request line, auth header, Azure's
-- query string, stream_options), and which key goes to which host.
local oaichat = require("oaichat")
local config = require("oaichat.config")
local child = require("spec.support.child")
local helper = require("spec.support.helper")
local util = require("spec.support.util")

local KEY = "sk-preset-0123456789"

local NAMES = { "azure", "deepseek", "gemini", "groq", "llamacpp", "lmstudio", "mistral", "ollama", "openai",
  "openrouter", "starmagic", "vllm", "xai" }

local DEFAULTS = {
  starmagic = "https://api.starmagic.ai/v1", openai = "https://api.openai.com/v1",
  openrouter = "https://openrouter.ai/api/v1", ollama = "http://localhost:11434/v1",
  llamacpp = "http://localhost:8080/v1", lmstudio = "http://localhost:1234/v1", vllm = "http://localhost:8000/v1",
  deepseek = "https://api.deepseek.com", mistral = "https://api.mistral.ai/v1",
  groq = "https://api.groq.com/openai/v1", gemini = "https://generativelanguage.googleapis.com/v1beta/openai",
  xai = "https://api.x.ai/v1",
}

-- Presets whose servers take stream_options (Mistral and Groq reject it;
-- StarMagic, the default, adds nothing by itself).
local USAGE_OFF = { starmagic = true, mistral = true, groq = true }

local function env(vars)
  return function(name) return vars[name] end
end

describe("provider presets", function()
  local srv

  before_each(function()
    srv = helper.server()
    srv:reset()
  end)

  -- The server's base URL with another path (Azure's deployment paths).
  local function url(path)
    return srv.url:gsub("/v1$", "") .. path
  end

  it("oaichat.providers lists every preset, by index and by name", function()
    local list = {}
    for i, name in ipairs(oaichat.providers) do list[i] = name end
    assert.same(NAMES, list)
    for name, base in pairs(DEFAULTS) do assert.equal(base, oaichat.providers[name].base_url, name) end
    assert.is_nil(oaichat.providers.azure.base_url)
    assert.equal("api-key", oaichat.providers.azure.auth)
    assert.equal("OPENROUTER_API_KEY", oaichat.providers.openrouter.key_env)
    assert.equal("DEEPSEEK_API_KEY", oaichat.providers.deepseek.key_env)
    assert.is_nil(oaichat.providers.ollama.key_env)
    assert.equal("tool_calls", oaichat.providers.deepseek.reasoning)
    assert.is_false(oaichat.providers.groq.stream_usage)
    -- a copy: changing it changes no client
    oaichat.providers.openai.base_url = "http://changed"
    assert.equal(DEFAULTS.openai, oaichat.new{ provider = "openai" }.base_url)
  end)

  it("each preset's client defaults to its base URL, and explicit options win", function()
    for name, base in pairs(DEFAULTS) do
      local c = oaichat.new{ provider = name, api_key = KEY }
      assert.equal(base, c.base_url, name)
      assert.equal(base .. "/chat/completions", c.url, name)
      assert.equal(name, c.provider)
      assert.equal(not USAGE_OFF[name], c.stream_usage, name)
      c:close()
      c = oaichat.new{ provider = name, base_url = srv.url, stream_usage = USAGE_OFF[name] == true }
      assert.equal(srv.url, c.base_url, name)
      assert.equal(USAGE_OFF[name] == true, c.stream_usage, name)
      c:close()
    end
    assert.equal("starmagic", oaichat.new{}.provider)
  end)

  it("an unknown name raises at once, listing the known ones", function()
    local msg = util.raised(oaichat.new, { provider = "opnai" })
    assert.truthy(msg:find('oaichat.new: unknown provider "opnai" (known: ' .. table.concat(NAMES, ", ") .. ")",
      1, true), msg)
    assert.has_error(function() oaichat.new{ provider = 7 } end,
      "oaichat.new: option provider must be a string, got number")
  end)

  it("every preset but azure sends POST /v1/chat/completions with Authorization: Bearer", function()
    for _, name in ipairs(NAMES) do
      if name ~= "azure" then
        local c = oaichat.new{ provider = name, base_url = srv.url, api_key = KEY, max_retries = 0 }
        local resp, err = c:chat("hi")
        assert.is_nil(err, name)
        assert.is_table(resp)
        local r = srv:last_request()
        assert.equal("POST /v1/chat/completions", r.method .. " " .. r.target, name)
        assert.equal("Bearer " .. KEY, r.headers.authorization, name)
        assert.is_nil(r.headers["api-key"], name)
        c:close()
      end
    end
  end)

  it("presets turn stream_usage on where the server takes it (off for groq, mistral, starmagic)", function()
    for _, name in ipairs(NAMES) do
      local base = name == "azure" and url("/openai/v1") or srv.url
      local c = oaichat.new{ provider = name, base_url = base, api_key = KEY, max_retries = 0 }
      local s = c:stream("hi")
      local _, err = util.drain(s)
      assert.is_nil(err, name)
      local body = srv:last_request().json
      if USAGE_OFF[name] then
        assert.is_nil(body.stream_options, name)
        assert.is_nil(s:result().usage, name)
      else
        assert.same({ include_usage = true }, body.stream_options, name)
        assert.equal("number", type(s:result().usage.total_tokens), name)
      end
      assert.is_nil(body.stream_usage, name)
      c:close()
    end
  end)

  describe("azure", function()
    it("classic: api_version -> POST .../chat/completions?api-version=..., api-key header, no Authorization", function()
      local c = oaichat.new{ provider = "azure", base_url = url("/openai/deployments/dep1"),
        api_version = "2024-10-21", api_key = KEY }
      local resp, err = c:chat("hi")
      assert.is_nil(err)
      assert.is_table(resp)
      local r = srv:last_request()
      assert.equal("POST", r.method)
      assert.equal("/openai/deployments/dep1/chat/completions?api-version=2024-10-21", r.target)
      assert.equal(KEY, r.headers["api-key"])
      assert.is_nil(r.headers.authorization)
      -- streams and models take the same URL rules
      local _, serr = util.drain(c:stream("hi"))
      assert.is_nil(serr)
      assert.equal("/openai/deployments/dep1/chat/completions?api-version=2024-10-21", srv:last_request().target)
      c:models()
      -- models are listed per resource, not per deployment
      assert.equal("GET /openai/models?api-version=2024-10-21",
        srv:last_request().method .. " " .. srv:last_request().target)
      assert.equal(KEY, srv:last_request().headers["api-key"])
      c:close()
    end)

    it("v1: the /openai/v1 base_url keeps working, with or without the preset", function()
      local c = oaichat.new{ provider = "azure", base_url = url("/openai/v1"), api_key = KEY }
      assert.truthy(c:chat("hi"))
      local r = srv:last_request()
      assert.equal("/openai/v1/chat/completions", r.target)
      assert.equal(KEY, r.headers["api-key"])
      assert.is_nil(r.headers.authorization)
      local plain = oaichat.new{ base_url = url("/openai/v1"), api_key = KEY }
      assert.truthy(plain:chat("hi"))
      r = srv:last_request()
      assert.equal("/openai/v1/chat/completions", r.target)
      assert.equal("Bearer " .. KEY, r.headers.authorization)
      c:close()
      plain:close()
    end)

    it("raises at once on a missing base_url, a deployments URL without api_version, and misuse", function()
      assert.truthy(util.raised(oaichat.new, { provider = "azure" }):find('provider "azure" needs base_url', 1, true))
      local classic = "https://r.openai.azure.com/openai/deployments/d"
      assert.truthy(util.raised(oaichat.new, { provider = "azure", base_url = classic })
        :find("needs api_version", 1, true))
      assert.truthy(util.raised(oaichat.new, { base_url = srv.url, api_version = "2024-10-21" })
        :find('api_version is only used with provider = "azure"', 1, true))
      assert.truthy(util.raised(oaichat.new, { provider = "azure", base_url = url("/openai/v1"),
        api_version = "a&b=c" }):find("api_version", 1, true))
    end)
  end)

  describe("keys from a preset's variable", function()
    local function check(want_url, want_key, want_source, opts, vars)
      local u, k, src = config.resolve_endpoint(opts, env(vars))
      assert.equal(want_url, u)
      assert.equal(want_key, k)
      assert.equal(want_source, src)
    end

    it("go only to the preset's own default host", function()
      local vars = { OPENROUTER_API_KEY = "sk-or", DEEPSEEK_API_KEY = "sk-ds", GROQ_API_KEY = "sk-gq",
        OAICHAT_API_KEY = "sk-oai", STARMAGIC_API_KEY = "sk-star" }
      check(DEFAULTS.openrouter, "sk-or", "OPENROUTER_API_KEY", { provider = "openrouter" }, vars)
      check(DEFAULTS.openrouter .. "/", "sk-or", "OPENROUTER_API_KEY",
        { provider = "openrouter", base_url = DEFAULTS.openrouter .. "/" }, vars)
      check("http://127.0.0.1:9/v1", nil, nil, { provider = "openrouter", base_url = "http://127.0.0.1:9/v1" }, vars)
      check(DEFAULTS.deepseek, "sk-ds", "DEEPSEEK_API_KEY", { provider = "deepseek" }, vars)
      check(DEFAULTS.groq, "sk-gq", "GROQ_API_KEY", { provider = "groq" }, vars)
      -- a named preset reads no OAICHAT_* or STARMAGIC_* variable
      check(DEFAULTS.mistral, nil, nil, { provider = "mistral" }, vars)
      check(DEFAULTS.ollama, nil, nil, { provider = "ollama" }, vars)
      -- explicit options win
      check(DEFAULTS.openrouter, "sk-explicit", "option", { provider = "openrouter", api_key = "sk-explicit" }, vars)
    end)

    it("openai pairs OPENAI_API_KEY with OPENAI_BASE_URL; azure's goes to Azure hosts only", function()
      check(DEFAULTS.openai, "sk-a", "OPENAI_API_KEY", { provider = "openai" }, { OPENAI_API_KEY = "sk-a" })
      check("http://127.0.0.1:9/v1", "sk-a", "OPENAI_API_KEY", { provider = "openai" },
        { OPENAI_API_KEY = "sk-a", OPENAI_BASE_URL = "http://127.0.0.1:9/v1" })
      check("http://127.0.0.1:8/v1", nil, nil, { provider = "openai", base_url = "http://127.0.0.1:8/v1" },
        { OPENAI_API_KEY = "sk-a", OPENAI_BASE_URL = "http://127.0.0.1:9/v1" })
      local az = "https://res-1.openai.azure.com/openai/v1"
      check(az, "sk-az", "AZURE_OPENAI_API_KEY", { provider = "azure", base_url = az },
        { AZURE_OPENAI_API_KEY = "sk-az" })
      check("https://evil.example/openai.azure.com/openai/v1", nil, nil,
        { provider = "azure", base_url = "https://evil.example/openai.azure.com/openai/v1" },
        { AZURE_OPENAI_API_KEY = "sk-az" })
      check("https://x.openai.azure.com.evil.example/openai/v1", nil, nil,
        { provider = "azure", base_url = "https://x.openai.azure.com.evil.example/openai/v1" },
        { AZURE_OPENAI_API_KEY = "sk-az" })
    end)

    it("on the wire: OPENROUTER_API_KEY is not sent to another base URL; the OPENAI pair is", function()
      local code = [[
        local o = require("oaichat")
        local c = o.new{ provider = os.getenv("P"), base_url = os.getenv("B") }
        local r, e = c:chat("hi")
        io.write(r and "ok" or tostring(e))
      ]]
      local out = child.run({ P = "openrouter", B = srv.url, OPENROUTER_API_KEY = "sk-or-secret" }, code)
      assert.equal("ok", out)
      assert.is_nil(srv:last_request().headers.authorization)
      out = child.run({ P = "openai", OPENAI_BASE_URL = srv.url, OPENAI_API_KEY = "sk-openai-pair" },
        code:gsub(', base_url = os.getenv%("B"%)', ""))
      assert.equal("ok", out)
      assert.equal("Bearer sk-openai-pair", srv:last_request().headers.authorization)
    end)
  end)

  describe("stream_usage", function()
    local client
    before_each(function()
      client = oaichat.new{ base_url = srv.url, api_key = KEY, stream_usage = true }
    end)
    after_each(function() client:close() end)

    it("as a client option sends stream_options.include_usage on streams only, never as a key", function()
      local s = client:stream("hi")
      util.drain(s)
      local body = srv:last_request().json
      assert.same({ include_usage = true }, body.stream_options)
      assert.is_nil(body.stream_usage)
      assert.equal("number", type(s:result().usage.total_tokens))
      client:chat("hi")
      body = srv:last_request().json
      assert.is_nil(body.stream_options)
      assert.is_nil(body.stream_usage)
    end)

    it("per call wins over the client; an explicit stream_options wins over both", function()
      util.drain(client:stream("hi", { stream_usage = false }))
      assert.is_nil(srv:last_request().json.stream_options)
      local plain = oaichat.new{ base_url = srv.url }
      util.drain(plain:stream("hi", { stream_usage = true }))
      assert.same({ include_usage = true }, srv:last_request().json.stream_options)
      util.drain(client:stream("hi", { stream_options = { include_usage = false } }))
      assert.same({ include_usage = false }, srv:last_request().json.stream_options)
      local with_params = oaichat.new{ base_url = srv.url, params = { stream_usage = true } }
      util.drain(with_params:stream("hi"))
      assert.is_nil(srv:last_request().json.stream_usage)
      assert.has_error(function() client:stream("hi", { stream_usage = "yes" }) end,
        "client:stream: opts.stream_usage must be a boolean, got string")
      plain:close()
      with_params:close()
    end)

    it("per conversation: streamed turns then count usage", function()
      local plain = oaichat.new{ base_url = srv.url }
      local conv = plain:conversation{ stream_usage = true }
      for _ in conv:stream("one two") do end
      assert.same({ include_usage = true }, srv:last_request().json.stream_options)
      assert.is_true(conv:usage().total_tokens > 0)
      local silent = plain:conversation{}
      for _ in silent:stream("one two") do end
      assert.is_nil(srv:last_request().json.stream_options)
      assert.equal(0, silent:usage().total_tokens)
      assert.is_true(conv:fork().stream_usage)
      assert.is_true(plain:conversation_from_json(conv:to_json()).stream_usage)
      plain:close()
    end)
  end)
end)
