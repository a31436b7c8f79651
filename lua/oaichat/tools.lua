--- The tool loop of conversations (conv:run_tools, conv:run_tools_async): a
-- run sends the tools, runs the handler of each tool call between requests
-- and asks again until the model answers without tools. conversation.lua
-- checks the arguments and builds the run here.
local core = require("oaichat.core")
local errors = require("oaichat.errors")

local M = {}

---@class oaichat.ToolRun
---@field state "running"|"done"|"failed"|"canceled"
local ToolRun = {}
ToolRun.__index = ToolRun
M.ToolRun = ToolRun

-- The tool calls of the last message when it is an assistant turn asking
-- for tools (and so still awaiting results).
function M.pending_calls(conv)
  local last = conv.messages[#conv.messages]
  if last and last.role == "assistant" and type(last.tool_calls) == "table" and last.tool_calls[1] then
    return last.tool_calls
  end
  return nil
end

-- Runs one tool call; every failure becomes the text of the result.
local function run_call(call, handlers)
  local fn = type(call["function"]) == "table" and call["function"] or {}
  local name = fn.name
  local handler = handlers
  if type(handlers) == "table" then handler = handlers[name] end
  if handler == nil then
    return ("error: no handler for the tool %q"):format(tostring(name))
  end
  local args = {}
  if type(fn.arguments) == "string" and fn.arguments:match("%S") then
    local why
    args, why = core.decode(fn.arguments)
    if args == nil then return "error: the arguments are not valid JSON: " .. tostring(why) end
  elseif type(fn.arguments) == "table" then
    args = fn.arguments
  end
  local ok, res
  if type(handlers) == "table" then
    ok, res = pcall(handler, args, call)
  else
    ok, res = pcall(handler, name, args, call)
  end
  if not ok then return "error: " .. tostring(res) end
  return res
end

--- A run on conv; it starts on the first poll. params: the request
-- parameters of every round (tools included).
---@return oaichat.ToolRun
function M.new(conv, handlers, params, max_rounds)
  return setmetatable({ conv = conv, handlers = handlers, params = params, max_rounds = max_rounds,
    before = #conv.messages, rounds = 0, state = "running" }, ToolRun)
end

function ToolRun:_fail(err)
  local msgs = self.conv.messages
  for i = #msgs, self.before + 1, -1 do msgs[i] = nil end
  self.err, self.state, self.resp, self.reply = err, "failed", nil, nil
end

-- Settles the request in flight, if done; false while it runs.
function ToolRun:_settle(timeout_ms)
  local done, resp, err = self.req:poll(timeout_ms)
  if not done then return false end
  self.req = nil
  if not resp then
    self:_fail(err)
  else
    self.rounds, self.resp, self.reply = self.rounds + 1, resp, self.last:text()
  end
  return true
end

-- Between requests: run the pending tool calls and ask again, or finish.
function ToolRun:_step()
  local conv = self.conv
  local calls = M.pending_calls(conv)
  if calls and self.rounds >= self.max_rounds then
    return self:_fail(errors.new("limit", ("the model still asked for tools after %d rounds (max_rounds = %d)")
      :format(self.rounds, self.max_rounds)))
  elseif calls then
    for _, call in ipairs(calls) do conv:add_tool_result(tostring(call.id), run_call(call, self.handlers)) end
  elseif self.rounds > 0 then
    self.state = "done"
    return
  end
  self.last = conv:say_async(nil, self.params)
  self.req = self.last
end

--- Drives the run for up to timeout_ms (0: no wait; nil: until done).
---@return boolean done
---@return table|nil resp  the last response, once done
---@return oaichat.Error|nil err
function ToolRun:poll(timeout_ms)
  local deadline = timeout_ms and timeout_ms >= 0 and core.now() + timeout_ms / 1000
  while self.state == "running" do
    if not self.req then
      self:_step()
    else
      local left = deadline and math.max(0, (deadline - core.now()) * 1000) or nil
      if not self:_settle(left) then return false end
    end
  end
  return true, self.resp, self.err
end

--- The final answer's text once done.
---@return string|nil
function ToolRun:text()
  return self.state == "done" and self.reply or nil
end

--- Cancels the run: the request in flight stops and the history is as
-- before run_tools_async.
function ToolRun:close()
  if self.state ~= "running" then return end
  if self.req then self.req:close() end
  self.req = nil
  self:_fail(errors.new("canceled", "the tool run was canceled"))
  self.state = "canceled"
end
ToolRun.__close = ToolRun.close

return M
