--- Client options: defaults, the environment, and checks that raise on misuse.
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
    error(("%s: base_url must be an http:// or https:// URL, got %q"):format(where, url), 3)
  end
  if url:find("[%s%c]") then
    error(("%s: base_url must not contain spaces or control characters"):format(where), 3)
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

-- `level` (here and below) is the error level of the user's call, counted
-- from the function that receives it, so messages point at the caller's line.
local function check_header(name, value, where, level)
  if type(name) ~= "string" or not name:match("^[!#$%%&'*+%-.^_`|~%w]+$") then
    error(("%s: header name %s is not a valid HTTP token"):format(where, tostring(name)), level)
  end
  if type(value) ~= "string" and type(value) ~= "number" then
    error(("%s: header %q must have a string value"):format(where, name), level)
  end
  if tostring(value):find("[\r\n%z]") then
    error(("%s: header %q contains CR, LF or NUL; refusing it (header injection)"):format(where, name), level)
  end
end

--- Raises unless headers is a table of valid name = value pairs.
-- level: see check_header (default: the caller of check_headers' caller).
function M.check_headers(headers, where, level)
  level = level or 3
  if headers == nil then return end
  if type(headers) ~= "table" then
    error(("%s: headers must be a table, got %s"):format(where, type(headers)), level)
  end
  for k, v in pairs(headers) do check_header(k, v, where, level + 1) end
end

-- Per-call transport options: the same type rules as at oaichat.new.
local CALL_NUMBERS = { "timeout", "idle_timeout", "max_retries", "max_response_bytes" }

--- Checks the reserved transport keys of a call's opts; level as in check_headers.
function M.check_call_options(opts, where, level)
  level = level or 3
  for _, k in ipairs(CALL_NUMBERS) do
    local v = opts[k]
    if v ~= nil and (type(v) ~= "number" or v < 0 or v ~= v) then
      error(("%s: opts.%s must be a non-negative number, got %s"):format(where, k, tostring(v)), level)
    end
  end
  M.check_headers(opts.headers, where, level + 1)
end

--- Checks the options given to oaichat.new; raises naming the bad one.
function M.check_options(opts)
  if type(opts) ~= "table" then
    error("oaichat.new: options must be a table, got " .. type(opts), 3)
  end
  for k, v in pairs(opts) do
    local want = KNOWN[k]
    if want == nil then
      error(("oaichat.new: unknown option %q"):format(tostring(k)), 3)
    elseif type(v) ~= want then
      error(("oaichat.new: option %s must be a %s, got %s"):format(k, want, type(v)), 3)
    end
  end
  for _, k in ipairs({ "timeout", "connect_timeout", "idle_timeout", "max_retries", "max_response_bytes",
    "max_image_bytes" }) do
    -- NaN compares false with everything: it would mean "no limit"
    if opts[k] and (opts[k] < 0 or opts[k] ~= opts[k]) then
      error(("oaichat.new: option %s must not be negative or NaN, got %s"):format(k, tostring(opts[k])), 3)
    end
  end
  -- libcurl writes these into a header line or a URL verbatim: CR/LF would
  -- inject headers.
  for _, k in ipairs({ "user_agent", "proxy" }) do
    if opts[k] and opts[k]:find("[%c]") then
      error(("oaichat.new: option %s contains a control character (CR, LF, NUL...); refusing it"):format(k), 3)
    end
  end
  M.check_headers(opts.headers, "oaichat.new", 4)
end

return M
