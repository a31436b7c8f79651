-- JSON both ways through a real chat: exact integers, floats, Unicode
-- (raw and escaped), NUL bytes and oaichat.null; then the core codec itself.
local oaichat = require("oaichat")
local core = require("oaichat.core")
local helper = require("spec.support.helper")

-- math.type exists on 5.3+ only; on 5.1/LuaJIT every number is a float.
local has_integers = math.type ~= nil

local function num_type(v)
  if has_integers then return math.type(v) end
  return type(v)
end

describe("JSON", function()
  local srv, client

  local function last_body()
    local r = srv:last_request()
    return r.body, assert(core.decode(r.body))
  end

  -- A completion carrying content and extra fields, as raw JSON text.
  local function completion(content_json, extra)
    return '{"id":"c1","object":"chat.completion","created":1700000000,"model":"m","choices":[{"index":0,'
      .. '"message":{"role":"assistant","content":' .. content_json .. '},"finish_reason":"stop"}],'
      .. '"usage":{"prompt_tokens":900,"completion_tokens":1004,"total_tokens":1904}'
      .. (extra and ("," .. extra) or "") .. "}"
  end

  before_each(function()
    srv = helper.server()
    srv:reset()
    client = oaichat.new{ base_url = srv.url, api_key = "k", max_retries = 0 }
  end)

  after_each(function()
    client:close()
  end)

  describe("numbers", function()
    it("JSON integers come back as integers that print without .0", function()
      srv:queue{ { body = completion('"hi"', '"n":0,"neg":-42') } }
      local resp = assert(client:chat("x"))
      assert.equal(1904, resp.usage.total_tokens)
      assert.equal("1904", tostring(resp.usage.total_tokens))
      assert.equal("1700000000", tostring(resp.created))
      assert.equal("0", tostring(resp.n))
      assert.equal("-42", tostring(resp.neg))
      assert.equal("0", tostring(resp.choices[1].index))
      if has_integers then
        assert.equal("integer", math.type(resp.usage.total_tokens))
        assert.equal("integer", math.type(resp.created))
        assert.equal("integer", math.type(resp.choices[1].index))
      end
    end)

    it("large integers come back exactly", function()
      srv:queue{ { body = completion('"hi"', '"seed":123456789012345,"max":9007199254740992,'
        .. '"min":-9007199254740992') } }
      local resp = assert(client:chat("x"))
      assert.equal(123456789012345, resp.seed)
      assert.equal("123456789012345", ("%.0f"):format(resp.seed))
      assert.equal(2 ^ 53, resp.max)
      assert.equal(-2 ^ 53, resp.min)
      if has_integers then
        assert.equal("integer", math.type(resp.max))
        -- On 5.3+ beyond 2^53 too: 64-bit integers are exact.
        local t = assert(core.decode('{"a":9007199254740993,"b":9223372036854775807,"c":-9223372036854775808}'))
        assert.equal("9007199254740993", tostring(t.a))
        assert.equal("9223372036854775807", tostring(t.b))
        assert.equal("-9223372036854775808", tostring(t.c))
      end
    end)

    it("floats stay floats", function()
      srv:queue{ { body = completion('"hi"', '"p":0.5,"one":1.0,"e":1e3,"small":-2.5e-3,"lp":-0.0001234') } }
      local resp = assert(client:chat("x"))
      assert.equal(0.5, resp.p)
      assert.equal(1000, resp.e)
      assert.equal(-0.0025, resp.small)
      assert.equal(-0.0001234, resp.lp)
      assert.equal(1, resp.one)
      if has_integers then
        assert.equal("float", math.type(resp.p))
        assert.equal("float", math.type(resp.one))
        assert.equal("float", math.type(resp.e))
      end
    end)

    it("sends integers exactly and floats as numbers", function()
      assert(client:chat("x", { seed = 123456789012345, max_tokens = 1904, temperature = 0.7, top_p = 1,
        presence_penalty = -0.25, big = 9007199254740992 }))
      local raw, body = last_body()
      assert.truthy(raw:find('"seed":123456789012345[,}]'))
      assert.truthy(raw:find('"max_tokens":1904[,}]'))
      assert.truthy(raw:find('"big":9007199254740992[,}]'))
      assert.truthy(raw:find('"temperature":0.7[,}]'))
      assert.equal(0.7, body.temperature)
      assert.equal(-0.25, body.presence_penalty)
      assert.equal(1, body.top_p)
      assert.equal(num_type(1904), num_type(body.max_tokens))
    end)
  end)

  describe("Unicode", function()
    local text = "你好，世界 😀 Grüße ñ ﷺ 𝄞"

    it("sends CJK and emoji and gets them back from the server", function()
      local resp = assert(client:chat(text))
      local _, body = last_body()
      assert.equal(text, body.messages[1].content)
      assert.equal("Echo: " .. text .. " (1 message)", oaichat.text(resp))
    end)

    it("decodes raw UTF-8 and escaped surrogate pairs in a response", function()
      srv:queue{
        { body = completion('"\\u4f60\\u597d \\ud83d\\ude00 \\uD834\\uDD1E \\u00fc"') },
        { body = completion('"你好 😀 𝄞 ü"') },
      }
      local want = "你好 😀 𝄞 ü"
      assert.equal(want, oaichat.text(assert(client:chat("x"))))
      assert.equal(want, oaichat.text(assert(client:chat("x"))))
      assert.equal("\240\159\152\128", oaichat.text(core.decode(completion('"\\ud83d\\ude00"'))))
    end)

    it("rejects a lone surrogate escape as a decode error", function()
      srv:queue{ { body = completion('"\\ud83d"') } }
      local resp, err = client:chat("x")
      assert.is_nil(resp)
      assert.equal("decode", err.kind)
    end)

    it("round-trips control characters, quotes, backslashes and a NUL byte", function()
      local s = "a\0b \"q\" \\ \t\n\r\1 / </script>"
      local resp = assert(client:chat(s))
      local _, body = last_body()
      assert.equal(s, body.messages[1].content)
      assert.equal("Echo: " .. s .. " (1 message)", oaichat.text(resp))
      srv:queue{ { body = completion('"x\\u0000y\\u001f"') } }
      assert.equal("x\0y\31", oaichat.text(assert(client:chat("x"))))
    end)
  end)

  describe("oaichat.null", function()
    it("is the decoded JSON null, in responses and nested arrays", function()
      srv:queue{ { body = completion("null", '"system_fingerprint":null,"list":[1,null,3]') } }
      local resp = assert(client:chat("x"))
      assert.equal(oaichat.null, resp.choices[1].message.content)
      assert.equal(oaichat.null, resp.system_fingerprint)
      assert.equal(oaichat.null, resp.list[2])
      assert.equal(3, resp.list[3])
      assert.is_nil(oaichat.text(resp))
      assert.equal(core.null, oaichat.null)
    end)

    it("encodes as JSON null in a request", function()
      assert(client:chat({ { role = "user", content = "x", name = oaichat.null } }, { stop = { oaichat.null } }))
      local raw, body = last_body()
      assert.truthy(raw:find('"name":null', 1, true))
      assert.truthy(raw:find('"stop":[null]', 1, true))
      assert.equal(oaichat.null, body.messages[1].name)
    end)
  end)

  describe("core codec", function()
    it("round-trips nested values", function()
      local v = { a = { 1, 2, { b = "c" } }, s = "x\0y", t = true, f = false, n = core.null, i = -7, x = 0.25 }
      assert.same(v, core.decode(core.encode(v)))
    end)

    it("returns nil and a message for bad JSON or invalid UTF-8", function()
      local v, err = core.decode("{")
      assert.is_nil(v)
      assert.is_string(err)
      v, err = core.decode('{"a":"\255"}')
      assert.is_nil(v)
      assert.truthy(err:find("UTF-8", 1, true), err)
    end)

    it("keeps marker-like strings strings, both ways (issue 12's examples)", function()
      local text = core.encode{ messages = { { role = "user", content = "\1oaichat:42\1" } }, n = 123456789012345 }
      assert.truthy(text:find('"content":"\\u0001oaichat:42\\u0001"', 1, true), text)
      assert.equal("\1oaichat:42\1", core.decode(text).messages[1].content)
      local t = assert(core.decode('{"a":"\\u0001f:7","c":"\\u0001i:12","n":123456789012345678}'))
      assert.equal("\1f:7", t.a)
      assert.equal("\1i:12", t.c)
      assert.equal(core.encode("\1oaichat:[]\1"), '"\\u0001oaichat:[]\\u0001"')
    end)

    it("re-encodes a decoded [] as [] and {} as {}, at any depth", function()
      local v = assert(core.decode('{"a":[],"b":{},"c":[[],{},[[]]],"required":[]}'))
      assert.equal(core.array_mt, getmetatable(v.a))
      assert.is_nil(getmetatable(v.b))
      local text = core.encode(v)
      for _, want in ipairs { '"a":[]', '"b":{}', '"c":[[],{},[[]]]', '"required":[]' } do
        assert.truthy(text:find(want, 1, true), text)
      end
      assert.equal("[]", core.encode(core.decode("[]")))
      assert.equal("{}", core.encode(core.decode("{}")))
      -- a repeated key ends as cjson left it: the last one wins, [] or {}
      assert.equal('{"a":{}}', core.encode(core.decode('{"a":[],"a":{}}')))
      assert.equal('{"a":[]}', core.encode(core.decode('{"a":{},"a":[]}')))
      assert.equal('{"a":"x"}', core.encode(core.decode('{"a":1,"a":"x"}')))
      assert.equal('{"a":2.5}', core.encode(core.decode('{"a":1,"a":2.5}')))
    end)

    it("writes integers exactly and floats so they read back as floats", function()
      assert.equal("123456789012345", core.encode(123456789012345))
      assert.equal("[0.1,0.30000000000000004,-2.5e-05]", core.encode{ 0.1, 0.1 + 0.2, -2.5e-5 })
      if has_integers then
        assert.equal("[1.0,-0.0,0.0,9007199254740992.0]", core.encode{ 1.0, -0.0, 0.0, 2.0 ^ 53 })
        assert.equal("9223372036854775807", core.encode(math.maxinteger))
        assert.equal("-9223372036854775808", core.encode(math.mininteger))
        local t = assert(core.decode("[1.0,-0.0,1,-0,9007199254740993,-9223372036854775808,9223372036854775808]"))
        assert.same({ "float", "float", "integer", "integer", "integer", "integer", "float" },
          { math.type(t[1]), math.type(t[2]), math.type(t[3]), math.type(t[4]), math.type(t[5]),
            math.type(t[6]), math.type(t[7]) })
        assert.equal(-1 / 0, 1 / t[2])
        assert.equal(math.mininteger, t[6])
        assert.equal("integer", math.type(core.decode("42")))
      else
        assert.equal("[1,-0,9007199254740992]", core.encode{ 1.0, -0.0, 2 ^ 53 })
      end
    end)

    it("rejects invalid JSON numbers with a decode error", function()
      for _, bad in ipairs { "1.0e", "0000000000000001", "0x10", "NaN", "Infinity", "-Infinity", "+1", ".5",
        "[1.]", "[-.5]", "[1.e3]", "[01]", '{"a":0x10}', "[1e+]", "[-]", "[1.0e]", "[nan]", "[- 1]" } do
        local v, err = core.decode(bad)
        assert.is_nil(v, bad)
        assert.is_string(err, bad)
      end
      srv:queue{ { body = completion('"hi"', '"n":0000000000000001') } }
      local resp, err = client:chat("x")
      assert.is_nil(resp)
      assert.equal("decode", err.kind)
      for _, good in ipairs { "0", "-0", "1e5", "1E+2", "-0.0e-0", "[1,2.5e-3,-7]" } do
        assert.is_not_nil(core.decode(good), good)
      end
    end)

    it("conversation_from_json keeps a strict tool's \"required\": [] as [] when sending", function()
      local saved = '{"version":1,"params":{"tools":[{"type":"function","function":{"name":"f","strict":true,'
        .. '"parameters":{"type":"object","properties":{},"required":[],"additionalProperties":false}}}]},'
        .. '"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b","annotations":[]}]}'
      local conv = assert(client:conversation_from_json(saved))
      assert(conv:say("hi"))
      local raw = srv:last_request().body
      assert.truthy(raw:find('"required":[]', 1, true), raw)
      assert.truthy(raw:find('"properties":{}', 1, true), raw)
      assert.truthy(conv:to_json():find('"required":[]', 1, true))
    end)

    it("oaichat --json prints \"annotations\": [] as []", function()
      local sub = require("spec.support.subprocess")
      srv:queue{ { body = completion('"hi"', '"annotations":[],"meta":{}') } }
      local r = sub.run({ "bin/oaichat", "--json", "hello" }, { env = { OAICHAT_BASE_URL = srv.url } })
      assert.equal(0, r.code, r.stderr)
      assert.truthy(r.stdout:find('"annotations":[]', 1, true), r.stdout)
      assert.truthy(r.stdout:find('"meta":{}', 1, true), r.stdout)
    end)

    it("refuses values JSON cannot hold", function()
      assert.is_false(pcall(core.encode, { a = 0 / 0 }))
      assert.is_false(pcall(core.encode, { a = math.huge }))
      assert.is_false(pcall(core.encode, { a = print }))
    end)
  end)
end)
