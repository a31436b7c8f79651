--- Conversations: a message history that grows by one exchange per turn.
-- A turn is committed only once it succeeded, so a failed, cancelled or
-- broken-off turn leaves the history exactly as it was.
-- Client:conversation and client:conversation_from_json (client.lua) make them.
local accumulate = require("oaichat.accumulate")
local config = require("oaichat.config")
local content = require("oaichat.content")
local core = require("oaichat.core")
local errors = require("oaichat.errors")
local message_checks = require("oaichat.messages")
local misuse = require("oaichat.misuse")
local tool_loop = require("oaichat.tools")

local null = core.null

local M = {}

---@class oaichat.Usage
---@field prompt_tokens integer
---@field completion_tokens integer
---@field total_tokens integer
---@field completion_tokens_details? {reasoning_tokens?: integer}
---@field prompt_tokens_details? {cached_tokens?: integer}

---@class oaichat.ConversationOptions
---@field system? string  system prompt, sent as the first message
---@field params? table   request parameters of every turn (merged over the client's)
---@field messages? oaichat.Message[]  an initial history (copied)
---earlier turns' reasoning_content/reasoning sent back: never (the default), always, or on
---tool-call turns only (the deepseek preset's default)
---@field reasoning? "drop"|"keep"|"tool_calls"
---@field stream_usage? boolean  streamed turns ask for usage (default: the client's)

---@alias oaichat.Turn string|oaichat.Message|(string|oaichat.ContentPart)[]

---@class oaichat.Conversation
---@field client oaichat.Client
---@field system string|nil
---@field params table
---@field messages oaichat.Message[]  the history (reasoning fields are sent back only as `reasoning` says)
---@field reasoning "drop"|"keep"|"tool_calls"
---@field stream_usage boolean|nil
local Conversation = {}
Conversation.__index = Conversation
M.Conversation = Conversation

---@class oaichat.ConversationStream
local ConvStream = {}
ConvStream.__index = ConvStream
M.ConversationStream = ConvStream

--- A deep copy (metatables kept: decoded JSON may carry them).
local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deep_copy(x) end
  return setmetatable(out, getmetatable(v))
end
M.deep_copy = deep_copy

local function merged(base, extra)
  local out = {}
  for k, v in pairs(base or {}) do out[k] = v end
  for k, v in pairs(extra or {}) do out[k] = v end
  return out
end

local function is_empty(v)
  return v == null or v == "" or (type(v) == "table" and next(v) == nil)
end

-- The assistant message to keep: what the service returned, minus null and
-- empty fields (`refusal: null`, `annotations: []`, an empty `tool_calls`),
-- which several servers reject when they come back in a request.
local function clean_message(msg)
  local out = {}
  for k, v in pairs(msg) do
    if k ~= "content" and not is_empty(v) then out[k] = deep_copy(v) end
  end
  -- tool calls without an id get one, so the tool messages can answer them
  out.tool_calls = accumulate.history_calls(out.tool_calls)
  local c = msg.content
  if c == nil or (c == "" and out.tool_calls) then c = null end
  out.content = deep_copy(c)
  out.role = type(msg.role) == "string" and msg.role or "assistant"
  return out
end

-- Text of a message's content: the string, or the joined text parts.
local function message_text(msg)
  local c = msg and msg.content
  if type(c) == "string" then return c end
  if type(c) ~= "table" then return "" end
  local texts = {}
  for _, part in ipairs(c) do
    if type(part) == "table" and type(part.text) == "string" then texts[#texts + 1] = part.text end
  end
  return table.concat(texts)
end

-- A user turn from what say/stream were given (nil: no new user message).
local function user_turn(turn, where)
  if turn == nil then return nil end
  if type(turn) == "string" then return { role = "user", content = turn } end
  if type(turn) ~= "table" then
    misuse.raise(("%s: content must be a string, a message or an array of content parts, got %s")
      :format(where, type(turn)))
  end
  if turn.role ~= nil then
    message_checks.check_messages({ turn }, where)
    return turn
  end
  return content.user(turn)
end

local function check_opts(opts, where)
  if opts ~= nil and type(opts) ~= "table" then
    misuse.raise(("%s: opts must be a table, got %s"):format(where, type(opts)))
  end
end

local KNOWN = { system = true, params = true, messages = true, reasoning = true, stream_usage = true }
local REASONING = { drop = true, keep = true, tool_calls = true }

-- Raises on an unknown key or a bad reasoning/stream_usage.
local function check_keys(opts, where)
  for k in pairs(opts) do
    if not KNOWN[k] then config.unknown_key(where, k, KNOWN) end
  end
  if opts.reasoning ~= nil and not REASONING[opts.reasoning] then
    misuse.raise(('%s: reasoning must be "drop", "keep" or "tool_calls", got %s'):format(where,
      tostring(opts.reasoning)))
  end
  if opts.stream_usage ~= nil and type(opts.stream_usage) ~= "boolean" then
    misuse.raise(("%s: stream_usage must be a boolean, got %s"):format(where, type(opts.stream_usage)))
  end
end

--- Creates a conversation on client (also available as client:conversation).
---@param client oaichat.Client
---@param opts? oaichat.ConversationOptions
---@return oaichat.Conversation
function M.new(client, opts)
  local where = "client:conversation"
  check_opts(opts, where)
  opts = opts or {}
  check_keys(opts, where)
  if opts.system ~= nil and opts.system ~= null and type(opts.system) ~= "string" then
    misuse.raise(where .. ": system must be a string, got " .. type(opts.system))
  end
  if opts.params ~= nil and type(opts.params) ~= "table" then
    misuse.raise(where .. ": params must be a table, got " .. type(opts.params))
  end
  local messages = {}
  if opts.messages ~= nil then
    if type(opts.messages) ~= "table" then
      misuse.raise(where .. ": messages must be an array of messages, got " .. type(opts.messages))
    end
    message_checks.check_messages(opts.messages, where)
    messages = deep_copy(opts.messages)
  end
  local system = opts.system ~= null and opts.system or nil
  if system and not (messages[1] and messages[1].role == "system") then
    table.insert(messages, 1, { role = "system", content = system })
  end
  return setmetatable({ client = client, system = system, params = deep_copy(opts.params or {}),
    messages = messages, _usages = {}, reasoning = opts.reasoning or client.reasoning_policy or "drop",
    stream_usage = opts.stream_usage }, Conversation)
end

function Conversation:__tostring()
  return ("oaichat.conversation (%d messages)"):format(#self.messages)
end

-- Fields of earlier assistant turns that carry reasoning (several servers
-- reject them in a request: Mistral 422, legacy deepseek-reasoner 400).
local REASONING_FIELDS = { "reasoning_content", "reasoning" }

-- msg as sent under the conversation's reasoning policy.
local function outgoing_message(msg, policy)
  if policy == "keep" or type(msg) ~= "table" or msg.role ~= "assistant" then return msg end
  if policy == "tool_calls" and type(msg.tool_calls) == "table" and msg.tool_calls[1] then return msg end
  local out
  for _, k in ipairs(REASONING_FIELDS) do
    if msg[k] ~= nil then
      out = out or merged(msg, nil)
      out[k] = nil
    end
  end
  return out or msg
end

-- The array sent for a turn: the history plus the new user message.
function Conversation:_outgoing(user, where)
  local msgs = {}
  for i = 1, #self.messages do msgs[i] = outgoing_message(self.messages[i], self.reasoning) end
  if user then msgs[#msgs + 1] = user end
  if #msgs == 0 then misuse.raise(where .. ": nothing to send (no content and an empty history)") end
  return msgs
end

-- Appends a finished exchange.
function Conversation:_commit(user, reply, usage)
  if user then self.messages[#self.messages + 1] = deep_copy(user) end
  self.messages[#self.messages + 1] = clean_message(reply)
  if type(usage) == "table" then self._usages[#self._usages + 1] = deep_copy(usage) end
end

--- Sends one turn and waits for the reply. `turn` is the user's content (a
-- string, a message such as oaichat.user{...}, or an array of parts); nil
-- sends the history as it is (after add_tool_result). `opts` are request
-- parameters merged over the conversation's.
---@param turn? oaichat.Turn
---@param opts? table
---@return string|nil text  the reply's text ("" when it only holds tool calls)
---@return table|oaichat.Error resp  the response, or the error
---@return oaichat.Meta|nil meta  the response metadata (see client:chat)
function Conversation:say(turn, opts)
  local where = "conv:say"
  check_opts(opts, where)
  local user = user_turn(turn, where)
  local resp, err, meta = self.client:chat(self:_outgoing(user, where), merged(self.params, opts))
  if not resp then return nil, err, meta end
  local text, why = self:_commit_response(user, resp)
  if not text then return nil, why, meta end
  return text, resp, meta
end

-- Commits the exchange of a non-streaming response; its text, or nil, err
-- when the response holds no message (nothing committed then).
function Conversation:_commit_response(user, resp)
  local choice = type(resp.choices) == "table" and resp.choices[1]
  local msg = type(choice) == "table" and choice.message
  if type(msg) ~= "table" then
    return nil, errors.new("decode", "the response holds no choices[1].message",
      { body = errors.excerpt(core.encode(resp)) })
  end
  self:_commit(user, msg, resp.usage)
  return message_text(msg)
end

---@class oaichat.ConversationRequest
---@field state "running"|"done"|"failed"|"canceled"
local ConvRequest = {}
ConvRequest.__index = ConvRequest
M.ConversationRequest = ConvRequest

--- conv:say for event loops: starts the turn and returns at once; drive it
-- with request:poll(timeout_ms) -> done, resp | nil, err. The exchange is
-- committed once, when poll first reports success; a failure or close()
-- leaves the history as it was.
---@param turn? oaichat.Turn
---@param opts? table
---@return oaichat.ConversationRequest
function Conversation:say_async(turn, opts)
  local where = "conv:say_async"
  check_opts(opts, where)
  local user = user_turn(turn, where)
  local r = self.client:chat_async(self:_outgoing(user, where), merged(self.params, opts))
  return setmetatable({ conv = self, request = r, user = user, state = "running" }, ConvRequest)
end

--- Drives the turn for up to timeout_ms (0: no wait; nil: until done).
-- Returns done, resp | nil, err (and the request's meta when it gives one).
function ConvRequest:poll(timeout_ms)
  if self.state == "running" then
    local done, resp, err, meta = self.request:poll(timeout_ms)
    if not done then return false end
    self.meta = meta
    if resp then
      local text, why = self.conv:_commit_response(self.user, resp)
      if text then
        self.resp, self.reply, self.state = resp, text, "done"
      else
        self.err, self.state = why, "failed"
      end
    else
      self.err, self.state = err, "failed"
    end
  end
  return true, self.resp, self.err, self.meta
end

--- The reply's text once done (nil before, or after a failure).
---@return string|nil
function ConvRequest:text()
  return self.reply
end

--- Cancels the turn (nothing is committed) unless it already finished.
function ConvRequest:close()
  if self.state == "running" then
    self.request:close()
    self.state = "canceled"
    self.err = errors.new("canceled", "the request was canceled", { attempts = self.request.attempt })
  end
end
ConvRequest.__close = ConvRequest.close

--- Sends one turn as a stream; iterating yields the reply's text pieces.
-- The exchange is appended when the stream ends with [DONE]; the `for`
-- raises the error object when it fails (history unchanged), and closing
-- the stream early (or `break` on 5.4) cancels the turn.
---@param turn? oaichat.Turn
---@param opts? table
---@return oaichat.ConversationStream
function Conversation:stream(turn, opts)
  local where = "conv:stream"
  check_opts(opts, where)
  local user = user_turn(turn, where)
  local call_opts = merged(self.params, opts)
  if call_opts.stream_usage == nil then call_opts.stream_usage = self.stream_usage end
  local s = self.client:stream(self:_outgoing(user, where), call_opts)
  local cs = setmetatable({ conv = self, stream = s, user = user, pieces = {}, state = "running" }, ConvStream)
  -- The fourth value is the `for` loop's closing value on 5.4: a `break`
  -- cancels the transfer at once instead of at garbage collection.
  return cs, nil, nil, cs
end

-- Text of the first choice (index 0) in a chunk, or nil.
local function chunk_piece(chunk)
  if type(chunk.choices) ~= "table" then return nil end
  for _, c in ipairs(chunk.choices) do
    if type(c) == "table" and (c.index == nil or c.index == 0) and type(c.delta) == "table" then
      local piece = accumulate.content_text(c.delta.content) -- text parts too, never thinking
      if piece and piece ~= "" then return piece end
      return nil
    end
  end
  return nil
end

function ConvStream:_finish()
  if self.state ~= "running" then return nil, self.err end -- committed (or failed) once already
  local result = self.stream:result()
  local choice = result.choices[1]
  if not choice then
    self.state = "failed"
    self.err = errors.new("stream", "the stream ended without any message")
    return nil, self.err
  end
  self.conv:_commit(self.user, choice.message, result.usage)
  self.state = "done"
  return nil
end

--- The next text piece; nil at the end (the exchange is then appended);
-- nil, err on failure.
---@return string|nil piece
---@return oaichat.Error|nil err
function ConvStream:next()
  while self.state == "running" do
    local chunk, err = self.stream:next()
    if err then
      self.state, self.err = "failed", err
      self.stream:close()
    elseif chunk == nil then
      if self.stream.canceled then
        self.state = "canceled"
      else
        return self:_finish()
      end
    else
      local piece = chunk_piece(chunk)
      if piece then
        self.pieces[#self.pieces + 1] = piece
        return piece
      end
    end
  end
  return nil, self.err
end

--- For event loops, like stream:poll: the chunks that arrived within
-- timeout_ms (0: no wait), done, err, and as a fourth value their text
-- (first choice). The exchange is committed once, when the stream ends
-- well; after a failure or close() the history is as before the turn.
---@param timeout_ms? integer
---@return table[] chunks
---@return boolean done
---@return oaichat.Error|nil err
---@return string text
function ConvStream:poll(timeout_ms)
  if self.state ~= "running" then return {}, true, self.err, "" end
  local chunks, done, err = self.stream:poll(timeout_ms)
  local first = #self.pieces
  for _, chunk in ipairs(chunks) do
    local piece = chunk_piece(chunk)
    if piece then self.pieces[#self.pieces + 1] = piece end
  end
  local text = table.concat(self.pieces, "", first + 1)
  if err then
    self.state, self.err = "failed", err
    self.stream:close()
  elseif done then
    if self.stream.canceled then self.state = "canceled" else self:_finish() end
  end
  return chunks, self.state ~= "running", self.err, text
end

--- The response head's meta (see stream:meta()), when the stream has one.
function ConvStream:meta()
  return self.stream.meta and self.stream:meta() or nil
end

--- For `for piece in conv:stream(...) do`: raises the error object on failure.
function ConvStream:__call()
  local piece, err = self:next()
  if err then error(err, 0) end
  return piece
end

--- All text so far.
---@return string
function ConvStream:text()
  return table.concat(self.pieces)
end

--- The reasoning text so far (see stream:reasoning()); nil when none.
---@return string|nil
function ConvStream:reasoning()
  return self.stream:reasoning()
end

--- The accumulated completion (see stream:result()).
---@return table
function ConvStream:result()
  return self.stream:result()
end

--- Cancels the turn (nothing is appended) unless it already finished.
function ConvStream:close()
  if self.state == "running" then
    self.state = "canceled"
    self.stream:close()
  end
end
ConvStream.__close = ConvStream.close

-- Adds the numbers of `src` into `dst`, recursing into nested tables.
local function add_usage(dst, src)
  for k, v in pairs(src) do
    if type(v) == "number" then
      dst[k] = (type(dst[k]) == "number" and dst[k] or 0) + v
    elseif type(v) == "table" then
      if type(dst[k]) ~= "table" then dst[k] = {} end
      add_usage(dst[k], v)
    end
  end
end

--- The summed usage of every reply this conversation received (undone
-- replies included: they were billed), nested details summed too.
---@return oaichat.Usage
function Conversation:usage()
  local total = { prompt_tokens = 0, completion_tokens = 0, total_tokens = 0 }
  for _, u in ipairs(self._usages) do add_usage(total, u) end
  return total
end

--- Drops the last user turn and everything after it. Returns whether
-- anything was dropped.
---@return boolean
function Conversation:undo()
  for i = #self.messages, 1, -1 do
    if self.messages[i].role == "user" then
      for j = #self.messages, i, -1 do self.messages[j] = nil end
      return true
    end
  end
  return false
end

--- Forgets every turn; the system prompt stays.
function Conversation:reset()
  local keep = self.messages[1]
  self.messages = {}
  if keep and keep.role == "system" then self.messages[1] = keep end
end

--- An independent deep copy, on the same client.
---@return oaichat.Conversation
function Conversation:fork()
  return setmetatable({ client = self.client, system = self.system, params = deep_copy(self.params),
    messages = deep_copy(self.messages), _usages = deep_copy(self._usages), reasoning = self.reasoning,
    stream_usage = self.stream_usage }, Conversation)
end

--- Appends a message without sending anything (a string is a user message).
---@param msg string|oaichat.Message
---@return oaichat.Conversation self
function Conversation:add(msg)
  local m = user_turn(msg, "conv:add")
  if m == nil then misuse.raise("conv:add: expected a message or a string, got nil") end
  self.messages[#self.messages + 1] = m
  return self
end

-- Tool results are strings (or text parts); other values become JSON.
local function tool_content(v)
  if v == nil or v == null then return "" end
  if type(v) == "string" then return v end
  if type(v) == "table" then
    local first = v[1]
    if type(first) == "table" and type(first.type) == "string" then return v end
    local ok, s = pcall(core.encode, v)
    if ok then return s end
    return "error: the tool result cannot be encoded as JSON: " .. tostring(s)
  end
  return tostring(v)
end

--- Appends the result of a tool call, for a following say() with no new
-- user text. Tables (other than content-part arrays) are sent as JSON.
---@param call_id string  the id of the tool call being answered
---@param result any
---@return oaichat.Conversation self
function Conversation:add_tool_result(call_id, result)
  if type(call_id) ~= "string" or call_id == "" then
    misuse.raise("conv:add_tool_result: call_id must be a non-empty string, got " .. type(call_id))
  end
  self.messages[#self.messages + 1] = { role = "tool", tool_call_id = call_id, content = tool_content(result) }
  return self
end

---@class oaichat.RunToolsOptions
---@field max_rounds? integer  most requests to the model (default 8)
---@field prompt? oaichat.Turn  a user turn to add first
---Any other field is a request parameter (tool_choice, parallel_tool_calls, ...).

--- Lets the model call Lua functions: sends `tools`, runs the handler named
-- by each tool call with the decoded JSON arguments (handlers[name](args,
-- call), or handlers(name, args, call) when handlers is a function), appends
-- the results as tool messages and asks again, until the model answers
-- without tool calls. A handler that raises gives a result carrying the
-- error text. Hitting max_rounds requests is an error of kind "limit"; on
-- any failure the history is as it was before the call.
---@param tools table[]  tool definitions ({type = "function", ["function"] = {...}})
---@param handlers table<string, fun(args: table, call: table): any>|fun(name: string, args: table, call: table): any
---@param opts? oaichat.RunToolsOptions
---@return string|nil text
---@return table|oaichat.Error resp
function Conversation:run_tools(tools, handlers, opts)
  local run = M.tool_run(self, tools, handlers, opts, "conv:run_tools")
  local _, resp, err = run:poll(nil)
  if not resp then return nil, err end
  return run.reply, resp
end

M.ToolRun = tool_loop.ToolRun

--- conv:run_tools for event loops: returns at once a run whose
-- poll(timeout_ms) -> done, resp | nil, err drives the requests (through
-- say_async) and calls the handlers between them, inside poll. Tool turns
-- join the history as they complete; a failure, max_rounds or close()
-- removes every message the run added.
---@param tools table[]
---@param handlers table<string, fun(args: table, call: table): any>|fun(name: string, args: table, call: table): any
---@param opts? oaichat.RunToolsOptions
---@return oaichat.ToolRun
function Conversation:run_tools_async(tools, handlers, opts)
  local run = M.tool_run(self, tools, handlers, opts, "conv:run_tools_async")
  return run
end

-- Checks the arguments (raising at the caller of run_tools[_async]) and
-- adds opts.prompt; the run starts on the first poll.
function M.tool_run(conv, tools, handlers, opts, where)
  if type(tools) ~= "table" then
    misuse.raise(where .. ": tools must be an array of tool definitions, got " .. type(tools))
  end
  if type(handlers) ~= "table" and type(handlers) ~= "function" then
    misuse.raise(where .. ": handlers must be a table of functions (or a function), got " .. type(handlers))
  end
  check_opts(opts, where)
  opts = opts or {}
  local max_rounds = opts.max_rounds or 8
  if type(max_rounds) ~= "number" or max_rounds < 1 then misuse.raise(where .. ": max_rounds must be a number >= 1") end
  local params = merged(opts, { tools = tools })
  params.max_rounds, params.prompt = nil, nil
  local run = tool_loop.new(conv, handlers, params, max_rounds)
  if opts.prompt ~= nil then
    conv:add(user_turn(opts.prompt, where))
  else
    local last = conv.messages[#conv.messages]
    if not last or (last.role == "assistant" and not tool_loop.pending_calls(conv)) then
      misuse.raise(where .. ": nothing to answer: give opts.prompt, or add a user message first")
    end
  end
  return run
end

--- The conversation as JSON: {system, params, messages, usage, reasoning, stream_usage}.
---@return string
function Conversation:to_json()
  local obj = { version = 1, system = self.system, params = self.params, messages = self.messages,
    reasoning = self.reasoning, stream_usage = self.stream_usage }
  if #self._usages > 0 then obj.usage = self:usage() end
  return core.encode(obj)
end

local function unnull(v)
  if v == null then return nil end
  return v
end

--- A conversation from conv:to_json() output; nil, err for text that is not one.
---@param client oaichat.Client
---@param s string
---@return oaichat.Conversation|nil
---@return oaichat.Error|nil
function M.from_json(client, s)
  if type(s) ~= "string" then
    misuse.raise("client:conversation_from_json: expected a JSON string, got " .. type(s))
  end
  local obj, why = core.decode(s)
  local problem
  if type(obj) ~= "table" then
    problem = "not a JSON object" .. (why and (" (" .. why .. ")") or "")
  elseif obj.messages ~= nil and obj.messages ~= null and type(obj.messages) ~= "table" then
    problem = "messages is not an array"
  elseif obj.params ~= nil and obj.params ~= null and type(obj.params) ~= "table" then
    problem = "params is not an object"
  elseif obj.system ~= nil and obj.system ~= null and type(obj.system) ~= "string" then
    problem = "system is not a string"
  elseif obj.reasoning ~= nil and obj.reasoning ~= null and not REASONING[obj.reasoning] then
    problem = "reasoning is not \"drop\", \"keep\" or \"tool_calls\""
  elseif obj.stream_usage ~= nil and obj.stream_usage ~= null and type(obj.stream_usage) ~= "boolean" then
    problem = "stream_usage is not a boolean"
  end
  if problem then
    return nil, errors.new("decode", "client:conversation_from_json: " .. problem, { body = errors.excerpt(s) })
  end
  local ok, conv = pcall(M.new, client, {
    system = obj.system ~= null and obj.system or nil,
    params = obj.params ~= null and obj.params or nil,
    messages = obj.messages ~= null and obj.messages or nil,
    reasoning = obj.reasoning ~= null and obj.reasoning or nil,
    stream_usage = unnull(obj.stream_usage),
  })
  if not ok then return nil, errors.new("decode", tostring(conv), { body = errors.excerpt(s) }) end
  if type(obj.usage) == "table" then conv._usages[1] = obj.usage end
  return conv
end

return M
