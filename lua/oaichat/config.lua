--- Client options: defaults, the environment, and checks that raise on misuse.
local misuse = require("oaichat.misuse")

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
}

local function normalize_url(url)
  return (url:gsub("/+$", ""))
end
M.normalize_url = normalize_url

--- Raises unless url is an http(s) URL.
function M.check_url(url, where)
  if not url:match("^[Hh][Tt][Tt][Pp][Ss]?://[^/%s]") then
    misuse.raise(("%s: base_url must be an http:// or https:// URL, got %q"):format(where, url))
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
  if okey or ourl then list[#list + 1] = { url = ourl or M.DEFAULT_BASE_URL, key = okey } end
  local akey, aurl = nonempty(getenv("OPENAI_API_KEY")), nonempty(getenv("OPENAI_BASE_URL"))
  if akey and aurl then list[#list + 1] = { url = aurl, key = akey } end
  local skey = nonempty(getenv("STARMAGIC_API_KEY"))
  if skey then list[#list + 1] = { url = M.DEFAULT_BASE_URL, key = skey } end
  return list
end

--- Base URL and key: explicit options, then OAICHAT_*, then the OPENAI_* pair,
-- then the StarMagic default. A key is only used with its own source's URL.
function M.resolve_endpoint(opts, getenv)
  getenv = getenv or os.getenv
  local sources = env_sources(getenv)
  local base_url = opts.base_url or (sources[1] and sources[1].url) or M.DEFAULT_BASE_URL
  local key = opts.api_key
  if key == nil then
    local want = normalize_url(base_url)
    for _, s in ipairs(sources) do
      if s.key and normalize_url(s.url) == want then
        key = s.key
        break
      end
    end
  end
  return base_url, key
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
      misuse.raise(("oaichat.new: unknown option %q"):format(tostring(k)))
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
