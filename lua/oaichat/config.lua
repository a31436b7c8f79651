--- Client options: defaults, the environment, and checks that raise on misuse.
local errors = require("oaichat.errors")
local misuse = require("oaichat.misuse")
local providers = require("oaichat.providers")

local M = {}

M.DEFAULT_BASE_URL = "https://api.starmagic.ai/v1"
M.DEFAULT_MODEL = "gpt-5.5"
M.DEFAULTS = {
  timeout = 600, connect_timeout = 10, idle_timeout = 120, max_retries = 2,
  max_response_bytes = 64 * 1024 * 1024, max_image_bytes = 20 * 1024 * 1024,
}

local KNOWN = {
  api_key = "string", base_url = "string", model = "string", timeout = "number",
  connect_timeout = "number", idle_timeout = "number", max_retries = "number",
  headers = "table", proxy = "string", ca_file = "string", ca_path = "string",
  insecure = "boolean", params = "table", max_response_bytes = "number",
  max_image_bytes = "number", on_retry = "function", user_agent = "string",
  provider = "string", api_version = "string", stream_usage = "boolean",
}

-- Edit distance of two short strings, a swap of neighbours counting one
-- (for "did you mean").
local function distance(a, b)
  local d = {}
  for i = 0, #a do d[i] = { [0] = i } end
  for j = 0, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      d[i][j] = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        d[i][j] = math.min(d[i][j], d[i - 2][j - 2] + 1)
      end
    end
  end
  return d[#a][#b]
end

--- The known name closest to name when it is a near miss (a typo), or nil.
---@param name string
---@param known string[]|table<string, any>  names (an array, or the keys of a map)
---@return string|nil
function M.suggest(name, known)
  if type(name) ~= "string" then return nil end
  local best, best_d
  local list = known
  if known[1] == nil then
    list = {}
    for k in pairs(known) do list[#list + 1] = k end
  end
  table.sort(list)
  for _, k in ipairs(list) do
    local d = distance(name:lower(), k)
    if d < (best_d or math.huge) then best, best_d = k, d end
  end
  if best and best_d <= math.max(1, math.floor(#best / 3)) then return best end
  return nil
end

--- Raises `where: unknown option "k"` with a "did you mean" for a near miss.
-- other: what to say when nothing is near.
---@param where string  the call named in the message
---@param k any  the unknown key
---@param known string[]|table<string, any>
---@param other? string
function M.unknown_key(where, k, known, other)
  local near = M.suggest(k, known)
  local tail = near and ('; did you mean "' .. near .. '"?') or (other and (" (" .. other .. ")")) or ""
  misuse.raise(('%s: unknown option "%s"%s'):format(where, tostring(k), tail))
end

local function normalize_url(url)
  return (url:gsub("/+$", ""))
end
M.normalize_url = normalize_url

--- Raises unless url is an http(s) URL.
function M.check_url(url, where)
  if not url:match("^[Hh][Tt][Tt][Pp][Ss]?://[^/%s]") then
    misuse.raise(("%s: base_url must be an http:// or https:// URL, got %q"):format(where,
      errors.shown_url(url)))
  end
  if url:find("[%s%c]") then
    misuse.raise(("%s: base_url must not contain spaces or control characters"):format(where))
  end
end

-- An environment value without surrounding whitespace (a key read with
-- `$(cat file)` often keeps its newline), or nil when empty.
local function nonempty(s)
  s = s and s:match("^%s*(.-)%s*$")
  if s ~= nil and s ~= "" then return s end
  return nil
end

--- The sources of a base URL and key, in precedence order after explicit options.
local function env_sources(getenv)
  local list = {}
  local okey, ourl = nonempty(getenv("OAICHAT_API_KEY")), nonempty(getenv("OAICHAT_BASE_URL"))
  if okey or ourl then list[#list + 1] = { url = ourl or M.DEFAULT_BASE_URL, key = okey, var = "OAICHAT_API_KEY" } end
  local akey, aurl = nonempty(getenv("OPENAI_API_KEY")), nonempty(getenv("OPENAI_BASE_URL"))
  if akey and aurl then list[#list + 1] = { url = aurl, key = akey, var = "OPENAI_API_KEY" } end
  local skey = nonempty(getenv("STARMAGIC_API_KEY"))
  if skey then list[#list + 1] = { url = M.DEFAULT_BASE_URL, key = skey, var = "STARMAGIC_API_KEY" } end
  return list
end

-- The StarMagic default: OAICHAT_*, then the OPENAI_* pair, then STARMAGIC_API_KEY.
local function default_endpoint(opts, getenv)
  local sources = env_sources(getenv)
  local base_url = opts.base_url or (sources[1] and sources[1].url) or M.DEFAULT_BASE_URL
  if opts.api_key ~= nil then return base_url, opts.api_key, "option" end
  local want = normalize_url(base_url)
  for _, s in ipairs(sources) do
    if s.key and normalize_url(s.url) == want then return base_url, s.key, s.var end
  end
  return base_url, nil, nil
end

local function host_of(url)
  return (url:match("^%a+://([^/?#]+)") or ""):gsub("^.*@", ""):gsub(":%d+$", ""):lower()
end

-- A named preset reads only its own variables; its key goes only to the
-- preset's default URL (or the URL of its paired variable, or key_host).
local function preset_endpoint(p, opts, getenv)
  local env_base = p.base_env and nonempty(getenv(p.base_env))
  local base_url = opts.base_url or env_base or p.base_url
  if base_url == nil then
    misuse.raise(('oaichat.new: provider "%s" needs base_url (e.g. %s)'):format(p.name, p.example or p.path))
  end
  if opts.api_key ~= nil then return base_url, opts.api_key, "option" end
  local key = p.key_env and nonempty(getenv(p.key_env))
  if not key then return base_url, nil, nil end
  local ok
  if p.key_host then
    local host = host_of(base_url)
    for _, pattern in ipairs(p.key_host) do ok = ok or host:find(pattern) ~= nil end
  else
    ok = normalize_url(base_url) == normalize_url(env_base or p.base_url)
  end
  if ok then return base_url, key, p.key_env end
  return base_url, nil, nil
end

--- Base URL, key and the key's source ("option", a variable's name, or nil)
-- for opts.provider. The default (StarMagic): explicit options, then
-- OAICHAT_*, then the OPENAI_* pair, then STARMAGIC_API_KEY. A key is only
-- used with its own source's URL.
---@return string base_url
---@return string|nil key
---@return string|nil key_source
function M.resolve_endpoint(opts, getenv)
  getenv = getenv or os.getenv
  local p = providers.get(opts.provider)
  if p.name == providers.DEFAULT then return default_endpoint(opts, getenv) end
  return preset_endpoint(p, opts, getenv)
end

-- Argument errors go through misuse.raise, so they point at the caller's line.
local function check_header(name, value, where)
  if type(name) ~= "string" or not name:match("^[!#$%%&'*+%-.^_`|~%w]+$") then
    misuse.raise(("%s: header name %s is not a valid HTTP token"):format(where, tostring(name)))
  end
  if type(value) ~= "string" and type(value) ~= "number" then
    misuse.raise(("%s: header %q must have a string value"):format(where, name))
  end
  if tostring(value):find("[\r\n%z]") then
    misuse.raise(("%s: header %q contains CR, LF or NUL; refusing it (header injection)"):format(where, name))
  end
end

--- Raises unless headers is a table of valid name = value pairs.
function M.check_headers(headers, where)
  if headers == nil then return end
  if type(headers) ~= "table" then
    misuse.raise(("%s: headers must be a table, got %s"):format(where, type(headers)))
  end
  for k, v in pairs(headers) do check_header(k, v, where) end
end

-- Per-call transport options: the same type rules as at oaichat.new.
local CALL_NUMBERS = { "timeout", "idle_timeout", "max_retries", "max_response_bytes" }

--- Checks the reserved transport keys of a call's opts.
function M.check_call_options(opts, where)
  for _, k in ipairs(CALL_NUMBERS) do
    local v = opts[k]
    if v ~= nil and (type(v) ~= "number" or v < 0 or v ~= v) then
      misuse.raise(("%s: opts.%s must be a non-negative number, got %s"):format(where, k, tostring(v)))
    end
  end
  M.check_headers(opts.headers, where)
end

--- Checks the options given to oaichat.new; raises naming the bad one.
function M.check_options(opts)
  if type(opts) ~= "table" then
    misuse.raise("oaichat.new: options must be a table, got " .. type(opts))
  end
  for k, v in pairs(opts) do
    local want = KNOWN[k]
    if want == nil then
      M.unknown_key("oaichat.new", k, KNOWN, "request parameters such as temperature go in params")
    elseif type(v) ~= want then
      misuse.raise(("oaichat.new: option %s must be a %s, got %s"):format(k, want, type(v)))
    end
  end
  for _, k in ipairs({ "timeout", "connect_timeout", "idle_timeout", "max_retries", "max_response_bytes",
    "max_image_bytes" }) do
    -- NaN compares false with everything: it would mean "no limit"
    if opts[k] and (opts[k] < 0 or opts[k] ~= opts[k]) then
      misuse.raise(("oaichat.new: option %s must not be negative or NaN, got %s"):format(k, tostring(opts[k])))
    end
  end
  -- libcurl writes these into a header line or a URL verbatim: CR/LF would
  -- inject headers.
  for _, k in ipairs({ "user_agent", "proxy" }) do
    if opts[k] and opts[k]:find("[%c]") then
      misuse.raise(("oaichat.new: option %s contains a control character (CR, LF, NUL...); refusing it"):format(k))
    end
  end
  M.check_headers(opts.headers, "oaichat.new")
end

return M
