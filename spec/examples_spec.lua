-- The programs in examples/ and tools/demo.sh, run as child processes
-- against the loopback server so they cannot rot.
local core = require("oaichat.core")
local helper = require("spec.support.helper")
local sub = require("spec.support.subprocess")

describe("examples", function()
  local srv

  before_each(function()
    srv = helper.server()
    srv:reset()
  end)

  local function run(script, args)
    local argv = { script }
    for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
    return sub.run(argv, { env = { OAICHAT_BASE_URL = srv.url } })
  end

  local function bodies()
    local out = {}
    for i, r in ipairs(srv:requests()) do out[i] = core.decode(r.body) end
    return out
  end

  it("chat.lua asks one question and prints the answer", function()
    local r = run("examples/chat.lua", { "Why is the sky blue?" })
    assert.equal(0, r.code)
    assert.equal("Echo: Why is the sky blue? (2 messages; system prompt; params: temperature=0.2)\n", r.stdout)
    assert.equal("tokens: 10 prompt, 12 completion\n", r.stderr)
    local b = bodies()
    assert.equal(1, #b)
    assert.is_nil(b[1].stream)
  end)

  it("stream.lua streams the answer", function()
    local r = run("examples/stream.lua", { "Tell me a story" })
    assert.equal(0, r.code)
    assert.equal("Echo: Tell me a story (1 message)\n", r.stdout)
    assert.equal("finish reason: stop\n", r.stderr)
    assert.is_true(bodies()[1].stream)
  end)

  it("stream.lua reports a failed stream on stderr", function()
    srv:queue({ { status = 400, json = { error = { message = "no", code = "bad" } } } })
    local r = run("examples/stream.lua")
    assert.equal(1, r.code)
    assert.equal("\n", r.stdout)
    assert.equal("oaichat: api error 400 (bad): no\n", r.stderr)
  end)

  it("image.lua sends the image inline with the question", function()
    local r = run("examples/image.lua")
    assert.equal(0, r.code)
    assert.equal("Echo: What colour is this image? (2 messages; system prompt; images: 1 [image/png 69 bytes "
      .. "detail=low])\n", r.stdout)
    local content = bodies()[1].messages[2].content
    assert.equal("image_url", content[2].type)
    assert.equal("data:image/png;base64,", content[2].image_url.url:sub(1, 22))
    r = run("examples/image.lua", { "spec/fixtures/white.gif", "And this one?" })
    assert.equal(0, r.code)
    assert.equal("Echo: And this one? (2 messages; system prompt; images: 1 [image/gif 35 bytes detail=low])\n",
      r.stdout)
  end)

  it("tools.lua runs a tool-call round trip", function()
    local r = run("examples/tools.lua")
    assert.equal(0, r.code)
    assert.equal('Tool said: {"city":"x","temperature_c":21,"sky":"clear"}\n',
      r.stdout:gsub('{[^}]*}', function(json)
        -- The JSON key order of the tool result is not fixed: compare decoded.
        local obj = core.decode(json)
        assert.same({ city = "x", temperature_c = 21, sky = "clear" }, obj)
        return '{"city":"x","temperature_c":21,"sky":"clear"}'
      end))
    assert.equal("(get_weather called for x)\n5 messages, 29 tokens\n", r.stderr)
    local b = bodies()
    assert.equal(2, #b)
    assert.equal("get_weather", b[1].tools[1]["function"].name)
    assert.equal("tool", b[2].messages[4].role)
  end)

  it("tools/demo.sh shows a streamed answer, an image, a conversation, piped text and a frame loop", function()
    local lua = require("spec.support.server").interpreter()
    local r = sub.run({ "sh", "tools/demo.sh" }, { exec = true, env = {
      LUA_PATH = os.getenv("LUA_PATH") or "", LUA_CPATH = os.getenv("LUA_CPATH") or "", OAICHAT_LUA = lua } })
    assert.equal(0, r.code, r.stderr)
    local expected = {
      "oaichat demo: using the built-in local server at http://127.0.0.1:",
      '\n=== 1. A streamed answer:  oaichat -v "Explain streaming in one sentence." ===\n'
        .. "Echo: Explain streaming in one sentence. (1 message; params: temperature=0.3)\n",
      "Echo: What colour is this image? (1 message; images: 1 [image/png 69 bytes])\n",
      "you> My name is Ada. Remember it.\nEcho: My name is Ada. Remember it. (2 messages; system prompt)\n"
        .. "you> What is my name?\nEcho: What is my name? (4 messages; system prompt)\n",
      "assistant> Echo: What is my name? (4 messages; system prompt)\n(5 messages in the history)\n",
      "Echo: Milk, eggs, bread.\nCall the plumber on Tuesday.\n\nSummarise this (1 message)\n",
      "Echo: Hello from a frame loop (1 message)\n(done after ",
      " frames; 2 messages in the history)\n",
      "\noaichat demo: done\n",
    }
    local pos = 1
    for _, piece in ipairs(expected) do
      local i, j = r.stdout:find(piece, pos, true)
      assert.truthy(i, "missing from the demo's output: " .. piece .. "\n--- output:\n" .. r.stdout)
      pos = j + 1
    end
    assert.equal("oaichat: usage: 5 prompt + 10 completion = 15 tokens\n", r.stderr)
    -- The demo's own server is gone: its port refuses connections.
    local port = tonumber(r.stdout:match("127%.0%.0%.1:(%d+)/v1"))
    local socket = require("socket")
    local c = socket.tcp()
    c:settimeout(1)
    assert.is_nil((c:connect("127.0.0.1", port)))
    c:close()
  end)
end)
