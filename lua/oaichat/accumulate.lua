--- Builds a chat.completion from stream chunks, as the SDKs' finalChatCompletion does.
-- Strings arrive as pieces kept in arrays and are joined on demand, so the
-- cost stays linear in the length of the output.
local core = require("oaichat.core")

local null = core.null
local concat = table.concat

local M = {}
local Acc = {}
Acc.__index = Acc

function M.new()
  return setmetatable({ choices = {}, order = {} }, Acc)
end

-- A string in pieces: {n = count, j = pieces already joined, ...}. Every
-- JOIN small pieces are joined into one, so a long stream keeps a short
-- array (less memory) while each byte is still copied only a few times.
local JOIN = 64

local function new_pieces()
  return { n = 0, j = 0 }
end

local function pieces_join(p)
  if p.n > 1 then
    local s = concat(p, "", 1, p.n)
    for i = p.n, 2, -1 do p[i] = nil end
    p[1], p.n, p.j = s, 1, 1
  end
  return p[1] or ""
end

local function pieces_add(p, s)
  local n, j = p.n + 1, p.j
  p[n] = s
  if n - j >= JOIN then
    p[j + 1] = concat(p, "", j + 1, n)
    for i = n, j + 2, -1 do p[i] = nil end
    n, p.j = j + 1, j + 1
  end
  p.n = n
end

local function new_choice(index)
  return { index = index, strings = {}, string_order = {}, extra = {}, tools = {}, tool_order = {} }
end

local function add_string(st, k, v)
  local p = st.strings[k]
  if not p then
    p = new_pieces()
    st.strings[k] = p
    st.string_order[#st.string_order + 1] = k
  end
  pieces_add(p, v)
end

-- id, type and name come once; some servers repeat them in later deltas,
-- possibly as "" (which never replaces a real value).
local function first_set(have, v)
  if (have == nil or have == "") and type(v) == "string" then return v end
  return have
end

local function merge_tool_call(st, tc)
  local idx = tc.index
  if type(idx) ~= "number" then idx = #st.tool_order end
  local e = st.tools[idx]
  if not e then
    e = { index = idx, args = new_pieces(), fn = {} }
    st.tools[idx] = e
    st.tool_order[#st.tool_order + 1] = idx
  end
  e.id = first_set(e.id, tc.id)
  e.type = first_set(e.type, tc.type)
  local fn = tc["function"]
  if type(fn) == "table" then
    e.fn.name = first_set(e.fn.name, fn.name)
    if type(fn.arguments) == "string" then pieces_add(e.args, fn.arguments) end
  end
end

local function merge_delta(st, d)
  for k, v in pairs(d) do
    if k == "role" then
      if st.role == nil and type(v) == "string" then st.role = v end
    elseif k == "tool_calls" then
      if type(v) == "table" then
        for _, tc in ipairs(v) do merge_tool_call(st, tc) end
      end
    elseif type(v) == "string" then
      add_string(st, k, v)
    elseif v ~= null then
      st.extra[k] = v
    end
  end
end

local function merge_logprobs(st, lp)
  if type(lp) ~= "table" then return end
  st.logprobs = st.logprobs or {}
  for k, list in pairs(lp) do
    if type(list) == "table" then
      local dst = st.logprobs[k] or {}
      st.logprobs[k] = dst
      for _, item in ipairs(list) do dst[#dst + 1] = item end
    end
  end
end

--- Adds one decoded chat.completion.chunk.
function Acc:add(chunk)
  if type(chunk) ~= "table" then return end
  if self.id == nil then
    self.id, self.model, self.created = chunk.id, chunk.model, chunk.created
  end
  if chunk.system_fingerprint ~= nil then self.system_fingerprint = chunk.system_fingerprint end
  if chunk.service_tier ~= nil then self.service_tier = chunk.service_tier end
  local usage = chunk.usage
  if usage ~= nil and type(usage) == "table" then self.usage = usage end
  local choices = chunk.choices
  if type(choices) ~= "table" then return end
  for i = 1, #choices do
    local c = choices[i]
    local index = type(c.index) == "number" and c.index or 0
    local st = self.choices[index]
    if not st then
      st = new_choice(index)
      self.choices[index] = st
      self.order[#self.order + 1] = index
      table.sort(self.order)
    end
    local delta, finish, lp = c.delta, c.finish_reason, c.logprobs
    if type(delta) == "table" then merge_delta(st, delta) end
    if finish ~= nil and finish ~= null then st.finish_reason = finish end
    if lp ~= nil and lp ~= null then merge_logprobs(st, lp) end
  end
end

local function build_message(st)
  local msg = { role = st.role or "assistant", content = null }
  for _, k in ipairs(st.string_order) do msg[k] = pieces_join(st.strings[k]) end
  for k, v in pairs(st.extra) do
    if msg[k] == nil then msg[k] = v end
  end
  if #st.tool_order > 0 then
    local calls = {}
    table.sort(st.tool_order)
    for i, idx in ipairs(st.tool_order) do
      local e = st.tools[idx]
      calls[i] = { id = e.id, type = e.type or "function",
        ["function"] = { name = e.fn.name, arguments = pieces_join(e.args) } }
    end
    msg.tool_calls = calls
  end
  return msg
end

--- The completion so far, shaped like a non-streaming response.
function Acc:result()
  local out = { id = self.id, object = "chat.completion", created = self.created,
    model = self.model, choices = {}, usage = self.usage,
    system_fingerprint = self.system_fingerprint, service_tier = self.service_tier }
  for i, index in ipairs(self.order) do
    local st = self.choices[index]
    out.choices[i] = { index = index, message = build_message(st),
      finish_reason = st.finish_reason or null, logprobs = st.logprobs or null }
  end
  return out
end

--- The content of the first choice so far.
function Acc:text()
  local first = self.order[1]
  local st = first ~= nil and self.choices[first]
  local p = st and st.strings.content
  return p and pieces_join(p) or ""
end

return M
