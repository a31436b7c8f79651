--- Error objects: tables with a kind and a one-line `__tostring`.
-- Built from what a transfer reports; the API key never gets into one.
local core = require("oaichat.core")

local M = {}

local BODY_MAX = 4096

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
  if (e.kind == "connection" or e.kind == "timeout") and (e.attempts or 1) > 1 then
    out[#out + 1] = (" (after %d attempts)"):format(e.attempts)
  end
  if e.request_id then out[#out + 1] = " [request " .. e.request_id .. "]" end
  if e.hint then out[#out + 1] = " -- " .. e.hint end
  return (table.concat(out):gsub("[\r\n]+", " "))
end

M.Error = Error

--- Replaces every occurrence of the key in s.
local function redact(s, key)
  if type(s) ~= "string" or not key or key == "" then return s end
  local out, start = {}, 1
  while true do
    local i, j = s:find(key, start, true)
    if not i then break end
    out[#out + 1] = s:sub(start, i - 1) .. "***"
    start = j + 1
  end
  out[#out + 1] = s:sub(start)
  return table.concat(out)
end
M.redact = redact

local function scrub(v, key)
  if type(v) == "string" then return redact(v, key) end
  if v == core.null then return nil end
  return v
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

local function body_start(body)
  if #body <= BODY_MAX then return body end
  return body:sub(1, BODY_MAX)
end

local RETRY_STATUS = { [408] = true, [409] = true, [429] = true }

--- Whether a status (with the response's headers) is worth retrying.
function M.retryable_status(status, headers)
  local forced = headers and headers["x-should-retry"]
  if forced == "true" then return true end
  if forced == "false" then return false end
  return RETRY_STATUS[status] == true or status >= 500
end

-- curl codes that mean the connection failed (resolve, connect, TLS, resets).
local CONNECTION = {
  [5] = "could not resolve the proxy", [6] = "could not resolve the host",
  [7] = "could not connect", [18] = "the connection closed before the whole response arrived",
  [52] = "the server closed the connection without answering",
  [55] = "sending failed", [56] = "receiving failed (connection reset?)",
}
local TLS = { [35] = true, [51] = true, [53] = true, [54] = true, [58] = true, [59] = true,
  [60] = true, [64] = true, [66] = true, [77] = true, [80] = true, [82] = true, [83] = true,
  [90] = true, [91] = true, [98] = true }

--- An error from a transfer that libcurl (or oaichat) ended before it completed.
function M.from_transport(info, ctx)
  local code, detail = info.code, info.error or ""
  local fields = { key = ctx.key, status = info.status ~= 0 and info.status or nil,
    request_id = info.headers["x-request-id"] }
  if info.abort == "limit" then
    return M.new("limit", ("the response exceeded max_response_bytes (%d bytes); raise "
      .. "max_response_bytes to accept it"):format(ctx.max_bytes or 0), fields)
  elseif info.abort == "headers" then
    return M.new("limit", "the response headers exceeded 256 KiB; the server's answer was refused", fields)
  elseif info.abort == "nomem" then
    return M.new("limit", "out of memory while receiving the response", fields)
  elseif code == 27 then
    return M.new("limit", "libcurl ran out of memory on the response (a header line too long?): "
      .. detail, fields)
  elseif info.abort == "idle" then
    fields.retryable = not info.got_response
    return M.new("timeout", ("no data from the server for %g s (idle_timeout)"):format(ctx.idle_timeout or 0), fields)
  elseif info.abort == "canceled" then
    return M.new("canceled", "the request was canceled", fields)
  elseif code == 28 then
    fields.retryable = not info.got_response
    -- a stream has no `timeout` (ctx.timeout nil): name only what applied
    local limits = ("connect_timeout %g s"):format(ctx.connect_timeout or 0)
    if ctx.timeout then limits = limits .. (", timeout %g s"):format(ctx.timeout) end
    return M.new("timeout", ("timed out: %s (%s)"):format(detail, limits), fields)
  elseif TLS[code] then
    fields.retryable = false
    return M.new("connection", ("TLS handshake or certificate check failed for %s: %s; "
      .. "give the CA with ca_file if the server uses a private CA"):format(ctx.url, detail), fields)
  end
  fields.retryable = true
  local what = CONNECTION[code] or "transfer failed"
  return M.new("connection", ("%s (%s): %s"):format(what, ctx.url, detail), fields)
end

local function api_fields(obj, fields)
  local e = obj.error
  if type(e) == "table" then
    fields.type, fields.code, fields.param = e.type, e.code, e.param
    return type(e.message) == "string" and e.message or nil
  elseif type(e) == "string" then
    return e
  end
  return type(obj.message) == "string" and obj.message or nil
end

--- An error from a completed HTTP exchange with a non-2xx status.
function M.from_status(info, ctx)
  local status, headers, body = info.status, info.headers, info.body
  local fields = { key = ctx.key, status = status, request_id = headers["x-request-id"],
    retryable = M.retryable_status(status, headers), hint = ctx.hints and ctx.hints[status] }
  local obj = body ~= "" and core.decode(body)
  if type(obj) == "table" and obj.error ~= nil and obj.error ~= core.null then
    local msg = api_fields(obj, fields)
    return M.new("api", msg or ("HTTP " .. status), fields)
  end
  fields.body = body_start(body)
  local snippet = fields.body:sub(1, 200):gsub("%s+", " ")
  return M.new("http", ("HTTP %d from %s%s"):format(status, ctx.url,
    snippet ~= "" and (": " .. snippet) or ""), fields)
end

--- An error for a 2xx body that is not the JSON expected.
function M.decode_error(body, why, info, ctx)
  return M.new("decode", "the response is not valid JSON: " .. tostring(why), {
    key = ctx.key, status = info and info.status, body = body_start(body),
    request_id = info and info.headers["x-request-id"] })
end

--- A 2xx JSON body that still carries {"error": ...}.
function M.from_error_body(obj, info, ctx)
  local fields = { key = ctx.key, status = info.status, request_id = info.headers["x-request-id"] }
  return M.new("api", api_fields(obj, fields) or "the service returned an error", fields)
end

return M
