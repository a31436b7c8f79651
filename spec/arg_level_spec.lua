-- Argument errors point at the user's own line however deep inside the
-- library the check sits (lua/oaichat/misuse.lua finds the first frame
-- outside lua/oaichat/). Nothing here reaches the network: every call raises
-- before a request starts.
local oaichat = require("oaichat")

local THIS = debug.getinfo(1, "S").short_src:match("[^/\\]*$"):gsub("%.", "%%.")

-- Raises from fn at `line` of this file, with a message containing `text`.
local function raised_at(line, text, fn)
  local ok, msg = pcall(fn)
  assert.is_false(ok)
  msg = tostring(msg)
  assert.truthy(msg:find(text, 1, true), msg)
  assert.truthy(msg:find("^[^:]*" .. THIS .. ":" .. line .. ":"), "expected line " .. line .. ": " .. msg)
end

local function here() return debug.getinfo(2, "l").currentline end

describe("argument errors", function()
  local client = oaichat.new{ base_url = "http://127.0.0.1:9/v1", api_key = "sk-test" }

  it("point at the caller's line through conversations", function()
    local conv = client:conversation()
    raised_at(here(), "conv:say: content must be", function() conv:say(5) end)
    raised_at(here(), "conv:say: messages[1].role", function() conv:say({ role = 1 }) end)
    raised_at(here(), "conv:say: nothing to send", function() conv:say(nil) end)
    raised_at(here(), "client:chat: headers must be a table", function() conv:say("x", { headers = 5 }) end)
    raised_at(here(), "client:stream: opts.timeout", function() conv:stream("x", { timeout = -1 }) end)
    raised_at(here(), "conv:add: expected a message", function() conv:add(nil) end)
    raised_at(here(), "conv:add_tool_result: call_id", function() conv:add_tool_result(1, "r") end)
    raised_at(here(), "conv:run_tools: tools must be", function() conv:run_tools(5, {}) end)
    raised_at(here(), "conv:run_tools: opts must be a table", function() conv:run_tools({}, {}, 5) end)
    raised_at(here(), "client:conversation: system", function() client:conversation{ system = 5 } end)
    raised_at(here(), "messages[1].role", function() client:conversation{ messages = { { role = 1 } } } end)
    raised_at(here(), "client:conversation_from_json", function() client:conversation_from_json(5) end)
  end)

  it("point at the caller's line from the module functions and content helpers", function()
    raised_at(here(), "oaichat.array", function() oaichat.array(5) end)
    raised_at(here(), "oaichat.text", function() oaichat.text(5) end)
    raised_at(here(), "oaichat.image_data", function() oaichat.image_data(5) end)
    raised_at(here(), "oaichat.user", function() oaichat.user(5) end)
    raised_at(here(), "oaichat.new: unknown option", function() oaichat.new{ bogus = true } end)
    raised_at(here(), "oaichat.new: header", function() oaichat.new{ headers = { ["X-A"] = "\n" } } end)
    raised_at(here(), "client:chat_many: list[1] opts", function() client:chat_many({ { "a", 5 } }) end)
  end)
end)
