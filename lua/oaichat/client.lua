--- The client: configuration, request building, chat, streams and async
-- requests (the Request object and chat_many's loop: lua/oaichat/request.lua).
local call = require("oaichat.call")
local config = require("oaichat.config")
local content = require("oaichat.content")
local conversation = require("oaichat.conversation")
local core = require("oaichat.core")
local errors = require("oaichat.errors")
local message_checks = require("oaichat.messages")
local misuse = require("oaichat.misuse")
local providers = require("oaichat.providers")
local request = require("oaichat.request")
local stream = require("oaichat.stream")

local M = {}

-- The version lives in csrc/core.c (CORE_VERSION), the rockspecs follow it.
M.VERSION = core.version

-- Keys live here, not in the client table, so printing or dumping a client
-- never shows them.
local secrets = setmetatable({}, { __mode = "k" })
-- Likewise the prepared header maps and lines, which hold "Bearer <key>".
local prepared = setmetatable({}, { __mode = "k" })
-- The secrets of each prepared set of header lines (see call_secrets).
local hidden_of = setmetatable({}, { __mode = "k" })
-- The real URLs (chat, models, proxy) and the credentials they carry; the
-- client's fields show them masked (errors.shown_url).
local real_urls = setmetatable({}, { __mode = "k" })

-- Per-call options that steer the transfer and are never sent.
local RESERVED = { timeout = true, idle_timeout = true, max_retries = true, headers = true,
  max_response_bytes = true }

---@class oaichat.Client
---@field base_url string
---@field model string
---@field params table
---@field provider string  the preset's name (see oaichat.providers)
---@field api_version string|nil  Azure's api-version query parameter
---@field stream_usage boolean  streams ask for usage (stream_options.include_usage)
---@field reasoning_policy "drop"|"tool_calls"  the preset's default `reasoning` for conversations
local Client = {}
Client.__index = Client
M.Client = Client

local function user_agent()
  -- Always "Lua/<v>" (the documented shape); LuaJIT adds its own token after it.
  local lua = _VERSION:gsub("^Lua ", "Lua/")
  if type(jit) == "table" and jit.version then lua = lua .. " " .. jit.version:gsub(" ", "/") end
  return ("oaichat/%s libcurl/%s %s"):format(M.VERSION, core.curl_version, lua)
end

local function copy(t)
  local out = {}
  if t then
    for k, v in pairs(t) do out[k] = v end
  end
  return out
end

-- Header lines from a lower-cased map of {name, value}.
local function header_lines(map)
  local lines = {}
  for _, h in pairs(map) do lines[#lines + 1] = h[1] .. ": " .. tostring(h[2]) end
  table.sort(lines)
  return lines
end

local function header_map(base, extra)
  local map = copy(base)
  if extra then
    for name, value in pairs(extra) do map[name:lower()] = { name, value } end
  end
  return map
end

-- Header names whose values are credentials, whatever the case.
local CREDENTIAL = { authorization = true, ["proxy-authorization"] = true, ["api-key"] = true,
  ["x-api-key"] = true, ["x-goog-api-key"] = true, cookie = true }

-- Whether a header carries a credential: by its name, or holding the key.
local function is_credential(name, value, key)
  local lname = name:lower()
  return CREDENTIAL[lname] or lname:find("token", 1, true) or lname:find("secret", 1, true)
    or lname:find("api[-_]?key") or (key and #key >= errors.SECRET_MIN and tostring(value):find(key, 1, true))
end

-- The client's headers as the public field shows them: credentials masked
-- (the real values live in `prepared`).
local function shown_headers(headers, key)
  local out = {}
  for name, value in pairs(headers or {}) do
    out[name] = is_credential(name, value, key) and "***" or value
  end
  return out
end

-- The api-version query of an Azure URL ("" when none); raises on misuse.
local function azure_query(preset, base_url, version)
  if version and preset.name ~= "azure" then
    misuse.raise('oaichat.new: api_version is only used with provider = "azure"')
  end
  if preset.name ~= "azure" then return "" end
  if version == nil then
    if base_url:find("/deployments/", 1, true) then
      misuse.raise('oaichat.new: provider "azure" with a .../openai/deployments/... base_url needs '
        .. 'api_version (e.g. "2024-10-21")')
    end
    return ""
  end
  if not version:match("^[%w%.%-_]+$") then
    misuse.raise(("oaichat.new: api_version %q has characters a URL query cannot hold as is"):format(version))
  end
  return "?api-version=" .. version
end

-- What tostring(err) adds to a 401, from where the key came from.
local function key_hint(preset, base_url, source, has_key)
  if source == "option" then return "the API key came from the api_key option of oaichat.new; check it" end
  if source then return ("the API key came from $%s; check it, or give api_key to oaichat.new"):format(source) end
  if has_key then return nil end
  local own = preset.base_url and config.normalize_url(base_url) == preset.base_url
  if preset.name == providers.DEFAULT then
    return "no API key was sent: give api_key to oaichat.new, or set "
      .. (own and "STARMAGIC_API_KEY or OAICHAT_API_KEY" or "OAICHAT_API_KEY with OAICHAT_BASE_URL")
  elseif not preset.key_env then
    return "no API key was sent: give api_key to oaichat.new if the server needs one"
  end
  local why = own and "" or (" (a key from $%s is only sent to %s)"):format(preset.key_env,
    preset.base_url or "the provider's own hosts")
  return ("no API key was sent: give api_key to oaichat.new, or set $%s%s"):format(preset.key_env, why)
end

-- What tostring(err) adds to a 401 or a 404 of the chat URL.
local function error_hints(preset, base_url, source, has_key)
  local h = { [401] = key_hint(preset, base_url, source, has_key) }
  if preset.name == providers.DEFAULT then
    h[404] = ("check base_url (%s): an OpenAI-compatible server's usually ends in /v1"):format(base_url)
  else
    h[404] = ("check base_url (%s): for %s it usually ends in %s"):format(base_url, preset.name, preset.path)
  end
  return h
end

---@class oaichat.ClientOptions
---@field provider? string  a preset of oaichat.providers (default "starmagic"); explicit options win
---@field api_key? string
---@field base_url? string
---@field api_version? string  Azure's api-version query parameter (provider = "azure" only)
---@field model? string
---@field stream_usage? boolean  streams send stream_options.include_usage (default: the preset's)
---@field timeout? number
---@field connect_timeout? number
---@field idle_timeout? number
---@field max_retries? integer
---@field headers? table<string, string>
---@field params? table
---@field proxy? string
---@field ca_file? string
---@field ca_path? string
---@field insecure? boolean
---@field max_response_bytes? integer
---@field max_image_bytes? integer
---@field on_retry? fun(err: oaichat.Error, attempt: integer, delay: number)
---@field user_agent? string

--- Creates a client. See API.md for the options.
---@param opts oaichat.ClientOptions|nil
---@return oaichat.Client
function M.new(opts)
  opts = opts or {}
  config.check_options(opts)
  local preset = providers.get(opts.provider)
  local base_url, key, source = config.resolve_endpoint(opts)
  config.check_url(base_url, "oaichat.new")
  local query = azure_query(preset, base_url, opts.api_version)
  -- The key goes into a header line; the message must not show it.
  if key and key:find("[\r\n%z]") then
    misuse.raise("oaichat.new: the API key contains CR, LF or NUL")
  end
  local d = config.DEFAULTS
  local shown = errors.shown_url
  local self = setmetatable({
    base_url = shown(base_url),
    model = opts.model or os.getenv("OAICHAT_MODEL") or config.DEFAULT_MODEL,
    timeout = opts.timeout or d.timeout,
    connect_timeout = opts.connect_timeout or d.connect_timeout,
    idle_timeout = opts.idle_timeout or d.idle_timeout,
    max_retries = opts.max_retries or d.max_retries,
    max_response_bytes = opts.max_response_bytes or d.max_response_bytes,
    max_image_bytes = opts.max_image_bytes or d.max_image_bytes,
    headers = shown_headers(opts.headers, key), params = copy(opts.params),
    proxy = shown(opts.proxy), ca_file = opts.ca_file, ca_path = opts.ca_path,
    insecure = opts.insecure == true, on_retry = opts.on_retry,
    user_agent = opts.user_agent or user_agent(),
    debug = os.getenv("OAICHAT_DEBUG") == "1",
    provider = preset.name, api_version = opts.api_version, reasoning_policy = preset.reasoning,
  }, Client)
  self.stream_usage = preset.stream_usage
  if opts.stream_usage ~= nil then self.stream_usage = opts.stream_usage end
  local chat_url = config.normalize_url(base_url) .. "/chat/completions" .. query
  -- Azure lists models once per resource (.../openai/models), not per deployment.
  local models_base = config.normalize_url(base_url)
  if preset.name == "azure" then models_base = models_base:gsub("(/openai)/deployments/[^/]+$", "%1") end
  local models_url = models_base .. "/models" .. query
  local hide = errors.url_secrets(base_url)
  for _, v in ipairs(opts.proxy and errors.url_secrets(opts.proxy) or {}) do hide[#hide + 1] = v end
  real_urls[self] = { chat = chat_url, models = models_url, proxy = opts.proxy, secrets = hide }
  self.url, self.models_url = shown(chat_url), shown(models_url)
  -- worked out once: masking a URL costs two gsubs, too much for every call
  real_urls[self].shown = { [chat_url] = self.url, [models_url] = self.models_url }
  self._hints = error_hints(preset, self.base_url, source, key ~= nil and key ~= "")
  secrets[self] = key
  local base = { ["content-type"] = { "Content-Type", "application/json" } }
  if key and key ~= "" and preset.auth == "api-key" then
    base["api-key"] = { "api-key", key }
  elseif key and key ~= "" then
    base.authorization = { "Authorization", "Bearer " .. key }
  end
  base = header_map(base, opts.headers)
  local json = header_map(base, nil)
  json.accept = json.accept or { "Accept", "application/json" }
  local sse = header_map(base, nil)
  sse.accept = sse.accept or { "Accept", "text/event-stream" }
  prepared[self] = { base = base, lines = { [false] = header_lines(json), [true] = header_lines(sse) },
    get = M.get_lines(base, nil) }
  self._session = core.session()
  return self
end

function Client:__tostring()
  return ("oaichat.client (%s, model %s)"):format(self.base_url, self.model)
end

--- Closes the client's connections; its requests and streams end as canceled.
function Client:close()
  self.closed = true
  self._session:close()
end
Client.__close = Client.close

--- A conversation with this client: see oaichat.Conversation
-- (lua/oaichat/conversation.lua).
---@param opts? oaichat.ConversationOptions
---@return oaichat.Conversation
function Client:conversation(opts)
  local conv = conversation.new(self, opts)
  return conv
end

--- Restores a conversation saved with conv:to_json(); nil, err for text
-- that is not one.
---@param s string
---@return oaichat.Conversation|nil
---@return oaichat.Error|nil
function Client:conversation_from_json(s)
  local conv, err = conversation.from_json(self, s)
  return conv, err
end

--- oaichat.image_file with this client's max_image_bytes as its limit
-- (opts.max_bytes still overrides it).
---@return oaichat.ImagePart
function Client:image_file(path, opts)
  local part = content.image_file_at(path, opts, "client:image_file", self.max_image_bytes)
  return part
end

--- oaichat.image_data with this client's max_image_bytes as its limit.
---@return oaichat.ImagePart
function Client:image_data(bytes, mime, opts)
  local part = content.image_data_at(bytes, mime, opts, "client:image_data", self.max_image_bytes)
  return part
end

--- Checks messages (raising naming the bad one) and returns them as an
-- array (lua/oaichat/messages.lua).
M.check_messages = message_checks.check_messages

-- A header line as the trace shows it: credentials and any value holding
-- the key are masked ("Authorization: Bearer ***" keeps the scheme).
local function trace_header(line, key)
  local name, value = line:match("^([^:]*):%s*(.*)$")
  if not name then return errors.redact(line, key) end
  if not is_credential(name, value, key) then return errors.redact(line, key) end
  local scheme = value:match("^(%a+) ")
  return name .. ": " .. (scheme and scheme .. " ***" or "***")
end

-- Shorter credential values are not masked inside other text (it would
-- garble messages); their headers are still masked in the trace.
local SECRET_MIN = errors.SECRET_MIN

-- The secrets of a call: the key, and every credential header value sent
-- (and its token after a scheme such as "Bearer"), for errors.redact.
local function call_secrets(lines, key, extra)
  local list = {}
  for _, v in ipairs(extra) do
    if #v >= SECRET_MIN and v ~= key then list[#list + 1] = v end
  end
  for _, line in ipairs(lines) do
    local name, value = line:match("^([^:]*):%s*(.*)$")
    if name and is_credential(name, value, key) then
      local token = value:match("^%a+ +(.+)$")
      for _, v in ipairs({ value, token }) do
        if #v >= SECRET_MIN and v ~= key then list[#list + 1] = v end
      end
    end
  end
  if #list == 0 then return key end
  if key and key ~= "" then list[#list + 1] = key end
  -- longest first: a value holding the key is masked whole
  table.sort(list, function(a, b) return #a > #b end)
  return list
end

local function debug_trace(self, spec, hidden)
  local key = secrets[self]
  local lines = { ("oaichat: %s %s"):format(spec.method or "POST",
    errors.redact(errors.shown_url(spec.url), hidden)) }
  for _, h in ipairs(spec.headers) do
    lines[#lines + 1] = "oaichat:   " .. trace_header(h, key)
  end
  if spec.body then lines[#lines + 1] = "oaichat:   " .. errors.redact(spec.body, hidden) end
  io.stderr:write(table.concat(lines, "\n"), "\n")
end

--- Builds the transfer spec and error context of one call; raises on misuse.
function Client:_prepare(messages, opts, streaming, where)
  local msgs = message_checks.check_messages(messages, where)
  if opts ~= nil and type(opts) ~= "table" then
    misuse.raise(("%s: opts must be a table, got %s"):format(where, type(opts)))
  end
  opts = opts or {}
  if self.closed then misuse.raise(where .. ": the client is closed") end
  if next(msgs) == nil then misuse.raise(where .. ": messages must not be empty") end
  config.check_call_options(opts, where)
  if opts.stream_usage ~= nil and type(opts.stream_usage) ~= "boolean" then
    misuse.raise(("%s: opts.stream_usage must be a boolean, got %s"):format(where, type(opts.stream_usage)))
  end
  local body = copy(self.params)
  for k, v in pairs(opts) do
    if not RESERVED[k] then body[k] = v end
  end
  body.stream_usage = nil -- steers the request (from opts or params), never sent
  if body.model == nil then body.model = self.model end
  body.messages = msgs
  if streaming then
    body.stream = true
    local usage = opts.stream_usage
    if usage == nil then usage = self.stream_usage end
    if usage and body.stream_options == nil then body.stream_options = { include_usage = true } end
  elseif body.stream == true then
    misuse.raise(("%s: stream = true needs client:stream(messages, opts), which returns a stream to iterate")
      :format(where))
  end
  -- The C side encodes the body when the transfer starts (one call fewer);
  -- the debug trace shows the text, so it is encoded here then.
  local json = body
  if self.debug then
    local ok, text = pcall(core.encode, body)
    if not ok then misuse.raise(("%s: cannot encode the request as JSON: %s"):format(where, tostring(text))) end
    json = text
  end
  local lines = prepared[self].lines[streaming]
  if opts.headers then
    local map = header_map(prepared[self].base, opts.headers)
    map.accept = map.accept or { "Accept", streaming and "text/event-stream" or "application/json" }
    lines = header_lines(map)
  end
  local spec, ctx = self:_transport(real_urls[self].chat, opts, streaming)
  spec.body, spec.headers, spec.where = json, lines, where
  self:_seal(spec, ctx, opts.headers)
  return spec, ctx
end

--- Once spec.headers are set: gives ctx every secret they carry (so errors
-- mask them) and writes the OAICHAT_DEBUG trace. The client's own header
-- lines have their secrets worked out once; per_call: opts.headers.
function Client:_seal(spec, ctx, per_call)
  local lines = spec.headers
  local hidden = hidden_of[lines]
  if hidden == nil then
    hidden = call_secrets(lines, secrets[self], real_urls[self].secrets) or false
    if not per_call then hidden_of[lines] = hidden end
  end
  hidden = hidden or nil
  errors.keep_key(ctx, hidden)
  if self.debug then debug_trace(self, spec, hidden) end
end

--- The transfer spec (without body and headers) and error context of one
-- call to url with opts' transport options.
function Client:_transport(url, opts, streaming)
  local max_bytes = opts.max_response_bytes or self.max_response_bytes
  local spec = {
    url = url, user_agent = self.user_agent,
    connect_timeout = self.connect_timeout, max_bytes = max_bytes, proxy = real_urls[self].proxy,
    ca_file = self.ca_file, ca_path = self.ca_path, insecure = self.insecure, stream = streaming,
  }
  local real = real_urls[self]
  local ctx = { url = real.shown[url] or errors.shown_url(url), max_bytes = max_bytes,
    connect_timeout = self.connect_timeout, on_retry = self.on_retry,
    max_retries = opts.max_retries or self.max_retries, hints = self._hints }
  if streaming then
    spec.idle_timeout = opts.idle_timeout or self.idle_timeout
    ctx.idle_timeout = spec.idle_timeout
    -- a per-call timeout bounds each attempt of a stream as a whole (as the
    -- SDKs do); the client's timeout stays for non-streaming requests
    spec.timeout, ctx.timeout = opts.timeout, opts.timeout
  else
    spec.timeout = opts.timeout or self.timeout
    ctx.timeout = spec.timeout
  end
  if real.hidden == nil then real.hidden = call_secrets({}, secrets[self], real.secrets) or false end
  errors.keep_key(ctx, real.hidden or nil)
  return spec, ctx
end

--- Header lines of a GET: no Content-Type, JSON accepted.
function M.get_lines(base, extra)
  local map = header_map(base, extra)
  map["content-type"] = nil
  map.accept = map.accept or { "Accept", "application/json" }
  return header_lines(map)
end

local function new_request(self, messages, opts, where)
  local spec, ctx = self:_prepare(messages, opts, false, where)
  -- not a tail call: an encode error raised at the start must find the
  -- user's frame on 5.1 too
  local r = request.start(self._session, spec, ctx, true)
  return r
end

--- Sends messages and waits for the completion.
---@return table|nil response
---@return oaichat.Error|nil err
---@return oaichat.Meta|nil meta  status, headers, request_id, attempts, elapsed
function Client:chat(messages, opts)
  local resp, err, meta = M.chat_at(self, messages, opts, "client:chat")
  return resp, err, meta
end

--- client:chat for wrappers such as oaichat.chat: `where` names the call in
-- argument errors. (Wrappers must not tail-call: Lua 5.1 then loses the
-- user's frame.)
function M.chat_at(self, messages, opts, where)
  local r = new_request(self, messages, opts, where)
  local _, resp, err, meta = r:poll(nil)
  return resp, err, meta
end

--- Lists the service's models: GET {base_url}/models, with the retries,
-- timeouts, TLS settings and errors of client:chat. opts: the transport
-- options (timeout, max_retries, headers, max_response_bytes).
---@param opts? table
---@return table|nil models  the decoded JSON ({object = "list", data = {...}} on most servers)
---@return oaichat.Error|nil err
---@return oaichat.Meta|nil meta
function Client:models(opts)
  local where = "client:models"
  if opts ~= nil and type(opts) ~= "table" then
    misuse.raise(("%s: opts must be a table, got %s"):format(where, type(opts)))
  end
  opts = opts or {}
  if self.closed then misuse.raise(where .. ": the client is closed") end
  config.check_call_options(opts, where)
  local spec, ctx = self:_transport(real_urls[self].models, opts, false)
  spec.method = "GET"
  spec.headers = opts.headers and M.get_lines(prepared[self].base, opts.headers) or prepared[self].get
  ctx.hints = { [401] = self._hints[401], [404] = ("this server may not list models at %s; %s")
    :format(self.models_url, self._hints[404]) }
  self:_seal(spec, ctx, opts.headers)
  local r = request.start(self._session, spec, ctx, true)
  local _, resp, err, meta = r:poll(nil)
  return resp, err, meta
end

--- Starts a request and returns at once; drive it with request:poll(ms).
---@return oaichat.Request
function Client:chat_async(messages, opts)
  local r = new_request(self, messages, opts, "client:chat_async")
  return r
end

--- Starts a streaming completion and returns the stream at once.
---@return oaichat.Stream
function Client:stream(messages, opts)
  local spec, ctx = self:_prepare(messages, opts, true, "client:stream")
  local s = stream.new(self._session, spec, ctx)
  -- The fourth value is the generic `for`'s closing value on 5.4: a `break`
  -- cancels the transfer at once instead of at garbage collection.
  return s, nil, nil, s
end

--- How many transfers of this client are in flight.
function Client:pending()
  if self.closed then return 0 end
  return self._session:pending()
end

--- Advances every transfer of the client for up to timeout_ms.
function Client:poll(timeout_ms)
  call.check_ms(timeout_ms, "client:poll")
  if self.closed then return 0 end
  return self._session:step(timeout_ms or 0)
end

--- Runs many requests concurrently on the client's connections.
-- list items are {messages, opts}; results come back in input order, each
-- a response or {error = err}.
function Client:chat_many(list, opts)
  if type(list) ~= "table" then
    misuse.raise("client:chat_many: list must be an array of {messages, opts}, got " .. type(list))
  end
  local concurrency = (opts and opts.concurrency) or 8
  if type(concurrency) ~= "number" or concurrency < 1 or concurrency ~= concurrency then
    misuse.raise("client:chat_many: concurrency must be a number >= 1")
  end
  -- Every item's shape is checked before the first request starts, so a
  -- bad item raises with nothing in flight. Bodies are encoded only at
  -- launch: a large list keeps no thousands of encoded bodies alive.
  local n = #list
  for i = 1, n do
    local item = list[i]
    if type(item) ~= "table" then
      misuse.raise(("client:chat_many: list[%d] must be a table {messages, opts}"):format(i))
    end
    local opts_i = item[2] or item.opts
    message_checks.check_messages(item[1] or item.messages, "client:chat_many")
    if opts_i ~= nil and type(opts_i) ~= "table" then
      misuse.raise(("client:chat_many: list[%d] opts must be a table, got %s"):format(i, type(opts_i)))
    end
    local streams = self.params.stream
    if opts_i and opts_i.stream ~= nil then streams = opts_i.stream end
    if streams == true then
      misuse.raise(("client:chat_many: list[%d] asks for stream = true; streams need client:stream"):format(i))
    end
  end
  local results = request.many(self._session, list, concurrency, function(item)
    return self:_prepare(item[1] or item.messages, item[2] or item.opts, false, "client:chat_many")
  end)
  return results
end

return M
