--- oaichat: a client for OpenAI-compatible chat-completion services.

-- A core.so built for another Lua fails to load with a linker message
-- (`undefined symbol: lua_newuserdatauv` under LuaJIT), and a missing one
-- with a list of paths; say what to build instead.
local function load_core()
  local ok, core = pcall(require, "oaichat.core")
  if ok then return core end
  local msg = tostring(core)
  local here = type(jit) == "table" and "LuaJIT" or _VERSION
  local target = type(jit) == "table" and "jit" or _VERSION:match("%d+%.%d+")
  if msg:find("module 'oaichat.core' not found", 1, true) then
    error(("oaichat: no build of the C module oaichat.core for this %s on package.cpath; build it with "
      .. "`make LUA_VERSION=%s` and put build/%s/?.so on package.cpath (or install the rock)")
      :format(here, target, target), 0)
  end
  local symbol = msg:match("undefined symbol: (lua[%w_]*)") or msg:match("undefined symbol: (luaL[%w_]*)")
  if not symbol then error(core, 0) end
  local file = msg:match("error loading module 'oaichat.core' from file '([^']+)'") or "oaichat/core.so"
  error(("oaichat: %s was built for another Lua than this %s (undefined symbol %s); "
    .. "build it for this one with `make LUA_VERSION=%s` and put build/%s/?.so on package.cpath")
    :format(file, here, symbol, target, target), 0)
end
local core = load_core()
local accumulate = require("oaichat.accumulate")
local client = require("oaichat.client")
local misuse = require("oaichat.misuse")
local parts = require("oaichat.content")
local providers = require("oaichat.providers")

local M = {}

M.VERSION = client.VERSION
--- The value JSON null decodes to (and encodes from).
M.null = core.null

--- Marks t (or a new table) as a JSON array, so that an empty one is sent
-- as [] rather than {} (for fields such as `tools` or `stop`).
---@param t table|nil
---@return table
function M.array(t)
  if t ~= nil and type(t) ~= "table" then
    misuse.raise("oaichat.array: expected a table or nil, got " .. type(t))
  end
  return setmetatable(t or {}, core.array_mt)
end
M.new = client.new

--- The provider presets of oaichat.new{provider = NAME}: their names in
-- order (oaichat.providers[1], ...) and each preset by name (a copy).
---@type table<integer|string, string|oaichat.Provider>
M.providers = providers.all()
for i, name in ipairs(providers.names) do M.providers[i] = name end

-- Content parts (lua/oaichat/content.lua): they raise on bad input.
M.text_part = parts.text_part
M.image_url = parts.image_url
M.image_file = parts.image_file
M.image_data = parts.image_data
M.user = parts.user

--- The text of a response: choices[1].message.content (nil when absent;
-- the joined text parts when the content is an array).
---@param resp table
---@return string|nil
function M.text(resp)
  if type(resp) ~= "table" then
    misuse.raise("oaichat.text: expected a response table, got " .. type(resp))
  end
  local c = type(resp.choices) == "table" and resp.choices[1]
  local msg = type(c) == "table" and c.message
  -- a content array (Mistral's magistral) gives its text parts, never its thinking
  return accumulate.content_text(type(msg) == "table" and msg.content or nil)
end

--- The reasoning text of a response's first choice, whichever field the
-- server used (reasoning_content, reasoning, Mistral's thinking parts,
-- OpenRouter's reasoning_details); nil when there is none.
---@param resp table
---@return string|nil
function M.reasoning(resp)
  if type(resp) ~= "table" then
    misuse.raise("oaichat.reasoning: expected a response table, got " .. type(resp))
  end
  local c = type(resp.choices) == "table" and resp.choices[1]
  return accumulate.message_reasoning(type(c) == "table" and c.message or nil)
end

local default_client
--- The client that module-level calls use, made on first use from the environment.
function M.default()
  default_client = default_client or client.new()
  return default_client
end

--- client:chat on the default client.
---@return table|nil response
---@return oaichat.Error|nil err
---@return oaichat.Meta|nil meta
function M.chat(messages, opts)
  local resp, err, meta = client.chat_at(M.default(), messages, opts, "oaichat.chat")
  return resp, err, meta
end

--- client:stream on the default client.
function M.stream(messages, opts)
  return M.default():stream(messages, opts)
end

return M
