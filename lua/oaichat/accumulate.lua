--- Builds a chat.completion from stream chunks, as the SDKs' finalChatCompletion
-- does, for the shapes real servers send (see README "Servers").
-- Strings arrive as pieces kept in arrays and are joined on demand, so the
-- cost stays linear in the length of the output. Whatever a chunk holds,
-- add() never raises: parts of an unexpected type are skipped.
local core = require("oaichat.core")

local null = core.null
local concat = table.concat

local M = {}
local Acc = {}
Acc.__index = Acc

function M.new()
  return setmetatable({ choices = {}, order = {}, top = {} }, Acc)
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

-- An index a server sent: a whole number a table can be keyed by (NaN,
-- fractions, negatives and strings are not).
local function valid_index(v)
  return type(v) == "number" and v == v and v >= 0 and v < 2147483648 and v % 1 == 0
end

-- A value worth keeping over what came before: not nil/null, "" or 0.
local function is_set(v)
  if type(v) == "string" then return v ~= "" end
  if type(v) == "number" then return v ~= 0 and v == v end
  return v ~= nil and v ~= null
end

local function is_array(t)
  return t[1] ~= nil or getmetatable(t) == core.array_mt
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  return setmetatable(out, getmetatable(v))
end

---------------------------------------------------------------------------
-- Merging delta values (point 4 of "Servers"): objects recursively, strings
-- joined, arrays of objects carrying `index` item by item, anything else
-- last-wins; id, type, name, index and format keep their first value.
-- A node is {s = pieces} | {o = fields, keys = order} | {a = items} | {v = value}.
---------------------------------------------------------------------------

local FIRST = { id = true, type = true, name = true, index = true, format = true }

local merge_node

local function indexed_items(v)
  for i = 1, #v do
    local item = v[i]
    if type(item) ~= "table" or not valid_index(item.index) then return false end
  end
  return #v > 0
end

local function merge_fields(node, t)
  if not node or not node.o then node = { o = {}, keys = {} } end
  for k, x in pairs(t) do
    if node.o[k] == nil and x ~= null then node.keys[#node.keys + 1] = k end
    node.o[k] = merge_node(node.o[k], x, k)
  end
  return node
end

function merge_node(node, v, key)
  if v == nil or v == null then return node end
  local tv = type(v)
  if FIRST[key] then
    if node and node.v ~= nil and is_set(node.v) then return node end
    if tv == "table" then return { v = copy(v) } end
    return { v = v }
  end
  if tv == "string" then
    if not node or not node.s then node = { s = new_pieces() } end
    pieces_add(node.s, v)
    return node
  elseif tv == "table" and node and next(v) == nil then
    return node -- an empty array or object never erases
  elseif tv == "table" and is_array(v) then
    if indexed_items(v) then
      if not node or not node.a then node = { a = {} } end
      for i = 1, #v do
        local item = v[i]
        node.a[item.index] = merge_fields(node.a[item.index], item)
      end
      return node
    end
    return { v = copy(v) }
  elseif tv == "table" then
    return merge_fields(node, v)
  end
  return { v = v }
end

local build_node

local function build_fields(node)
  local out = {}
  for _, k in ipairs(node.keys) do out[k] = build_node(node.o[k]) end
  return out
end

function build_node(node)
  if node == nil then return nil end
  if node.s then return pieces_join(node.s) end
  if node.o then return build_fields(node) end
  if node.a then
    local idx = {}
    for i in pairs(node.a) do idx[#idx + 1] = i end
    table.sort(idx)
    local out = {}
    for n, i in ipairs(idx) do out[n] = build_fields(node.a[i]) end
    return out
  end
  return copy(node.v)
end

-- Top-level and choice-level fields other than the ones built by hand:
-- objects merge recursively, anything else keeps its first non-empty value
-- (a repeated "provider": "X" must not become "XX").
local function merge_plain(have, v)
  if v == nil or v == null then return have end
  if type(v) == "table" and not is_array(v) then
    if type(have) ~= "table" or is_array(have) then have = {} end
    for k, x in pairs(v) do have[k] = merge_plain(have[k], x) end
    return have
  end
  if is_set(have) and not (type(have) == "table" and next(have) == nil) then return have end
  return copy(v)
end

---------------------------------------------------------------------------
-- Synthesized tool call ids: 9 characters [A-Za-z0-9], the one form every
-- server accepts on replay (Mistral rejects others). A private generator,
-- so math.random's state is left to the application.
---------------------------------------------------------------------------

local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
local seed

local function next_random()
  if not seed then
    local addr = tonumber((tostring({}):match("0x(%x+)") or "0"):sub(-8), 16) or 0
    seed = (os.time() + math.floor((core.now() % 1) * 1e6) + addr) % 2147483646 + 1
  end
  seed = (seed * 48271) % 2147483647 -- Park-Miller: exact in doubles and integers
  return seed
end

--- A new tool call id of 9 characters [A-Za-z0-9].
function M.new_id()
  local out = {}
  for i = 1, 9 do
    local r = next_random() % 62 + 1
    out[i] = ALPHABET:sub(r, r)
  end
  return concat(out)
end

local function has_id(call)
  return type(call.id) == "string" and call.id ~= ""
end

--- The tool calls of a message as they go into a history: only objects,
-- each with an id (a synthesized one where the server gave none). Returns
-- nil when none is left.
function M.history_calls(calls)
  if type(calls) ~= "table" then return nil end
  local out = {}
  for _, call in ipairs(calls) do
    if type(call) == "table" then
      if not has_id(call) then call.id = M.new_id() end
      out[#out + 1] = call
    end
  end
  if #out == 0 then return nil end
  return out
end

---------------------------------------------------------------------------
-- Tool calls (point 3): by index, split by id, index-less deltas.
---------------------------------------------------------------------------

local function new_choice(index)
  return { index = index, fields = { o = {}, keys = {} }, thinking = new_pieces(),
    calls = {}, by_index = {}, by_id = {}, last_key = -1, extra = {} }
end

local function new_call(st, key)
  local e = { key = key, seq = #st.calls + 1, args = new_pieces(), fn = { o = {}, keys = {} },
    rest = { o = {}, keys = {} } }
  st.calls[#st.calls + 1] = e
  if key > st.last_key then st.last_key = key end
  return e
end

-- The call a delta continues, or a new one.
local function call_for(st, tc, id, fn)
  local known = id and st.by_id[id]
  if valid_index(tc.index) then
    local cur = st.by_index[tc.index]
    if known and known.key == tc.index then
      cur = known
    elseif not cur or (id and cur.id and cur.id ~= id) then
      cur = new_call(st, tc.index) -- Ollama: every call at index 0, distinct ids
    end
    st.by_index[tc.index] = cur
    return cur
  end
  if known then return known end
  local named = type(fn) == "table" and type(fn.name) == "string" and fn.name ~= ""
  if id or named or not st.calls[1] then return new_call(st, st.last_key + 1) end
  return st.calls[#st.calls]
end

local function merge_tool_call(st, tc)
  if type(tc) ~= "table" then return end
  local id = type(tc.id) == "string" and tc.id ~= "" and tc.id or nil
  local fn = tc["function"]
  local e = call_for(st, tc, id, fn)
  if id and not e.id then
    e.id = id
    st.by_id[id] = e
  end
  if type(tc.type) == "string" and tc.type ~= "" and not e.type then e.type = tc.type end
  if type(fn) == "table" then
    for k, v in pairs(fn) do
      if k == "arguments" then
        if type(v) == "string" then pieces_add(e.args, v)
        elseif type(v) == "table" then e.args_value = copy(v) end
      else
        if e.fn.o[k] == nil and v ~= null then e.fn.keys[#e.fn.keys + 1] = k end
        e.fn.o[k] = merge_node(e.fn.o[k], v, k)
      end
    end
  end
  for k, v in pairs(tc) do
    if k ~= "index" and k ~= "id" and k ~= "type" and k ~= "function" then
      if e.rest.o[k] == nil and v ~= null then e.rest.keys[#e.rest.keys + 1] = k end
      e.rest.o[k] = merge_node(e.rest.o[k], v, k)
    end
  end
end

---------------------------------------------------------------------------
-- Deltas and chunks
---------------------------------------------------------------------------

-- Text parts of a content array are content; Mistral's "thinking" parts
-- are reasoning and never enter the content.
local function merge_content_parts(st, parts)
  for _, part in ipairs(parts) do
    if type(part) == "table" then
      if part.type == "thinking" then
        local th = part.thinking
        if type(th) == "string" then pieces_add(st.thinking, th) end
        if type(th) == "table" then
          for _, t in ipairs(th) do
            if type(t) == "table" and type(t.text) == "string" then pieces_add(st.thinking, t.text) end
          end
        end
      elseif type(part.text) == "string" then
        st.fields = merge_fields(st.fields, { content = part.text })
      end
    end
  end
end

local function merge_delta(st, d)
  local fields = st.fields.o
  for k, v in pairs(d) do
    local node = fields[k]
    local p = node and node.s
    local tv = type(v)
    if p and tv == "string" then
      -- the common case, one more piece of content (pieces_add inlined)
      local n = p.n + 1
      if n - p.j < JOIN then p[n], p.n = v, n else pieces_add(p, v) end
    elseif k == "role" then
      if st.role == nil and type(v) == "string" and v ~= "" then st.role = v end
    elseif k == "tool_calls" then
      if type(v) == "table" then
        for _, tc in ipairs(v) do merge_tool_call(st, tc) end
      end
    elseif k == "content" and tv == "table" then
      merge_content_parts(st, v)
    else
      if st.fields.o[k] == nil and v ~= nil and v ~= null then st.fields.keys[#st.fields.keys + 1] = k end
      st.fields.o[k] = merge_node(st.fields.o[k], v, k)
    end
  end
end

local function merge_logprobs(st, lp)
  if type(lp) ~= "table" then return end
  st.logprobs = st.logprobs or {}
  for k, list in pairs(lp) do
    if type(list) == "table" then
      local dst = st.logprobs[k]
      if type(dst) ~= "table" then
        dst = {}
        st.logprobs[k] = dst
      end
      for _, item in ipairs(list) do dst[#dst + 1] = item end
    end
  end
end

local CHOICE_KEYS = { index = true, delta = true, finish_reason = true, logprobs = true, message = true }

local function choice_state(self, index)
  local st = self.choices[index]
  if not st then
    st = new_choice(index)
    self.choices[index] = st
    self.order[#self.order + 1] = index
    table.sort(self.order)
  end
  return st
end

local function add_choice(self, c)
  if type(c) ~= "table" then return end
  local index = c.index
  if not valid_index(index) then index = 0 end
  local st = self.choices[index] or choice_state(self, index)
  local delta, finish, lp = c.delta, c.finish_reason, c.logprobs
  if type(delta) == "table" then merge_delta(st, delta) end
  if finish ~= nil and finish ~= null then st.finish_reason = finish end
  if lp ~= nil and lp ~= null then merge_logprobs(st, lp) end
  local extra = st.extra
  for k, v in pairs(c) do
    if not CHOICE_KEYS[k] and (extra[k] == nil or type(v) == "table" or not is_set(extra[k])) then
      extra[k] = merge_plain(extra[k], v)
    end
  end
end

-- (an error chunk's `error` becomes the stream's error, not part of the result)
local TOP_KEYS = { id = true, object = true, created = true, model = true, choices = true, usage = true,
  error = true }

local FIRST_TOP = { "id", "created", "model" }

-- The common chunk once id, created and model are known: no usage, one
-- choice already seen, and every other field (top level and choice level)
-- a scalar equal to the one kept, so only its delta and finish_reason can
-- change anything. Checked before anything is touched; returns false for
-- any other chunk, which then takes the general path below.
local function add_common(self, chunk)
  if chunk.usage ~= nil or chunk.x_groq ~= nil then return false end
  local choices = chunk.choices
  if type(choices) ~= "table" or #choices ~= 1 then return false end
  local c = choices[1]
  if type(c) ~= "table" then return false end
  local st = self.choices[c.index]
  local delta, lp = c.delta, c.logprobs
  if not st or type(delta) ~= "table" or (lp ~= nil and lp ~= null) then return false end
  local top, extra = self.top, st.extra
  for k, v in pairs(chunk) do
    if not TOP_KEYS[k] and top[k] ~= v then return false end
  end
  for k, v in pairs(c) do
    if not CHOICE_KEYS[k] and extra[k] ~= v then return false end
  end
  merge_delta(st, delta)
  local finish = c.finish_reason
  if finish ~= nil and finish ~= null then st.finish_reason = finish end
  return true
end

--- Adds one decoded chat.completion.chunk.
function Acc:add(chunk)
  if type(chunk) ~= "table" then return end
  if self.top_set and add_common(self, chunk) then return end
  if not self.top_set then -- until id, created and model all came
    local all = true
    for _, k in ipairs(FIRST_TOP) do
      local v = chunk[k]
      if not is_set(self[k]) and is_set(v) and type(v) ~= "table" then self[k] = v end
      all = all and is_set(self[k])
    end
    self.top_set = all
  end
  local usage = chunk.usage
  if type(usage) == "table" then self.usage = usage end
  local groq = chunk.x_groq
  if type(groq) == "table" and type(groq.usage) == "table" then self.groq_usage = groq.usage end
  local top = self.top
  for k, v in pairs(chunk) do
    -- (a scalar already kept needs no merge: the common case, every chunk)
    if not TOP_KEYS[k] then
      local have = top[k]
      if have == nil or type(v) == "table" or type(have) == "table" or not is_set(have) then
        top[k] = merge_plain(have, v)
      end
    end
  end
  local choices = chunk.choices
  if type(choices) ~= "table" then return end
  for i = 1, #choices do add_choice(self, choices[i]) end
end

local function by_key(a, b)
  if a.key ~= b.key then return a.key < b.key end
  return a.seq < b.seq
end

local function build_calls(st)
  local list = {}
  for i, e in ipairs(st.calls) do list[i] = e end
  table.sort(list, by_key)
  local calls = {}
  for i, e in ipairs(list) do
    -- a call that ends without an id gets one, the same at every result()
    if not e.id then e.synth = e.synth or M.new_id() end
    local fn = build_fields(e.fn)
    if e.args.n > 0 or e.args_value == nil then fn.arguments = pieces_join(e.args)
    else fn.arguments = copy(e.args_value) end
    local call = build_fields(e.rest)
    call.id, call.type, call["function"] = e.id or e.synth, e.type or "function", fn
    calls[i] = call
  end
  return calls
end

local function build_message(st)
  local msg = build_fields(st.fields)
  msg.role = st.role or "assistant"
  if type(msg.content) ~= "string" then msg.content = null end
  if msg.refusal == nil then msg.refusal = null end
  if st.thinking.n > 0 and msg.reasoning == nil then msg.reasoning = pieces_join(st.thinking) end
  if st.calls[1] then msg.tool_calls = build_calls(st) end
  return msg
end

--- The completion so far, shaped like a non-streaming response.
function Acc:result()
  local out = {}
  for k, v in pairs(self.top) do out[k] = copy(v) end
  out.id, out.object, out.created, out.model = self.id, "chat.completion", self.created, self.model
  out.choices, out.usage = {}, self.usage or self.groq_usage
  for i, index in ipairs(self.order) do
    local st = self.choices[index]
    local choice = {}
    for k, v in pairs(st.extra) do choice[k] = copy(v) end
    choice.index, choice.message = index, build_message(st)
    choice.finish_reason, choice.logprobs = st.finish_reason or null, st.logprobs or null
    out.choices[i] = choice
  end
  return out
end

local function first_choice(self)
  local first = self.order[1]
  return first ~= nil and self.choices[first] or nil
end

--- The content of the first choice so far.
function Acc:text()
  local st = first_choice(self)
  local node = st and st.fields.o.content
  return node and node.s and pieces_join(node.s) or ""
end

---------------------------------------------------------------------------
-- Reasoning (point 5): whichever field the server used.
---------------------------------------------------------------------------

local function detail_text(details)
  local out = {}
  for _, d in ipairs(details) do
    if type(d) == "table" then
      local t = d.text or d.summary
      if type(t) == "string" then out[#out + 1] = t end
    end
  end
  return concat(out)
end

local function thinking_text(content)
  local out = {}
  for _, part in ipairs(content) do
    if type(part) == "table" and part.type == "thinking" then
      local th = part.thinking
      if type(th) == "string" then out[#out + 1] = th end
      if type(th) == "table" then
        for _, t in ipairs(th) do
          if type(t) == "table" and type(t.text) == "string" then out[#out + 1] = t.text end
        end
      end
    end
  end
  return concat(out)
end

--- The text of a message's or delta's content: the string, or the joined
-- text parts of a content array (Mistral's thinking parts left out); nil
-- when there is none.
function M.content_text(content)
  if type(content) == "string" then return content end
  if type(content) ~= "table" then return nil end
  local out = {}
  for _, part in ipairs(content) do
    if type(part) == "table" and part.type ~= "thinking" and type(part.text) == "string" then
      out[#out + 1] = part.text
    end
  end
  if out[1] == nil then return nil end
  return concat(out)
end

--- The reasoning text of a message (reasoning_content, reasoning, Mistral's
-- thinking parts, OpenRouter's reasoning_details), or nil when it has none.
function M.message_reasoning(msg)
  if type(msg) ~= "table" then return nil end
  local candidates = { msg.reasoning_content, msg.reasoning }
  if type(msg.content) == "table" then candidates[3] = thinking_text(msg.content) end
  if type(msg.reasoning_details) == "table" then candidates[4] = detail_text(msg.reasoning_details) end
  for i = 1, 4 do
    local v = candidates[i]
    if type(v) == "string" and v ~= "" then return v end
  end
  return nil
end

--- The reasoning of the first choice so far (nil when none).
function Acc:reasoning()
  local st = first_choice(self)
  if not st then return nil end
  return M.message_reasoning(build_message(st))
end

--- Whether the stream may count as complete without [DONE]: at least one
-- choice was seen and every choice seen has a finish_reason.
function Acc:all_finished()
  if not self.order[1] then return false end
  for _, index in ipairs(self.order) do
    if self.choices[index].finish_reason == nil then return false end
  end
  return true
end

return M
