--- Error objects: tables with a kind and a one-line `__tostring`.
-- Built from what a transfer reports; the API key never gets into one.
local core = require("oaichat.core")

local M = {}

--- The most of a raw body an error keeps in err.body (API.md: 4 KiB).
M.BODY_MAX = 4096

local Error = {}
Error.__index = Error

---@class oaichat.Error
---@field kind "api"|"http"|"timeout"|"connection"|"decode"|"stream"|"canceled"|"limit"
---@field message string
---@field status integer|nil
---@field type string|nil
---@field code string|integer|nil
---@field param string|nil
---@field request_id string|nil
---@field retryable boolean
---@field attempts integer
---@field body string|nil
---@field headers table<string, string>|nil  the response headers (lower-cased), when there was a response
---@field hint string|nil  what to check (a 401: where the key came from; a 404: the base URL)

function Error.__tostring(e)
  local out = { "oaichat: ", e.kind, " error" }
  if e.status and e.status > 0 then out[#out + 1] = " " .. e.status end
  if e.code ~= nil and e.code ~= core.null then out[#out + 1] = " (" .. tostring(e.code) .. ")" end
  out[#out + 1] = ": " .. tostring(e.message)
  if e.context then out[#out + 1] = " (" .. tostring(e.context) .. ")" end
  if (e.kind == "connection" or e.kind == "timeout") and (e.attempts or 1) > 1 then
    out[#out + 1] = (" (after %d attempts)"):format(e.attempts)
  end
  if e.request_id then out[#out + 1] = " [request " .. e.request_id .. "]" end
  if e.hint then out[#out + 1] = " -- " .. e.hint end
  return (table.concat(out):gsub("[\r\n]+", " "))
end

M.Error = Error

--- Secrets shorter than this are not searched for inside free text: a
-- placeholder key ("none", "EMPTY", "k") would mask ordinary words. They
-- are still masked where they are a credential header's value.
M.SECRET_MIN = 8

-- A tail of s shorter than the key is masked when it is the key's start
-- (a body the server or a limit cut off mid-key) and at least this long.
local TAIL_MIN = 6

--- Replaces every occurrence of the key in s, and a trailing start of it.
local function redact_one(s, key)
  local out, start = {}, 1
  while true do
    local i, j = s:find(key, start, true)
    if not i then break end
    out[#out + 1] = s:sub(start, i - 1) .. "***"
    start = j + 1
  end
  local rest = s:sub(start)
  for n = math.min(#key - 1, #rest), TAIL_MIN, -1 do
    if rest:sub(-n) == key:sub(1, n) then
      rest = rest:sub(1, -n - 1) .. "***"
      break
    end
  end
  out[#out + 1] = rest
  return table.concat(out)
end

--- s with every secret masked: `keys` is the key, or an array of secrets.
local function redact(s, keys)
  if type(s) ~= "string" or not keys then return s end
  if type(keys) == "string" then
    return #keys >= M.SECRET_MIN and redact_one(s, keys) or s
  end
  for _, k in ipairs(keys) do
    if #k >= M.SECRET_MIN then s = redact_one(s, k) end
  end
  return s
end
M.redact = redact

--- The first n bytes of s with the key redacted first: a key straddling
-- the cut must not leave its first bytes behind.
function M.cut(s, n, key)
  s = redact(s, key)
  if #s <= n then return s end
  return s:sub(1, n)
end

-- Query parameter names whose values are credentials (key=, api-key=,
-- access_token=, sig=, ...).
local function secret_param(name)
  local n = name:lower()
  return n:find("key", 1, true) or n:find("token", 1, true) or n:find("secret", 1, true)
    or n:find("pass", 1, true) or n:find("auth", 1, true) or n:find("sig", 1, true)
    or n:find("credential", 1, true) or n == "pwd"
end

-- scheme://userinfo@ at the start of a URL (the last @ before the path).
local USERINFO = "^(%a[%w+.-]*://)([^/?#]*)@"

--- url as messages, traces and fields show it: the password of its
-- userinfo (a lone user name, often a token, whole) and the values of
-- credential-looking query parameters become ***.
function M.shown_url(url)
  if type(url) ~= "string" then return url end
  local s = url:gsub(USERINFO, function(scheme, info)
    local user = info:match("^([^:]*):")
    return scheme .. (user and user .. ":***" or "***") .. "@"
  end)
  s = s:gsub("([?&;])([^=&#;]+)=([^&#;]+)", function(sep, name)
    if secret_param(name) then return sep .. name .. "=***" end
  end)
  return s
end

--- The credentials a URL carries (what shown_url masks), for redact.
function M.url_secrets(url)
  local list = {}
  local _, info = url:match(USERINFO)
  if info then list[#list + 1] = info:match("^[^:]*:(.*)$") or info end
  for name, value in url:gmatch("[?&;]([^=&#;]+)=([^&#;]+)") do
    if secret_param(name) then list[#list + 1] = value end
  end
  return list
end

--- A copy of the table t (e.g. response headers) with its string values
-- redacted; t itself when there is no secret.
function M.redact_table(t, key)
  if not key then return t end
  local out = {}
  for k, x in pairs(t) do out[k] = type(x) == "string" and redact(x, key) or x end
  return out
end

-- Strings are redacted; a table of strings (err.headers: a server may echo
-- a credential in a header) is copied with its strings redacted.
local function scrub(v, key)
  if type(v) == "string" then return redact(v, key) end
  if v == core.null then return nil end
  if type(v) == "table" and getmetatable(v) == nil then return M.redact_table(v, key) end
  return v
end

-- The key of each call's error context, kept out of the context table so
-- that dumping a stream or request (ctx included) never shows it.
local keys = setmetatable({}, { __mode = "k" })

--- Attaches the secrets of a call (its API key, or an array of the key
-- and every credential header value) to its error context ctx; returns ctx.
function M.keep_key(ctx, key)
  keys[ctx] = key
  return ctx
end

--- The secrets attached to ctx (nil when none), for redact and cut.
function M.key_of(ctx)
  return keys[ctx]
end

--- Makes an error object. `fields.key` (the API key) is removed from every
-- string field and is not kept.
function M.new(kind, message, fields)
  local e = setmetatable({ kind = kind, message = message, retryable = false, attempts = 1 }, Error)
  local key
  if fields then
    key = fields.key
    for k, v in pairs(fields) do
      if k ~= "key" then e[k] = v end
    end
  end
  for k, v in pairs(e) do e[k] = scrub(v, key) end
  if e.message == nil or e.message == "" then e.message = kind .. " error" end
  return e
end

--- The start of a raw body as err.body keeps it: BODY_MAX bytes, the key
-- (or secrets) redacted first.
function M.excerpt(body, key)
  return M.cut(body, M.BODY_MAX, key)
end

local RETRY_STATUS = { [408] = true, [409] = true, [429] = true }

--- Whether a status (with the response's headers) is worth retrying.
function M.retryable_status(status, headers)
  local forced = headers and headers["x-should-retry"]
  if forced == "true" then return true end
  if forced == "false" then return false end
  return RETRY_STATUS[status] == true or status >= 500
end

--- An error from a transfer that libcurl (or oaichat) ended before it
-- completed. The C side classifies libcurl's result (info.failure: timeout,
-- tls, nomem or connection, and info.what for a connection failure).
function M.from_transport(info, ctx)
  local failure, detail = info.failure, info.error or ""
  local fields = { key = keys[ctx], status = info.status ~= 0 and info.status or nil,
    request_id = info.headers["x-request-id"] }
  if info.abort == "limit" then
    return M.new("limit", ("the response exceeded max_response_bytes (%d bytes); raise "
      .. "max_response_bytes to accept it"):format(ctx.max_bytes or 0), fields)
  elseif info.abort == "headers" then
    return M.new("limit", ("the response headers exceeded %d KiB; the server's answer was refused")
      :format(math.floor(core.max_header_bytes / 1024)), fields)
  elseif info.abort == "nomem" then
    return M.new("limit", "out of memory while receiving the response", fields)
  elseif failure == "nomem" then
    return M.new("limit", "libcurl ran out of memory on the response (a header line too long?): "
      .. detail, fields)
  elseif info.abort == "idle" then
    fields.retryable = not info.got_response
    return M.new("timeout", ("no data from the server for %g s (idle_timeout)"):format(ctx.idle_timeout or 0), fields)
  elseif info.abort == "canceled" then
    return M.new("canceled", "the request was canceled", fields)
  elseif failure == "timeout" then
    fields.retryable = not info.got_response
    -- a stream has no `timeout` (ctx.timeout nil): name only what applied
    local limits = ("connect_timeout %g s"):format(ctx.connect_timeout or 0)
    if ctx.timeout then limits = limits .. (", timeout %g s"):format(ctx.timeout) end
    return M.new("timeout", ("timed out: %s (%s)"):format(detail, limits), fields)
  elseif failure == "tls" then
    fields.retryable = false
    return M.new("connection", ("TLS handshake or certificate check failed for %s: %s; "
      .. "give the CA with ca_file if the server uses a private CA"):format(ctx.url, detail), fields)
  end
  fields.retryable = true
  local what = info.what or "transfer failed"
  return M.new("connection", ("%s (%s): %s"):format(what, ctx.url, detail), fields)
end

-- A field of an error worth keeping: a string or a number.
local function scalar(v)
  local t = type(v)
  if t == "string" or t == "number" then return v end
  return nil
end

-- The error a decoded body describes, in every shape services use:
-- {"error": {...}}, {"error": "text"}, Gemini's [{"error": {...}}], vLLM's
-- and Mistral's {"object": "error", "message": ...}, FastAPI's {"detail": ...}.
-- Fills fields.type/code/param; returns true and the service's message (or
-- nil), or false when the body is no error. `detail` counts only when
-- with_detail (a 2xx body carrying one is not an error).
function M.parse_error_body(obj, fields, with_detail)
  if type(obj) ~= "table" then return false end
  if obj.error == nil and type(obj[1]) == "table" and obj[1].error ~= nil then obj = obj[1] end
  local e = obj.error
  if type(e) == "table" then
    fields.type = scalar(e.type) or scalar(e.status)
    fields.code, fields.param = scalar(e.code), scalar(e.param)
    return true, scalar(e.message) and tostring(e.message)
  elseif e ~= nil and e ~= core.null then
    return true, type(e) == "string" and e or nil
  elseif obj.object == "error" then
    fields.type, fields.code, fields.param = scalar(obj.type), scalar(obj.code), scalar(obj.param)
    return true, type(obj.message) == "string" and obj.message or nil
  end
  local d = with_detail and obj.detail
  if type(d) == "string" then return true, d end
  if type(d) == "table" and type(d[1]) == "table" then
    local first = d[1]
    fields.type = scalar(first.type)
    if type(first.loc) == "table" then
      local loc = {}
      for i, part in ipairs(first.loc) do loc[i] = tostring(part) end
      fields.param = table.concat(loc, ".")
    end
    return true, type(first.msg) == "string" and first.msg or nil
  end
  return false
end

--- An error from a completed HTTP exchange with a non-2xx status.
function M.from_status(info, ctx)
  local status, headers, body = info.status, info.headers, info.body
  local fields = { key = keys[ctx], status = status, request_id = headers["x-request-id"],
    retryable = M.retryable_status(status, headers), hint = ctx.hints and ctx.hints[status] }
  local obj = body ~= "" and core.decode(body)
  local is_error, msg = M.parse_error_body(obj, fields, true)
  if is_error then return M.new("api", msg or ("HTTP " .. status), fields) end
  fields.body = M.excerpt(body, keys[ctx])
  local snippet = fields.body:sub(1, 200):gsub("%s+", " ")
  return M.new("http", ("HTTP %d from %s%s"):format(status, ctx.url,
    snippet ~= "" and (": " .. snippet) or ""), fields)
end

--- An error for a 2xx body that is not the JSON expected.
function M.decode_error(body, why, info, ctx)
  return M.new("decode", "the response is not valid JSON: " .. tostring(why), {
    key = keys[ctx], status = info and info.status, body = M.excerpt(body, keys[ctx]),
    request_id = info and info.headers["x-request-id"] })
end

--- A 2xx JSON body that still carries {"error": ...}.
function M.from_error_body(obj, info, ctx)
  local fields = { key = keys[ctx], status = info.status, request_id = info.headers["x-request-id"] }
  local _, msg = M.parse_error_body(obj, fields, false)
  return M.new("api", msg or "the service returned an error", fields)
end

return M
