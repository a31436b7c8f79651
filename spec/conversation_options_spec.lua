-- Conversation options of issue 13: earlier turns' reasoning is not sent
-- back unless asked (13.5), and unknown keys raise with a "did you mean"
-- (13.7), checked by what the loopback server received.
local cjson = require("cjson")
local oaichat = require("oaichat")
local helper = require("spec.support.helper")
local util = require("spec.support.util")

local null = oaichat.null

-- A chat.completion whose message carries reasoning in both field names.
local function reply(text, extra)
  local msg = { role = "assistant", content = text, reasoning_content = "thought about " .. text,
    reasoning = "r:" .. text }
  for k, v in pairs(extra or {}) do msg[k] = v end
  return { json = { id = "c", object = "chat.completion", created = 1, model = "m",
    choices = { { index = 0, message = msg, finish_reason = msg.tool_calls and "tool_calls" or "stop" } },
    usage = { prompt_tokens = 1, completion_tokens = 1, total_tokens = 2 } } }
end

local TOOL_CALL = { { id = "call_1", type = "function", ["function"] = { name = "f", arguments = "{}" } } }

describe("conversation options", function()
  local srv, client

  before_each(function()
    srv = helper.server()
    srv:reset()
    client = oaichat.new{ base_url = srv.url, api_key = "sk-conv", max_retries = 0 }
  end)

  after_each(function() client:close() end)

  -- The messages of the n-th recorded request (default: the last).
  local function sent(n)
    local list = srv:requests()
    return cjson.decode(list[n or #list].body).messages
  end

  describe("reasoning", function()
    it("by default earlier turns' reasoning_content and reasoning are not sent back (kept in the history)", function()
      srv:queue{ reply("one") }
      local conv = client:conversation{}
      assert.equal("drop", conv.reasoning)
      assert.equal("one", (conv:say("first")))
      conv:say("second")
      local msgs = sent()
      assert.equal("assistant", msgs[2].role)
      assert.equal("one", msgs[2].content)
      assert.is_nil(msgs[2].reasoning_content)
      assert.is_nil(msgs[2].reasoning)
      assert.equal("thought about one", conv.messages[2].reasoning_content)
      assert.equal("r:one", conv.messages[2].reasoning)
    end)

    it('reasoning = "keep" sends them back', function()
      srv:queue{ reply("one") }
      local conv = client:conversation{ reasoning = "keep" }
      conv:say("first")
      conv:say("second")
      local msgs = sent()
      assert.equal("thought about one", msgs[2].reasoning_content)
      assert.equal("r:one", msgs[2].reasoning)
    end)

    it("a streamed reply's merged reasoning is dropped too", function()
      local function chunk(delta, finish)
        return { id = "s", object = "chat.completion.chunk", created = 1, model = "m",
          choices = { { index = 0, delta = delta, finish_reason = finish or null } } }
      end
      srv:queue{ { sse = { chunk({ role = "assistant", reasoning_content = "deep " }),
        chunk({ reasoning_content = "thought" }), chunk({ content = "hi" }), chunk({}, "stop"), "[DONE]" } } }
      local conv = client:conversation{}
      for _ in conv:stream("first") do end
      assert.equal("deep thought", conv.messages[2].reasoning_content)
      conv:say("second")
      assert.is_nil(sent()[2].reasoning_content)
      assert.equal("hi", sent()[2].content)
    end)

    it("the deepseek preset keeps reasoning on tool-call turns only", function()
      local ds = oaichat.new{ provider = "deepseek", base_url = srv.url, api_key = "sk-ds", max_retries = 0 }
      local conv = ds:conversation{}
      assert.equal("tool_calls", conv.reasoning)
      srv:queue{ reply("", { content = null, tool_calls = TOOL_CALL }), reply("done") }
      conv:say("use the tool")
      conv:add_tool_result("call_1", "42")
      assert.equal("done", (conv:say()))
      local msgs = sent()
      assert.equal("call_1", msgs[2].tool_calls[1].id)
      assert.equal("thought about ", msgs[2].reasoning_content)
      conv:say("next")
      msgs = sent()
      assert.equal("thought about ", msgs[2].reasoning_content) -- the tool-call turn
      assert.equal("done", msgs[4].content)
      assert.is_nil(msgs[4].reasoning_content) -- the plain answer
      assert.is_nil(msgs[4].reasoning)
      -- an explicit setting wins over the preset's
      local keep = ds:conversation{ reasoning = "drop" }
      assert.equal("drop", keep.reasoning)
      ds:close()
    end)

    it("fork and to_json keep the setting", function()
      local conv = client:conversation{ reasoning = "keep", system = "S" }
      assert.equal("keep", conv:fork().reasoning)
      local back = client:conversation_from_json(conv:to_json())
      assert.equal("keep", back.reasoning)
      assert.equal("drop", client:conversation_from_json(client:conversation{}:to_json()).reasoning)
      local _, err = client:conversation_from_json('{"messages": [], "reasoning": "maybe"}')
      assert.equal("decode", err.kind)
    end)

    it("raises on a value that is not drop, keep or tool_calls", function()
      assert.has_error(function() client:conversation{ reasoning = "all" } end,
        'client:conversation: reasoning must be "drop", "keep" or "tool_calls", got all')
    end)
  end)

  describe("unknown keys", function()
    it("client:conversation rejects them, with a did-you-mean for a near miss", function()
      local msg = util.raised(client.conversation, client, { sytem = "You are terse." })
      assert.equal('client:conversation: unknown option "sytem"; did you mean "system"?', msg)
      msg = util.raised(client.conversation, client, { parms = {} })
      assert.equal('client:conversation: unknown option "parms"; did you mean "params"?', msg)
      msg = util.raised(client.conversation, client, { colour = "red" })
      assert.equal('client:conversation: unknown option "colour"', msg)
      assert.equal(0, #srv:requests())
    end)

    it("oaichat.new rejects them the same way", function()
      assert.equal('oaichat.new: unknown option "modle"; did you mean "model"?',
        util.raised(oaichat.new, { modle = "x" }))
      assert.equal('oaichat.new: unknown option "api_kye"; did you mean "api_key"?',
        util.raised(oaichat.new, { api_kye = "x" }))
      assert.equal('oaichat.new: unknown option "stream_usge"; did you mean "stream_usage"?',
        util.raised(oaichat.new, { stream_usge = true }))
      assert.equal('oaichat.new: unknown option "temprature" (request parameters such as temperature go in params)',
        util.raised(oaichat.new, { temprature = 0.5 }))
    end)

    it("the error points at the caller's line", function()
      local line = debug.getinfo(1, "l").currentline + 1
      local ok, err = pcall(function() client:conversation{ sytem = "x" } end)
      assert.is_false(ok)
      assert.truthy(err:find("conversation_options_spec.lua:" .. line .. ":", 1, true), err)
    end)
  end)
end)
