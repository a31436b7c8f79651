-- Client options and the environment precedence of API.md: explicit option,
-- then OAICHAT_*, then the OPENAI_* pair, then the StarMagic default with
-- STARMAGIC_API_KEY; a key only ever goes to its own source's base URL.
local oaichat = require("oaichat")
local config = require("oaichat.config")

local DEFAULT = "https://api.starmagic.ai/v1"

-- A getenv over a fixed table.
local function env(vars)
  return function(name) return vars[name] end
end

-- resolve_endpoint with explicit options and an environment; returns url, key.
local function resolve(opts, vars)
  return config.resolve_endpoint(opts, env(vars))
end

local function check(want_url, want_key, opts, vars)
  local url, key = resolve(opts, vars)
  assert.equal(want_url, url)
  assert.equal(want_key, key)
end

describe("config", function()
  it("defaults to StarMagic and gpt-5.5", function()
    assert.equal(DEFAULT, config.DEFAULT_BASE_URL)
    assert.equal("gpt-5.5", config.DEFAULT_MODEL)
    check(DEFAULT, nil, {}, {})
  end)

  describe("environment precedence", function()
    it("STARMAGIC_API_KEY goes with the StarMagic default URL", function()
      check(DEFAULT, "sk-star", {}, { STARMAGIC_API_KEY = "sk-star" })
      check(DEFAULT, "sk-star", { base_url = DEFAULT }, { STARMAGIC_API_KEY = "sk-star" })
      check(DEFAULT .. "/", "sk-star", { base_url = DEFAULT .. "/" }, { STARMAGIC_API_KEY = "sk-star" })
    end)

    it("STARMAGIC_API_KEY is never sent to another URL", function()
      check("http://local/v1", nil, { base_url = "http://local/v1" }, { STARMAGIC_API_KEY = "sk-star" })
      check("http://local/v1", nil, {}, { OAICHAT_BASE_URL = "http://local/v1", STARMAGIC_API_KEY = "sk-star" })
      -- OPENAI_BASE_URL without its key is not a source at all.
      check(DEFAULT, "sk-star", {}, { OPENAI_BASE_URL = "http://o/v1", STARMAGIC_API_KEY = "sk-star" })
    end)

    it("OAICHAT_* come first after explicit options", function()
      check("http://oc/v1", "sk-oc", {}, { OAICHAT_BASE_URL = "http://oc/v1", OAICHAT_API_KEY = "sk-oc",
        OPENAI_BASE_URL = "http://o/v1", OPENAI_API_KEY = "sk-o", STARMAGIC_API_KEY = "sk-star" })
    end)

    it("OAICHAT_API_KEY alone belongs to the default URL", function()
      check(DEFAULT, "sk-oc", {}, { OAICHAT_API_KEY = "sk-oc" })
      check(DEFAULT, "sk-oc", {}, { OAICHAT_API_KEY = "sk-oc", STARMAGIC_API_KEY = "sk-star" })
      check(DEFAULT, "sk-oc", {}, { OAICHAT_API_KEY = "sk-oc", OPENAI_BASE_URL = "http://o/v1",
        OPENAI_API_KEY = "sk-o" })
      -- ...and is not sent to an explicit other URL.
      check("http://x/v1", nil, { base_url = "http://x/v1" }, { OAICHAT_API_KEY = "sk-oc" })
    end)

    it("OAICHAT_BASE_URL alone takes the URL but no other source's key", function()
      check("http://oc/v1", nil, {}, { OAICHAT_BASE_URL = "http://oc/v1" })
      check("http://oc/v1", nil, {}, { OAICHAT_BASE_URL = "http://oc/v1", OPENAI_BASE_URL = "http://o/v1",
        OPENAI_API_KEY = "sk-o", STARMAGIC_API_KEY = "sk-star" })
    end)

    it("a key configured for the same URL by a later source is used", function()
      check("http://o/v1/", "sk-o", {}, { OAICHAT_BASE_URL = "http://o/v1/", OPENAI_BASE_URL = "http://o/v1",
        OPENAI_API_KEY = "sk-o" })
      check(DEFAULT, "sk-star", {}, { OAICHAT_BASE_URL = DEFAULT, STARMAGIC_API_KEY = "sk-star" })
    end)

    it("the OPENAI_* variables work only as a pair", function()
      check("http://o/v1", "sk-o", {}, { OPENAI_BASE_URL = "http://o/v1", OPENAI_API_KEY = "sk-o" })
      check("http://o/v1", "sk-o", {}, { OPENAI_BASE_URL = "http://o/v1", OPENAI_API_KEY = "sk-o",
        STARMAGIC_API_KEY = "sk-star" })
      check(DEFAULT, nil, {}, { OPENAI_API_KEY = "sk-o" })
      check(DEFAULT, "sk-star", {}, { OPENAI_API_KEY = "sk-o", STARMAGIC_API_KEY = "sk-star" })
      check(DEFAULT, nil, {}, { OPENAI_BASE_URL = "http://o/v1" })
    end)

    it("an explicit base_url takes the key of the source configured for it", function()
      local vars = { OPENAI_BASE_URL = "http://o/v1", OPENAI_API_KEY = "sk-o", STARMAGIC_API_KEY = "sk-star",
        OAICHAT_API_KEY = "sk-oc", OAICHAT_BASE_URL = "http://oc/v1" }
      check("http://o/v1/", "sk-o", { base_url = "http://o/v1/" }, vars)
      check("http://oc/v1", "sk-oc", { base_url = "http://oc/v1" }, vars)
      check(DEFAULT, "sk-star", { base_url = DEFAULT }, vars)
      check("http://other/v1", nil, { base_url = "http://other/v1" }, vars)
    end)

    it("an explicit api_key always wins, with the URL resolved as usual", function()
      local vars = { OAICHAT_BASE_URL = "http://oc/v1", OAICHAT_API_KEY = "sk-oc" }
      check("http://oc/v1", "sk-mine", { api_key = "sk-mine" }, vars)
      check("http://x/v1", "sk-mine", { api_key = "sk-mine", base_url = "http://x/v1" }, vars)
      check(DEFAULT, "sk-mine", { api_key = "sk-mine" }, {})
      -- An empty explicit key means no key at all, not the environment's.
      check("http://oc/v1", "", { api_key = "" }, vars)
    end)

    it("treats empty variables as unset", function()
      check(DEFAULT, "sk-star", {}, { OAICHAT_BASE_URL = "", OAICHAT_API_KEY = "", OPENAI_BASE_URL = "",
        OPENAI_API_KEY = "sk-o", STARMAGIC_API_KEY = "sk-star" })
      check(DEFAULT, nil, {}, { STARMAGIC_API_KEY = "" })
    end)

    it("trims whitespace around environment values", function()
      check("http://oc/v1", "sk-oc", {}, { OAICHAT_BASE_URL = " http://oc/v1\n", OAICHAT_API_KEY = "sk-oc\n" })
      check(DEFAULT, "sk-star", {}, { STARMAGIC_API_KEY = "  sk-star\r\n" })
      check(DEFAULT, nil, {}, { STARMAGIC_API_KEY = " \n" })
    end)

    it("uses os.getenv when no getenv is given", function()
      local url = config.resolve_endpoint({ base_url = "http://explicit/v1", api_key = "k" })
      assert.equal("http://explicit/v1", url)
    end)
  end)

  describe("oaichat.new", function()
    it("fills in the documented defaults", function()
      local c = oaichat.new{ base_url = "http://127.0.0.1:9/v1", api_key = "k", model = "m" }
      assert.equal("http://127.0.0.1:9/v1", c.base_url)
      assert.equal("m", c.model)
      assert.equal(600, c.timeout)
      assert.equal(10, c.connect_timeout)
      assert.equal(120, c.idle_timeout)
      assert.equal(2, c.max_retries)
      assert.equal(64 * 1024 * 1024, c.max_response_bytes)
      assert.equal(20 * 1024 * 1024, c.max_image_bytes)
      assert.same({}, c.params)
      assert.is_false(c.insecure)
      c:close()
    end)

    it("keeps every option given, and copies headers and params", function()
      local params, headers = { temperature = 0.7 }, { ["X-Extra"] = "1" }
      local c = oaichat.new{ base_url = "https://h.example/v1/", api_key = "k", model = "m", timeout = 5,
        connect_timeout = 2, idle_timeout = 3, max_retries = 0, headers = headers, params = params,
        proxy = "http://proxy:3128", ca_file = "/etc/ssl/certs/ca-certificates.crt", insecure = true,
        max_response_bytes = 1000 }
      assert.equal(5, c.timeout)
      assert.equal(2, c.connect_timeout)
      assert.equal(3, c.idle_timeout)
      assert.equal(0, c.max_retries)
      assert.equal(1000, c.max_response_bytes)
      assert.equal("http://proxy:3128", c.proxy)
      assert.equal("/etc/ssl/certs/ca-certificates.crt", c.ca_file)
      assert.is_true(c.insecure)
      assert.same(params, c.params)
      params.temperature = 1
      headers["X-Extra"] = "2"
      assert.same({ temperature = 0.7 }, c.params)
      assert.same({ ["X-Extra"] = "1" }, c.headers)
      assert.equal("oaichat.client (https://h.example/v1/, model m)", tostring(c))
      c:close()
    end)

    it("accepts https and upper-case schemes", function()
      for _, url in ipairs({ "https://api.example.com/v1", "HTTP://localhost:8080", "http://[::1]:8080/v1" }) do
        local c = oaichat.new{ base_url = url, api_key = "k" }
        assert.equal(url, c.base_url)
        c:close()
      end
    end)

    it("refuses a bad option with a message naming it", function()
      local cases = {
        { { model = 5 }, "oaichat.new: option model must be a string, got number" },
        { { params = "x" }, "oaichat.new: option params must be a table, got string" },
        { { insecure = "yes" }, "oaichat.new: option insecure must be a boolean, got string" },
        { { timeout = -1 }, "oaichat.new: option timeout must not be negative" },
        { { base_url = "file:///etc/passwd" },
          'oaichat.new: base_url must be an http:// or https:// URL, got "file:///etc/passwd"' },
        { { base_url = "http://" }, 'oaichat.new: base_url must be an http:// or https:// URL, got "http://"' },
        { { base_url = "http://h/v1\r\nX: y" }, "oaichat.new: base_url must not contain spaces or control characters" },
        { { headers = { [1] = "x" } }, "oaichat.new: header name 1 is not a valid HTTP token" },
        { { headers = { ["X-A"] = true } }, 'oaichat.new: header "X-A" must have a string value' },
      }
      for _, case in ipairs(cases) do
        local ok, msg = pcall(oaichat.new, case[1])
        assert.is_false(ok)
        assert.truthy(tostring(msg):find(case[2], 1, true), tostring(msg))
      end
    end)
  end)

  describe("check_headers", function()
    it("accepts tokens with string or number values", function()
      config.check_headers({ ["X-A"] = "1", ["x_b.c~d"] = 2, ["OpenAI-Beta"] = "assistants=v2" }, "t")
      config.check_headers(nil, "t")
    end)

    it("refuses CR, LF and NUL in values and bad names", function()
      for _, v in ipairs({ "a\rb", "a\nb", "a\0b" }) do
        assert.has_error(function() config.check_headers({ ["X-A"] = v }, "t") end,
          't: header "X-A" contains CR, LF or NUL; refusing it (header injection)')
      end
      assert.has_error(function() config.check_headers({ ["X:A"] = "v" }, "t") end,
        "t: header name X:A is not a valid HTTP token")
      assert.has_error(function() config.check_headers({ [""] = "v" }, "t") end,
        "t: header name  is not a valid HTTP token")
    end)
  end)
end)
